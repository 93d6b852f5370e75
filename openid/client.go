package openid

import (
	"fmt"
	"strings"

	"github.com/scimsso/scimsso/store"
)

// NewClient is the one rule for registering a client (client add, the management API): a name
// (store.CheckName), at least one redirect URI, every redirect and post-logout URI passing
// CheckRedirectURI, an ID token algorithm of RS256 or ES256, and a back-channel logout URI passing
// checkBackchannel (the webhook URL rule, which knows whether the server allows loopback receivers).
// It returns the client to store (repeated URIs dropped) and, for a confidential client, its secret,
// to be shown once. Its errors are *store.Refusal values naming the field at fault: "name",
// "redirect_uris", "post_logout_redirect_uris", "id_token_alg" or "backchannel_logout_uri".
func NewClient(spec store.OIDCClientSpec, checkBackchannel func(string) error) (*store.OIDCClient, string, error) {
	bad := func(field, format string, args ...any) error {
		return &store.Refusal{Field: field, Err: store.ErrInvalid, Msg: fmt.Sprintf(format, args...)}
	}
	name := strings.TrimSpace(spec.Name)
	if err := store.CheckName("client name", name); err != nil {
		return nil, "", bad("name", "%v", err)
	}
	if len(spec.RedirectURIs) == 0 {
		return nil, "", bad("redirect_uris", "at least one redirect URI is required")
	}
	for _, f := range []struct {
		field string
		uris  []string
	}{{"redirect_uris", spec.RedirectURIs}, {"post_logout_redirect_uris", spec.PostLogoutRedirectURIs}} {
		for _, u := range f.uris {
			if err := CheckRedirectURI(u); err != nil {
				return nil, "", bad(f.field, "%v", err)
			}
		}
	}
	c := &store.OIDCClient{Name: name, RedirectURIs: store.Dedupe(spec.RedirectURIs), PostLogoutRedirectURIs: store.Dedupe(spec.PostLogoutRedirectURIs),
		Public: spec.Public, BackchannelLogoutURI: spec.BackchannelLogoutURI}
	switch spec.IDTokenAlg {
	case "", store.AlgRS256: // stored as the default, ""
	case store.AlgES256:
		c.IDTokenAlg = store.AlgES256
	default:
		return nil, "", bad("id_token_alg", "id_token_alg %q: want RS256 or ES256", spec.IDTokenAlg)
	}
	if c.BackchannelLogoutURI != "" {
		if err := checkBackchannel(c.BackchannelLogoutURI); err != nil {
			return nil, "", bad("backchannel_logout_uri", "%v", err)
		}
	}
	if c.Public {
		return c, "", nil
	}
	secret, hash, err := NewClientSecret()
	if err != nil {
		return nil, "", err
	}
	c.SecretHash = hash
	return c, secret, nil
}
