package main

// End-to-end tests: TestMain builds the real scimsso binary once, and every test runs it as a subprocess
// against its own SQLite file in t.TempDir(), with an empty environment and its own working directory.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binPath is the scimsso binary TestMain built for this run.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "scimsso-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "scimsso")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building scimsso: %v\n", err)
		return 1
	}
	return m.Run()
}

// cliTimeout bounds every operator command; none should take more than a fraction of it.
const cliTimeout = 10 * time.Second

// run runs scimsso with args in a fresh working directory. env is the whole environment of the process.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runIn(t, t.TempDir(), env, args...)
}

// runIn is run with the working directory dir.
func runIn(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, env...) // non-nil: nothing inherited from the test's environment
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("scimsso %s: still running after %v\nstderr: %s", strings.Join(args, " "), cliTimeout, errb.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("scimsso %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// newDB returns the path of a database file that does not exist yet, in its own directory.
func newDB(t *testing.T) string {
	return filepath.Join(t.TempDir(), "scimsso.db")
}

// mustRun runs args against db and fails the test unless scimsso exits 0.
func mustRun(t *testing.T, db string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := run(t, nil, append(args, "--db", db)...)
	if code != 0 {
		t.Fatalf("scimsso %s: exit status %d, want 0\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

// mustFail runs args against db and requires the failure contract: exit status 1, nothing on stdout and
// exactly one line on stderr starting "scimsso: ". It returns that line.
func mustFail(t *testing.T, db string, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, nil, append(args, "--db", db)...)
	return checkFailure(t, args, stdout, stderr, code)
}

func checkFailure(t *testing.T, args []string, stdout, stderr string, code int) string {
	t.Helper()
	cmd := "scimsso " + strings.Join(args, " ")
	if code != 1 {
		t.Errorf("%s: exit status %d, want 1\nstdout: %s\nstderr: %s", cmd, code, stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("%s: stdout = %q, want nothing", cmd, stdout)
	}
	if !strings.HasPrefix(stderr, "scimsso: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("%s: stderr = %q, want exactly one line starting %q", cmd, stderr, "scimsso: ")
	}
	return strings.TrimSuffix(stderr, "\n")
}

func createTenant(t *testing.T, db, slug string, domains ...string) {
	t.Helper()
	args := []string{"tenant", "create", slug, "--name", strings.ToUpper(slug[:1]) + slug[1:]}
	for _, d := range domains {
		args = append(args, "--domain", d)
	}
	mustRun(t, db, args...)
}

func tenantList(t *testing.T, db string) string {
	t.Helper()
	out, _ := mustRun(t, db, "tenant", "list")
	return out
}

// showField returns the value of "field:" in the output of tenant show.
func showField(t *testing.T, db, slug, field string, extra ...string) string {
	t.Helper()
	out, _ := mustRun(t, db, append([]string{"tenant", "show", slug}, extra...)...)
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), field) {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("tenant show %s: no %q line in\n%s", slug, field, out)
	return ""
}

var tokenRE = regexp.MustCompile(`^scimsso_([A-Za-z0-9_-]{43})\n$`)

// issueToken runs token issue and checks its output contract: the token alone on stdout, carrying 32
// random bytes, and its id (the one new row of token list) on stderr. It returns the token and its id.
func issueToken(t *testing.T, db, slug string, extra ...string) (token, id string) {
	t.Helper()
	before := tokenRows(t, db, slug)
	stdout, stderr := mustRun(t, db, append([]string{"token", "issue", "--tenant", slug}, extra...)...)
	m := tokenRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("token issue: stdout = %q, want exactly one line scimsso_<43 base64url characters>", stdout)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(m[1]); err != nil || len(raw) != 32 {
		t.Fatalf("token issue: secret part %q is not base64url of 32 bytes (%d bytes, %v)", m[1], len(raw), err)
	}
	token = strings.TrimSuffix(stdout, "\n")
	if strings.Contains(stderr, token) || strings.Contains(stderr, m[1]) {
		t.Errorf("token issue: the token is also on stderr: %q", stderr)
	}
	after := tokenRows(t, db, slug)
	for k := range after {
		if _, ok := before[k]; !ok {
			if id != "" {
				t.Fatalf("token issue: two new rows in token list: %s and %s", id, k)
			}
			id = k
		}
	}
	if id == "" {
		t.Fatalf("token issue: no new row in token list")
	}
	if !strings.Contains(stderr, id) {
		t.Errorf("token issue: stderr %q does not name the token id %s", stderr, id)
	}
	return token, id
}

// tokenRows maps token id to its row in token list.
func tokenRows(t *testing.T, db, slug string) map[string]string {
	t.Helper()
	out, _ := mustRun(t, db, "token", "list", "--tenant", slug)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("token list: no header line in %q", out)
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	return rows
}

func TestTenantCreate(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	out, _ := mustRun(t, db, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com")
	if !strings.Contains(out, "acme") {
		t.Errorf("tenant create: stdout %q does not name the tenant", out)
	}
	before := tenantList(t, db)

	// Every one of these must fail with one line and leave the store exactly as it was.
	tests := []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"duplicate slug", []string{"acme", "--name", "Acme Two", "--domain", "acme-two.com"}, `"acme"`},
		{"upper-case slug", []string{"A", "--name", "Beta", "--domain", "beta.com"}, `"A"`},
		{"one-character slug", []string{"x", "--name", "Beta", "--domain", "beta.com"}, `"x"`},
		{"underscore in slug", []string{"bad_slug", "--name", "Beta", "--domain", "beta.com"}, `"bad_slug"`},
		{"slug too long", []string{strings.Repeat("b", 64), "--name", "Beta", "--domain", "beta.com"}, "slug"},
		{"no slug", []string{"--name", "Beta", "--domain", "beta.com"}, ""},
		{"two slugs", []string{"beta", "gamma", "--name", "Beta", "--domain", "beta.com"}, ""},
		{"domain without a dot", []string{"beta", "--name", "Beta", "--domain", "beta"}, "beta"},
		{"domain with a space", []string{"beta", "--name", "Beta", "--domain", "beta .com"}, "domain"},
		{"domain with empty label", []string{"beta", "--name", "Beta", "--domain", "beta..com"}, "beta..com"},
		{"domain is a URL", []string{"beta", "--name", "Beta", "--domain", "https://beta.com"}, "domain"},
		{"domain is an email", []string{"beta", "--name", "Beta", "--domain", "bob@beta.com"}, "domain"},
		{"second domain invalid", []string{"beta", "--name", "Beta", "--domain", "beta.com", "--domain", "-beta.io"}, "-beta.io"},
		{"missing --name", []string{"beta", "--domain", "beta.com"}, "--name"},
		{"blank --name", []string{"beta", "--name", "  ", "--domain", "beta.com"}, "--name"},
		{"missing --domain", []string{"beta", "--name", "Beta"}, "--domain"},
		{"domain of another tenant", []string{"beta", "--name", "Beta", "--domain", "beta.com", "--domain", "acme.com"}, "acme.com"},
		{"domain of another tenant in upper case", []string{"beta", "--name", "Beta", "--domain", "ACME.COM"}, "acme.com"},
		{"unknown flag", []string{"beta", "--name", "Beta", "--domain", "beta.com", "--colour", "red"}, "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := mustFail(t, db, append([]string{"tenant", "create"}, tt.args...)...)
			if !strings.Contains(line, tt.want) {
				t.Errorf("error %q does not mention %q", line, tt.want)
			}
			if after := tenantList(t, db); after != before {
				t.Errorf("a refused tenant create changed tenant list:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}

	// The refused creates left nothing behind: beta and its domain are still free.
	mustFail(t, db, "tenant", "show", "beta")
	if got := showField(t, db, "acme", "domains"); got != "acme.com" {
		t.Errorf("acme's domains = %q, want acme.com", got)
	}
	mustRun(t, db, "tenant", "create", "beta", "--name", "Beta Corp", "--domain", "beta.com", "--domain", "Beta.IO", "--domain", "beta.com")
	if got := showField(t, db, "beta", "domains"); got != "beta.com, beta.io" {
		t.Errorf("beta's domains = %q, want the two distinct domains in lower case: beta.com, beta.io", got)
	}

	list := tenantList(t, db)
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("tenant list: %d lines, want a header and 2 tenants:\n%s", len(lines), list)
	}
	for _, want := range [][]string{{"acme", "Acme", "acme.com"}, {"beta", "Beta Corp", "beta.com", "beta.io"}} {
		found := false
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, want[0]+" ") {
				found = true
				for _, w := range want[1:] {
					if !strings.Contains(l, w) {
						t.Errorf("tenant list: row %q lacks %q", l, w)
					}
				}
			}
		}
		if !found {
			t.Errorf("tenant list: no row for %s:\n%s", want[0], list)
		}
	}
}

func TestTenantShow(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")

	if got, want := showField(t, db, "acme", "SCIM base"), "http://localhost:8080/scim/v2/acme"; got != want {
		t.Errorf("SCIM base = %q, want %q (the default base URL)", got, want)
	}
	if got, want := showField(t, db, "acme", "SCIM base", "--base-url", "https://sso.example.com/"), "https://sso.example.com/scim/v2/acme"; got != want {
		t.Errorf("with --base-url: SCIM base = %q, want %q", got, want)
	}
	out, _, code := run(t, []string{"SCIMSSO_BASE_URL=https://env.example.com", "SCIMSSO_DB=" + db}, "tenant", "show", "acme")
	if code != 0 || !regexp.MustCompile(`(?m)^SCIM base:\s+https://env\.example\.com/scim/v2/acme$`).MatchString(out) {
		t.Errorf("with SCIMSSO_BASE_URL: exit %d, output:\n%s\nwant SCIM base https://env.example.com/scim/v2/acme", code, out)
	}
	issueToken(t, db, "acme")
	if got := showField(t, db, "acme", "SCIM tokens"); !strings.HasPrefix(got, "1 live") {
		t.Errorf("SCIM tokens = %q, want 1 live", got)
	}
}

func TestDomain(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	createTenant(t, db, "beta", "beta.com")
	domains := func(slug string) string { return showField(t, db, slug, "domains") }

	mustRun(t, db, "domain", "add", "--tenant", "acme", "Acme.IO")
	if got := domains("acme"); got != "acme.com, acme.io" {
		t.Fatalf("after domain add: acme's domains = %q, want acme.com, acme.io", got)
	}

	refused := []struct {
		name string
		args []string
	}{
		{"add another tenant's domain", []string{"add", "--tenant", "beta", "acme.io"}},
		{"add another tenant's domain in upper case", []string{"add", "--tenant", "acme", "BETA.COM"}},
		{"add an own domain again", []string{"add", "--tenant", "acme", "acme.com"}},
		{"add an invalid domain", []string{"add", "--tenant", "acme", "not a domain"}},
		{"add without a domain", []string{"add", "--tenant", "acme"}},
		{"add without --tenant", []string{"add", "acme.net"}},
		{"remove the last domain", []string{"remove", "--tenant", "beta", "beta.com"}},
		{"remove another tenant's domain", []string{"remove", "--tenant", "acme", "beta.com"}},
		{"remove a domain nobody has", []string{"remove", "--tenant", "acme", "nobody.com"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			mustFail(t, db, append([]string{"domain"}, tt.args...)...)
			if got := domains("acme"); got != "acme.com, acme.io" {
				t.Errorf("acme's domains = %q, want them unchanged: acme.com, acme.io", got)
			}
			if got := domains("beta"); got != "beta.com" {
				t.Errorf("beta's domains = %q, want them unchanged: beta.com", got)
			}
		})
	}

	mustRun(t, db, "domain", "remove", "--tenant", "acme", "acme.com")
	if got := domains("acme"); got != "acme.io" {
		t.Errorf("after domain remove: acme's domains = %q, want acme.io", got)
	}
	mustFail(t, db, "domain", "remove", "--tenant", "acme", "acme.io")
	// A removed domain is free for another tenant.
	mustRun(t, db, "domain", "add", "--tenant", "beta", "acme.com")
	if got := domains("beta"); got != "acme.com, beta.com" && got != "beta.com, acme.com" {
		t.Errorf("beta's domains = %q, want beta.com and acme.com", got)
	}
}

func TestUnknownTenant(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	_, id := issueToken(t, db, "acme")
	for _, args := range [][]string{
		{"tenant", "show", "nosuch"},
		{"domain", "add", "--tenant", "nosuch", "nosuch.com"},
		{"domain", "remove", "--tenant", "nosuch", "acme.com"},
		{"token", "issue", "--tenant", "nosuch"},
		{"token", "list", "--tenant", "nosuch"},
		{"token", "revoke", "--tenant", "nosuch", id},
		{"audit", "--tenant", "nosuch"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			if line := mustFail(t, db, args...); !strings.Contains(line, "nosuch") {
				t.Errorf("error %q does not mention the slug nosuch", line)
			}
		})
	}
	if got := tokenRows(t, db, "acme"); len(got) != 1 || !strings.Contains(got[id], "live") {
		t.Errorf("acme's tokens after the refused commands: %v, want the one live token %s", got, id)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bogus"},
		{"tenant"},
		{"tenant", "bogus"},
		{"domain", "frob", "--tenant", "acme", "acme.com"},
		{"token", "mint", "--tenant", "acme"},
		{"tenant", "list", "--bogus-flag"},
		{"token", "list", "--tenant"},
		{"tenant", "list", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := run(t, nil, args...)
			checkFailure(t, args, stdout, stderr, code)
		})
	}
	t.Run("no arguments", func(t *testing.T) {
		stdout, stderr, code := run(t, nil)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "usage") {
			t.Errorf("scimsso: exit %d, stdout %q, stderr %q; want 1 and the usage on stderr", code, stdout, stderr)
		}
	})
	t.Run("help", func(t *testing.T) {
		stdout, stderr, code := run(t, nil, "help")
		if code != 0 || !strings.Contains(stdout, "token issue") || stderr != "" {
			t.Errorf("scimsso help: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, stdout, stderr)
		}
	})
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	wd := t.TempDir()

	if _, stderr, code := runIn(t, wd, []string{"SCIMSSO_DB=" + db}, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com"); code != 0 {
		t.Fatalf("tenant create with SCIMSSO_DB: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(wd, "scimsso.db")); err == nil {
		t.Errorf("with SCIMSSO_DB set, scimsso.db was created in the working directory")
	}
	if list := tenantList(t, db); !strings.Contains(list, "acme") {
		t.Errorf("tenant created with SCIMSSO_DB=%s is not in that database:\n%s", db, list)
	}

	// A flag wins over the environment.
	other := newDB(t)
	if _, stderr, code := runIn(t, wd, []string{"SCIMSSO_DB=" + other}, "tenant", "create", "beta", "--name", "Beta", "--domain", "beta.com", "--db", db); code != 0 {
		t.Fatalf("tenant create with --db and SCIMSSO_DB: exit %d: %s", code, stderr)
	}
	if list := tenantList(t, db); !strings.Contains(list, "beta") {
		t.Errorf("--db did not override SCIMSSO_DB: beta is not in the --db database:\n%s", list)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--db did not override SCIMSSO_DB: the SCIMSSO_DB database %s was created (%v)", other, err)
	}

	// Any flag reads its variable; a repeatable flag takes a comma-separated list.
	env := []string{"SCIMSSO_DB=" + db, "SCIMSSO_TENANT=acme", "SCIMSSO_DOMAIN=gamma.com, gamma.io", "SCIMSSO_NAME=Gamma"}
	if _, stderr, code := run(t, env, "tenant", "create", "gamma"); code != 0 {
		t.Fatalf("tenant create gamma from the environment: exit %d: %s", code, stderr)
	}
	if got := showField(t, db, "gamma", "domains"); got != "gamma.com, gamma.io" {
		t.Errorf("SCIMSSO_DOMAIN=gamma.com,gamma.io gave domains %q", got)
	}
	if out, stderr, code := run(t, env, "token", "list"); code != 0 || !strings.HasPrefix(out, "ID") {
		t.Errorf("token list with SCIMSSO_TENANT: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	// Without either, the database is scimsso.db in the working directory.
	if _, stderr, code := runIn(t, wd, nil, "tenant", "create", "delta", "--name", "Delta", "--domain", "delta.com"); code != 0 {
		t.Fatalf("tenant create with the default database: exit %d: %s", code, stderr)
	}
	if list := tenantList(t, filepath.Join(wd, "scimsso.db")); !strings.Contains(list, "delta") {
		t.Errorf("default database %s/scimsso.db lacks delta:\n%s", wd, list)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	createTenant(t, db, "beta", "beta.com")

	tok1, id1 := issueToken(t, db, "acme", "--name", "okta")
	tok2, id2 := issueToken(t, db, "acme", "--name", "entra")
	tok3, _ := issueToken(t, db, "beta")
	if tok1 == tok2 || id1 == id2 {
		t.Fatalf("two issues gave the same token or id: %s %s / %s %s", tok1, id1, tok2, id2)
	}
	tokens := []string{tok1, tok2, tok3}

	t.Run("list never shows a token or its hash", func(t *testing.T) {
		out, stderr := mustRun(t, db, "token", "list", "--tenant", "acme")
		for _, s := range []string{out, stderr} {
			for _, tok := range tokens {
				for _, secret := range secretForms(tok) {
					if strings.Contains(s, secret) {
						t.Errorf("token list output contains %q (a form of token %s):\n%s", secret, tok, s)
					}
				}
			}
		}
		rows := tokenRows(t, db, "acme")
		if len(rows) != 2 || !strings.Contains(rows[id1], "okta") || !strings.Contains(rows[id2], "entra") {
			t.Errorf("token list --tenant acme: rows %v, want %s (okta) and %s (entra)", rows, id1, id2)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		mustFail(t, db, "token", "revoke", "--tenant", "beta", id1)
		if row := tokenRows(t, db, "acme")[id1]; !strings.Contains(row, "live") {
			t.Fatalf("after beta tried to revoke acme's token: row %q, want it still live", row)
		}
		mustFail(t, db, "token", "revoke", "--tenant", "acme", "no-such-id")
		mustFail(t, db, "token", "revoke", "--tenant", "acme")
		mustRun(t, db, "token", "revoke", "--tenant", "acme", id1)
		if row := tokenRows(t, db, "acme")[id1]; !strings.Contains(row, "revoked") {
			t.Errorf("after token revoke: row %q, want revoked", row)
		}
		if row := tokenRows(t, db, "acme")[id2]; !strings.Contains(row, "live") {
			t.Errorf("revoking %s touched %s: row %q", id1, id2, row)
		}
		mustFail(t, db, "token", "revoke", "--tenant", "acme", id1)
	})

	t.Run("expires", func(t *testing.T) {
		start := time.Now()
		_, id := issueToken(t, db, "beta", "--name", "ninety", "--expires", "90d")
		stamps := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)`).FindAllString(tokenRows(t, db, "beta")[id], -1)
		if len(stamps) != 2 {
			t.Fatalf("token list row for a 90d token has %d timestamps (%v), want created and expires", len(stamps), stamps)
		}
		exp, err := time.Parse(time.RFC3339, stamps[1])
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := start.Add(90*24*time.Hour-time.Minute), time.Now().Add(90*24*time.Hour+time.Minute); exp.Before(lo) || exp.After(hi) {
			t.Errorf("--expires 90d: expires %v, want about %v", exp, start.Add(90*24*time.Hour))
		}

		before := tokenRows(t, db, "beta")
		for _, bad := range []string{"bogus", "-1h", "-1d", "0", "0s", "0d", "90", "1x", "d"} {
			line := mustFail(t, db, "token", "issue", "--tenant", "beta", "--expires", bad)
			if !strings.Contains(line, "expires") {
				t.Errorf("--expires %s: error %q does not name --expires", bad, line)
			}
		}
		for _, bad := range []string{" okta", "a\nb", "x\x7f", strings.Repeat("n", 201)} {
			if line := mustFail(t, db, "token", "issue", "--tenant", "beta", "--name", bad); !strings.Contains(line, "--name") {
				t.Errorf("--name %q: error %q does not name --name", bad, line)
			}
		}
		if after := tokenRows(t, db, "beta"); len(after) != len(before) {
			t.Errorf("refused token issues wrote tokens: %d rows before, %d after", len(before), len(after))
		}
	})

	t.Run("database never holds a token in clear", func(t *testing.T) {
		checkNoSecrets(t, filepath.Dir(db), tokens)
	})
}

// secretForms are the strings that must never be shown or logged for tok: the token, its random part,
// and its SHA-256 in hex and base64.
func secretForms(tok string) []string {
	sum := sha256.Sum256([]byte(tok))
	return []string{
		tok,
		strings.TrimPrefix(tok, "scimsso_"),
		hex.EncodeToString(sum[:]),
		strings.ToUpper(hex.EncodeToString(sum[:])),
		base64.StdEncoding.EncodeToString(sum[:]),
		base64.RawStdEncoding.EncodeToString(sum[:]),
		base64.URLEncoding.EncodeToString(sum[:]),
		base64.RawURLEncoding.EncodeToString(sum[:]),
	}
}

// checkNoSecrets reads every file in dir (the database, its -wal and -shm) and fails if one holds a token
// or its random part in clear.
func checkNoSecrets(t *testing.T, dir string, tokens []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		read++
		t.Logf("checked %s (%d bytes)", e.Name(), len(b))
		for _, tok := range tokens {
			if bytes.Contains(b, []byte(strings.TrimPrefix(tok, "scimsso_"))) {
				t.Errorf("%s holds token %s in clear", e.Name(), tok)
			}
		}
	}
	if read == 0 {
		t.Fatalf("no database files in %s", dir)
	}
}

// server is a running scimsso serve process.
type server struct {
	url        string // http://127.0.0.1:PORT
	metricsURL string // http://127.0.0.1:PORT of --metrics-addr, "" when it serves none
	cmd        *exec.Cmd
	logPath    string
	done       chan struct{} // closed when the process has exited
	waitErr    error         // set before done is closed
}

// startServer runs scimsso serve on db on a free loopback port, its metrics on another, and waits until
// it logs that it is listening; args are added to the command line. The process is killed when the
// test ends. Its stderr goes to a file, as with 2>>scimsso.log.
func startServer(t *testing.T, db string, args ...string) *server {
	t.Helper()
	return startServerEnv(t, db, nil, args...)
}

// startServerEnv is startServer with env as the process's whole environment.
func startServerEnv(t *testing.T, db string, env []string, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{logPath: filepath.Join(dir, "stderr.log"), done: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	outf, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	s.cmd = exec.Command(binPath, append([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--base-url", "http://127.0.0.1", "--db", db}, args...)...)
	s.cmd.Dir = dir
	s.cmd.Env = append([]string{}, env...)
	s.cmd.Stdout, s.cmd.Stderr = outf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})

	deadline := time.After(10 * time.Second)
	for {
		for _, l := range s.logLines(t) {
			if l["msg"] == "listening" {
				addr, _ := l["addr"].(string)
				host, port, err := net.SplitHostPort(addr)
				if err != nil || host != "127.0.0.1" || port == "0" {
					t.Fatalf(`"listening" log line has addr %q, want 127.0.0.1:PORT`, addr)
				}
				s.url = "http://" + addr
				if m, _ := l["metrics_addr"].(string); m != "" {
					s.metricsURL = "http://" + m
				}
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("scimsso serve exited before listening: %v\n%s", s.waitErr, s.logs(t))
		case <-deadline:
			t.Fatalf("scimsso serve did not log \"listening\" within 10s:\n%s", s.logs(t))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logs returns everything the server has written to stderr so far.
func (s *server) logs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logLines parses every complete line of the log as a JSON object; a line that is not one fails the test.
func (s *server) logLines(t *testing.T) []map[string]any {
	t.Helper()
	text := s.logs(t)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i+1]
	} else {
		text = ""
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not a JSON object: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

// wait waits up to timeout for the process to exit and returns its exit status.
func (s *server) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("scimsso serve still running %v after being told to stop\n%s", timeout, s.logs(t))
	}
	return s.cmd.ProcessState.ExitCode()
}

func (s *server) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// sent counts the HTTP requests sent to each host:port, so the log checks know how many access lines
// a server owes.
var sent sync.Map // host:port → *atomic.Int64

func sentTo(host string) int64 {
	n, _ := sent.LoadOrStore(host, new(atomic.Int64))
	return n.(*atomic.Int64).Load()
}

// send sends r and returns the response with its body read.
func send(t *testing.T, r *http.Request) (*http.Response, []byte) {
	t.Helper()
	n, _ := sent.LoadOrStore(r.URL.Host, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	resp, err := httpClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", r.Method, r.URL, err)
	}
	return resp, body
}

// scimRequest builds a request to the server with the token (if any) as bearer credentials.
func scimRequest(t *testing.T, method, u, token, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	return r
}

func userBody(email, given string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + email +
		`","name":{"givenName":"` + given + `","familyName":"A"},"addresses":[{"type":"work","country":"US"}]}`
}

// createUser POSTs a user and requires 201; it returns the new user's id.
func createUser(t *testing.T, base, slug, token, email string) string {
	t.Helper()
	resp, body := send(t, scimRequest(t, http.MethodPost, base+"/scim/v2/"+slug+"/Users", token, userBody(email, "Alice")))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /Users %s: status %d, want 201\n%s", email, resp.StatusCode, body)
	}
	var u struct{ ID, UserName string }
	if err := json.Unmarshal(body, &u); err != nil || u.ID == "" || !strings.EqualFold(u.UserName, email) {
		t.Fatalf("POST /Users %s: body %s: want the user with its id (%v)", email, body, err)
	}
	if resp.Header.Get("Location") == "" || resp.Header.Get("ETag") == "" {
		t.Errorf("POST /Users: Location %q, ETag %q; want both", resp.Header.Get("Location"), resp.Header.Get("ETag"))
	}
	return u.ID
}

type listResponse struct {
	Schemas      []string
	TotalResults *int
	Resources    []struct{ ID, UserName string }
}

// listUsers GETs /Users with filter (if any), requires a 200 ListResponse and returns it.
func listUsers(t *testing.T, base, slug, token, filter string) listResponse {
	t.Helper()
	u := base + "/scim/v2/" + slug + "/Users"
	if filter != "" {
		u += "?filter=" + url.QueryEscape(filter)
	}
	resp, body := send(t, scimRequest(t, http.MethodGet, u, token, ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200\n%s", u, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("GET %s: Content-Type %q, want application/scim+json", u, ct)
	}
	var lr listResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v\n%s", u, err, body)
	}
	if !slices.Contains(lr.Schemas, "urn:ietf:params:scim:api:messages:2.0:ListResponse") || lr.TotalResults == nil {
		t.Fatalf("GET %s: not a ListResponse with totalResults: %s", u, body)
	}
	return lr
}

// authStatus returns the status and body of GET /scim/v2/{slug}/Users with token.
func authStatus(t *testing.T, base, slug, token string) (int, []byte) {
	t.Helper()
	resp, body := send(t, scimRequest(t, http.MethodGet, base+"/scim/v2/"+slug+"/Users", token, ""))
	return resp.StatusCode, body
}

func TestServe(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	createTenant(t, db, "other", "other.com")
	tokA, idA := issueToken(t, db, "acme", "--name", "okta")
	tokO, _ := issueToken(t, db, "other")
	tokens := []string{tokA, tokO}
	s := startServer(t, db)
	var want401 []byte // the one 401 body every failure gets
	check401 := func(t *testing.T, what string, status int, body []byte) {
		t.Helper()
		if status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", what, status)
		} else if want401 != nil && !bytes.Equal(body, want401) {
			t.Errorf("%s: 401 body %s differs from the other failures' %s", what, body, want401)
		}
	}

	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if resp, body := send(t, scimRequest(t, http.MethodGet, s.url+p, "", "")); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: status %d, want 200\n%s", p, resp.StatusCode, body)
			}
		}
	})

	t.Run("list users", func(t *testing.T) {
		if lr := listUsers(t, s.url, "acme", tokA, ""); *lr.TotalResults != 0 || len(lr.Resources) != 0 {
			t.Errorf("a new tenant lists %d users, want none", *lr.TotalResults)
		}
	})

	t.Run("every auth failure is the same 401", func(t *testing.T) {
		var random [32]byte
		rand.Read(random[:])
		failures := []struct {
			name, path, auth string
		}{
			{"no token", "/scim/v2/acme/Users", ""},
			{"empty bearer", "/scim/v2/acme/Users", "Bearer "},
			{"wrong token", "/scim/v2/acme/Users", "Bearer wrong"},
			{"well-formed unknown token", "/scim/v2/acme/Users", "Bearer scimsso_" + base64.RawURLEncoding.EncodeToString(random[:])},
			{"token as Basic credentials", "/scim/v2/acme/Users", "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+tokA))},
			{"token without scheme", "/scim/v2/acme/Users", tokA},
			{"acme's token on other", "/scim/v2/other/Users", "Bearer " + tokA},
			{"other's token on acme", "/scim/v2/acme/Users", "Bearer " + tokO},
			{"acme's token on a user of other", "/scim/v2/other/Users/00000000-0000-0000-0000-000000000000", "Bearer " + tokA},
			{"unknown tenant", "/scim/v2/nosuch/Users", "Bearer " + tokA},
			{"unknown tenant, no token", "/scim/v2/nosuch/Users", ""},
			{"unknown tenant discovery", "/scim/v2/nosuch/ServiceProviderConfig", "Bearer " + tokA},
		}
		var firstCT string
		for _, f := range failures {
			r := scimRequest(t, http.MethodGet, s.url+f.path, "", "")
			if f.auth != "" {
				r.Header.Set("Authorization", f.auth)
			}
			resp, body := send(t, r)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401\n%s", f.name, resp.StatusCode, body)
				continue
			}
			if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", f.name, h)
			}
			if want401 == nil {
				want401, firstCT = body, resp.Header.Get("Content-Type")
				continue
			}
			if !bytes.Equal(body, want401) || resp.Header.Get("Content-Type") != firstCT {
				t.Errorf("%s: 401 differs from the first one:\n%s %s\nwant\n%s %s", f.name, resp.Header.Get("Content-Type"), body, firstCT, want401)
			}
		}
	})

	t.Run("revoked token", func(t *testing.T) {
		tok, id := issueToken(t, db, "acme", "--name", "revoke-me")
		tokens = append(tokens, tok)
		if got, _ := authStatus(t, s.url, "acme", tok); got != http.StatusOK {
			t.Fatalf("new token: status %d, want 200", got)
		}
		mustRun(t, db, "token", "revoke", "--tenant", "acme", id)
		got, body := authStatus(t, s.url, "acme", tok)
		check401(t, "revoked token", got, body)
		if got, _ := authStatus(t, s.url, "acme", tokA); got != http.StatusOK {
			t.Errorf("revoking one token broke another: status %d, want 200", got)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		tok, _ := issueToken(t, db, "acme", "--name", "short", "--expires", "2s")
		issued := time.Now() // the expiry is at most 2s after this
		tokens = append(tokens, tok)
		if got, _ := authStatus(t, s.url, "acme", tok); got != http.StatusOK {
			t.Fatalf("token with 2s left: status %d, want 200", got)
		}
		time.Sleep(time.Until(issued.Add(2*time.Second + 100*time.Millisecond)))
		got, body := authStatus(t, s.url, "acme", tok)
		check401(t, "expired token", got, body)
	})

	t.Run("create user and audit", func(t *testing.T) {
		id := createUser(t, s.url, "acme", tokA, "alice@acme.com")
		lr := listUsers(t, s.url, "acme", tokA, `userName eq "alice@acme.com"`)
		if *lr.TotalResults != 1 || len(lr.Resources) != 1 || lr.Resources[0].ID != id {
			t.Errorf("filter on the new user: %+v, want exactly %s", lr, id)
		}
		out, _ := mustRun(t, db, "audit", "--tenant", "acme")
		found := false
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if slices.Contains(f, "create") && slices.Contains(f, "201") {
				found = true
				if !slices.Contains(f, id) || !slices.Contains(f, idA) {
					t.Errorf("audit row %q lacks the user id %s or the token id %s", l, id, idA)
				}
			}
		}
		if !found {
			t.Errorf("audit --tenant acme has no create with outcome 201:\n%s", out)
		}
		if out, _ := mustRun(t, db, "audit", "--tenant", "other"); strings.Contains(out, id) {
			t.Errorf("other's audit shows acme's user:\n%s", out)
		}
	})

	t.Run("database files never hold a token in clear", func(t *testing.T) {
		// The server holds the database open, so recent writes are still in the -wal file.
		checkNoSecrets(t, filepath.Dir(db), tokens)
	})

	t.Run("logs hold no secrets and one access line per request", func(t *testing.T) {
		r := scimRequest(t, http.MethodGet, s.url+"/scim/v2/acme/Users?filter="+url.QueryEscape(`userName eq "QUERYSECRET42@acme.com"`), tokA, "")
		r.Header.Set("Cookie", "session=SECRETCOOKIE123")
		r.Header.Set("X-Request-Id", "e2e-cookie-request")
		if resp, body := send(t, r); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET with a cookie: status %d\n%s", resp.StatusCode, body)
		}
		r = scimRequest(t, http.MethodGet, s.url+"/healthz", "", "")
		r.Header.Set("Cookie", "session=SECRETCOOKIE123")
		r.Header.Set("Authorization", "Bearer "+tokO)
		send(t, r)

		// The access line is written when the handler returns; give it a moment.
		var lines []map[string]any
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			lines = s.logLines(t)
			if slices.ContainsFunc(lines, func(l map[string]any) bool { return l["request_id"] == "e2e-cookie-request" }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log line with request_id e2e-cookie-request:\n%s", s.logs(t))
			}
		}
		for _, l := range lines {
			if l["request_id"] == "e2e-cookie-request" && l["path"] != nil {
				if l["method"] != "GET" || l["path"] != "/scim/v2/{tenant}/Users" || l["status"] != float64(200) {
					t.Errorf("access line for the request with id e2e-cookie-request: %v, want GET /scim/v2/{tenant}/Users 200 (the route, not the path)", l)
				}
			}
		}
		time.Sleep(100 * time.Millisecond) // and for the /healthz line after it
		logs := s.logs(t)
		forbidden := []string{"Bearer", "SECRETCOOKIE123", "QUERYSECRET42"}
		for _, tok := range tokens {
			forbidden = append(forbidden, secretForms(tok)...)
		}
		for _, f := range forbidden {
			if strings.Contains(logs, f) {
				t.Errorf("the server log contains %q", f)
			}
		}

		access := 0
		for _, l := range s.logLines(t) {
			if l["logger"] != "access" && l["method"] == nil {
				continue
			}
			access++
			for _, k := range []string{"request_id", "method", "path"} {
				if v, _ := l[k].(string); v == "" {
					t.Errorf("access log line lacks %s: %v", k, l)
				}
			}
			if _, ok := l["status"].(float64); !ok {
				t.Errorf("access log line lacks a numeric status: %v", l)
			}
		}
		if n := sentTo(strings.TrimPrefix(s.url, "http://")); int64(access) < n {
			t.Errorf("%d access log lines for %d requests", access, n)
		}
	})
}

