package console

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		6 * time.Hour: "6h", 90 * time.Minute: "1h30m", 30 * time.Minute: "30m", 10 * time.Minute: "10m",
		90 * time.Second: "1m30s", time.Hour + 30*time.Second: "1h0m30s", 24 * time.Hour: "24h", time.Minute: "1m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
