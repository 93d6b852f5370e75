package ticker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestEvery: f runs again and again, never two at once, and Every returns once ctx ends, with no call
// after.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls, running atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func(context.Context) {
			if running.Add(1) != 1 {
				t.Error("two calls at once")
			}
			if calls.Add(1) == 3 {
				cancel()
			}
			time.Sleep(2 * time.Millisecond) // overruns the interval
			running.Add(-1)
		})
	}()
	<-done
	n := calls.Load()
	if n < 3 {
		t.Fatalf("%d calls before the cancel, want 3", n)
	}
	time.Sleep(10 * time.Millisecond)
	if calls.Load() != n {
		t.Fatal("a call after Every returned")
	}
}
