package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestOIDCPhase runs the oidc phase against a real scimsso serve (built here) on SQLite: a tenant with
// SSO active at an IdP written by -write-idp, a registered client, users made by the create phase. Every
// round trip must end with a code and tokens, and the output must not show the client's secret.
func TestOIDCPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs scimsso")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "scimsso")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goBin, "build", "-o", bin, "../scimsso").CombinedOutput(); err != nil {
		t.Fatalf("building scimsso: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "scimsso.db")
	scimsso := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--db", db)...)
		cmd.Env = []string{}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("scimsso %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}
	scimsso("tenant", "create", "acme", "--name", "Acme", "--domain", "example.com")
	token := strings.TrimSpace(scimsso("token", "issue", "--tenant", "acme"))
	idpDir := filepath.Join(dir, "idp")
	var out bytes.Buffer
	if code := realMain(context.Background(), []string{"-write-idp", idpDir}, func(string) string { return "" }, &out, &out); code != 0 {
		t.Fatalf("-write-idp: exit %d\n%s", code, out.String())
	}
	scimsso("sso", "set", "--tenant", "acme", "--metadata-file", filepath.Join(idpDir, "metadata.xml"), "--state", "active")
	const redirect = "http://127.0.0.1/cb"
	client := map[string]string{}
	for _, l := range strings.Split(scimsso("client", "add", "load", "--redirect-uri", redirect), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			client[k] = v
		}
	}

	// serve: every replica's --base-url is the service's, here http://127.0.0.1 (-sp-base).
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--base-url", "http://127.0.0.1", "--db", db)
	srv.Env, srv.Stderr = []string{}, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	addr := ""
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(logPath)
		for _, l := range strings.Split(string(b), "\n") {
			var line struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "listening" {
				addr = line.Addr
			}
		}
	}
	if addr == "" {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("scimsso serve did not listen:\n%s", b)
	}

	out.Reset()
	getenv := func(k string) string {
		return map[string]string{"SCIMLOAD_TOKEN": token, "SCIMLOAD_CLIENT_SECRET": client["client_secret"]}[k]
	}
	code := realMain(context.Background(), []string{"-base", "http://" + addr + "/scim/v2/acme", "-sp-base", "http://127.0.0.1",
		"-phases", "create,oidc", "-seed-only", "-n", "6", "-o", "40", "-c", "3", "-idp", idpDir,
		"-client-id", client["client_id"], "-redirect-uri", redirect}, getenv, &out, &out)
	t.Logf("output:\n%s", out.String())
	if code != 0 {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("scimload: exit %d\nserver log:\n%s", code, b)
	}
	text := out.String()
	for _, want := range []string{"\nauthz         40       40       0 ", "\ntoken         40       40       0 ", "\noidc          40       40       0 "} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, client["client_secret"]) || strings.Contains(text, token) {
		t.Error("the output shows a secret")
	}
}
