package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// countingLog is a SignInLogStore that caps like the store (MaxRefusalsPerMinute, then the minute's
// SignInCodeMore record) and counts the writes it was asked for.
type countingLog struct {
	writes, stored, counted int
}

func (c *countingLog) RecordSignIn(_ context.Context, r *store.SignInRecord) error {
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
