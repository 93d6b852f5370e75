package scimserver

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The throttle's memory is bounded: past its cap the key that failed longest ago is forgotten, and a
// slug of any length makes a key of bounded size.
func TestThrottleIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := newThrottle(2, time.Minute, 100)
	for i := range 1000 {
		key := throttleKey(fmt.Sprintf("10.0.%d.%d", i/256, i%256), "acme")
		th.fail(key, now)
		th.fail(key, now)
	}
	if n := th.tracked(); n != 100 {
		t.Fatalf("%d keys tracked, want the cap of 100", n)
	}
	if v := th.fail(throttleKey("10.0.0.0", "acme"), now); v.refuse {
		t.Fatal("the oldest key was not evicted")
	}
	if v := th.fail(throttleKey("10.0.3.231", "acme"), now); !v.refuse { // the 1000th
		t.Fatal("the newest key is not refused")
	}
	if v := th.fail(throttleKey("10.0.3.231", "acme"), now.Add(time.Minute)); v.refuse {
		t.Fatal("still refused after the window")
	}
	if n := th.tracked(); n != 100 {
		t.Fatalf("%d keys tracked, want 100", n)
	}
	long := strings.Repeat("x", 60000)
	if k := throttleKey("2001:db8::/64", long); len(k) > 100 {
		t.Fatalf("a %d-byte slug makes a %d-byte key", len(long), len(k))
	}
	// The default cap is the documented one.
	if authFailKeys != 10000 || authFailLimit != 10 || authFailWindow != time.Minute {
		t.Fatal("the documented limits changed; update the comments and the README")
	}
}

// How failures are answered over time, for one key: the limit-th is still a 401 and is the one logged,
// the next ones are refused until a window after it, uncounted; then a new window starts. Other keys
// are untouched.
func TestThrottleVerdicts(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	th := newThrottle(3, time.Minute, 100)
	key, other := throttleKey("10.0.0.1", "acme"), throttleKey("10.0.0.1", "other")
	steps := []struct {
		at   time.Duration
		key  string
		want verdict
	}{
		{0, key, verdict{}},
		{time.Second, key, verdict{}},
		{2 * time.Second, key, verdict{reached: true}},
		{3 * time.Second, key, verdict{refuse: true, wait: 59 * time.Second}},
		{3 * time.Second, other, verdict{}},
		{61 * time.Second, key, verdict{refuse: true, wait: time.Second}},
		{62 * time.Second, key, verdict{}}, // the refusal is over: failure 1 of a new window
		{63 * time.Second, key, verdict{}},
		{122 * time.Second, key, verdict{}}, // the window of the failure at 62 s is over: 1 again
		{123 * time.Second, key, verdict{}},
		{124 * time.Second, key, verdict{reached: true}},
	}
	for i, s := range steps {
		if got := th.fail(s.key, start.Add(s.at)); got != s.want {
			t.Fatalf("step %d (%v, %s): %+v, want %+v", i, s.at, s.key, got, s.want)
		}
	}
}
