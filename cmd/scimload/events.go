package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The events phase reads the platform API's event log as an application keeping a copy in sync
// does: GET /api/v1/events?after=SEQ&limit=500 with an API key (scope events:read), then again from
// the next_after it was given, until a page comes back empty. Each of -c workers is such a reader,
// starting at seq 0 and reading at most -e events; the row counts pages, and events/s is every
// reader's events over the phase's wall time. Each page must be in seq order, after the seq asked
// for, and end at next_after.

// eventsPageSize is what a reader catching up asks for: the largest page the API serves.
const eventsPageSize = 500

// events runs the events phase.
func (l *loader) events(ctx context.Context) ([]result, error) {
	if err := l.eventsPreflight(ctx); err != nil {
		return nil, err
	}
	readers := max(1, l.cfg.c)
	return l.measure(ctx, readers, []op{opEvents}, func(ctx context.Context, w *worker, _ int) {
		after, read := int64(0), 0
		for read < l.cfg.e && ctx.Err() == nil {
			limit := min(eventsPageSize, l.cfg.e-read)
			req, err := l.eventsRequest(ctx, w.base, after, limit)
			if err != nil {
				panic(err) // a URL made of a checked origin and numbers always parses
			}
			start := time.Now()
			status, err := w.send(req)
			d := time.Since(start)
			n, next, why := 0, after, ""
			if err == nil {
				n, next, why = eventsPage(status, w.buf.Bytes(), after, limit)
			}
			w.finish(ctx, opEvents, d, status, err, why)
			if err != nil || why != "" || n == 0 {
				return // a failure, counted; or the end of the log
			}
			w.tallies[opEvents].items += n
			read += n
			after = next
		}
	})
}

func (l *loader) eventsRequest(ctx context.Context, base string, after int64, limit int) (*http.Request, error) {
	u := origin(base) + "/api/v1/events?after=" + strconv.FormatInt(after, 10) + "&limit=" + strconv.Itoa(limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.cfg.apiKey)
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

// eventsPreflight asks for one event, so that a refused key ends the run with a clear message
// rather than a phase of failures.
func (l *loader) eventsPreflight(ctx context.Context) error {
	w := &worker{l: l}
	defer w.closeConn()
	req, err := l.eventsRequest(ctx, l.cfg.base, 0, 1)
	if err != nil {
		return err
	}
	status, err := w.send(req)
	switch {
	case err != nil:
		return fmt.Errorf("events: server unreachable: %w", err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("GET /api/v1/events: %d: the server refused the API key (-api-key or SCIMLOAD_API_KEY; it needs the scope events:read)", status)
	case status != http.StatusOK:
		return fmt.Errorf("GET /api/v1/events: %d: %s", status, snippet(w.buf.Bytes()))
	}
	return nil
}

// eventsPage checks a page of events asked for after seq after: status 200, at most limit events
// in increasing seq order, each after after, and next_after the last one's seq (after when there
// are none). It returns how many events the page holds and its next_after, or why it is wrong.
func eventsPage(status int, body []byte, after int64, limit int) (n int, next int64, why string) {
	if status != http.StatusOK {
		return 0, after, "want 200"
	}
	var page struct {
		Data []struct {
			Seq *int64 `json:"seq"`
		} `json:"data"`
		NextAfter *int64 `json:"next_after"`
	}
	if err := json.Unmarshal(body, &page); err != nil || page.Data == nil || page.NextAfter == nil {
		return 0, after, "want {\"data\":[…],\"next_after\":SEQ}"
	}
	if len(page.Data) > limit {
		return 0, after, fmt.Sprintf("%d events, asked for at most %d", len(page.Data), limit)
	}
	last := after
	for _, e := range page.Data {
		if e.Seq == nil || *e.Seq <= last {
			return 0, after, "events not in increasing seq order after the seq asked for"
		}
		last = *e.Seq
	}
	if *page.NextAfter != last {
		return 0, after, fmt.Sprintf("next_after %d, want %d", *page.NextAfter, last)
	}
	return len(page.Data), last, ""
}
