package egress

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		loopback bool   // the operator allows loopback receivers
		want     string // "" accepted, else a word of the refusal
	}{
		{"https://app.example.com/backchannel", false, ""},
		{"https://app.example.com:8443/hooks?tenant=acme", false, ""},
		{"https://8.8.8.8/hook", false, ""},
		{"https://[2606:4700::1111]/hook", false, ""},
		{"http://app.example.com/hook", false, "scheme"},
		{"http://app.example.com/hook", true, "scheme"},
		{"ftp://app.example.com/hook", false, "scheme"},
		{"https:app.example.com", false, "absolute"},
		{"/relative", false, "scheme"},
		{"https:///nohost", false, "absolute"},
		{"https://user:pw@app.example.com/", false, "user information"},
		{"https://app.example.com/#frag", false, "fragment"},
		{"https://app.example.com/#", false, "fragment"},
		{"https://app.example.com/" + strings.Repeat("a", MaxURL), false, "longer"},
		{"https://10.0.0.1/", false, "private"},
		{"https://172.16.5.4/", true, "private"},
		{"https://192.168.1.1/", false, "private"},
		{"https://169.254.169.254/latest/meta-data", true, "private"},
		{"https://100.64.0.1/", false, "private"},
		{"https://0.0.0.0/", false, "private"},
		{"https://[::]/", false, "private"},
		{"https://[fd00::1]/", false, "private"},
		{"https://[fe80::1%25eth0]/", false, "private"},
		{"https://a%25b:1/", false, "not a name"},
		{"https://[::ffff:10.0.0.1]/", false, "private"},
		{"https://224.0.0.1/", false, "private"},
		{"https://255.255.255.255/", false, "private"},
		{"https://127.0.0.1/", false, "loopback"},
		{"http://127.0.0.1:9000/bc", false, "loopback"},
		{"http://localhost:9000/bc", false, "loopback"},
		{"http://app.localhost./bc", false, "loopback"},
		{"http://[::1]:9000/bc", false, "loopback"},
		{"http://[::ffff:127.0.0.1]:9000/bc", false, "loopback"},
		{"http://127.0.0.1:9000/bc", true, ""},
		{"http://127.3.2.1/bc", true, ""},
		{"http://localhost:9000/bc", true, ""},
		{"http://[::1]:9000/bc", true, ""},
		{"https://127.0.0.1:9443/bc", true, ""},
	} {
		err := CheckURL(tc.url, tc.loopback)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckURL(%.60q, loopback %v) = %v, want accepted", tc.url, tc.loopback, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckURL(%.60q, loopback %v) = %v, want a refusal saying %q", tc.url, tc.loopback, err, tc.want)
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		addr           string
		plain, withLpb bool
	}{
		{"8.8.8.8", true, true},
		{"2606:4700::1111", true, true},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"10.1.2.3", false, false},
		{"::ffff:192.168.0.1", false, false},
		{"169.254.169.254", false, false},
		{"fe80::1", false, false},
		{"fc00::1", false, false},
		{"0.0.0.0", false, false},
		{"198.51.100.7", false, false},
		{"2001:db8::1", false, false},
		{"64:ff9b::a00:1", false, false},
		{"ff02::1", false, false},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := Allowed(a, false); got != tc.plain {
			t.Errorf("Allowed(%s, false) = %v", tc.addr, got)
		}
		if got := Allowed(a, true); got != tc.withLpb {
			t.Errorf("Allowed(%s, true) = %v", tc.addr, got)
		}
	}
	if Allowed(netip.Addr{}, true) {
		t.Error("the zero Addr is allowed")
	}
}

// FuzzCheckURL: whatever an operator or API caller registers, CheckURL answers without panicking, and
// what it accepts is an absolute http(s) URL whose literal address, if any, delivery may dial.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://app.example.com/bc", "http://127.0.0.1:1/", "https://[::ffff:10.0.0.1]/", "https://[fe80::1%25x]/",
		"http://localhost./", "https://user@h/", "https://h/#", "https:h", "https://8.8.8.8:443/?a=b"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, loopback bool) {
		if CheckURL(raw, loopback) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && !Allowed(a, loopback) {
			t.Fatalf("accepted %q, whose address delivery refuses", raw)
		}
		if u.Scheme == "http" && !loopback {
			t.Fatalf("accepted plain http %q without loopback receivers allowed", raw)
		}
	})
}
