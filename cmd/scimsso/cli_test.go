package main

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// cliCommands is every command with the flags its --help must list (beyond --db, --pg-max-conns and
// --sqlite-synchronous, which every command that opens the store has) and defaults it must show.
var cliCommands = []struct {
	name     string
	flags    []string
	defaults map[string]string
	store    bool // opens the store (has the --db flags)
}{
	{"serve", []string{"addr", "base-url", "log-format", "log-level", "shutdown-timeout", "sweep-every", "trusted-proxies", "metrics-addr", "secret-key-file", "forward-auth-hosts", "allow-http-loopback-webhooks"},
		map[string]string{"addr": ":8080", "base-url": "http://localhost:8080", "db": "scimsso.db", "shutdown-timeout": "30s", "sweep-every": "1m", "metrics-addr": "127.0.0.1:9090"}, true},
	{"demo", []string{"addr", "base-url", "idp-addr", "log-level"}, map[string]string{"addr": "127.0.0.1:8080", "idp-addr": "127.0.0.1:8081"}, false},
	{"tenant create", []string{"name", "domain"}, map[string]string{"db": "scimsso.db"}, true},
	{"tenant list", nil, map[string]string{"db": "scimsso.db", "pg-max-conns": "16", "sqlite-synchronous": "normal"}, true},
	{"tenant show", []string{"base-url"}, map[string]string{"base-url": "http://localhost:8080"}, true},
	{"domain add", []string{"tenant"}, nil, true},
	{"domain remove", []string{"tenant"}, nil, true},
	{"token issue", []string{"tenant", "name", "expires"}, nil, true},
	{"token list", []string{"tenant"}, nil, true},
	{"token revoke", []string{"tenant"}, nil, true},
	{"sso set", []string{"tenant", "state", "metadata-file", "metadata-url", "allow-http-loopback-metadata", "exclude", "hard-timeout", "soft-timeout",
		"mobile-hard-timeout", "country-format", "signature-algorithm", "signed-element", "principal-id-attr",
		"secondary-email-attr", "attr-first-name", "attr-last-name", "attr-email", "attr-country", "attr-department",
		"force-country", "force-department", "skip-destination-validation", "sign-requests", "idp-initiated"}, nil, true},
	{"sso show", []string{"tenant"}, nil, true},
	{"sso refresh-metadata", []string{"tenant", "allow-http-loopback-metadata"}, nil, true},
	{"sso test-link", []string{"tenant", "base-url", "expires"}, map[string]string{"base-url": "http://localhost:8080", "expires": "1h"}, true},
	{"team add", []string{"tenant", "hidden"}, nil, true},
	{"team list", []string{"tenant"}, nil, true},
	{"department-map import", []string{"tenant"}, nil, true},
	{"department-map clear", []string{"tenant"}, nil, true},
	{"user set-password", []string{"tenant"}, nil, true},
	{"user set-admin", []string{"tenant", "off"}, nil, true},
	{"setup-link", []string{"tenant", "expires", "sso", "scim", "base-url"}, map[string]string{"expires": "24h", "base-url": "http://localhost:8080"}, true},
	{"setup-link list", []string{"tenant"}, nil, true},
	{"setup-link revoke", []string{"tenant"}, nil, true},
	{"audit", []string{"tenant", "since"}, map[string]string{"since": "24h"}, true},
	{"secrets rotate", []string{"secret-key-file"}, nil, true},
	{"client add", []string{"redirect-uri", "post-logout-redirect-uri", "public", "id-token-alg", "backchannel-logout-uri", "allow-http-loopback-webhooks"}, nil, true},
	{"client list", nil, nil, true},
	{"client remove", nil, nil, true},
	{"oidc rotate-key", nil, nil, true},
	{"webhook add", []string{"url", "types", "allow-http-loopback-webhooks", "secret-key-file"}, nil, true},
	{"webhook list", nil, nil, true},
	{"webhook remove", nil, nil, true},
	{"webhook deliveries", []string{"limit", "resend"}, map[string]string{"limit": "50"}, true},
	{"apikey create", []string{"name", "scope"}, nil, true},
	{"apikey list", nil, nil, true},
	{"apikey revoke", nil, nil, true},
}

