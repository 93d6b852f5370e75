package page

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/internal/requestid"
)

func TestSafeReturnTo(t *testing.T) {
	for v, want := range map[string]bool{
		"/": true, "/app?x=1#y": true, "/a/b%20c": true,
		"": false, "https://evil.com": false, "//evil.com": false, `/\evil.com`: false, "/%09/evil.com": false,
		"/%2F%2Fevil.com": false, "javascript:alert(1)": false, " /x": false, "/x\r\nSet-Cookie:a=b": false, "/a b": false,
		"/" + strings.Repeat("a", 3000): false,
	} {
		if got := SafeReturnTo(v); got != want {
			t.Errorf("SafeReturnTo(%q) = %v, want %v", v, got, want)
		}
	}
}

func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/", "//evil.com", `/\x`, "/%2F%2Fx", "/a?b=//c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !SafeReturnTo(s) {
			return
		}
		// Whatever passes must resolve to this server's origin, as a browser would read it.
		base, _ := url.Parse("https://sp.example/base")
		u, err := base.Parse(s)
		if err != nil || u.Host != "sp.example" || u.Scheme != "https" {
			t.Fatalf("%q leaves the site: %v %v", s, u, err)
		}
	})
}

// TestRef: the reference shown to people is the id cmd's middleware put in the context, never a
// header the client sent (which the middleware may have refused as an id).
func TestRef(t *testing.T) {
	for _, tc := range []struct {
		name, header, ctxID, want string
	}{
		{"from the context", "", "abc123", "abc123"},
		{"the context wins over the header", "<script>", "abc123", "abc123"},
		{"a header alone is not an id", "client-chosen", "", "-"},
		{"none", "", "", "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("X-Request-Id", tc.header)
			}
			if tc.ctxID != "" {
				r = r.WithContext(requestid.With(r.Context(), tc.ctxID))
			}
			if got := Ref(r); got != tc.want {
				t.Errorf("Ref = %q, want %q", got, tc.want)
			}
		})
	}
}
