package main

import (
	"context"
	"strings"
	"testing"
)

// TestConsoleFetchNoLoopback: a metadata URL entered in the console is never fetched from loopback,
// even on a server run with --allow-http-loopback-metadata (the operator's setting for the CLI).
func TestConsoleFetchNoLoopback(t *testing.T) {
	m := &Main{loopbackMeta: true}
	fetch := m.consoleFetch()
	for _, u := range []string{"http://127.0.0.1:1/md", "https://localhost:1/md", "https://[::1]:1/md"} {
		if _, err := fetch(context.Background(), u); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v, want a loopback refusal", u, err)
		}
	}
}
