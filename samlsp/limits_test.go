package samlsp_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/signintest"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// What anonymous clients can make the server do is bounded in the store, so that the bounds hold
// across replicas: password checks (reserved before the check) and outstanding sign-in starts.

// TestSignInFlood: anonymous sign-in starts flooded from one address and from many leave the store
// (database and WAL, a real SQLite file) under a stated size, because outstanding AuthnRequests are
// capped per address and per tenant and return_to is short; the WAL is cut back by the store. A
// flood from one address does not stop a sign-in from another; a full tenant does not stop another
// tenant's; and once the flood's requests expire, real sign-ins work again from anywhere. The caps
// are scaled down (40 per address, 400 per tenant; 300 and 10,000 by default) so that it runs in
// seconds; the mechanism is the one that runs with the defaults. Before the fix every one of the
// 4,000 starts was stored.
func TestSignInFlood(t *testing.T) {
	const perClient, perTenant, walLimit = 40, 400, 512 << 10
	h := newHarnessWith(t, nil, func(c *samlsp.Config) { c.MaxPendingPerClient, c.MaxPendingPerTenant = perClient, perTenant },
		func(o *sqlstore.Options) { o.WALLimit = walLimit })
	beta := h.AddTenant("beta", "beta.com")
	h.Configure(beta, h.IdP, nil)
	// The server believes X-Forwarded-For from loopback, as behind a proxy: each flood request says
	// which address it comes from.
	proxies, err := clientaddr.Parse("127.0.0.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	h.Srv.Config.Handler = proxies.Middleware(h.Handler)

	longest := "/" + strings.Repeat("a", 511) // the longest return_to kept: 512 bytes
	// flood sends n starts from 16 clients that keep their connections (as a flooding tool does).
	flood := func(n int, addr func(i int) string) map[int]int {
		t.Helper()
		next := make(chan int)
		go func() {
			for i := range n {
				next <- i
			}
			close(next)
		}()
		rs := make([]signintest.Result, n)
		tr := h.Srv.Client().Transport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// No cookie jar: a flood need not keep the binding cookie.
				c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				for i := range next {
					req, _ := http.NewRequest(http.MethodGet, h.Srv.URL+"/saml/acme/login?return_to="+longest, nil)
					req.Header.Set("X-Forwarded-For", addr(i))
					res, err := c.Do(req)
					if err != nil {
						rs[i].Err = err
						continue
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					rs[i] = signintest.Result{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
				}
			}()
		}
		wg.Wait()
		return signintest.Tally(t, rs)
	}
	signIn := func(t *testing.T, slug, from, email string) {
		t.Helper()
		b := h.Browser()
		b.Transport = forwardedFor{b.Transport, from}
		id := h.Login(b, slug, "/app")
		res := h.Post(b, slug, h.Response(slug, id, person(email, "Real", "Person"), nil), "")
		if status, m := h.Me(b); res.StatusCode != http.StatusSeeOther || status != http.StatusOK || m.User.UserName != email {
			t.Fatalf("sign-in at %s from %s: ACS %d, /me %d %+v", slug, from, res.StatusCode, status, m)
		}
	}

	t.Run("a longer return_to is refused", func(t *testing.T) {
		res, body := h.Send(h.Browser(), http.MethodGet, "/saml/acme/login?return_to="+longest+"a", nil, nil)
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("513-byte return_to: %d\n%s", res.StatusCode, body)
		}
	})
	t.Run("one address", func(t *testing.T) {
		got := flood(2000, func(int) string { return "198.51.100.7" })
		if got[http.StatusFound] != perClient || got[http.StatusTooManyRequests] != 2000-perClient {
			t.Fatalf("2,000 starts from one address: %v; want %d stored (302), the rest 429", got, perClient)
		}
		signIn(t, "acme", "192.0.2.1", "first@acme.com") // another address is not affected
	})
	t.Run("many addresses", func(t *testing.T) {
		// 50 addresses, 40 starts each: the tenant's cap stops them first.
		got := flood(2000, func(i int) string { return fmt.Sprintf("203.0.113.%d", i%50+1) })
		if want := perTenant - perClient; got[http.StatusFound] != want || got[http.StatusTooManyRequests] != 2000-want {
			t.Fatalf("2,000 starts from 50 addresses: %v; want %d stored (302) until the tenant's cap, the rest 429", got, want)
		}
		res, body := h.Send(h.Browser(), http.MethodGet, "/saml/acme/login", nil, nil)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many sign-ins") {
			t.Fatalf("a start at the full tenant: %d, Retry-After %q\n%s", res.StatusCode, res.Header.Get("Retry-After"), body)
		}
		pageHeaders(t, "429", res)
		signIn(t, "beta", "203.0.113.9", "second@beta.com") // another tenant is not affected
	})
	t.Run("the store stays small", func(t *testing.T) {
		// At most perTenant rows of ~1 KB with their index entries (0.94 KB measured, return_to at its
		// 512 bytes) on ~200 KB of schema and tenants: the database within 1 MiB; the WAL cut back to its
		// limit. Before the fix the same floods left 96 MB, nearly all of it WAL.
		const dbBound = 1 << 20
		size := func(f string) int64 {
			fi, err := os.Stat(f)
			if err != nil {
				return 0
			}
			return fi.Size()
		}
		deadline := time.Now().Add(5 * time.Second)
		for size(h.DBPath+"-wal") > walLimit && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		db, wal := size(h.DBPath), size(h.DBPath+"-wal")
		if db > dbBound || wal > walLimit {
			t.Fatalf("after the floods the database holds %d bytes (at most %d) and the WAL %d (at most %d)", db, dbBound, wal, walLimit)
		}
	})
	t.Run("once the flood's requests expire, sign-ins work again", func(t *testing.T) {
		h.Skew.Add(int64(16 * time.Minute))
		signIn(t, "acme", "198.51.100.7", "third@acme.com")
		signIn(t, "acme", "203.0.113.1", "fourth@acme.com")
	})
}

// forwardedFor is a transport that says its requests come from addr (the server trusts loopback).
type forwardedFor struct {
	rt   http.RoundTripper
	addr string
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return f.rt.RoundTrip(r)
}
