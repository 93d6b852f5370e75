package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

func TestTeamsAndDepartmentMap(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	createTenant(t, db, "beta", "beta.com")
	mustRun(t, db, "team", "add", "--tenant", "acme", "Sales")
	mustRun(t, db, "team", "add", "--tenant", "acme", "Engineering")
	mustRun(t, db, "team", "add", "--tenant", "acme", "--hidden", "Board")
	mustRun(t, db, "team", "add", "--tenant", "beta", "Finance")
	if msg := mustFail(t, db, "team", "add", "--tenant", "acme", "Sales"); !strings.Contains(msg, `already has a team "Sales"`) {
		t.Fatalf("duplicate team: %s", msg)
	}
	mustFail(t, db, "team", "add", "--tenant", "acme", " padded ")
	out, _ := mustRun(t, db, "team", "list", "--tenant", "acme")
	for _, want := range []string{"Acme      no (root team)", "Board     no (hidden)", "Engineering  yes", "Sales     yes"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Fatalf("team list lacks %q:\n%s", want, out)
		}
	}

	file := func(body string) string {
		p := filepath.Join(t.TempDir(), "map.csv")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("department,team\nR&D,Engineering\n\"Field Sales, EMEA\",Sales\nOffice of the CEO,Board\n")
	mustRun(t, db, "department-map", "import", "--tenant", "acme", good)
	mapOf := func() []store.DepartmentMapping {
		st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		tn, _ := st.TenantBySlug(context.Background(), "acme")
		m, err := st.DepartmentMap(context.Background(), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := "[{Field Sales, EMEA Sales} {Office of the CEO Board} {R&D Engineering}]"
	if got := fmtMap(mapOf()); got != want {
		t.Fatalf("imported map %s, want %s", got, want)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"bad rows with their line numbers", "department,team\nLegal,Sales\nonly-one-field\nR&D,Engineering,extra\n,Sales\n", "line 3: want 2 fields"},
		{"a later row's line number too", "Legal,Sales\nok,Sales\nLegal,Engineering\n", "line 3: department \"Legal\" is already mapped on line 1"},
		{"an unknown team", "Legal,Sales\nMoney,Finance\n", `has no team "Finance"`},
		{"broken CSV", "Legal,Sales\n\"unterminated,Sales\n", "line 2"},
		{"an empty file", "", "no department,team rows"},
		{"a header alone", "department,team\n", "department-map clear"},
		{"over 16 MiB", "Legal,Sales\n" + strings.Repeat("\n", store.MaxDepartmentMapFile), "larger than 16 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := mustFail(t, db, "department-map", "import", "--tenant", "acme", file(tc.body))
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "nothing imported") {
				t.Fatalf("error %q lacks %q", msg, tc.want)
			}
			if got := fmtMap(mapOf()); got != want {
				t.Fatalf("a refused import changed the map to %s", got)
			}
		})
	}
}

// TestDepartmentMapClear: department-map clear empties the map; importing an empty file does not.
func TestDepartmentMapClear(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	mustRun(t, db, "team", "add", "--tenant", "acme", "Sales")
	p := filepath.Join(t.TempDir(), "map.csv")
	if err := os.WriteFile(p, []byte("Legal,Sales\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, db, "department-map", "import", "--tenant", "acme", p)
	if out, _ := mustRun(t, db, "department-map", "clear", "--tenant", "acme"); !strings.Contains(out, "cleared") {
		t.Fatalf("clear said %q", out)
	}
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, _ := st.TenantBySlug(context.Background(), "acme")
	if m, err := st.DepartmentMap(context.Background(), tn.ID); err != nil || len(m) != 0 {
		t.Fatalf("map after clear: %v, %v", m, err)
	}
}

func fmtMap(m []store.DepartmentMapping) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range m {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("{" + r.Department + " " + r.Team + "}")
	}
	b.WriteString("]")
	return b.String()
}

// runStdin runs scimsso with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = t.TempDir(), []string{}, strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestSetPassword(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := st.TenantBySlug(context.Background(), "acme")
	u := &store.User{UserName: "admin@acme.com", Emails: []store.Email{{Value: "admin@acme.com", Primary: true}}, GivenName: "A", FamilyName: "D",
		Country: "DE", Active: true, Source: store.SourceSCIM}
	if err := st.CreateUser(context.Background(), tn.ID, u, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	const pw = "correct horse battery staple"
	set := func(email, stdin string) (string, string, int) {
		return runStdin(t, stdin, "user", "set-password", "--tenant", "acme", email, "--db", db)
	}
	if _, msg, code := set("admin@acme.com", pw+"\n"); code != 1 || !strings.Contains(msg, "not on tenant \"acme\"'s exclusion list") {
		t.Fatalf("not excluded: %d %s", code, msg)
	}
	mustRun(t, db, "sso", "set", "--tenant", "acme", "--exclude", "Admin@acme.com,ghost@acme.com")
	if _, msg, code := set("ghost@acme.com", pw+"\n"); code != 1 || !strings.Contains(msg, "has no user ghost@acme.com") {
		t.Fatalf("unknown user: %d %s", code, msg)
	}
	// The one email rule (store.ParseEmail), named before any lookup.
	if _, msg, code := set("jösé@acme.com", pw+"\n"); code != 1 || !strings.Contains(msg, "not a valid email address") {
		t.Fatalf("look-alike email: %d %s", code, msg)
	}
	if _, msg, code := set("admin@acme.com", "short\n"); code != 1 || !strings.Contains(msg, "at least 12") {
		t.Fatalf("short password: %d %s", code, msg)
	}
	out, msg, code := set("ADMIN@acme.com", pw+"\n")
	if code != 0 || strings.Contains(out+msg, pw) {
		t.Fatalf("set-password: %d %q %q", code, out, msg)
	}
	st, _ = sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
	defer st.Close()
	h, err := st.PasswordHash(context.Background(), tn.ID, u.ID)
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$") || strings.Contains(h, pw) {
		t.Fatalf("stored %q, %v; want an argon2id hash", h, err)
	}
	raw, _ := os.ReadFile(db)
	if bytes.Contains(raw, []byte(pw)) {
		t.Fatal("the password is in the database file")
	}
}
