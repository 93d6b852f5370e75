package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// The admins' part of the store: tenant admins, setup links, console sessions, the audit log.

// testTenantAdmins: a user of the tenant is made an admin once (a repeat records nothing), listed by
// userName, and unmade, which ends their console sessions; another tenant's user is ErrNotFound.
func testTenantAdmins(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	zed := mustUser(t, s, a.ID, "zed@acme.test", "")
	amy := mustUser(t, s, a.ID, "amy@acme.test", "")
	other := mustUser(t, s, b.ID, "bob@globex.test", "")

	wantErr(t, "another tenant's user", s.SetAdmin(ctx, a.ID, other.ID, true), store.ErrNotFound)
	wantErr(t, "unknown user", s.SetAdmin(ctx, a.ID, "nobody", true), store.ErrNotFound)
	// Ids from outside (a URL, a form) may hold what PostgreSQL refuses in text: not found, never a 500.
	for _, bad := range []string{"x\x00y", "x\xffy"} {
		wantErr(t, "a user id of "+bad, s.SetAdmin(ctx, a.ID, bad, true), store.ErrNotFound)
		wantErr(t, "a user id of "+bad+" (off)", s.SetAdmin(ctx, a.ID, bad, false), store.ErrNotFound)
		if ok, err := s.IsAdmin(ctx, a.ID, bad); err != nil || ok {
			t.Fatalf("IsAdmin(%q) = %v, %v; want false, nil", bad, ok, err)
		}
	}
	for _, u := range []*store.User{zed, amy, zed} {
		if err := s.SetAdmin(ctx, a.ID, u.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	admins, err := s.ListAdmins(ctx, a.ID)
	if err != nil || len(admins) != 2 || admins[0].ID != amy.ID || admins[1].ID != zed.ID || admins[0].UserName != "amy@acme.test" {
		t.Fatalf("ListAdmins = %+v, %v; want amy then zed", admins, err)
	}
	if ok, err := s.IsAdmin(ctx, a.ID, zed.ID); err != nil || !ok {
		t.Fatalf("IsAdmin(zed) = %v, %v", ok, err)
	}
	for _, c := range []struct{ tenant, user string }{{b.ID, zed.ID}, {a.ID, other.ID}, {a.ID, "nobody"}} {
		if ok, err := s.IsAdmin(ctx, c.tenant, c.user); err != nil || ok {
			t.Fatalf("IsAdmin(%s, %s) = %v, %v; want false", c.tenant, c.user, ok, err)
		}
	}
	if as, err := s.ListAdmins(ctx, b.ID); err != nil || len(as) != 0 {
		t.Fatalf("ListAdmins(globex) = %+v, %v", as, err)
	}
	acts, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID})
	if err != nil || len(acts) != 3 || acts[0].Action != store.ActionAdminAdded || acts[0].Target != amy.ID || acts[1].Target != zed.ID {
		t.Fatalf("admin actions = %+v, %v; want two admin.added (the repeat records none) after tenant.created", acts, err)
	}

	sess := &store.AdminSession{IDHash: hashOf("zed console"), TenantID: a.ID, UserID: zed.ID,
		Scopes: []string{store.AdminScopeSSO, store.AdminScopeSCIM, store.AdminScopeAdmins}, ExpiresAt: time.Now().Add(time.Hour).Add(24 * 365 * time.Hour)}
	if err := s.CreateAdminSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdmin(ctx, a.ID, zed.ID, false); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsAdmin(ctx, a.ID, zed.ID); ok {
		t.Fatal("zed is still an admin")
	}
	_, err = s.AdminSessionByHash(ctx, sess.IDHash)
	wantErr(t, "console session of an admin no more", err, store.ErrNotFound)
	if err := s.SetAdmin(ctx, a.ID, zed.ID, false); err != nil {
		t.Fatal(err)
	}
	acts, _ = s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID})
	if len(acts) != 4 || acts[0].Action != store.ActionAdminRemoved || acts[0].Before != `{"id":"`+zed.ID+`","user_name":"zed@acme.test","admin":true}` ||
		acts[0].After != `{"id":"`+zed.ID+`","user_name":"zed@acme.test","admin":false}` {
		t.Fatalf("admin actions after removal = %+v", acts)
	}
}

func hashOf(s string) []byte { return store.HashSecret(s) }

