package scimserver

import (
	"fmt"
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
