package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

func testTeams(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	teams, err := s.ListTeams(ctx, a.ID)
	if err != nil || len(teams) != 1 || !teams[0].Root || teams[0].Name != a.Name {
		t.Fatalf("a new tenant's teams = %+v, %v; want only its root team, named after it", teams, err)
	}
	for _, tm := range []*store.Team{{Name: "Sales"}, {Name: "Engineering"}, {Name: "Board", Hidden: true}} {
		if err := s.CreateTeam(ctx, a.ID, tm); err != nil || tm.ID == "" {
			t.Fatalf("CreateTeam(%s) = %v, id %q", tm.Name, err, tm.ID)
		}
	}
	wantErr(t, "a taken name", s.CreateTeam(ctx, a.ID, &store.Team{Name: "Sales"}), store.ErrAlreadyExists)
	wantErr(t, "an unknown tenant", s.CreateTeam(ctx, "no-such-tenant", &store.Team{Name: "X"}), store.ErrNotFound)
	if err := s.CreateTeam(ctx, b.ID, &store.Team{Name: "Sales"}); err != nil {
		t.Fatalf("another tenant's team of the same name: %v", err)
	}
	teams, err = s.ListTeams(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, tm := range teams {
		got += fmt.Sprintf("%s/%v/%v ", tm.Name, tm.Hidden, tm.Root)
	}
	if want := "Board/true/false Engineering/false/false Sales/false/false Tenant acme/true/true "; got != want {
		t.Fatalf("ListTeams = %q, want %q", got, want)
	}
}

func testDepartmentMap(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	for _, n := range []string{"Sales", "Engineering"} {
		if err := s.CreateTeam(ctx, a.ID, &store.Team{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTeam(ctx, b.ID, &store.Team{Name: "Finance"}); err != nil {
		t.Fatal(err)
	}
	lookup := func(tenantID, dept string) string {
		t.Helper()
		var out string
		err := s.Lookup(ctx, tenantID, func(f store.UserFinder) error {
			team, has, err := f.DepartmentTeam(dept)
			out = fmt.Sprintf("%s/%v", team, has)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := lookup(a.ID, "R&D"); got != "/false" {
		t.Fatalf("without a map: %s", got)
	}
	m := []store.DepartmentMapping{{Department: "R&D", Team: "Engineering"}, {Department: "Field Sales", Team: "Sales"}}
	if err := s.ReplaceDepartmentMap(ctx, a.ID, m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tenant, dept, want string }{
		{a.ID, "r&d", "Engineering/true"}, {a.ID, "FIELD SALES", "Sales/true"}, {a.ID, "Legal", "/true"}, {b.ID, "R&D", "/false"},
	} {
		if got := lookup(c.tenant, c.dept); got != c.want {
			t.Errorf("DepartmentTeam(%s) = %s, want %s", c.dept, got, c.want)
		}
	}
	// A bad import writes nothing: the old map stands.
	wantErr(t, "another tenant's team", s.ReplaceDepartmentMap(ctx, a.ID, []store.DepartmentMapping{{Department: "Legal", Team: "Sales"}, {Department: "Money", Team: "Finance"}}), store.ErrNotFound)
	wantErr(t, "one department twice", s.ReplaceDepartmentMap(ctx, a.ID, []store.DepartmentMapping{{Department: "Legal", Team: "Sales"}, {Department: "LEGAL", Team: "Engineering"}}), store.ErrAlreadyExists)
	if got, err := s.DepartmentMap(ctx, a.ID); err != nil || fmt.Sprint(got) != "[{Field Sales Sales} {R&D Engineering}]" {
		t.Fatalf("after refused imports the map is %v, %v", got, err)
	}
	// Whoever writes a user with a mapped department and no team places it in the team.
	u := newUser("rd@acme.com", "")
	u.Department = "R&D"
	if err := s.CreateUser(ctx, a.ID, u, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, a.ID, u.ID); got.Team != "Engineering" {
		t.Fatalf("a user created in department R&D is in team %q", got.Team)
	}
	v := mustUser(t, s, a.ID, "later@acme.com", "")
	got, err := s.UpdateUser(ctx, a.ID, v.ID, 0, store.Audit{Operation: "patch"}, func(u *store.User) error { u.Department = "field sales"; return nil })
	if err != nil || got.Team != "Sales" {
		t.Fatalf("a user updated into department field sales: %+v, %v", got, err)
	}
	w := newUser("chosen@acme.com", "")
	w.Department, w.Team = "R&D", "Sales"
	if err := s.CreateUser(ctx, a.ID, w, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, a.ID, w.ID); got.Team != "Sales" {
		t.Fatalf("a user with a team was moved to %q", got.Team)
	}
	if err := s.ReplaceDepartmentMap(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := lookup(a.ID, "R&D"); got != "/false" {
		t.Fatalf("after an empty import: %s", got)
	}
}

func testPasswords(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	u := mustUser(t, s, a.ID, "admin@acme.com", "")
	_, err := s.PasswordHash(ctx, a.ID, u.ID)
	wantErr(t, "no password yet", err, store.ErrNotFound)
	wantErr(t, "another tenant's user", s.SetPassword(ctx, b.ID, u.ID, "h"), store.ErrNotFound)
	wantErr(t, "an unknown user", s.SetPassword(ctx, a.ID, "no-such-user", "h"), store.ErrNotFound)
	for _, h := range []string{"$argon2id$first", "$argon2id$second"} {
		if err := s.SetPassword(ctx, a.ID, u.ID, h); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PasswordHash(ctx, a.ID, u.ID); err != nil || got != h {
			t.Fatalf("PasswordHash = %q, %v; want %q", got, err, h)
		}
	}
	_, err = s.PasswordHash(ctx, b.ID, u.ID)
	wantErr(t, "read at another tenant", err, store.ErrNotFound)
}

func testLoginFailures(t *testing.T, s store.Store, clock *Clock) {
	start := clock.Now()
	for i := 0; i < 3; i++ {
		if err := s.RecordLoginFailure(ctx, "acct:a"); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute)
	}
	if err := s.RecordLoginFailure(ctx, "addr:1"); err != nil {
		t.Fatal(err)
	}
	count := func(key string, since time.Time) int {
		t.Helper()
		n, err := s.LoginFailures(ctx, key, since)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("acct:a", start); n != 3 {
		t.Fatalf("3 failures counted as %d", n)
	}
	if n := count("acct:a", start.Add(90*time.Second)); n != 1 {
		t.Fatalf("failures since the third: %d, want 1", n)
	}
	if err := s.ClearLoginFailures(ctx, "acct:a"); err != nil {
		t.Fatal(err)
	}
	if count("acct:a", start) != 0 || count("addr:1", start) != 1 {
		t.Fatal("ClearLoginFailures cleared the wrong key")
	}
	clock.Add(25 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count("addr:1", start); n != 0 {
		t.Fatalf("a failure older than a day survived the sweep (%d)", n)
	}
}

func testSessionPurposes(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	alice := mustUser(t, s, a.ID, "alice@acme.com", "")
	bob := mustUser(t, s, a.ID, "bob@acme.com", "")
	sess := sha256.Sum256([]byte("session"))
	bind := sha256.Sum256([]byte("browser"))
	if err := s.CreateSession(ctx, &store.Session{IDHash: sess[:], TenantID: a.ID, UserID: alice.ID, ExpiresAt: clock.Now().Add(time.Hour), Pending: true}); err != nil {
		t.Fatal(err)
	}
	r := &store.AuthnRequest{ID: "re-1", TenantID: a.ID, BindingHash: bind[:], ReturnTo: "/app", Purpose: store.PurposeReauth, SessionHash: sess[:],
		ExpiresAt: clock.Now().Add(5 * time.Minute)}
	if err := s.CreateAuthnRequest(ctx, r, store.RequestLimits{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuthnRequest(ctx, a.ID, "re-1", bind[:])
	if err != nil || got.Purpose != store.PurposeReauth || string(got.SessionHash) != string(sess[:]) {
		t.Fatalf("AuthnRequest = %+v, %v", got, err)
	}
	clock.Add(2 * time.Minute)
	cont := func(reqID, assertion string, who *store.User) error {
		in := &store.SignIn{RequestID: reqID, BindingHash: bind[:], AssertionID: assertion, AssertionExpires: clock.Now().Add(5 * time.Minute),
			Session: store.Session{IDHash: sess[:], ExpiresAt: clock.Now().Add(3 * time.Hour)}, Continue: true}
		_, err := s.SignIn(ctx, a.ID, in, func(store.UserFinder) (*store.User, error) { return who, nil })
		return err
	}
	// Another user's sign-in cannot continue alice's session, and writes nothing (the request stays).
	wantErr(t, "continue as another user", cont("re-1", "as-bob", bob), store.ErrNotFound)
	if err := cont("re-1", "as-alice", alice); err != nil {
		t.Fatalf("continue alice's session: %v", err)
	}
	ss, err := s.SessionByHash(ctx, sess[:])
	if err != nil || !ss.LastSeenAt.Equal(clock.Now()) || !ss.ExpiresAt.Equal(clock.Now().Add(3*time.Hour)) || !ss.Pending {
		t.Fatalf("continued session = %+v, %v; want last use now, expiry moved, still pending", ss, err)
	}
	if err := s.CompleteSession(ctx, sess[:]); err != nil {
		t.Fatal(err)
	}
	if ss, _ := s.SessionByHash(ctx, sess[:]); ss.Pending {
		t.Fatal("CompleteSession left the session pending")
	}
	wantErr(t, "complete an unknown session", s.CompleteSession(ctx, []byte("nope")), store.ErrNotFound)
	if err := s.DeleteSession(ctx, sess[:]); err != nil {
		t.Fatal(err)
	}
	if err := cont("", "as-gone", alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("continue a session that ended: %v", err)
	}
}