// TestGracefulShutdown sends SIGTERM: the server stops accepting, finishes what is in flight, logs
// "stopped" and exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")

	t.Run("idle", func(t *testing.T) {
		s := startServer(t, db)
		s.signal(t, syscall.SIGTERM)
		if code := s.wait(t, 5*time.Second); code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, s.logs(t))
		}
		if !slices.ContainsFunc(s.logLines(t), func(l map[string]any) bool { return l["msg"] == "stopped" }) {
			t.Errorf("no \"stopped\" log line:\n%s", s.logs(t))
		}
	})

	t.Run("request in flight completes", func(t *testing.T) {
		s := startServer(t, db)
		addr := strings.TrimPrefix(s.url, "http://")
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		body := userBody("slow@acme.com", "Slow")
		half := len(body) / 2
		fmt.Fprintf(conn, "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n", addr, tok, len(body))
		if _, err := io.WriteString(conn, body[:half]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let the server read the headers and start the handler
		s.signal(t, syscall.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		select {
		case <-s.done:
			t.Fatalf("the server exited with a request in flight\n%s", s.logs(t))
		default:
		}
		if _, err := io.WriteString(conn, body[half:]); err != nil {
			t.Fatalf("writing the rest of the body after SIGTERM: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the response to the in-flight request: %v\n%s", err, s.logs(t))
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading the body of the in-flight response: %v", err)
		}
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("in-flight POST: status %d, want 201\n%s", resp.StatusCode, got)
		}
		if code := s.wait(t, 5*time.Second); code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, s.logs(t))
		}
		if !slices.ContainsFunc(s.logLines(t), func(l map[string]any) bool { return l["msg"] == "stopped" }) {
			t.Errorf("no \"stopped\" log line:\n%s", s.logs(t))
		}

		s2 := startServer(t, db)
		if lr := listUsers(t, s2.url, "acme", tok, `userName eq "slow@acme.com"`); *lr.TotalResults != 1 {
			t.Errorf("the user created by the in-flight request is gone after restart: %+v", lr)
		}
	})
}

