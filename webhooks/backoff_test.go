package webhooks

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
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

// A drain job the worker recorded no wait for (rescued after its replica died, or a panic) is retried
// soon however many errors it gathered over its life (once: river's count, so up to an hour); another
// job without a recorded wait backs off on its errors, and a recorded wait is used as is.
func TestRetryPolicy(t *testing.T) {
	errs := make([]rivertype.AttemptError, 30)
	p := newRetryPolicy()
	p.set(7, 20*time.Minute)
	for _, tc := range []struct {
		name     string
		job      rivertype.JobRow
		min, max time.Duration
	}{
		{"rescued drain", rivertype.JobRow{ID: 1, Kind: DrainArgs{}.Kind(), Errors: errs}, 0, 10 * time.Second},
		{"resend", rivertype.JobRow{ID: 2, Kind: ResendArgs{}.Kind(), Errors: errs}, 54 * time.Minute, time.Hour},
		{"recorded", rivertype.JobRow{ID: 7, Kind: DrainArgs{}.Kind(), Errors: errs}, 19 * time.Minute, 21 * time.Minute},
	} {
		if d := time.Until(p.NextRetry(&tc.job)); d < tc.min || d > tc.max {
			t.Errorf("%s: NextRetry in %v; want within [%v, %v]", tc.name, d, tc.min, tc.max)
		}
	}
}
