package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a Stderr that the server's goroutines may write to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines parses every line written so far as a JSON object.
func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	text := l.b.String()
	l.mu.Unlock()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(text), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line is not a JSON object: %q", s)
		}
		out = append(out, m)
	}
	return out
}

// inProcess is a scimsso serve run by Main.Run in the test's own process.
type inProcess struct {
	m      *Main
	stderr *lockedBuffer
	url    string
	mURL   string // the metrics listener
}

// serveInProcess runs serve on db (which commands of the real binary may also use) with Main.Run,
// which must return once it listens; Close stops it when the test ends.
func serveInProcess(t *testing.T, db string) *inProcess {
	t.Helper()
	p := &inProcess{stderr: &lockedBuffer{}}
	p.m = &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: p.stderr,
		Getenv: func(string) string { return "" }, Now: time.Now}
	done := make(chan error, 1)
	go func() {
		done <- p.m.Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
			"--base-url", "http://127.0.0.1", "--db", db})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main.Run(serve) still running after 10s: it must return once the server listens")
	}
	t.Cleanup(func() { p.m.Close() })
	p.url, p.mURL = "http://"+p.m.httpAddr.String(), "http://"+p.m.metricsAddr.String()
	return p
}

// TestServeInProcess: Main.Run starts serve and returns; two servers in one process keep their own
// metrics and their own logs, the protocol library's lines included (no process-global registry or
// logger decides where they go); Close finishes and logs "stopped"; Wait returns once ctx is done.
func TestServeInProcess(t *testing.T) {
	a, b := serveInProcess(t, newDB(t)), serveInProcess(t, newDB(t))

	for _, p := range []*inProcess{a, b} {
		if res, body := do(t, http.MethodGet, p.url+"/healthz", nil); res.StatusCode != http.StatusOK || body != "ok\n" {
			t.Fatalf("/healthz: %d %q", res.StatusCode, body)
		}
	}
	// A request the OpenID library refuses, and logs, on a only.
	r, _ := http.NewRequest(http.MethodPost, a.url+"/oidc/token", strings.NewReader("grant_type=implicit"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Request-Id", "inprocess-a-1")
	if res, _ := send(t, r); res.StatusCode != http.StatusBadRequest || res.Header.Get("X-Request-Id") != "inprocess-a-1" {
		t.Fatalf("token request: %d, X-Request-Id %q", res.StatusCode, res.Header.Get("X-Request-Id"))
	}

	const series = `scimsso_http_requests_total{method="GET",route="/healthz",status="200"}`
	const token = `scimsso_http_requests_total{method="POST",route="/oidc/token",status="400"}`
	if got := metricValue(t, a.mURL, series); got != 1 {
		t.Errorf("a: %s = %v, want 1", series, got)
	}
	if got := metricValue(t, a.mURL, token); got != 1 {
		t.Errorf("a: %s = %v, want 1", token, got)
	}
	if got := metricValue(t, b.mURL, token); got != -1 {
		t.Errorf("b counted a's request: %s = %v, want no series", token, got)
	}

	oidcLines := func(p *inProcess) (n int, ids []any) {
		for _, l := range p.stderr.lines(t) {
			if l["logger"] == "oidc" {
				n++
				ids = append(ids, l["request_id"])
			}
		}
		return n, ids
	}
	if n, ids := oidcLines(a); n == 0 || ids[0] != "inprocess-a-1" {
		t.Errorf("a logged %d library lines with request ids %v, want the refusal under inprocess-a-1", n, ids)
	}
	if n, _ := oidcLines(b); n != 0 {
		t.Errorf("b logged %d library lines about a's request", n)
	}

	if err := a.m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var stopped bool
	for _, l := range a.stderr.lines(t) {
		stopped = stopped || l["msg"] == "stopped"
	}
	if !stopped {
		t.Error(`no "stopped" log line after Close`)
	}
	if _, err := http.Get(a.url + "/healthz"); err == nil {
		t.Error("a still answers after Close")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.m.Wait(ctx); err != nil {
		t.Errorf("Wait after ctx is done: %v", err)
	}
}
