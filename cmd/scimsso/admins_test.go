package main

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestSetupLinkCommand: setup-link prints BASE/setup/SECRET alone on stdout, its id and expiry on
// stderr; the store keeps only the secret's hash, with the scopes the flags asked for (neither: both);
// bad flags are refused before anything is written.
func TestSetupLinkCommand(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	cases := []struct {
		flags  []string
		scopes []string
	}{
		{nil, []string{store.AdminScopeSSO, store.AdminScopeSCIM}},
		{[]string{"--sso"}, []string{store.AdminScopeSSO}},
		{[]string{"--scim", "--expires", "1h"}, []string{store.AdminScopeSCIM}},
		{[]string{"--sso", "--scim"}, []string{store.AdminScopeSSO, store.AdminScopeSCIM}},
	}
	linkRE := regexp.MustCompile(`^https://sso\.example\.com/setup/(` + store.SetupLinkPrefix + `[A-Za-z0-9_-]{43})\n$`)
	for _, c := range cases {
		t.Run(strings.Join(c.flags, " "), func(t *testing.T) {
			before := time.Now()
			out, msg := mustRun(t, db, append([]string{"setup-link", "--tenant", "acme", "--base-url", "https://sso.example.com/"}, c.flags...)...)
			m := linkRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("stdout %q is not the link alone", out)
			}
			if !strings.Contains(msg, "setup link ") || !strings.Contains(msg, "expires ") || strings.Contains(msg, m[1]) {
				t.Fatalf("stderr %q: want the id and expiry, never the secret", msg)
			}
			st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			tn, _ := st.TenantBySlug(context.Background(), "acme")
			ls, err := st.ListSetupLinks(context.Background(), tn.ID)
			if err != nil || len(ls) == 0 || !slices.Equal(ls[0].Scopes, c.scopes) || !strings.Contains(msg, ls[0].ID) {
				t.Fatalf("stored links %+v, %v; want the newest with scopes %v", ls, err, c.scopes)
			}
			want := 24 * time.Hour
			if slices.Contains(c.flags, "1h") {
				want = time.Hour
			}
			if d := ls[0].ExpiresAt.Sub(before); d < want-time.Minute || d > want+time.Minute {
				t.Fatalf("expires in %v, want about %v", d, want)
			}
			// The link works once: its hash is what is stored.
			s, err := st.UseSetupLink(context.Background(), store.HashSecret(m[1]), &store.AdminSession{IDHash: store.HashSecret("x" + m[1]), ExpiresAt: time.Now().Add(time.Hour)})
			if err != nil || s.ID != ls[0].ID {
				t.Fatalf("UseSetupLink of the printed secret = %+v, %v", s, err)
			}
		})
	}
	for _, bad := range [][]string{
		{"--expires", "8d"}, {"--expires", "0s"}, {"--expires", "soon"}, {"--expires", ""}, {"--base-url", "ftp://x"}, {"--base-url", "https://x/?a=b"},
	} {
		_, msg, code := run(t, nil, append([]string{"setup-link", "--tenant", "acme", "--db", db}, bad...)...)
		if code != 1 || !strings.Contains(msg, bad[0]) { // the flag named, not the API's field
			t.Errorf("setup-link %v: exit %d %q; want 1 and a reason", bad, code, msg)
		}
	}
	if _, msg, code := run(t, nil, "setup-link", "--tenant", "nope", "--db", db); code != 1 || !strings.Contains(msg, "nope") {
		t.Errorf("unknown tenant: exit %d %q", code, msg)
	}
}

