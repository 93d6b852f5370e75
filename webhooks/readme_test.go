package webhooks_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/webhooks"
)

// TestREADMEReceiver compiles the README's Go receiver check ("Verify it in a few lines of Go") as
// written and runs it on deliveries signed the way scimsso signs them: it must accept a genuine one
// and refuse a changed body, another secret, another id and a stale timestamp. So the few lines a
// platform engineer copies are known to work.
func TestREADMEReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program with the go command")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := bytes.Cut(readme, []byte("Verify it in a few lines of Go"))
	if !ok {
		t.Fatal(`README.md no longer says "Verify it in a few lines of Go"`)
	}
	_, block, ok := bytes.Cut(after, []byte("```go\n"))
	block, _, ok2 := bytes.Cut(block, []byte("```"))
	if !ok || !ok2 || !bytes.Contains(block, []byte("func verify(")) {
		t.Fatal("README.md: no ```go block with func verify after the receiver paragraph")
	}
	dir := t.TempDir()
	prog := `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

` + string(block) + `
// main reads cases of {secret, id, timestamp, signature, body} on stdin and prints verify's answers.
func main() {
	var cases []struct{ Secret, ID, Timestamp, Signature, Body string }
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	for _, c := range cases {
		r, _ := http.NewRequest(http.MethodPost, "https://app.example/hook", nil)
		r.Header.Set("webhook-id", c.ID)
		r.Header.Set("webhook-timestamp", c.Timestamp)
		r.Header.Set("webhook-signature", c.Signature)
		fmt.Println(verify(c.Secret, r, []byte(c.Body)))
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module receiver\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	secret, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := webhooks.NewSecret()
	body := `{"id":"ev_1","seq":7,"type":"user.created","tenant":"acme","occurred_at":"2026-12-03T09:00:00Z","data":{"id":"u1"}}`
	now := time.Now()
	sign := func(secret, id string, ts time.Time, body string) string {
		s, err := webhooks.Sign(secret, id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	type tc struct{ Secret, ID, Timestamp, Signature, Body string }
	unix := func(ts time.Time) string { return strconv.FormatInt(ts.Unix(), 10) }
	cases := []struct {
		name string
		c    tc
		want bool
	}{
		{"genuine", tc{secret, "ev_1", unix(now), sign(secret, "ev_1", now, body), body}, true},
		{"one of several signatures (a rotation)", tc{secret, "ev_1", unix(now), "v1,bm90IGl0 " + sign(secret, "ev_1", now, body), body}, true},
		{"changed body", tc{secret, "ev_1", unix(now), sign(secret, "ev_1", now, body), strings.Replace(body, "acme", "evil", 1)}, false},
		{"another secret", tc{other, "ev_1", unix(now), sign(secret, "ev_1", now, body), body}, false},
		{"another id", tc{secret, "ev_2", unix(now), sign(secret, "ev_1", now, body), body}, false},
		{"stale timestamp", tc{secret, "ev_1", unix(now.Add(-time.Hour)), sign(secret, "ev_1", now.Add(-time.Hour), body), body}, false},
		{"no timestamp", tc{secret, "ev_1", "", sign(secret, "ev_1", now, body), body}, false},
		{"no signature", tc{secret, "ev_1", unix(now), "", body}, false},
	}
	in := make([]tc, len(cases))
	for i, c := range cases {
		in[i] = c.c
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's receiver does not build or run: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(cases) {
		t.Fatalf("%d answers for %d cases: %s", len(got), len(cases), out)
	}
	for i, c := range cases {
		if (got[i] == "true") != c.want {
			t.Errorf("%s: the README's verify said %s, want %v", c.name, got[i], c.want)
		}
	}
}
