package page

import (
	"net/url"
	"strings"
	"testing"
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