// TestUserSetAdmin: set-admin marks a user of the tenant (by any case of their email) and --off takes
// it away; an unknown user or another tenant's is refused; each change is in the admin audit log as
// the CLI's.
func TestUserSetAdmin(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	createTenant(t, db, "globex", "globex.com")
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := st.TenantBySlug(ctx, "acme")
	gx, _ := st.TenantBySlug(ctx, "globex")
	u := &store.User{UserName: "it@acme.com", Emails: []store.Email{{Value: "it@acme.com", Primary: true}}, Active: true, Source: store.SourceSCIM}
	if err := st.CreateUser(ctx, tn.ID, u, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	g := &store.User{UserName: "it@globex.com", Emails: []store.Email{{Value: "it@globex.com", Primary: true}}, Active: true, Source: store.SourceSCIM}
	if err := st.CreateUser(ctx, gx.ID, g, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	isAdmin := func() bool {
		st, err := sqlstore.Open(ctx, sqlstore.Options{Path: db})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ok, err := st.IsAdmin(ctx, tn.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	out, _ := mustRun(t, db, "user", "set-admin", "--tenant", "acme", "IT@acme.com")
	if !strings.Contains(out, "/admin/acme/") || !isAdmin() {
		t.Fatalf("set-admin: %q, admin %v", out, isAdmin())
	}
	for _, c := range []struct{ tenant, email, want string }{
		{"acme", "ghost@acme.com", "has no user ghost@acme.com"},
		{"acme", "it@globex.com", "has no user it@globex.com"},
		{"acme", "not-an-email", "not a valid email"},
	} {
		if _, msg, code := run(t, nil, "user", "set-admin", "--tenant", c.tenant, c.email, "--db", db); code != 1 || !strings.Contains(msg, c.want) {
			t.Errorf("set-admin %s %s: exit %d %q; want %q", c.tenant, c.email, code, msg, c.want)
		}
	}
	mustRun(t, db, "user", "set-admin", "--tenant", "acme", "it@acme.com", "--off")
	if isAdmin() {
		t.Fatal("--off left the admin role")
	}
	st, _ = sqlstore.Open(ctx, sqlstore.Options{Path: db})
	defer st.Close()
	acts, err := st.ListAdminActions(ctx, store.AdminActionQuery{TenantID: tn.ID})
	if err != nil || len(acts) < 2 || acts[0].Action != store.ActionAdminRemoved || acts[1].Action != store.ActionAdminAdded ||
		acts[0].Actor.Kind != store.ActorCLI || acts[0].Target != u.ID {
		t.Fatalf("audit = %+v, %v", acts, err)
	}
}

// TestSetupLinkListRevoke: setup-link list shows a link (never its secret) and what became of it;
// setup-link revoke makes it unusable, records setup_link.revoked, and refuses another tenant's or an
// unknown id by name.
func TestSetupLinkListRevoke(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	createTenant(t, db, "globex", "globex.com")
	out, _ := mustRun(t, db, "setup-link", "--tenant", "acme", "--sso")
	secret := strings.TrimSpace(out[strings.LastIndex(out, "/")+1:])
	_, msg := mustRun(t, db, "setup-link", "--tenant", "globex")
	theirs := regexp.MustCompile(`setup link (\S+)`).FindStringSubmatch(msg)[1]

	list, _ := mustRun(t, db, "setup-link", "list", "--tenant", "acme")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "sso") || !strings.HasSuffix(lines[1], "waiting") || strings.Contains(list, secret) {
		t.Fatalf("setup-link list:\n%s\nwant one waiting sso link and no secret", list)
	}
	id := strings.Fields(lines[1])[0]
	for _, bad := range []string{theirs, "nope"} {
		if _, msg, code := run(t, nil, "setup-link", "revoke", "--tenant", "acme", "--db", db, bad); code != 1 || !strings.Contains(msg, bad) {
			t.Errorf("revoke %s: exit %d %q; want 1 naming it", bad, code, msg)
		}
	}
	if out, _ := mustRun(t, db, "setup-link", "revoke", "--tenant", "acme", id); !strings.Contains(out, "revoked setup link "+id) {
		t.Fatalf("revoke said %q", out)
	}
	list, _ = mustRun(t, db, "setup-link", "list", "--tenant", "acme")
	if !strings.Contains(list, "revoked ") {
		t.Fatalf("after revoke, list:\n%s", list)
	}
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UseSetupLink(context.Background(), store.HashSecret(secret), &store.AdminSession{IDHash: store.HashSecret("x"), ExpiresAt: time.Now().Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("using a revoked link: %v, want ErrNotFound", err)
	}
	tn, _ := st.TenantBySlug(context.Background(), "acme")
	acts, err := st.ListAdminActions(context.Background(), store.AdminActionQuery{TenantID: tn.ID})
	if err != nil || len(acts) == 0 || acts[0].Action != store.ActionSetupLinkRevoked || acts[0].Target != id || acts[0].Actor.Kind != store.ActorCLI {
		t.Fatalf("latest admin action = %+v, %v; want setup_link.revoked of %s by the CLI", acts, err, id)
	}
}
