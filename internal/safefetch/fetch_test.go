package safefetch

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// trusting is a policy that trusts srv's certificate and allows loopback (where httptest listens).
func trusting(srv *httptest.Server) Policy {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return Policy{AllowHTTPLoopback: true, LoopbackSetting: "--allow-loopback", RootCAs: pool}
}

// TestFetcherGet: a document is fetched over TLS; a redirect is followed a few times, each target
// checked as the URL was (a redirect to a private address is refused before any connection); an
// answer other than 200, one larger than MaxBody, and an untrusted certificate are errors; a URL
// CheckURL refuses is never requested.
func TestFetcherGet(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/doc":
			w.Write([]byte("<EntityDescriptor/>"))
		case "/big":
			w.Write(make([]byte, MaxBody+1))
		case "/exact":
			w.Write(make([]byte, MaxBody))
		case "/to-doc":
			http.Redirect(w, r, "/doc", http.StatusFound)
		case "/to-private":
			http.Redirect(w, r, "https://10.0.0.1/doc?token=s3cret", http.StatusFound)
		case "/to-metadata-service":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/huge-header":
			w.Header().Set("X-Junk", strings.Repeat("j", 100<<10))
			w.Write([]byte("<EntityDescriptor/>"))
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := NewFetcher(trusting(srv))
	for _, tc := range []struct {
		path, err string
		n         int
	}{
		{"/doc", "", 19},
		{"/exact", "", MaxBody},
		{"/to-doc", "", 19},
		{"/big", "larger than", 0},
		{"/missing", "HTTP 404", 0},
		{"/to-private", "private address", 0},
		{"/to-metadata-service", "link-local", 0},
		{"/loop", "more than 3 redirects", 0},
		{"/huge-header", "connection failed", 0},
	} {
		b, err := f.Get(context.Background(), srv.URL+tc.path)
		switch {
		case tc.err == "" && (err != nil || len(b) != tc.n):
			t.Errorf("%s: %d bytes, %v", tc.path, len(b), err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want %q", tc.path, err, tc.err)
		case err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "10.0.0.1")):
			t.Errorf("%s: the error quotes the redirect's target: %v", tc.path, err)
		}
	}

	// Without the loopback setting, the test server (on 127.0.0.1) is refused before any request.
	before := hits.Load()
	noLoopback := trusting(srv)
	noLoopback.AllowHTTPLoopback = false
	if _, err := NewFetcher(noLoopback).Get(context.Background(), srv.URL+"/doc"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("loopback without the setting: %v", err)
	}
	// A certificate nobody vouches for.
	if _, err := NewFetcher(Policy{AllowHTTPLoopback: true}).Get(context.Background(), srv.URL+"/doc"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	for _, raw := range []string{"https://10.1.2.3/md", "http://idp.example.com/md", "https://[::ffff:192.168.0.1]/md", "https://127.1/md", "file:///etc/passwd"} {
		if _, err := f.Get(context.Background(), raw); err == nil {
			t.Errorf("Get(%s) fetched", raw)
		}
	}
	if hits.Load() != before {
		t.Errorf("refused URLs reached the server %d times", hits.Load()-before)
	}
}

// TestFetcherLoopbackOnlyByName: with the loopback setting, only a URL that names loopback itself
// reaches it; a URL of any other host is fetched without the setting, so neither a redirect nor its
// name's DNS can lead it to loopback (a tenant admin's metadata URL, given without the setting, is
// fetched again by the periodic refresh, which has it).
func TestFetcherLoopbackOnlyByName(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	f := NewFetcher(trusting(srv))
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"https://127.0.0.1:8443/md", true}, {"http://[::1]/md", true}, {"https://localhost/md", true}, {"https://idp.localhost./md", true},
		{"https://[::ffff:127.0.0.1]/md", true}, {"https://idp.example.com/md", false}, {"https://127.0.0.1.nip.io/md", false}, {"%%", false},
	} {
		if got := loopbackURL(tc.raw); got != tc.want {
			t.Errorf("loopbackURL(%q) = %v, want %v", tc.raw, got, tc.want)
		}
	}
	if b, err := f.Get(context.Background(), srv.URL); err != nil || string(b) != "ok" {
		t.Fatalf("a loopback URL with the setting: %q, %v", b, err)
	}
	req := httptest.NewRequest(http.MethodGet, "https://idp.example.com/md", nil)
	to := httptest.NewRequest(http.MethodGet, srv.URL+"/md", nil)
	if err := f.public.CheckRedirect(to, []*http.Request{req}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a public URL's redirect to loopback: %v", err)
	}
	if c, err := f.public.Transport.(*http.Transport).DialContext(context.Background(), "tcp", srv.Listener.Addr().String()); err == nil {
		c.Close()
		t.Error("a public URL's connection reached loopback")
	} else if !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a public URL's connection to loopback: %v", err)
	}
	if f.client.CheckRedirect(to, []*http.Request{req}) != nil {
		t.Error("a loopback URL's redirect to loopback is refused")
	}
}
