package main

import (
	"context"
	"log"
	"log/slog"
	"testing"
	"time"
)

// TestLibraryLogsDoNotHang: once slog's default routes the OIDC library's lines, a slog line without a
// server's logger and a line of the log package (an http.Server without ErrorLog writes one) are
// written and return. Wrapping slog's previous default handler made the two packages call each other
// and hang forever on log's mutex.
func TestLibraryLogsDoNotHang(t *testing.T) {
	routeLibraryLogs()
	done := make(chan struct{})
	go func() {
		defer close(done)
		slog.InfoContext(context.Background(), "a library line with no server's logger")
		log.Print("a line of the log package")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logging hung")
	}
}
