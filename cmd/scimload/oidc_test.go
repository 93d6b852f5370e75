package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestOIDCPhase runs the oidc phase against a real scimsso serve (built here) on SQLite: a tenant with
// SSO active at an IdP written by -write-idp, a registered client, users made by the create phase. Every
// round trip must end with a code and tokens, and the output must not show the client's secret.
func TestOIDCPhase(t *testing.T) {
	s := buildScimsso(t)
	s.run("tenant", "create", "acme", "--name", "Acme", "--domain", "example.com")
	token := strings.TrimSpace(s.run("token", "issue", "--tenant", "acme"))
	idpDir := filepath.Join(s.dir, "idp")
	var out bytes.Buffer
	if code := realMain(context.Background(), []string{"-write-idp", idpDir}, func(string) string { return "" }, &out, &out); code != 0 {
		t.Fatalf("-write-idp: exit %d\n%s", code, out.String())
	}
	s.run("sso", "set", "--tenant", "acme", "--metadata-file", filepath.Join(idpDir, "metadata.xml"), "--state", "active")
	const redirect = "http://127.0.0.1/cb"
	client := map[string]string{}
	for _, l := range strings.Split(s.run("client", "add", "load", "--redirect-uri", redirect), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			client[k] = v
		}
	}
	addr := s.serve()

	out.Reset()
	getenv := func(k string) string {
		return map[string]string{"SCIMLOAD_TOKEN": token, "SCIMLOAD_CLIENT_SECRET": client["client_secret"]}[k]
	}
	code := realMain(context.Background(), []string{"-base", "http://" + addr + "/scim/v2/acme", "-sp-base", "http://127.0.0.1",
		"-phases", "create,oidc", "-seed-only", "-n", "6", "-o", "40", "-c", "3", "-idp", idpDir,
		"-client-id", client["client_id"], "-redirect-uri", redirect}, getenv, &out, &out)
	t.Logf("output:\n%s", out.String())
	if code != 0 {
		t.Fatalf("scimload: exit %d\nserver log:\n%s", code, s.log())
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
