package openid

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestLogoutToken: a logout token is signed as the client's ID tokens are (RS256 by default, ES256
// when registered so) by a key the provider publishes, typed logout+jwt, with exactly the claims of
// OpenID Connect Back-Channel Logout 1.0 §2.4 (no nonce), good for two minutes; each call makes a new
// one. Discovery says back-channel logout with sid is supported.
func TestLogoutToken(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	s, err := New(Config{Store: st, Logger: zap.NewNop(), BaseURL: testBase, Now: func() time.Time { return now },
		Session: func(*http.Request) (*store.Session, *store.User, bool, error) { return nil, nil, false, nil }})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	s.Routes(r)
	get := func(path string, v any) {
		res := httptest.NewRecorder()
		r.ServeHTTP(res, httptest.NewRequest(http.MethodGet, testBase+path, nil))
		if res.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.Code)
		}
		if err := json.Unmarshal(res.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
	var disc map[string]any
	get(pathDiscovery, &disc)
	if disc["backchannel_logout_supported"] != true || disc["backchannel_logout_session_supported"] != true {
		t.Errorf("discovery: backchannel_logout_supported %v, backchannel_logout_session_supported %v; want both true",
			disc["backchannel_logout_supported"], disc["backchannel_logout_session_supported"])
	}
	var jwks jose.JSONWebKeySet
	get(pathJWKS, &jwks)

	for _, tc := range []struct {
		alg  string // the client's registered ID token algorithm
		want jose.SignatureAlgorithm
	}{{"", jose.RS256}, {store.AlgRS256, jose.RS256}, {store.AlgES256, jose.ES256}} {
		c := &store.OIDCClient{ID: "client-" + tc.alg, IDTokenAlg: tc.alg}
		raw, err := s.LogoutToken(context.Background(), c, "user-1", "sid-1")
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		h := jws.Signatures[0].Header
		if h.Algorithm != string(tc.want) || h.ExtraHeaders["typ"] != LogoutTokenType {
			t.Errorf("client alg %q: header alg %s typ %v, want %s and %s", tc.alg, h.Algorithm, h.ExtraHeaders["typ"], tc.want, LogoutTokenType)
		}
		keys := jwks.Key(h.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q: %d published keys", h.KeyID, len(keys))
		}
		payload, err := jws.Verify(keys[0])
		if err != nil {
			t.Fatalf("client alg %q: the signature does not verify with the published key: %v", tc.alg, err)
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		jti, _ := claims["jti"].(string)
		events, _ := claims["events"].(map[string]any)
		member, isObject := events[EventBackchannelLogout].(map[string]any)
		if len(claims) != 8 || claims["iss"] != testBase || !audIs(claims["aud"], c.ID) || claims["sub"] != "user-1" || claims["sid"] != "sid-1" ||
			claims["iat"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(2*time.Minute).Unix()) || len(jti) < 16 ||
			len(events) != 1 || !isObject || len(member) != 0 {
			t.Errorf("client alg %q: claims %v; want iss, aud, iat, exp (+2 min), jti, sub, sid and events with the one empty member", tc.alg, claims)
		}
		if _, ok := claims["nonce"]; ok {
			t.Errorf("a logout token holds a nonce")
		}
		again, err := s.LogoutToken(context.Background(), c, "user-1", "sid-1")
		if err != nil || again == raw {
			t.Errorf("a second token for the same logout: %v, the same token: %v", err, again == raw)
		}
	}
	for _, tc := range []struct {
		c        *store.OIDCClient
		sub, sid string
	}{{nil, "u", "s"}, {&store.OIDCClient{}, "u", "s"}, {&store.OIDCClient{ID: "c"}, "", "s"}, {&store.OIDCClient{ID: "c"}, "u", ""}} {
		if _, err := s.LogoutToken(context.Background(), tc.c, tc.sub, tc.sid); err == nil {
			t.Errorf("LogoutToken(%+v, %q, %q) made a token", tc.c, tc.sub, tc.sid)
		}
	}
}

// audIs reports whether aud, as JSON decoded it, names exactly id: a string or an array of one
// (RFC 7519 §4.1.3 allows both).
func audIs(aud any, id string) bool {
	if a, ok := aud.([]any); ok && len(a) == 1 {
		aud = a[0]
	}
	return aud == id
}
