package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

const testAPIKey = "scimsso_key_never-printed"

// fakeEvents serves Okta's test-connection request and an event log of seqs 1..n with every
// seventh missing (seqs are increasing, not dense), checking the key and the query as the platform
// API does.
type fakeEvents struct {
	n       int64
	reorder bool // answer a page out of order
	pages   atomic.Int64
}

func (f *fakeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/scim/v2/acme/Users" {
		listResponse(w, nil)
		return
	}
	if r.URL.Path != "/api/v1/events" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testAPIKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.pages.Add(1)
	after, err1 := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, err2 := strconv.Atoi(r.URL.Query().Get("limit"))
	if err1 != nil || err2 != nil || limit < 1 || limit > 500 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var seqs []int64
	for s := after + 1; s <= f.n && len(seqs) < limit; s++ {
		if s%7 != 0 {
			seqs = append(seqs, s)
		}
	}
	if f.reorder && len(seqs) > 1 {
		seqs[0], seqs[1] = seqs[1], seqs[0]
	}
	next := after
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i, s := range seqs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"e%d","seq":%d,"type":"user.created","tenant":"acme","occurred_at":"2026-11-23T09:00:00Z","data":{}}`, s, s)
		next = max(next, s)
	}
	fmt.Fprintf(&b, `],"next_after":%d}`, next)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(b.String()))
}

// TestEventsPhaseReadsTheLog: every reader pages through the whole log from seq 0, following
// next_after, and stops at the first empty page or at -e events; the row counts pages and the line
// under it the events.
func TestEventsPhaseReadsTheLog(t *testing.T) {
	for _, tt := range []struct {
		name           string
		n              int64 // the log's last seq
		e, c           int
		events, pages  int // what the phase must report
		wantNotOK      int
		reorder        bool
		wantErrContain string
	}{
		// 1234 seqs less every seventh: 1058 events, 3 pages of them and an empty one per reader.
		{name: "whole log", n: 1234, e: 200000, c: 3, events: 3 * 1058, pages: 3 * 4},
		// -e caps each reader: 600 events are a page of 500 and one of 100.
		{name: "capped", n: 1234, e: 600, c: 2, events: 2 * 600, pages: 2 * 2},
		{name: "empty log", n: 0, e: 100, c: 2, events: 0, pages: 2},
		{name: "out of order", n: 1234, e: 1000, c: 2, reorder: true, pages: 2, wantNotOK: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEvents{n: tt.n, reorder: tt.reorder}
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			cfg := mustParse(t, "-base", srv.URL+"/scim/v2/acme", "-token", testToken, "-api-key", testAPIKey, "-phases", "events",
				"-prefix", "ev", "-c", strconv.Itoa(tt.c), "-e", strconv.Itoa(tt.e), "-json")
			var out bytes.Buffer
			err := run(context.Background(), cfg, &out)
			var failed *errFailed
			if tt.wantNotOK == 0 && err != nil || tt.wantNotOK > 0 && (!errors.As(err, &failed) || failed.notOK != tt.wantNotOK) {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			if strings.Contains(out.String(), testAPIKey) || strings.Contains(out.String(), testToken) {
				t.Fatal("the output shows a secret")
			}
			var row result
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				var r result
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.Kind == "phase" {
					row = r
				}
			}
			if row.Phase != "events" || row.Items != tt.events || row.Requests != tt.pages || row.NotOK != tt.wantNotOK ||
				(tt.events > 0) != (row.ItemsPerS > 0) {
				t.Fatalf("events row %+v; want %d events in %d pages, %d not ok", row, tt.events, tt.pages, tt.wantNotOK)
			}
			// The preflight asked once more.
			if got := f.pages.Load(); got != int64(tt.pages)+1 {
				t.Errorf("the server answered %d pages, want %d and the preflight", got, tt.pages)
			}
		})
	}
}

// TestEventsPhaseTable: the table's events row has the events read and events/s under it.
func TestEventsPhaseTable(t *testing.T) {
	srv := httptest.NewServer(&fakeEvents{n: 20})
	t.Cleanup(srv.Close)
	cfg := mustParse(t, "-base", srv.URL+"/scim/v2/acme", "-token", testToken, "-api-key", testAPIKey, "-phases", "events", "-prefix", "ev", "-c", "1")
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\nevents         2        2       0 ") || !strings.Contains(out.String(), "\n  events: 18 read, ") {
		t.Fatalf("table:\n%s", out.String())
	}
}

// TestEventsPhaseRefusals: without a key the run does not start; a key the server refuses ends it
// with a message that names the scope and not the key.
func TestEventsPhaseRefusals(t *testing.T) {
	srv := httptest.NewServer(&fakeEvents{n: 20})
	t.Cleanup(srv.Close)
	base := srv.URL + "/scim/v2/acme"
	for _, tt := range []struct {
		name string
		args []string
		env  string
		want int
		msg  string
	}{
		{"no key", []string{"-base", base, "-phases", "events", "-prefix", "x"}, "", 2, "needs a platform API key"},
		{"key from the environment", []string{"-base", base, "-phases", "events", "-prefix", "x"}, testAPIKey, 0, ""},
		{"refused key", []string{"-base", base, "-phases", "events", "-prefix", "x", "-api-key", "scimsso_key_wrong"}, "", 1, "events:read"},
		{"negative -e", []string{"-base", base, "-phases", "events", "-prefix", "x", "-e", "-1"}, testAPIKey, 2, "-e must not be negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string {
				switch k {
				case "SCIMLOAD_TOKEN":
					return testToken
				case "SCIMLOAD_API_KEY":
					return tt.env
				}
				return ""
			}
			got := realMain(context.Background(), tt.args, getenv, &stdout, &stderr)
			if got != tt.want || !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", got, stderr.String(), tt.want, tt.msg)
			}
			if strings.Contains(stdout.String()+stderr.String(), "scimsso_key_wrong") || strings.Contains(stdout.String()+stderr.String(), testAPIKey) {
				t.Error("a key was printed")
			}
		})
	}
}

// TestEventsPhase runs the create, patch and events phases against a real scimsso serve (built here)
// on SQLite: every reader reads every event those writes recorded, and the output shows neither
// the token nor the key.
func TestEventsPhase(t *testing.T) {
	s := buildScimsso(t)
	s.run("tenant", "create", "acme", "--name", "Acme", "--domain", "example.com")
	token := strings.TrimSpace(s.run("token", "issue", "--tenant", "acme"))
	key := strings.TrimSpace(s.run("apikey", "create", "--name", "load", "--scope", "events:read"))
	addr := s.serve()
	getenv := func(k string) string {
		return map[string]string{"SCIMLOAD_TOKEN": token, "SCIMLOAD_API_KEY": key}[k]
	}
	var out bytes.Buffer
	// 1,200 users created (user.created) and 300 PATCHes of random users (user.deactivated by Okta's;
	// user.updated or user.email_changed by Entra's; none when a user is deactivated twice), after
	// the token's scim_token.issued.
	code := realMain(context.Background(), []string{"-base", "http://" + addr + "/scim/v2/acme", "-phases", "create,patch,events",
		"-seed-only", "-n", "1200", "-m", "300", "-c", "3", "-json"}, getenv, &out, &out)
	if code != 0 {
		t.Fatalf("scimload: exit %d\n%s\nserver log:\n%s", code, out.String(), s.log())
	}
	if strings.Contains(out.String(), token) || strings.Contains(out.String(), key) {
		t.Fatal("the output shows a secret")
	}
	var row result
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Phase == "events" {
			row = r
		}
	}
	// The log as one plain client reads it.
	events := 0
	for after := int64(0); ; {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/api/v1/events?after=%d&limit=500", addr, after), nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data      []json.RawMessage `json:"data"`
			NextAfter int64             `json:"next_after"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/events: %d, %v", res.StatusCode, err)
		}
		if len(page.Data) == 0 {
			break
		}
		events, after = events+len(page.Data), page.NextAfter
	}
	if events < 1+1200+150 || row.Items != 3*events || row.Requests != 3*((events+499)/500+1) || row.NotOK != 0 || row.ItemsPerS <= 0 {
		t.Fatalf("events row %+v; want 3 readers of the %d events in the log, %d pages each", row, events, (events+499)/500+1)
	}
}
