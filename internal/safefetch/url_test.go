package safefetch

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://hooks.example.com/scimsso", false, true},
		{"https://hooks.example.com:8443/a?b=c", false, true},
		{"https://93.184.216.34/hook", false, true},
		{"https://[2606:2800:220:1::248]/hook", false, true},
		{"http://hooks.example.com/scimsso", false, false},
		{"http://hooks.example.com/scimsso", true, false}, // http only to loopback
		{"ftp://hooks.example.com/", false, false},
		{"https://user:pw@hooks.example.com/", false, false},
		{"https://user@hooks.example.com/", false, false},
		{"https://hooks.example.com/#frag", false, false},
		{"hooks.example.com/scimsso", false, false},
		{"/relative", false, false},
		{"https://", false, false},
		{"https://10.0.0.5/hook", false, false},
		{"https://172.16.3.4/hook", false, false},
		{"https://192.168.1.1/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[fe80::1]/hook", false, false},
		{"https://[fec0::1]/hook", false, false},
		{"https://[fd00::1]/hook", false, false},
		{"https://0.0.0.0/hook", false, false},
		{"https://[::]/hook", false, false},
		{"https://100.64.0.1/hook", false, false},
		{"https://224.0.0.1/hook", false, false},
		{"https://[::ffff:10.0.0.1]/hook", false, false},
		{"https://[64:ff9b::a00:1]/hook", false, false},
		{"https://127.0.0.1/hook", false, false},
		{"https://localhost/hook", false, false},
		{"https://api.localhost/hook", false, false},
		{"http://127.0.0.1:9000/hook", false, false},
		{"http://127.0.0.1:9000/hook", true, true},
		{"http://[::1]:9000/hook", true, true},
		{"http://localhost:9000/hook", true, true},
		{"https://127.0.0.1:9000/hook", true, true},
		{"http://10.0.0.5/hook", true, false}, // the flag allows loopback, nothing else
		// Numeric shorthands of IPv4 (inet_aton): refused whatever they spell.
		{"https://127.1/x", false, false},
		{"http://127.1/x", true, false},
		{"https://2130706433/", false, false},
		{"https://0x7f000001/", false, false},
		{"https://0x7f.1/", false, false},
		{"https://10.1/", false, false},
		{"https://127.000.0.1/", false, false},
		{"https://93.184.216.34./", false, false},
		{"https://1.2.3.4.5/", false, false},
		{"https://8.8.8.0x8/", false, false},
		{"https://deadbeef.cafe/", false, true}, // hex letters, a DNS name
		{"https://0x.example/", false, true},
		{"https://api.v2.example.com/", false, true},
		{"https://123.example.com/", false, true},
		// IPv6 forms embedding an IPv4 address.
		{"https://[::127.0.0.1]/", false, false},
		{"https://[::a00:1]/", false, false},
		{"https://[::5db8:d822]/", false, false}, // IPv4-compatible, even of a public address
		{"https://[::ffff:0:7f00:1]/", false, false},
		{"https://[2002:7f00:1::]/", false, false},
		{"https://[2002:5db8:d822::1]/", false, false},
		{"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", false, false},
		{"https://[2001:db8::1]/", false, true}, // documentation, not Teredo: not refused here
	} {
		err := CheckURL(tc.url, Policy{AllowHTTPLoopback: tc.loopback, LoopbackSetting: "--allow-loopback"})
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, loopback %v) = %v, want ok=%v", tc.url, tc.loopback, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("CheckURL(%q): the error shows the password: %v", tc.url, err)
		}
	}
}

// The dialer refuses the IPv6 forms that embed an IPv4 address, whatever name resolved to them.
func TestDialRefusesEmbeddedIPv4(t *testing.T) {
	dc := Policy{AllowHTTPLoopback: true}.Control()
	for _, a := range []string{"[::7f00:1]:443", "[::a00:1]:443", "[2002:7f00:1::]:443", "[::ffff:0:7f00:1]:443",
		"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443", "[64:ff9b::a00:1]:443", "[::ffff:10.0.0.1]:443"} {
		if err := dc("tcp", a, nil); err == nil {
			t.Errorf("dial %s: allowed", a)
		}
	}
	for _, a := range []string{"93.184.216.34:443", "[2606:2800:220:1::248]:443", "127.0.0.1:443", "[::1]:443"} {
		if err := dc("tcp", a, nil); err != nil {
			t.Errorf("dial %s: %v", a, err)
		}
	}
}
