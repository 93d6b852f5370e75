package safefetch

import "testing"

// FuzzCheckURL: CheckURL answers any text without panicking, and what it accepts is https (or http
// to loopback with the flag) without userinfo.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://127.0.0.1:1/x", "https://u:p@h/", "https://[::1%25eth0]/", "https://0x7f.1/", "%", "https://10.0.0.1/",
		"https://127.1/x", "https://2130706433/", "https://[::127.0.0.1]/", "https://[2002:7f00:1::]/", "https://[::ffff:0:7f00:1]/",
		"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "https://1.2.3.4./", "https://0x.example/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, loopback bool) {
		if CheckURL(raw, Policy{AllowHTTPLoopback: loopback}) != nil {
			return
		}
		if err := CheckURL(raw, Policy{AllowHTTPLoopback: true}); err != nil {
			t.Fatalf("%q accepted without the loopback flag but not with it: %v", raw, err)
		}
	})
}
