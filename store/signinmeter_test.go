package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// countingLog is a SignInLogStore that caps like the store (MaxRefusalsPerMinute, then the minute's
// SignInCodeMore record) and counts the writes it was asked for.
type countingLog struct {
	mu                      sync.Mutex // Run flushes from its own goroutine
	writes, stored, counted int
}

func (c *countingLog) RecordSignIn(_ context.Context, r *store.SignInRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.stored >= store.MaxRefusalsPerMinute {
		c.counted++
		r.Code, r.Time = store.SignInCodeMore, time.Unix(600, 0)
		return nil
	}
	c.stored++
	return nil
}

func (c *countingLog) AddRefusals(_ context.Context, _ string, _ time.Time, _ store.SignInClass, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	c.counted += n
	return nil
}

func (c *countingLog) ListSignIns(context.Context, store.SignInQuery) ([]store.SignInRecord, error) {
	return nil, nil
}

// TestSignInMeter: refusals past the cap of a minute cost O(1) store writes per flush interval, not
// one each, and none is lost from the count.
func TestSignInMeter(t *testing.T) {
	for _, n := range []int{100, 10000} {
		st := &countingLog{}
		now := time.Unix(600, 0)
		m := store.NewSignInMeter(st, func() time.Time { return now })
		for i := range store.MaxRefusalsPerMinute + n {
			if i == store.MaxRefusalsPerMinute+n/2 {
				now = now.Add(store.RefusalFlushInterval) // one flush in the middle
			}
			if err := m.Record(context.Background(), &store.SignInRecord{TenantID: "t", Outcome: store.SignInRefused}); err != nil {
				t.Fatal(err)
			}
		}
		m.Flush(context.Background())
		if want := store.MaxRefusalsPerMinute + 3; st.writes > want {
			t.Errorf("%d refusals past the cap: %d writes, want at most %d", n, st.writes, want)
		}
		if st.stored+st.counted != store.MaxRefusalsPerMinute+n {
			t.Errorf("%d refusals past the cap: %d stored + %d counted", n, st.stored, st.counted)
		}
	}
}

// TestSignInMeterRun: counts held in memory reach the store by Run's ticks alone, with no refusal
// after them, once they are due (the flush interval passed, or their minute ended).
func TestSignInMeterRun(t *testing.T) {
	for _, step := range []time.Duration{store.RefusalFlushInterval, time.Minute} {
		st := &countingLog{}
		var now atomic.Int64
		now.Store(time.Unix(600, 0).UnixNano())
		m := store.NewSignInMeter(st, func() time.Time { return time.Unix(0, now.Load()) })
		const extra = 7
		for range store.MaxRefusalsPerMinute + 1 + extra { // the cap, its "more" record, then extra in memory
			if err := m.Record(context.Background(), &store.SignInRecord{TenantID: "t", Outcome: store.SignInRefused}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); m.Run(ctx, time.Millisecond) }()
		counted := func() int {
			st.mu.Lock()
			defer st.mu.Unlock()
			return st.counted
		}
		time.Sleep(20 * time.Millisecond) // ticks before the interval passes write nothing
		if got := counted(); got != 1 {
			t.Fatalf("before the interval: %d counted, want 1 (the record past the cap)", got)
		}
		now.Add(int64(step))
		for deadline := time.Now().Add(10 * time.Second); counted() != 1+extra; {
			if time.Now().After(deadline) {
				t.Fatalf("after %v: %d counted, want %d", step, counted(), 1+extra)
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
	}
}
