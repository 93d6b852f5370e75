// Package ticker runs a piece of background work at a fixed interval until its context ends: the
// one loop the sweep and SQLite's watch for other processes' events share (store, stdlib only,
// keeps its own for the sign-in meter).
package ticker

import (
	"context"
	"time"
)

// Every calls f every d until ctx ends, first after d, never two at once: a call that overruns d
// delays the next (time.Ticker drops the ticks it missed). It returns once ctx is done and no call
// runs.
func Every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}
