package webhooks

import (
	"testing"
	"time"
)

// Backoff's waits: the first retry within 10 s, none above an hour (once, the jitter came after the
// cap: up to 66 min), and they grow.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		min, max time.Duration
	}{
		{1, 3 * time.Second, 10 * time.Second},
		{2, 7 * time.Second, 9 * time.Second},
		{10, 15 * time.Minute, time.Hour},
		{11, 54 * time.Minute, time.Hour},
		{50, 54 * time.Minute, time.Hour},
		{1000, 54 * time.Minute, time.Hour},
	} {
		for range 1000 {
			if d := Backoff(tc.failures); d < tc.min || d > tc.max {
				t.Fatalf("Backoff(%d) = %v; want within [%v, %v]", tc.failures, d, tc.min, tc.max)
			}
		}
	}
}
