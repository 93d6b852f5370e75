package people_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// The session cookie's name follows BASE: on https it carries the __Host- prefix, so browsers accept it
// only Secure, for Path=/ and without Domain, and a sibling subdomain cannot plant a session; the
// server then reads no cookie under the plain name, or the prefix would guard nothing. On http (local
// use, where a __Host- cookie could not be Secure) the plain name is kept.
func TestSessionCookieName(t *testing.T) {
	for _, tt := range []struct {
		name          string
		srv           func() *httptest.Server
		cookie, other string
		secure        bool
	}{
		{"https", func() *httptest.Server { return httptest.NewTLSServer(nil) }, "__Host-scimsso_session", "scimsso_session", true},
		{"http", func() *httptest.Server { return httptest.NewServer(nil) }, "scimsso_session", "__Host-scimsso_session", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv()
			t.Cleanup(srv.Close)
			h := newHarnessOn(t, srv, nil, nil, nil)
			h.ScimUser("pat@acme.com", "oid-pat", true)
			b := h.Browser()
			res := h.Post(b, "acme", h.Response("acme", "", person("pat@acme.com", "Pat", "P"), nil), "")
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", res.StatusCode)
			}
			var sess *http.Cookie
			for _, c := range res.Cookies() {
				switch c.Name {
				case tt.cookie:
					sess = c
				case tt.other:
					t.Fatalf("a session cookie named %s on %s", c.Name, tt.name)
				}
			}
			if sess == nil || sess.Secure != tt.secure || sess.Path != "/" || sess.Domain != "" || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie %+v: want %s, Secure %v, Path=/, no Domain, HttpOnly, SameSite=Lax", sess, tt.cookie, tt.secure)
			}
			if status, _ := h.Me(b); status != http.StatusOK {
				t.Fatalf("/me with the session: %d", status)
			}
			// The same session under the other name is no session.
			planted := h.Browser()
			u, _ := url.Parse(h.Srv.URL)
			planted.Jar.SetCookies(u, []*http.Cookie{{Name: tt.other, Value: sess.Value, Path: "/", Secure: tt.secure}})
			if status, _ := h.Me(planted); status != http.StatusUnauthorized {
				t.Fatalf("/me with the session under %s: %d, want 401", tt.other, status)
			}
		})
	}
}
