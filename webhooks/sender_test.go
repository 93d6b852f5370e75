package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The sender calls the Transport directly: what an http.Client would refuse or turn into credentials
// (another scheme, no host, userinfo) is refused before any connection.
func TestSenderRefusesBadURLs(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, raw := range []string{"ftp://" + host + "/hook", "http:///hook", "http://user:pw@" + host + "/hook", "http://user@" + host + "/hook", "://x"} {
		if res := newSender(true, 2*time.Second).post(context.Background(), Request{URL: raw}); res.ok || res.reason != "bad URL" || hit {
			t.Errorf("post(%q) = %+v (receiver hit: %v), want bad URL", raw, res, hit)
		}
	}
}
