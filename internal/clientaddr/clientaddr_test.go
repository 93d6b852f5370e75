package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name, trusted, peer string
		xff                 []string
		want, key           string
	}{
		{"no proxy trusted: the header is ignored", "", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7", "203.0.113.7"},
		{"untrusted peer: the header is ignored", "10.0.0.0/8", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7", "203.0.113.7"},
		{"trusted peer: the client it reports", "10.0.0.0/8", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1", "198.51.100.1"},
		{"forged entries left of the real client are ignored", "10.0.0.0/8", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1", "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.0/8,192.0.2.1", "10.1.2.3:80", []string{"198.51.100.1, 192.0.2.1", "10.9.9.9"}, "198.51.100.1", "198.51.100.1"},
		{"trusted peer without a header", "127.0.0.1", "127.0.0.1:80", nil, "127.0.0.1", "127.0.0.1"},
		{"garbage stops at the last good address", "10.0.0.0/8", "10.1.2.3:80", []string{"not-an-ip, 10.2.2.2"}, "10.2.2.2", "10.2.2.2"},
		{"IPv6 keyed by its /64", "", "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", "", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7", "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rv, err := Parse(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := rv.Resolve(r); got.String() != tc.want {
				t.Errorf("Resolve = %s, want %s", got, tc.want)
			}
			var key string
			rv.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { key = Key(r) })).ServeHTTP(httptest.NewRecorder(), r)
			if key != tc.key {
				t.Errorf("Key = %s, want %s", key, tc.key)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8,nope"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

// FuzzResolve: whatever a client sends in X-Forwarded-For, resolving never panics and, from an
// untrusted peer, always gives the peer.
func FuzzResolve(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.1", "10.0.0.2:1")
	f.Add(",,,", "[::1]:2")
	rv, _ := Parse("10.0.0.0/8,::1")
	f.Fuzz(func(t *testing.T, xff, peer string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := rv.Resolve(r)
		if p := peerAddr(r); p.IsValid() && !rv.isTrusted(p) && got != p {
			t.Fatalf("untrusted peer %s resolved to %s", p, got)
		}
		_ = Key(r)
	})
}

// TestUntrustedProxyNoticed: X-Forwarded-For from a peer nobody trusts is reported once, so an operator
// behind a proxy learns that every client shares its address; from a trusted proxy it is not.
func TestUntrustedProxyNoticed(t *testing.T) {
	rv, err := Parse("10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var noticed []string
	rv.Untrusted = func(peer netip.Addr) { noticed = append(noticed, peer.String()) }
	h := rv.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct{ peer, xff string }{
		{"10.0.0.1:1", "198.51.100.1"}, // trusted: nothing to say
		{"192.0.2.9:1", ""},            // no header: a direct client
		{"192.0.2.9:1", "198.51.100.2"},
		{"192.0.2.8:1", "198.51.100.3"}, // said once only
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(noticed) != 1 || noticed[0] != "192.0.2.9" {
		t.Fatalf("noticed %v, want the first untrusted proxy once", noticed)
	}
}