// testSetupLinks: a link is stored with its creator and listed without its hash; used once it opens a
// console session of its tenant with its scopes; a second use, an expired or unknown link is
// ErrNotFound and opens nothing.
func testSetupLinks(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")
	actx := store.WithActor(ctx, store.Actor{Kind: store.ActorAPIKey, ID: "key1", Name: "ops"})
	wantErr(t, "unknown tenant", s.CreateSetupLink(actx, &store.SetupLink{TenantID: "nope", Scopes: []string{store.AdminScopeSSO}, Hash: hashOf("x"), ExpiresAt: clock.Now().Add(time.Hour)}), store.ErrNotFound)
	l := &store.SetupLink{TenantID: a.ID, Scopes: []string{store.AdminScopeSSO}, Hash: hashOf("link1"), ExpiresAt: clock.Now().Add(store.DefaultSetupLinkLifetime)}
	if err := s.CreateSetupLink(actx, l); err != nil {
		t.Fatal(err)
	}
	if l.ID == "" || !l.CreatedAt.Equal(clock.Now()) || l.CreatedBy.Kind != store.ActorAPIKey || l.CreatedBy.Name != "ops" {
		t.Fatalf("CreateSetupLink set %+v", l)
	}
	clock.Add(time.Minute)
	expired := &store.SetupLink{TenantID: a.ID, Scopes: []string{store.AdminScopeSSO, store.AdminScopeSCIM}, Hash: hashOf("link2"), ExpiresAt: clock.Now().Add(time.Minute)}
	if err := s.CreateSetupLink(ctx, expired); err != nil {
		t.Fatal(err)
	}
	ls, err := s.ListSetupLinks(ctx, a.ID)
	if err != nil || len(ls) != 2 || ls[0].ID != expired.ID || ls[1].ID != l.ID || ls[0].Hash != nil ||
		!slices.Equal(ls[0].Scopes, expired.Scopes) || ls[0].CreatedBy.Kind != store.ActorCLI || !ls[1].ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("ListSetupLinks = %+v, %v", ls, err)
	}

	clock.Add(2 * time.Minute)
	sess := &store.AdminSession{IDHash: hashOf("s2"), ExpiresAt: clock.Now().Add(time.Hour)}
	_, err = s.UseSetupLink(ctx, hashOf("link2"), sess)
	wantErr(t, "expired link", err, store.ErrNotFound)
	_, err = s.UseSetupLink(ctx, hashOf("nope"), sess)
	wantErr(t, "unknown link", err, store.ErrNotFound)

	sess = &store.AdminSession{IDHash: hashOf("s1"), ExpiresAt: clock.Now().Add(time.Hour)}
	used, err := s.UseSetupLink(store.WithActor(ctx, store.Actor{Kind: store.ActorSetupLink, ID: l.ID}), hashOf("link1"), sess)
	if err != nil || used.ID != l.ID || used.TenantID != a.ID || !used.UsedAt.Equal(clock.Now()) {
		t.Fatalf("UseSetupLink = %+v, %v", used, err)
	}
	got, err := s.AdminSessionByHash(ctx, hashOf("s1"))
	if err != nil || got.TenantID != a.ID || got.SetupLinkID != l.ID || got.UserID != "" || !slices.Equal(got.Scopes, []string{store.AdminScopeSSO}) ||
		!got.CreatedAt.Equal(clock.Now()) || !got.ExpiresAt.Equal(sess.ExpiresAt) || !got.Allows(store.AdminScopeSSO) || got.Allows(store.AdminScopeSCIM) {
		t.Fatalf("AdminSessionByHash = %+v, %v", got, err)
	}
	_, err = s.UseSetupLink(ctx, hashOf("link1"), &store.AdminSession{IDHash: hashOf("s3"), ExpiresAt: clock.Now().Add(time.Hour)})
	wantErr(t, "second use", err, store.ErrNotFound)
	_, err = s.AdminSessionByHash(ctx, hashOf("s3"))
	wantErr(t, "session of a second use", err, store.ErrNotFound)

	acts, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID})
	if err != nil || len(acts) != 4 || acts[0].Action != store.ActionSetupLinkUsed || acts[0].Actor.Kind != store.ActorSetupLink ||
		acts[2].Action != store.ActionSetupLinkCreated || acts[2].Actor != (store.Actor{Kind: store.ActorAPIKey, ID: "key1", Name: "ops"}) {
		t.Fatalf("admin actions = %+v, %v", acts, err)
	}

	// The console session ends by expiry and by sign-out.
	clock.Add(time.Hour)
	_, err = s.AdminSessionByHash(ctx, hashOf("s1"))
	wantErr(t, "expired console session", err, store.ErrNotFound)
	ada := mustAdmin(t, s, a.ID, "ada@acme.test")
	keep := &store.AdminSession{IDHash: hashOf("s4"), TenantID: a.ID, UserID: ada.ID, Scopes: []string{store.AdminScopeSSO}, ExpiresAt: clock.Now().Add(time.Hour)}
	if err := s.CreateAdminSession(ctx, keep); err != nil || !keep.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("CreateAdminSession: %v, %+v", err, keep)
	}
	if err := s.EndAdminSession(ctx, hashOf("s4")); err != nil {
		t.Fatal(err)
	}
	_, err = s.AdminSessionByHash(ctx, hashOf("s4"))
	wantErr(t, "ended console session", err, store.ErrNotFound)
	if err := s.EndAdminSession(ctx, hashOf("never")); err != nil {
		t.Fatalf("ending an unknown session: %v", err)
	}
}

