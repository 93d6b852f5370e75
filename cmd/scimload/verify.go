package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// The verify phase is what a reverse proxy doing forward authentication sends for every request of a
// signed-in person: GET /auth/verify with the scimsso session cookie, answered 204. It first signs in
// -c users of this run through the ACS (untimed), one session per worker, then asks -v times.

// verify runs the verify phase.
func (l *loader) verify(ctx context.Context) ([]result, error) {
	cookies, err := l.sessions(ctx, max(1, min(l.cfg.c, l.cfg.n)))
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return l.measure(ctx, l.cfg.v, []op{opVerify}, func(ctx context.Context, w *worker, j int) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin(w.base)+"/auth/verify", nil)
		if err != nil {
			w.finish(ctx, opVerify, 0, 0, err, "")
			return
		}
		req.Header.Set("Cookie", cookies[j%len(cookies)])
		req.Header.Set("User-Agent", userAgent)
		start := time.Now()
		status, err := w.send(req)
		d := time.Since(start)
		why := ""
		if err == nil && status != http.StatusNoContent {
			why = fmt.Sprintf("status %d, want 204", status)
		}
		w.finish(ctx, opVerify, d, status, err, why)
	})
}
