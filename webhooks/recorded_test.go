package webhooks

import (
	"fmt"
	"slices"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// TestRecorded: of a pass's deliveries, every failure and give-up is recorded, and of the events
// delivered only the newest the cursor passes and those ahead of it (which DeliveredAfter must find).
func TestRecorded(t *testing.T) {
	d := func(seq int64, outcome string) store.Delivery {
		return store.Delivery{EventID: fmt.Sprintf("ev%d", seq), Seq: seq, Outcome: outcome}
	}
	const ok, failed, gaveUp = store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryGaveUp
	for _, tt := range []struct {
		name string
		ds   []store.Delivery
		to   int64
		want []string
	}{
		{"none", nil, 5, nil},
		{"all passed", []store.Delivery{d(1, ok), d(2, ok), d(3, ok)}, 3, []string{"3:delivered"}},
		{"one", []store.Delivery{d(4, ok)}, 4, []string{"4:delivered"}},
		{"ahead of a failure", []store.Delivery{d(1, ok), d(2, ok), d(3, failed), d(4, ok), d(5, ok)}, 2,
			[]string{"2:delivered", "3:failed", "4:delivered", "5:delivered"}},
		{"give-ups kept", []store.Delivery{d(1, gaveUp), d(2, ok), d(3, gaveUp), d(4, ok)}, 4,
			[]string{"1:gave_up", "3:gave_up", "4:delivered"}},
		{"nothing passed", []store.Delivery{d(6, ok), d(7, ok)}, 5, []string{"6:delivered", "7:delivered"}},
		{"out of order", []store.Delivery{d(3, ok), d(1, ok), d(2, ok)}, 3, []string{"3:delivered"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range recorded(slices.Clone(tt.ds), tt.to) {
				got = append(got, fmt.Sprintf("%d:%s", r.Seq, r.Outcome))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("recorded(to %d) = %v, want %v", tt.to, got, tt.want)
			}
		})
	}
}