// TestHelp: every command answers --help (also -h, and `scimsso help COMMAND`) on stdout with exit 0,
// naming each of its flags, with the defaults; and every command the usage lists is in the table above.
func TestHelp(t *testing.T) {
	t.Parallel()
	usage, stderr, code := run(t, nil, "--help")
	if code != 0 || stderr != "" || !strings.HasPrefix(usage, "scimsso: ") {
		t.Fatalf("scimsso --help: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, usage, stderr)
	}
	listed := regexp.MustCompile(`(?m)^  scimsso ([a-z-]+(?: [a-z-]+)?)`).FindAllStringSubmatch(usage, -1)
	var names []string
	for _, c := range cliCommands {
		names = append(names, c.name)
	}
	for _, l := range listed {
		name := strings.TrimSpace(regexp.MustCompile(` (SLUG|FILE|ID|--).*$`).ReplaceAllString(l[1], ""))
		if !slices.Contains(names, name) {
			t.Errorf("the usage lists %q, which TestHelp does not check: add it to cliCommands", name)
		}
	}
	for _, c := range cliCommands {
		words := strings.Fields(c.name)
		for _, args := range [][]string{
			append(slices.Clone(words), "--help"),
			append(slices.Clone(words), "-h"),
			append([]string{"help"}, words...),
			append(append(slices.Clone(words), "--tenant", "x"), "--help"), // help wins over other flags
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				dir := t.TempDir()
				stdout, stderr, code := runIn(t, dir, nil, args...)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
				}
				if !strings.HasPrefix(stdout, "usage: scimsso "+c.name) {
					t.Errorf("stdout does not start with %q:\n%s", "usage: scimsso "+c.name, stdout)
				}
				flags := c.flags
				if c.store {
					flags = append(slices.Clone(flags), "db", "pg-max-conns", "sqlite-synchronous")
				}
				for _, f := range flags {
					if !regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(f) + `\b`).MatchString(stdout) {
						t.Errorf("help does not list --%s:\n%s", f, stdout)
					}
				}
				for f, d := range c.defaults {
					if !regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(f) + `\b.*\(default ` + regexp.QuoteMeta(d) + `\)$`).MatchString(stdout) {
						t.Errorf("help does not show --%s's default %s:\n%s", f, d, stdout)
					}
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("--help left %v in the working directory", ents)
				}
			})
		}
	}
	// sso set's help names the value every setting has before it is set.
	out, _, _ := run(t, nil, "sso", "set", "--help")
	for _, want := range []string{"hard-timeout                 14d", "soft-timeout                 8h", "signed-element               assertion"} {
		if !strings.Contains(out, want) {
			t.Errorf("sso set --help lacks %q:\n%s", want, out)
		}
	}
	// A command group answers --help with its subcommands.
	out, _, code = run(t, nil, "tenant", "--help")
	if code != 0 || !strings.Contains(out, "scimsso tenant create") || !strings.Contains(out, "scimsso tenant show") {
		t.Errorf("tenant --help: exit %d:\n%s", code, out)
	}
}

