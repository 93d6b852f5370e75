package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var (
	apiKeyShape = regexp.MustCompile(`^scimsso_key_[A-Za-z0-9_-]{43}$`)
	uuidShape   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// TestAPIKeyCommands: apikey create prints the key alone on stdout and its id on stderr; the key
// reads the platform API with its scopes and no other; list never shows a key or its hash; revoke
// stops the key at once; bad input is a one-line failure that stores nothing.
func TestAPIKeyCommands(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	mustRun(t, db, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com")

	stdout, stderr := mustRun(t, db, "apikey", "create", "--name", "billing sync", "--scope", "directory:read,events:read")
	key := strings.TrimSuffix(stdout, "\n")
	if !apiKeyShape.MatchString(key) || stdout != key+"\n" {
		t.Fatalf("apikey create: stdout %q; want the key alone, scimsso_key_ and 43 characters", stdout)
	}
	id := uuidShape.FindString(stderr)
	if id == "" || strings.Contains(stderr, key) || !strings.Contains(stderr, "directory:read,events:read") {
		t.Fatalf("apikey create: stderr %q; want the key's id and scopes, never the key", stderr)
	}
	// Flags before the command, a repeated --scope.
	stdout, _, code := run(t, nil, "--scope", "manage", "--db", db, "apikey", "create", "--scope", "manage", "--name", "ops")
	ops := strings.TrimSpace(stdout)
	if code != 0 || !apiKeyShape.MatchString(ops) {
		t.Fatalf("apikey create with flags first: exit %d, stdout %q", code, stdout)
	}

	list, _ := mustRun(t, db, "apikey", "list")
	if !regexp.MustCompile(`(?m)^`+id+` +billing sync +directory:read,events:read +\S+ +live$`).MatchString(list) ||
		!regexp.MustCompile(`(?m) ops +manage +\S+ +live$`).MatchString(list) {
		t.Fatalf("apikey list:\n%s", list)
	}
	for _, k := range []string{key, ops} {
		sum := sha256.Sum256([]byte(k))
		for _, secret := range []string{k, k[len("scimsso_key_"):], hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]),
			base64.RawURLEncoding.EncodeToString(sum[:])} {
			if strings.Contains(list, secret) {
				t.Fatalf("apikey list shows a key or its hash:\n%s", list)
			}
		}
	}

	url := serveInProcess(t, db).url
	get := func(key string) int {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, url+"/api/v1/tenants", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		res, body := send(t, r)
		if res.StatusCode == http.StatusOK && !strings.Contains(string(body), `"slug":"acme"`) {
			t.Fatalf("GET /api/v1/tenants: %s", body)
		}
		return res.StatusCode
	}
	if got := get(key); got != http.StatusOK {
		t.Fatalf("the new key: %d, want 200", got)
	}
	// A manage key lists tenants (tenant list) but reads no user: that is directory:read's.
	if got := get(ops); got != http.StatusOK {
		t.Fatalf("a manage-only key listing tenants: %d, want 200", got)
	}
	r, _ := http.NewRequest(http.MethodGet, url+"/api/v1/tenants/acme/users", nil)
	r.Header.Set("Authorization", "Bearer "+ops)
	if res, _ := send(t, r); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a manage-only key reading the directory: %d, want 403", res.StatusCode)
	}

	out, _ := mustRun(t, db, "apikey", "revoke", id)
	if out != "revoked API key "+id+"\n" {
		t.Fatalf("apikey revoke: %q", out)
	}
	if got := get(key); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key: %d, want 401 at once", got)
	}
	if line := mustFail(t, db, "apikey", "revoke", id); !strings.Contains(line, "no live API key") {
		t.Errorf("revoke twice: %q", line)
	}
	list, _ = mustRun(t, db, "apikey", "list")
	if !regexp.MustCompile(`(?m)^` + id + ` +billing sync .* revoked \S+$`).MatchString(list) {
		t.Fatalf("apikey list after revoke:\n%s", list)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"apikey", "create", "--scope", "manage"}, "must be 1 to 200 characters"},
		{[]string{"apikey", "create", "--name", " ", "--scope", "manage"}, "must be 1 to 200 characters"},
		{[]string{"apikey", "create", "--name", strings.Repeat("n", 201), "--scope", "manage"}, "must be 1 to 200 characters"},
		{[]string{"apikey", "create", "--name", "a\tb\nc", "--scope", "manage"}, "control characters"},
		{[]string{"apikey", "create", "--name", "x"}, "--scope is required"},
		{[]string{"apikey", "create", "--name", "x", "--scope", "directory:write"}, `"directory:write"`},
		{[]string{"apikey", "create", "--name", "x", "--scope", "manage,"}, "not a valid API key scope"},
		{[]string{"apikey", "create", "--name", "x", "--scope", "manage", "extra"}, "want no arguments"},
		{[]string{"apikey", "list", "extra"}, "want no arguments"},
		{[]string{"apikey", "revoke"}, "want the key's ID"},
		{[]string{"apikey", "revoke", "no-such-key"}, `no live API key "no-such-key"`},
		{[]string{"apikey", "rotate"}, `unknown subcommand "rotate"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if line := mustFail(t, db, tt.args...); !strings.Contains(line, tt.want) {
				t.Errorf("error %q does not say %q", line, tt.want)
			}
		})
	}
	if after, _ := mustRun(t, db, "apikey", "list"); strings.Count(after, "\n") != 3 {
		t.Errorf("refused commands stored keys:\n%s", after)
	}
}
