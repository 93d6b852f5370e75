package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The dialer refuses what CheckURL would, whatever name led there (DNS rebinding): here a loopback
// receiver without the loopback flag.
func TestDialRefusesLoopbackWithoutFlag(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	res := newSender(false, 2*time.Second).post(context.Background(), Request{URL: srv.URL})
	if res.ok || hit || !strings.Contains(res.reason, "loopback") {
		t.Errorf("post to loopback without the flag = %+v (receiver hit: %v)", res, hit)
	}
	if res := newSender(true, 2*time.Second).post(context.Background(), Request{URL: srv.URL}); !res.ok || !hit {
		t.Errorf("post to loopback with the flag = %+v", res)
	}
}

// A 3xx is a failure and its Location is not followed; at most MaxResponse of an answer is read, so
// a receiver sending more does not hold the attempt; a receiver that never answers times out.
func TestSenderAnswers(t *testing.T) {
	targetHit := make(chan struct{}, 1)
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { targetHit <- struct{}{} }))
	defer target.Close()
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, target.URL, http.StatusFound)
		case "/big":
			// Promise 10 MiB, send a little more than what is read, then wait: a client reading past
			// MaxResponse would wait for the rest until its timeout.
			w.Header().Set("Content-Length", "10485760")
			w.WriteHeader(http.StatusOK)
			w.Write(make([]byte, MaxResponse+4096))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	s := newSender(true, 2*time.Second)
	for _, tc := range []struct {
		path   string
		ok     bool
		status int
		reason string
	}{
		{"/redirect", false, http.StatusFound, "HTTP 302 (redirects are not followed)"},
		{"/big", true, http.StatusOK, ""},
		{"/hang", false, 0, "timeout"},
		{"/500", false, http.StatusInternalServerError, "HTTP 500"},
	} {
		res := s.post(context.Background(), Request{URL: srv.URL + tc.path})
		if res.ok != tc.ok || res.status != tc.status || res.reason != tc.reason {
			t.Errorf("%s: %+v, want ok=%v status %d reason %q", tc.path, res, tc.ok, tc.status, tc.reason)
		}
	}
	select {
	case <-targetHit:
		t.Error("the redirect's target was requested")
	default:
	}
	srv.Close()
	if res := newSender(true, 2*time.Second).post(context.Background(), Request{URL: srv.URL}); res.ok || res.reason != "connection refused" {
		t.Errorf("closed receiver: %+v", res)
	}
}