// TestFlagPositions: flags go before the command, between its words or after them, as --x v or --x=v;
// a flag's value that is also a command word is taken as the value.
func TestFlagPositions(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, args := range [][]string{
		{"--db", db, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com"},
		{"--name", "audit", "--db=" + db, "tenant", "create", "beta", "--domain", "beta.com"},
		{"tenant", "--db", db, "--name", "tenant", "create", "gamma", "--domain", "gamma.com"},
		{"--db", db, "--tenant", "acme", "team", "add", "--hidden", "Sales"},
		{"--hidden", "--db", db, "team", "--tenant", "acme", "add", "Ops"},
		{"--hidden", "team", "add", "--tenant", "acme", "--db", db, "demo"},
		{"--db", db, "--hidden", "team", "add", "--tenant", "acme", "audit"},
	} {
		if _, stderr, code := run(t, nil, args...); code != 0 {
			t.Fatalf("scimsso %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	for _, args := range [][]string{
		{"--db", db, "tenant", "list"},
		{"tenant", "list", "--db", db},
		{"tenant", "--db", db, "list"},
		{"--db=" + db, "tenant", "list"},
	} {
		out, stderr, code := run(t, nil, args...)
		if code != 0 || !regexp.MustCompile(`(?m)^acme +Acme +acme.com`).MatchString(out) || !regexp.MustCompile(`(?m)^beta +audit +beta.com`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^gamma +tenant +gamma.com`).MatchString(out) {
			t.Errorf("scimsso %s: exit %d, stdout %q, stderr %q; want acme (Acme), beta (audit) and gamma (tenant)", strings.Join(args, " "), code, out, stderr)
		}
	}
	out, _ := mustRun(t, db, "team", "list", "--tenant", "acme")
	if !regexp.MustCompile(`(?m)^Sales +no \(hidden\)`).MatchString(out) || !regexp.MustCompile(`(?m)^Ops +no \(hidden\)`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^demo +no \(hidden\)`).MatchString(out) || !regexp.MustCompile(`(?m)^audit +no \(hidden\)`).MatchString(out) {
		t.Errorf("teams added with flags before the command:\n%s", out)
	}
	// Something before the command that is no flag is an argument of the command, checked as such.
	stdout, stderr, code := run(t, nil, "stray", "--db", db, "tenant", "list")
	checkFailure(t, []string{"stray tenant list"}, stdout, stderr, code)
}

// TestFlagHints: an unknown flag is named with two dashes, and a common mistake or a typo gets the
// flag meant; each is a one-line failure.
func TestFlagHints(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--port", "9090"}, "unknown flag --port: use --addr HOST:PORT"},
		{[]string{"--port=9090", "serve"}, "use --addr"},
		{[]string{"demo", "--listen", ":9090"}, "use --addr"},
		{[]string{"serve", "--database", "x.db"}, "use --db"},
		{[]string{"tenant", "show", "acme", "--url", "https://x"}, "use --base-url"},
		{[]string{"tenant", "list", "--dbb", "x.db"}, "did you mean --db?"},
		{[]string{"token", "issue", "--tennant", "acme"}, "did you mean --tenant?"},
		{[]string{"tenant", "list", "--port", "1"}, "unknown flag --port ('scimsso tenant list --help' lists its flags)"},
		{[]string{"token", "list", "--tenant"}, "flag needs an argument: --tenant"},
		{[]string{"serve", "--pg-max-conns", "many"}, "for flag --pg-max-conns"},
		{[]string{"tenant"}, "tenant: want a subcommand"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			stdout, stderr, code := runIn(t, dir, nil, tt.args...)
			if line := checkFailure(t, tt.args, stdout, stderr, code); !strings.Contains(line, tt.want) {
				t.Errorf("error %q does not say %q", line, tt.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("a refused command left %v in the working directory", ents)
			}
		})
	}
}

// TestOnlySomeCommandsCreateADatabase: every command but serve, demo and tenant create, run where no
// database is, names the file it looked for, exits 1 and creates nothing.
func TestOnlySomeCommandsCreateADatabase(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{"tenant", "list"},
		{"tenant", "show", "acme"},
		{"domain", "add", "--tenant", "acme", "acme.io"},
		{"domain", "remove", "--tenant", "acme", "acme.io"},
		{"token", "issue", "--tenant", "acme"},
		{"token", "list", "--tenant", "acme"},
		{"token", "revoke", "--tenant", "acme", "0123"},
		{"sso", "set", "--tenant", "acme", "--state", "off"},
		{"sso", "show", "--tenant", "acme"},
		{"team", "add", "--tenant", "acme", "Sales"},
		{"team", "list", "--tenant", "acme"},
		{"department-map", "import", "--tenant", "acme", "departments.csv"},
		{"department-map", "clear", "--tenant", "acme"},
		{"user", "set-password", "--tenant", "acme", "admin@acme.com"},
		{"user", "set-admin", "--tenant", "acme", "admin@acme.com"},
		{"setup-link", "--tenant", "acme"},
		{"setup-link", "list", "--tenant", "acme"},
		{"setup-link", "revoke", "--tenant", "acme", "0123"},
		{"audit", "--tenant", "acme"},
		{"sso", "test-link", "--tenant", "acme"},
		{"secrets", "rotate", "--secret-key-file", "keys"},
		{"client", "add", "wiki", "--redirect-uri", "https://wiki.acme.com/cb"},
		{"client", "list"},
		{"client", "remove", "0123"},
		{"oidc", "rotate-key"},
		{"sso", "refresh-metadata", "--tenant", "acme"},
		{"webhook", "add", "--url", "https://hooks.example.com/x"},
		{"webhook", "list"},
		{"webhook", "remove", "0123"},
		{"webhook", "deliveries", "0123"},
		{"apikey", "create", "--name", "sync", "--scope", "events:read"},
		{"apikey", "list"},
		{"apikey", "revoke", "0123"},
	}
	// Every command that opens the store is in the list, but those that may create a database: a new
	// command cannot slip by.
	listed := map[string]bool{}
	for _, args := range commands {
		listed[args[0]], listed[args[0]+" "+args[1]] = true, true
	}
	for _, c := range cliCommands {
		if c.store && !listed[c.name] && c.name != "serve" && c.name != "tenant create" {
			t.Errorf("%s opens the store: add it to the commands that must not create a database", c.name)
		}
	}
	for _, args := range commands {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			for _, db := range []string{"", "sub/x.db", "file:y.db"} {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "departments.csv"), []byte("department,team\nR&D,Sales\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "keys"), []byte("k1:"+base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				want, a := filepath.Join(dir, "scimsso.db"), args
				if db != "" {
					want, a = filepath.Join(dir, strings.TrimPrefix(db, "file:")), append(slices.Clone(args), "--db", db)
				}
				if db == "sub/x.db" {
					os.Mkdir(filepath.Join(dir, "sub"), 0o700)
				}
				stdout, stderr, code := runIn(t, dir, nil, a...)
				if line := checkFailure(t, a, stdout, stderr, code); !strings.Contains(line, "no database at "+want) {
					t.Errorf("error %q does not name the file looked for, %s", line, want)
				}
				if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("scimsso %s created %s (%v)", strings.Join(a, " "), want, err)
				}
			}
		})
	}
	// SCIMSSO_DB names the file too.
	dir := t.TempDir()
	stdout, stderr, code := runIn(t, dir, []string{"SCIMSSO_DB=elsewhere.db"}, "tenant", "list")
	if line := checkFailure(t, []string{"tenant list"}, stdout, stderr, code); !strings.Contains(line, filepath.Join(dir, "elsewhere.db")) {
		t.Errorf("error %q does not name SCIMSSO_DB's file", line)
	}
	// The commands that create one still do.
	dir = t.TempDir()
	if _, stderr, code := runIn(t, dir, nil, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com"); code != 0 {
		t.Fatalf("tenant create: exit %d: %s", code, stderr)
	}
	if out, stderr, code := runIn(t, dir, nil, "tenant", "list"); code != 0 || !strings.Contains(out, "acme") {
		t.Errorf("tenant list after tenant create in the same directory: exit %d, %q, %q", code, out, stderr)
	}
}

// TestCommandWord: where the command word is found when flags come first.
func TestCommandWord(t *testing.T) {
	t.Parallel()
	words := map[string]bool{"tenant": true, "team": true, "demo": true, "audit": true}
	for _, tt := range []struct {
		args string
		want int
	}{
		{"", -1},
		{"tenant list", 0},
		{"--db x tenant list", 2},
		{"--db=x tenant list", 1},
		{"--name demo tenant create demo", 2},        // demo is --name's value
		{"--name demo --db x tenant create demo", 4}, // still, with another flag between
		{"--hidden team add --tenant acme demo", 1},  // demo is an argument after the command
		{"--hidden team", 1},
		{"stray tenant list", 1},
		{"--db x -- tenant", -1},
		{"bogus --db x", -1},
	} {
		if got := commandWord(strings.Fields(tt.args), words); got != tt.want {
			t.Errorf("commandWord(%q) = %d, want %d", tt.args, got, tt.want)
		}
	}
}
