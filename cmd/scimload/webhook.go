package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scimsso/scimsso/webhooks"
)

// hookReceiver is the webhook receiver of -webhook-listen: it verifies each delivery's signature with
// the webhook's secret (SCIMLOAD_WEBHOOK_SECRET), answers 204, and records the lag from the event's
// occurred_at (its commit) to its arrival: the row "webhook-lag" gives its percentiles.
type hookReceiver struct {
	secret string
	srv    *http.Server

	mu    sync.Mutex
	lags  []time.Duration
	bad   int
	first time.Time
	last  time.Time
	seen  map[string]bool
}

// startHookReceiver listens on addr; secret is never empty (parseFlags requires it with
// -webhook-listen). With tlsFiles ("cert,key", checked by parseFlags) it serves https, HTTP/2 or
// HTTP/1.1 as the client asks.
func startHookReceiver(addr, secret, tlsFiles string) (*hookReceiver, error) {
	h := &hookReceiver{secret: secret, seen: map[string]bool{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	cert, key, https := strings.Cut(tlsFiles, ",")
	if https {
		// Read now, so that a bad file fails the run instead of every delivery.
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if https {
		go h.srv.ServeTLS(ln, cert, key)
	} else {
		go h.srv.Serve(ln)
	}
	return h, nil
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	now := time.Now()
	var ev struct {
		ID         string    `json:"id"`
		OccurredAt time.Time `json:"occurred_at"`
	}
	ok := webhooks.Verify(h.secret, r.Header, body, now) == nil && json.Unmarshal(body, &ev) == nil
	h.mu.Lock()
	switch {
	case !ok:
		h.bad++
	case !h.seen[ev.ID]: // a repeat (at least once) counts once, at its first arrival
		h.seen[ev.ID] = true
		h.lags = append(h.lags, now.Sub(ev.OccurredAt))
		if h.first.IsZero() {
			h.first = now
		}
	}
	h.last = now
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// result waits until no delivery has come for quiet (at most max), stops the receiver and returns the
// row: requests are the events received, not_ok the deliveries whose signature did not verify, ok/s
// the events over the receiving window, and the latencies the lags.
func (h *hookReceiver) result(ctx context.Context, quiet, max time.Duration) result {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		h.mu.Lock()
		last := h.last
		h.mu.Unlock()
		if !last.IsZero() && time.Since(last) > quiet {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.srv.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	lags := slices.Clone(h.lags)
	slices.Sort(lags)
	t := &tally{ok: len(lags), notOK: h.bad, lat: lags}
	r := summarize("webhook-lag", t, h.last.Sub(h.first), nil)
	return r
}
