package scimserver

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// The throttle's memory is bounded: past its cap the address that failed longest ago is forgotten.
func TestThrottleIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := newThrottle(2, time.Minute, 100)
	for i := range 1000 {
		th.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
		th.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if n := th.tracked(); n != 100 {
		t.Fatalf("%d addresses tracked, want the cap of 100", n)
	}
	if _, blocked := th.blocked("10.0.0.0", now); blocked {
		t.Fatal("the oldest address was not evicted")
	}
	if _, blocked := th.blocked("10.0.3.231", now); !blocked { // the 1000th
		t.Fatal("the newest address is not blocked")
	}
	// An address whose refusal is over is forgotten when next seen.
	if _, blocked := th.blocked("10.0.3.231", now.Add(time.Minute)); blocked {
		t.Fatal("still blocked after the window")
	}
	if n := th.tracked(); n != 99 {
		t.Fatalf("%d addresses tracked after one expired, want 99", n)
	}
	// The default cap is the documented one.
	if authFailAddrs != 10000 || authFailLimit != 10 || authFailWindow != time.Minute {
		t.Fatal("the documented limits changed; update the comments and the README")
	}
}

// The key is the connection's address: IPv4 as is, IPv6 by its /64, never a forwarding header.
func TestClientAddr(t *testing.T) {
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::9]:1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:1", "2001:db8:1:3::/64"},
		{"not-an-address", "not-an-address"},
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.9"}}}
		if got := clientAddr(r); got != c.want {
			t.Errorf("clientAddr(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}
