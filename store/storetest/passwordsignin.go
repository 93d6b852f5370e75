package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// testPasswordSignIn: a checked password becomes a sign-in in one transaction (attempt forgotten,
// account failures cleared, the user placed by the department map, the session), and every refusal
// writes none of it.
func testPasswordSignIn(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	if err := s.CreateTeam(ctx, a.ID, &store.Team{Name: "Engineering"}); err != nil {
		t.Fatal(err)
	}
	admin := newUser("admin@acme.com", "")
	admin.Department = "R&D" // provisioned before the map: no team yet
	if err := s.CreateUser(ctx, a.ID, admin, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceDepartmentMap(ctx, a.ID, []store.DepartmentMapping{{Department: "R&D", Team: "Engineering"}}); err != nil {
		t.Fatal(err)
	}
	ops := mustUser(t, s, a.ID, "ops@acme.com", "")
	gone := mustUser(t, s, a.ID, "gone@acme.com", "")
	for _, u := range []*store.User{admin, ops, gone} {
		if err := s.SetPassword(ctx, a.ID, u.ID, "$argon2id$"+u.UserName); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateUser(ctx, a.ID, gone.ID, 0, store.Audit{Operation: "patch"}, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	const window = 15 * time.Minute
	acct := func(u *store.User) string { return "acct:" + u.UserName }
	addr := store.Limit{Key: "addr:192.0.2.1", Max: 100}
	failures := func(key string) int {
		t.Helper()
		n, err := s.LoginFailures(ctx, key, clock.Now().Add(-window))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := 0
	// attempt reserves an attempt for u (after one failure of u's) and returns the sign-in to write.
	attempt := func(u *store.User) *store.PasswordSignIn {
		t.Helper()
		if _, err := s.ReserveLoginAttempt(ctx, window, store.Limit{Key: acct(u), Max: 100}, addr); err != nil { // a failure
			t.Fatal(err)
		}
		id, err := s.ReserveLoginAttempt(ctx, window, store.Limit{Key: acct(u), Max: 100}, addr)
		if err != nil {
			t.Fatal(err)
		}
		n++
		h := sha256.Sum256([]byte(fmt.Sprint("password session ", n)))
		return &store.PasswordSignIn{UserID: u.ID, PasswordHash: "$argon2id$" + u.UserName, Attempt: id, AccountKey: acct(u),
			Session: store.Session{IDHash: h[:], ExpiresAt: clock.Now().Add(time.Hour), Mobile: true},
			Audit:   store.Audit{Operation: "password-signin", Outcome: "ok", Detail: "placed by the department map"}}
	}
	audits := func() int {
		t.Helper()
		as, err := s.ListAudit(ctx, a.ID, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return len(as)
	}
	place := func(f store.UserFinder, u *store.User) (bool, error) {
		team, _, err := f.DepartmentTeam(u.Department)
		if u.Team == "" {
			u.Team = team
		}
		return false, err
	}

	t.Run("placed by the department map", func(t *testing.T) {
		in := attempt(admin)
		before, addrBefore := audits(), failures(addr.Key)
		u, err := s.PasswordSignIn(ctx, a.ID, in, place)
		if err != nil || u.ID != admin.ID || u.Team != "Engineering" || u.Version != admin.Version+1 {
			t.Fatalf("PasswordSignIn = %+v, %v", u, err)
		}
		if stored, err := s.UserByID(ctx, a.ID, admin.ID); err != nil || stored.Team != "Engineering" || stored.Version != u.Version {
			t.Fatalf("stored user %+v, %v", stored, err)
		}
		ss, err := s.SessionByHash(ctx, in.Session.IDHash)
		if err != nil || ss.TenantID != a.ID || ss.UserID != admin.ID || ss.Pending || !ss.Mobile || !ss.ExpiresAt.Equal(in.Session.ExpiresAt) {
			t.Fatalf("session %+v, %v", ss, err)
		}
		if got := failures(acct(admin)); got != 0 {
			t.Fatalf("the account's failures were not cleared: %d", got)
		}
		// The address keeps the earlier failure and loses this attempt.
		if got := failures(addr.Key); got != addrBefore-1 {
			t.Fatalf("address attempts %d, want %d", got, addrBefore-1)
		}
		as, _ := s.ListAudit(ctx, a.ID, time.Time{})
		if len(as) != before+1 || as[len(as)-1].Operation != "password-signin" || as[len(as)-1].UserID != admin.ID {
			t.Fatalf("audit %+v", as)
		}
	})

	t.Run("unchanged user, pending session", func(t *testing.T) {
		in := attempt(ops)
		before := audits()
		u, err := s.PasswordSignIn(ctx, a.ID, in, func(store.UserFinder, *store.User) (bool, error) { return true, nil })
		if err != nil || u.Version != ops.Version {
			t.Fatalf("PasswordSignIn = %+v, %v (version %d)", u, err, ops.Version)
		}
		if ss, err := s.SessionByHash(ctx, in.Session.IDHash); err != nil || !ss.Pending {
			t.Fatalf("session %+v, %v: want pending", ss, err)
		}
		if audits() != before {
			t.Fatal("an unchanged user got an audit entry")
		}
	})

	refusals := []struct {
		name     string
		tenantID string
		edit     func(*store.PasswordSignIn)
		complete func(store.UserFinder, *store.User) (bool, error)
		want     error
	}{
		{"the password was reset meanwhile", a.ID, func(in *store.PasswordSignIn) { in.PasswordHash = "$argon2id$old" }, place, store.ErrNotFound},
		{"deactivated meanwhile", a.ID, func(in *store.PasswordSignIn) { in.UserID, in.PasswordHash = gone.ID, "$argon2id$gone@acme.com" }, place, store.ErrNotFound},
		{"another tenant's user", b.ID, nil, place, store.ErrNotFound},
		{"no such user", a.ID, func(in *store.PasswordSignIn) { in.UserID = "no-such-user" }, place, store.ErrNotFound},
		{"complete fails", a.ID, nil, func(f store.UserFinder, u *store.User) (bool, error) {
			u.Team = "Engineering"
			return false, errRefused
		}, errRefused},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			in := attempt(ops)
			if tc.edit != nil {
				tc.edit(in)
			}
			before, acctBefore, addrBefore := audits(), failures(acct(ops)), failures(addr.Key)
			_, err := s.PasswordSignIn(ctx, tc.tenantID, in, tc.complete)
			if !errors.Is(err, tc.want) || (tc.want == errRefused && err != errRefused) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, err := s.SessionByHash(ctx, in.Session.IDHash); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a refused sign-in left a session: %v", err)
			}
			if audits() != before || failures(acct(ops)) != acctBefore || failures(addr.Key) != addrBefore {
				t.Fatal("a refused sign-in wrote an audit entry or forgot an attempt")
			}
			if u, err := s.UserByID(ctx, a.ID, ops.ID); err != nil || u.Version != ops.Version || u.Team != "" {
				t.Fatalf("a refused sign-in changed the user: %+v, %v", u, err)
			}
		})
	}
}

var errRefused = errors.New("refused by complete")