// TestDurability kills the server with SIGKILL: every write it acknowledged with 201 is still there.
func TestDurability(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")

	s := startServer(t, db)
	ids := map[string]string{}
	for i := range 5 {
		email := fmt.Sprintf("user%d@acme.com", i)
		ids[email] = createUser(t, s.url, "acme", tok, email)
	}
	s.signal(t, syscall.SIGKILL)
	s.wait(t, 5*time.Second)

	s = startServer(t, db)
	for email, id := range ids {
		lr := listUsers(t, s.url, "acme", tok, `userName eq "`+email+`"`)
		if *lr.TotalResults != 1 || len(lr.Resources) != 1 || lr.Resources[0].ID != id {
			t.Errorf("after kill -9: filter on %s gave %+v, want user %s", email, lr, id)
		}
	}
	if lr := listUsers(t, s.url, "acme", tok, ""); *lr.TotalResults != len(ids) {
		t.Errorf("after kill -9: %d users, want %d", *lr.TotalResults, len(ids))
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"postgres DSN", []string{"--db", "postgres://x"}, "--db"},
		{"postgresql DSN", []string{"--db", "postgresql://u@h/db"}, "--db"},
		{"base URL not a URL", []string{"--base-url", "notaurl"}, "notaurl"},
		{"base URL not http", []string{"--base-url", "ftp://example.com"}, "--base-url"},
		{"base URL with query", []string{"--base-url", "http://example.com/?x=1"}, "--base-url"},
		{"address in use", []string{"--addr", busy.Addr().String()}, busy.Addr().String()},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"bad synchronous level", []string{"--sqlite-synchronous", "off"}, "synchronous"},
		{"positional argument", []string{"extra"}, "serve"},
		{"trusted proxy not a CIDR", []string{"--trusted-proxies", "10.0.0.0/8,nginx"}, "--trusted-proxies"},
		{"trusted proxy prefix too long", []string{"--trusted-proxies", "10.0.0.0/33"}, "--trusted-proxies"},
		{"metrics address without port", []string{"--metrics-addr", "127.0.0.1"}, "--metrics-addr"},
		{"metrics address is the main one", []string{"--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"}, "--metrics-addr"},
		{"metrics address in use", []string{"--metrics-addr", busy.Addr().String()}, busy.Addr().String()},
		{"forward-auth host not BASE's host name", []string{"--base-url", "https://sso.example.com", "--forward-auth-hosts", "sso.example.com,app.example.com"}, "--forward-auth-hosts"},
		{"forward-auth host with a scheme", []string{"--base-url", "https://sso.example.com", "--forward-auth-hosts", "https://sso.example.com"}, "--forward-auth-hosts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "", "--db", newDB(t)}, tt.args...)
			stdout, stderr, code := run(t, nil, args...)
			if line := checkFailure(t, args, stdout, stderr, code); !strings.Contains(line, tt.want) {
				t.Errorf("error %q does not mention %q", line, tt.want)
			}
		})
	}
	t.Run("SCIMSSO_BASE_URL", func(t *testing.T) {
		args := []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "", "--db", newDB(t)}
		stdout, stderr, code := run(t, []string{"SCIMSSO_BASE_URL=notaurl"}, args...)
		checkFailure(t, args, stdout, stderr, code)
	})
}

// TestShutdownWithStderrPipe: under Docker or systemd stderr is a pipe, where syncing the log fails;
// a clean SIGTERM must still exit 0.
func TestShutdownWithStderrPipe(t *testing.T) {
	db := newDB(t)
	cmd := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db)
	cmd.Env = []string{}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(10 * time.Second)
	var all []string
	for listening := false; !listening; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited early: %s", strings.Join(all, "\n"))
			}
			all = append(all, l)
			listening = strings.Contains(l, `"msg":"listening"`)
		case <-timeout:
			t.Fatal("serve did not start")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		all = append(all, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM with stderr on a pipe: %v\n%s", err, strings.Join(all, "\n"))
	}
}
