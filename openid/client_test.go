package openid_test

import (
	"errors"
	"testing"

	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/store"
)

func TestNewClient(t *testing.T) {
	noLoopback := func(u string) error {
		if u != "https://app.example/bc" {
			return errors.New("refused")
		}
		return nil
	}
	cb := []string{"https://app.example/cb"}
	for _, tc := range []struct {
		name  string
		spec  store.OIDCClientSpec
		field string // of the refusal; "" for none
	}{
		{"confidential", store.OIDCClientSpec{Name: "Wiki", RedirectURIs: []string{cb[0], cb[0]}, BackchannelLogoutURI: "https://app.example/bc"}, ""},
		{"public ES256", store.OIDCClientSpec{Name: "SPA", RedirectURIs: []string{"http://localhost:3000/cb"}, Public: true, IDTokenAlg: "ES256"}, ""},
		{"no name", store.OIDCClientSpec{RedirectURIs: cb}, "name"},
		{"no redirect", store.OIDCClientSpec{Name: "Wiki"}, "redirect_uris"},
		{"http redirect", store.OIDCClientSpec{Name: "Wiki", RedirectURIs: []string{"http://app.example/cb"}}, "redirect_uris"},
		{"bad post-logout", store.OIDCClientSpec{Name: "Wiki", RedirectURIs: cb, PostLogoutRedirectURIs: []string{"/bye"}}, "post_logout_redirect_uris"},
		{"bad alg", store.OIDCClientSpec{Name: "Wiki", RedirectURIs: cb, IDTokenAlg: "none"}, "id_token_alg"},
		{"refused back-channel", store.OIDCClientSpec{Name: "Wiki", RedirectURIs: cb, BackchannelLogoutURI: "http://127.0.0.1/bc"}, "backchannel_logout_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, secret, err := openid.NewClient(tc.spec, noLoopback)
			if tc.field != "" {
				var r *store.Refusal
				if !errors.As(err, &r) || r.Field != tc.field || c != nil || secret != "" {
					t.Fatalf("got %+v, %q, %v; want a refusal of %s", c, secret, err, tc.field)
				}
				return
			}
			if err != nil || len(c.RedirectURIs) != 1 || (secret == "") != tc.spec.Public || (len(c.SecretHash) == 0) != tc.spec.Public {
				t.Fatalf("got %+v, %q, %v", c, secret, err)
			}
			if tc.spec.IDTokenAlg == "ES256" && c.IDTokenAlg != store.AlgES256 || tc.spec.IDTokenAlg == "" && c.IDTokenAlg != "" {
				t.Fatalf("IDTokenAlg %q", c.IDTokenAlg)
			}
		})
	}
}