// testConcurrentSetupLinkUse: of many concurrent uses of one link exactly one opens a session.
func testConcurrentSetupLinkUse(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")
	if err := s.CreateSetupLink(ctx, &store.SetupLink{TenantID: a.ID, Scopes: []string{store.AdminScopeSCIM}, Hash: hashOf("race"), ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UseSetupLink(ctx, hashOf("race"), &store.AdminSession{IDHash: hashOf(string(rune('a' + i))), ExpiresAt: clock.Now().Add(time.Hour)})
		}()
	}
	wg.Wait()
	ok, sessions := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		default:
			wantErr(t, "a losing use", err, store.ErrNotFound)
		}
		if _, err := s.AdminSessionByHash(ctx, hashOf(string(rune('a'+i)))); err == nil {
			sessions++
		}
	}
	if ok != 1 || sessions != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded and %d sessions exist; want 1 and 1", ok, n, sessions)
	}
}

// testAdminActionPages: the log is listed newest first, by tenant or whole, in pages by seq.
func testAdminActionPages(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	for i := range 5 {
		for _, tn := range []*store.Tenant{a, b} {
			if err := s.AddDomain(ctx, tn.ID, tn.Slug+string(rune('a'+i))+".test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := s.ListAdminActions(ctx, store.AdminActionQuery{Limit: 500})
	if err != nil || len(all) != 12 { // two tenant.created, ten domain.added
		t.Fatalf("whole log = %d entries, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq >= all[i-1].Seq {
			t.Fatalf("log not newest first: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	p1, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID, Limit: 4})
	if err != nil || len(p1) != 4 || p1[0].Target != "acmee.test" || p1[0].After != `{"domain":"acmee.test"}` {
		t.Fatalf("first page = %+v, %v", p1, err)
	}
	p2, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID, Limit: 4, Before: p1[3].Seq})
	if err != nil || len(p2) != 2 || p2[0].Target != "acmea.test" || p2[1].Action != store.ActionTenantCreated || p2[1].TenantID != a.ID {
		t.Fatalf("second page = %+v, %v", p2, err)
	}
	for _, e := range append(p1, p2...) {
		if e.TenantID != a.ID {
			t.Fatalf("acme's page holds %+v", e)
		}
	}
}

// testSweepAdmins: Sweep deletes used and expired setup links, expired console sessions and audit
// entries older than a year, and keeps the rest.
func testSweepAdmins(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")                 // tenant.created, a year and a day before the sweep
	ada := mustAdmin(t, s, a.ID, "ada@acme.test") // admin.added, as old
	clock.Add(24 * time.Hour)
	for i, exp := range []time.Duration{time.Hour, 48 * time.Hour, 400 * 24 * time.Hour} {
		l := &store.SetupLink{TenantID: a.ID, Scopes: []string{store.AdminScopeSSO}, Hash: hashOf("l" + string(rune('0'+i))), ExpiresAt: clock.Now().Add(exp)}
		if err := s.CreateSetupLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UseSetupLink(ctx, hashOf("l2"), &store.AdminSession{IDHash: hashOf("long"), ExpiresAt: clock.Now().Add(400 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAdminSession(ctx, &store.AdminSession{IDHash: hashOf("short"), TenantID: a.ID, UserID: ada.ID, ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock.Add(365*24*time.Hour - 2*time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	ls, err := s.ListSetupLinks(ctx, a.ID)
	if err != nil || len(ls) != 0 {
		t.Fatalf("setup links after sweep = %+v, %v; want none (two expired, one used)", ls, err)
	}
	if _, err := s.AdminSessionByHash(ctx, hashOf("long")); err != nil {
		t.Fatalf("a live console session was swept: %v", err)
	}
	acts, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID})
	if err != nil || len(acts) != 4 || acts[3].Action != store.ActionSetupLinkCreated {
		t.Fatalf("audit after sweep = %+v, %v; want tenant.created gone, the rest kept", acts, err)
	}
}

// testRevokeSetupLink: revoking a link ends the sessions it opened and refuses its use, recorded once;
// another tenant's or an unknown id is ErrNotFound. Used, revoked and expired links stay listed for
// SetupLinkHistory, then Sweep deletes them.
func testRevokeSetupLink(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	mk := func(tn *store.Tenant, name string, life time.Duration) *store.SetupLink {
		l := &store.SetupLink{TenantID: tn.ID, Scopes: []string{store.AdminScopeSSO}, Hash: hashOf(name), ExpiresAt: clock.Now().Add(life)}
		if err := s.CreateSetupLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	used, unused, expired, theirs := mk(a, "used", time.Hour), mk(a, "unused", time.Hour), mk(a, "expired", time.Minute), mk(b, "theirs", time.Hour)
	if _, err := s.UseSetupLink(ctx, hashOf("used"), &store.AdminSession{IDHash: hashOf("ses"), ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "another tenant's link", s.RevokeSetupLink(ctx, a.ID, theirs.ID), store.ErrNotFound)
	wantErr(t, "unknown link", s.RevokeSetupLink(ctx, a.ID, "nope"), store.ErrNotFound)
	wantErr(t, "a NUL id", s.RevokeSetupLink(ctx, a.ID, "x\x00y"), store.ErrNotFound)
	wantErr(t, "an invalid UTF-8 id", s.RevokeSetupLink(ctx, a.ID, "x\xffy"), store.ErrNotFound)

	actx := store.WithActor(ctx, store.Actor{Kind: store.ActorCLI, Name: "ops"})
	for _, id := range []string{used.ID, unused.ID, unused.ID} {
		if err := s.RevokeSetupLink(actx, a.ID, id); err != nil {
			t.Fatalf("RevokeSetupLink(%s): %v", id, err)
		}
	}
	_, err := s.AdminSessionByHash(ctx, hashOf("ses"))
	wantErr(t, "session of a revoked link", err, store.ErrNotFound)
	_, err = s.UseSetupLink(ctx, hashOf("unused"), &store.AdminSession{IDHash: hashOf("ses2"), ExpiresAt: clock.Now().Add(time.Hour)})
	wantErr(t, "use of a revoked link", err, store.ErrNotFound)
	acts, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, x := range acts {
		if x.Action == store.ActionSetupLinkRevoked {
			revoked++
			if x.Actor.Name != "ops" || (x.Target != used.ID && x.Target != unused.ID) {
				t.Errorf("revoke recorded as %+v", x)
			}
		}
	}
	if revoked != 2 {
		t.Fatalf("%d setup_link.revoked entries, want 2 (a repeat records nothing)", revoked)
	}

	// History: 29 days on all four of acme's are listed, with what became of them; 31 days on none.
	clock.Add(29 * 24 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	ls, err := s.ListSetupLinks(ctx, a.ID)
	if err != nil || len(ls) != 3 {
		t.Fatalf("links 29 days on = %+v, %v; want used, revoked and expired still listed", ls, err)
	}
	for _, l := range ls {
		if (l.ID == used.ID && (l.UsedAt.IsZero() || l.RevokedAt.IsZero())) || (l.ID == unused.ID && l.RevokedAt.IsZero()) || (l.ID == expired.ID && !l.RevokedAt.IsZero()) {
			t.Errorf("listed %+v", l)
		}
	}
	clock.Add(2 * 24 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if ls, err := s.ListSetupLinks(ctx, a.ID); err != nil || len(ls) != 0 {
		t.Fatalf("links 31 days on = %+v, %v; want none", ls, err)
	}
}

// testConsoleEndsWithPeopleSession: a console session opened from a people session is deleted with it
// by EndSession, DeleteUserSessions, the user's deactivation and the sweep of expired sessions; a
// setup link's and another session's console sessions stay.
func testConsoleEndsWithPeopleSession(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")
	u := mustAdmin(t, s, a.ID, "ada@acme.test")
	n := 0
	pair := func(life time.Duration) (people, console []byte) {
		n++
		people, console = hashOf("p"+string(rune('a'+n))), hashOf("c"+string(rune('a'+n)))
		if err := s.CreateSession(ctx, &store.Session{IDHash: people, TenantID: a.ID, UserID: u.ID, ExpiresAt: clock.Now().Add(life)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAdminSession(ctx, &store.AdminSession{IDHash: console, TenantID: a.ID, UserID: u.ID, PeopleSession: people,
			Scopes: []string{store.AdminScopeSSO}, ExpiresAt: clock.Now().Add(8 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return people, console
	}
	gone := func(how string, console []byte) {
		t.Helper()
		_, err := s.AdminSessionByHash(ctx, console)
		wantErr(t, "console session after "+how, err, store.ErrNotFound)
	}
	alive := func(how string, console []byte) {
		t.Helper()
		if got, err := s.AdminSessionByHash(ctx, console); err != nil {
			t.Fatalf("console session after %s: %v, want it kept", how, err)
		} else if len(got.PeopleSession) == 0 {
			t.Fatalf("console session %+v lost its people session", got)
		}
	}
	p1, c1 := pair(time.Hour)
	_, c2 := pair(time.Hour)
	if err := s.EndSession(ctx, p1, store.EndLogout); err != nil {
		t.Fatal(err)
	}
	gone("EndSession", c1)
	alive("another session's EndSession", c2)
	if err := s.DeleteUserSessions(ctx, a.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	gone("DeleteUserSessions", c2)

	_, c3 := pair(time.Minute)
	_, c4 := pair(4 * time.Hour)
	clock.Add(time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	gone("the sweep of its expired session", c3)
	alive("the sweep, of a live session's", c4)
	if _, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{Operation: "deactivate"}, func(x *store.User) error { x.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	gone("deactivation", c4)
}

// testAdminSeqNeverReused: after the sweep emptied the admin audit log, the next entry's seq is still
// above every seq handed out before, so a saved cursor never skips or repeats entries.
func testAdminSeqNeverReused(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.test")
	if err := s.AddDomain(ctx, a.ID, "second.test"); err != nil {
		t.Fatal(err)
	}
	as, err := s.ListAdminActions(ctx, store.AdminActionQuery{Limit: 1})
	if err != nil || len(as) != 1 {
		t.Fatalf("ListAdminActions = %+v, %v", as, err)
	}
	top := as[0].Seq
	clock.Add(store.SetupLinkHistory + 400*24*time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if as, err := s.ListAdminActions(ctx, store.AdminActionQuery{}); err != nil || len(as) != 0 {
		t.Fatalf("after the sweep: %+v, %v; want an empty log", as, err)
	}
	if err := s.RemoveDomain(ctx, a.ID, "second.test"); err != nil {
		t.Fatal(err)
	}
	as, err = s.ListAdminActions(ctx, store.AdminActionQuery{Limit: 1})
	if err != nil || len(as) != 1 || as[0].Seq <= top {
		t.Fatalf("the entry after the sweep: %+v, %v; want a seq above %d", as, err, top)
	}
}

// testSSOTestPassed: the last successful test sign-in's version is kept per tenant, replaced by the next.
func testSSOTestPassed(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	_, err := s.SSOTestPassedVersion(ctx, a.ID)
	wantErr(t, "no test yet", err, store.ErrNotFound)
	for _, v := range []int64{3, 5} {
		if err := s.RecordSSOTestPassed(ctx, a.ID, v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.SSOTestPassedVersion(ctx, a.ID); err != nil || got != v {
			t.Fatalf("SSOTestPassedVersion = %d, %v; want %d", got, err, v)
		}
	}
	_, err = s.SSOTestPassedVersion(ctx, b.ID)
	wantErr(t, "another tenant's test", err, store.ErrNotFound)
}

// testAdminSessionCap: a tenant admin keeps at most MaxAdminSessionsPerUser console sessions, the
// oldest ending as a new one starts; another admin's and a setup link's are not touched.
func testAdminSessionCap(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")
	mk := func(name, user string) {
		t.Helper()
		clock.Add(time.Second)
		if err := s.CreateAdminSession(ctx, &store.AdminSession{IDHash: hashOf(name), TenantID: a.ID, UserID: user, Scopes: []string{store.AdminScopeSSO},
			ExpiresAt: clock.Now().Add(8 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	bob, ada := mustAdmin(t, s, a.ID, "bob@acme.test"), mustAdmin(t, s, a.ID, "ada@acme.test")
	mk("bob", bob.ID)
	n := store.MaxAdminSessionsPerUser + 2
	for i := range n {
		mk(fmt.Sprintf("ada%d", i), ada.ID)
	}
	for i := range n {
		_, err := s.AdminSessionByHash(ctx, hashOf(fmt.Sprintf("ada%d", i)))
		if live := i >= n-store.MaxAdminSessionsPerUser; live != (err == nil) {
			t.Errorf("ada's session %d of %d: %v (live: want %v)", i, n, err, live)
		}
	}
	if _, err := s.AdminSessionByHash(ctx, hashOf("bob")); err != nil {
		t.Errorf("another admin's session: %v", err)
	}
}

// mustAdmin creates a user of the tenant and makes it a tenant admin, as the operator.
func mustAdmin(t *testing.T, s store.Store, tenantID, name string) *store.User {
	t.Helper()
	u := mustUser(t, s, tenantID, name, "")
	if err := s.SetAdmin(ctx, tenantID, u.ID, true); err != nil {
		t.Fatal(err)
	}
	return u
}

// testAdminSessionChecks: CreateAdminSession stores a tenant admin's console session only while the
// user is still an admin and the people session it opens from is still live, read in its own
// transaction; racing the admin right's removal or the people session's end, no console session
// outlives them.
func testAdminSessionChecks(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	ada, bob := mustAdmin(t, s, a.ID, "ada@acme.test"), mustUser(t, s, a.ID, "bob@acme.test", "")
	n := 0
	people := func(u *store.User, life time.Duration) []byte {
		t.Helper()
		n++
		h := hashOf(fmt.Sprintf("people%d", n))
		if err := s.CreateSession(ctx, &store.Session{IDHash: h, TenantID: u.TenantID, UserID: u.ID, ExpiresAt: clock.Now().Add(life)}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	open := func(u *store.User, tenantID string, ps []byte) (*store.AdminSession, error) {
		n++
		as := &store.AdminSession{IDHash: hashOf(fmt.Sprintf("console%d", n)), TenantID: tenantID, UserID: u.ID, PeopleSession: ps,
			Scopes: []string{store.AdminScopeSSO}, ExpiresAt: clock.Now().Add(8 * time.Hour)}
		return as, s.CreateAdminSession(ctx, as)
	}
	ended := people(ada, time.Hour)
	if err := s.EndSession(ctx, ended, store.EndLogout); err != nil {
		t.Fatal(err)
	}
	expired := people(ada, time.Minute)
	clock.Add(2 * time.Minute)
	for _, c := range []struct {
		name     string
		user     *store.User
		tenantID string
		ps       []byte
		want     error
	}{
		{"not an admin", bob, a.ID, people(bob, time.Hour), store.ErrNotAdmin},
		{"an admin of another tenant", ada, b.ID, nil, store.ErrNotAdmin},
		{"ended people session", ada, a.ID, ended, store.ErrNotFound},
		{"expired people session", ada, a.ID, expired, store.ErrNotFound},
		{"another user's people session", ada, a.ID, people(bob, time.Hour), store.ErrNotFound},
	} {
		as, err := open(c.user, c.tenantID, c.ps)
		wantErr(t, c.name, err, c.want)
		if _, err := s.AdminSessionByHash(ctx, as.IDHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: a console session was stored (%v)", c.name, err)
		}
	}

	// Races: whichever commits first, no console session is left once the right or the session is gone.
	for i := range 20 {
		ps := people(ada, time.Hour)
		var as *store.AdminSession
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); as, _ = open(ada, a.ID, ps) }()
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				err = s.SetAdmin(ctx, a.ID, ada.ID, false)
			} else {
				err = s.EndSession(ctx, ps, store.EndLogout)
			}
			if err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if _, err := s.AdminSessionByHash(ctx, as.IDHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: a console session outlived its admin right or people session (%v)", i, err)
		}
		if err := s.SetAdmin(ctx, a.ID, ada.ID, true); err != nil {
			t.Fatal(err)
		}
	}
}
