package samlsp_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// TestTestLink (issue 14 item 1): a test sign-in starts only from a one-time link, which works once,
// at its own tenant, before it expires, while the tenant is testing or active; without one the answer
// is a plain 404 and nothing is stored. The answer to a test request is used once, whatever it was.
func TestTestLink(t *testing.T) {
	never := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}()
	for _, state := range []string{"testing", "active"} {
		t.Run("state "+state, func(t *testing.T) {
			h := newHarness(t, func(s *store.SSOSettings) { s.State = store.SSOState(state) })
			t.Run("no valid link: 404, nothing stored", func(t *testing.T) {
				for _, q := range []string{"", "?token=", "?token=garbage", "?token=" + never, "?token=" + never + "&token=x"} {
					b := h.Browser()
					res, body := h.OpenTestLink(b, "/saml/acme/test"+q)
					if res.StatusCode != http.StatusNotFound || res.Header.Get("Location") != "" || setCookie(res, bindingCookie) != nil ||
						!strings.Contains(body, "Test link not valid") {
						t.Fatalf("/saml/acme/test%s: %d %q\n%s", q, res.StatusCode, res.Header.Get("Location"), body)
					}
				}
				// Nothing to sweep once every AuthnRequest that could have been made has expired.
				h.Skew.Store(int64(20 * time.Minute))
				defer h.Skew.Store(0)
				if n, err := h.St.Sweep(ctx); err != nil || n != 0 {
					t.Fatalf("Sweep = %d, %v: the refused test sign-ins stored something", n, err)
				}
			})
			t.Run("a link is used once", func(t *testing.T) {
				link := h.TestLink("acme", time.Hour)
				h.StartTest(h.Browser(), link)
				for _, b := range []*http.Client{h.Browser(), h.Browser()} {
					if res, body := h.OpenTestLink(b, link); res.StatusCode != http.StatusNotFound {
						t.Fatalf("the link opened again: %d\n%s", res.StatusCode, body)
					}
				}
			})
			t.Run("opening the page uses nothing up (mail and chat scanners open links)", func(t *testing.T) {
				link := h.TestLink("acme", time.Hour)
				for range 3 {
					res, body := h.Send(h.Browser(), http.MethodGet, link, nil, nil)
					if res.StatusCode != http.StatusOK || res.Header.Get("Location") != "" || setCookie(res, bindingCookie) != nil ||
						!strings.Contains(body, "Start the test sign-in") {
						t.Fatalf("opening the link: %d\n%s", res.StatusCode, body)
					}
				}
				h.StartTest(h.Browser(), link)
			})
			t.Run("the button is posted from scimsso's page only", func(t *testing.T) {
				link := h.TestLink("acme", time.Hour)
				tok := link[strings.Index(link, "token=")+len("token="):]
				for _, hdr := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
					if res, _ := h.Send(h.Browser(), http.MethodPost, "/saml/acme/test", url.Values{"token": {tok}}, hdr); res.StatusCode != http.StatusForbidden {
						t.Fatalf("a cross-site post with %v: %d", hdr, res.StatusCode)
					}
				}
				h.StartTest(h.Browser(), link) // the refused posts used nothing up
			})
			t.Run("two browsers open one link at once: one starts", func(t *testing.T) {
				link := h.TestLink("acme", time.Hour)
				const n = 8
				codes := make(chan int, n)
				var wg sync.WaitGroup
				for range n {
					b := h.Browser()
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, _ := h.OpenTestLink(b, link)
						codes <- res.StatusCode
					}()
				}
				wg.Wait()
				close(codes)
				started, refused := 0, 0
				for c := range codes {
					switch c {
					case http.StatusFound:
						started++
					case http.StatusNotFound:
						refused++
					default:
						t.Errorf("status %d", c)
					}
				}
				if started != 1 || refused != n-1 {
					t.Fatalf("%d started, %d refused; want 1 and %d", started, refused, n-1)
				}
			})
			t.Run("a link expires", func(t *testing.T) {
				link := h.TestLink("acme", time.Hour)
				h.Skew.Store(int64(61 * time.Minute))
				defer h.Skew.Store(0)
				if res, _ := h.OpenTestLink(h.Browser(), link); res.StatusCode != http.StatusNotFound {
					t.Fatalf("an expired link: %d", res.StatusCode)
				}
			})
			t.Run("a link works at its own tenant only", func(t *testing.T) {
				beta := h.AddTenant("beta", "beta.example")
				h.Configure(beta, h.IdP, func(s *store.SSOSettings) { s.State = store.SSOState(state) })
				link := h.TestLink("beta", time.Hour)
				stolen := strings.Replace(link, "/saml/beta/", "/saml/acme/", 1)
				if res, _ := h.OpenTestLink(h.Browser(), stolen); res.StatusCode != http.StatusNotFound {
					t.Fatalf("beta's link at acme: %d", res.StatusCode)
				}
				tok := link[strings.Index(link, "token=")+len("token="):]
				if res, _ := h.Send(h.Browser(), http.MethodPost, "/saml/acme/test", url.Values{"token": {tok}}, nil); res.StatusCode != http.StatusNotFound {
					t.Fatalf("beta's link posted at acme: %d", res.StatusCode)
				}
				if res, _ := h.OpenTestLink(h.Browser(), link); res.StatusCode != http.StatusFound {
					t.Fatalf("beta's link at beta, after it was tried at acme: %d", res.StatusCode)
				}
			})
			t.Run("the answer to a test request is used once", func(t *testing.T) {
				sam := person("sam@acme.com", "Sam", "S")
				b := h.Browser()
				id := h.StartTest(b, h.TestLink("acme", time.Hour))
				doc := h.Response("acme", id, sam, nil)
				if res, body := h.PostACS(b, "acme", doc); res.StatusCode != http.StatusOK || !strings.Contains(body, "would create user sam@acme.com") {
					t.Fatalf("first answer: %d\n%s", res.StatusCode, body)
				}
				h.Refusal()
				for name, again := range map[string][]byte{"the same answer": doc, "another answer": h.Response("acme", id, sam, nil)} {
					res, body := h.PostACS(b, "acme", again)
					if res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") || h.Refusal() != "in-response-to" {
						t.Fatalf("%s to an answered test request: %d\n%s", name, res.StatusCode, body)
					}
				}
				// A refused answer uses the request up too: the report of one refusal per test sign-in.
				id = h.StartTest(b, h.TestLink("acme", time.Hour))
				bad := h.Response("acme", id, sam, func(r *samltest.Response) { r.Audience = "https://other.example/sp" })
				if res, body := h.PostACS(b, "acme", bad); res.StatusCode != http.StatusOK || !strings.Contains(body, "would refuse this sign-in (invalid)") {
					t.Fatalf("a refused test answer: %d\n%s", res.StatusCode, body)
				}
				if res, body := h.PostACS(b, "acme", h.Response("acme", id, sam, nil)); res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") {
					t.Fatalf("a good answer after a refused one: %d\n%s", res.StatusCode, body)
				}
				if len(h.Users()) != 0 {
					t.Fatalf("a test sign-in stored users: %+v", h.Users())
				}
			})
		})
	}
	t.Run("state off: refused, the link kept", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "off" })
		link := h.TestLink("acme", time.Hour)
		if res, body := h.OpenTestLink(h.Browser(), link); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Single sign-on is off") {
			t.Fatalf("a link while SSO is off: %d\n%s", res.StatusCode, body)
		}
		h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.State = "testing" })
		h.StartTest(h.Browser(), link)
	})
}
