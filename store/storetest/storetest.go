// Package storetest is the conformance suite every store.Store backend must pass.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// Clock is a settable clock for the store under test; safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { c := &Clock{}; c.Set(t); return c }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// NewStore opens a fresh, empty store whose clock is now. It is closed by the suite.
type NewStore func(t *testing.T, now func() time.Time) store.Store

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, *Clock)
	}{
		{"Tenants", testTenants},
		{"Domains", testDomains},
		{"Tokens", testTokens},
		{"UnstorableIDs", testUnstorableIDs},
		{"APIKeys", testAPIKeys},
		{"CreateUser", testCreateUser},
		{"TenantIsolation", testTenantIsolation},
		{"ListUsers", testListUsers},
		{"UsersAfter", testUsersAfter},
		{"UpdateUser", testUpdateUser},
		{"DeactivateEndsSessions", testDeactivateEndsSessions},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Audit", testAudit},
		{"Sessions", testSessions},
		{"AuthnRequests", testAuthnRequests},
		{"ConsumeAuthnRequest", testConsumeAuthnRequest},
		{"TestLinks", testTestLinks},
		{"ReplayCache", testReplayCache},
		{"SignIn", testSignIn},
		{"PasswordSignIn", testPasswordSignIn},
		{"SessionExpiry", testSessionExpiry},
		{"TenantSSOVersion", testTenantSSOVersion},
		{"SSOSettings", testSSOSettings},
		{"Teams", testTeams},
		{"DepartmentMap", testDepartmentMap},
		{"Passwords", testPasswords},
		{"LoginFailures", testLoginFailures},
		{"SessionPurposes", testSessionPurposes},
		{"LoginReservations", testLoginReservations},
		{"ConcurrentLoginReservations", testConcurrentLoginReservations},
		{"AuthnRequestLimits", testAuthnRequestLimits},
		{"ConcurrentAuthnRequestLimits", testConcurrentAuthnRequestLimits},
		{"OIDCClients", testOIDCClients},
		{"OIDCKeys", testOIDCKeys},
		{"OIDCCodes", testOIDCCodes},
		{"OIDCRefresh", testOIDCRefresh},
		{"ConcurrentOIDCRedeem", testConcurrentOIDCRedeem},
		{"OIDCAnsweredAtOnce", testOIDCAnsweredAtOnce},
		{"OIDCRequestLimits", testOIDCRequestLimits},
		{"ConcurrentOIDCRequestLimits", testConcurrentOIDCRequestLimits},
		{"OIDCRefreshTouchesSession", testOIDCRefreshTouchesSession},
		{"Webhooks", testWebhooks},
		{"WebhookCursor", testWebhookCursor},
		{"ConcurrentWebhookAdvance", testConcurrentWebhookAdvance},
		{"SweepDeliveries", testSweepDeliveries},
		{"EventsUsers", testEventsUsers},
		{"EventsSessions", testEventsSessions},
		{"EventsSignIn", testEventsSignIn},
		{"EventsTenant", testEventsTenant},
		{"EventsRollback", testEventsRollback},
		{"EventsQuery", testEventsQuery},
		{"EventsRetention", testEventsRetention},
		{"BackchannelDestinations", testBackchannelDestinations},
		{"SessionClients", testSessionClients},
		{"SignInLog", testSignInLog},
		{"SignInLogCap", testSignInLogCap},
		{"SignInLogRetention", testSignInLogRetention},
		{"MetadataFetch", testMetadataFetch},
		{"CertificateExpiring", testCertificateExpiring},
		{"TenantAdmins", testTenantAdmins},
		{"AdminGuards", testAdminGuards},
		{"SetupLinks", testSetupLinks},
		{"ConcurrentSetupLinkUse", testConcurrentSetupLinkUse},
		{"AdminActionPages", testAdminActionPages},
		{"SweepAdmins", testSweepAdmins},
		{"RevokeSetupLink", testRevokeSetupLink},
		{"ConsoleEndsWithPeopleSession", testConsoleEndsWithPeopleSession},
		{"AdminSeqNeverReused", testAdminSeqNeverReused},
		{"SSOTestPassed", testSSOTestPassed},
		{"AdminSessionCap", testAdminSessionCap},
		{"AdminSessionChecks", testAdminSessionChecks},
		{"AdminAudit", testAdminAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
			s := newStore(t, clock.Now)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s, clock)
		})
	}
}

var ctx = context.Background()

func mustTenant(t *testing.T, s store.Store, slug string, domains ...string) *store.Tenant {
	t.Helper()
	tn := &store.Tenant{Slug: slug, Name: "Tenant " + slug, Domains: domains, SPKeyPEM: []byte("key"), SPCertPEM: []byte("cert")}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatalf("CreateTenant(%s): %v", slug, err)
	}
	return tn
}

func newUser(name, ext string) *store.User {
	return &store.User{
		UserName:   name,
		Emails:     []store.Email{{Value: name, Type: "work", Primary: true}},
		GivenName:  "Given",
		FamilyName: "Family",
		Country:    "DE",
		ExternalID: ext,
		Active:     true,
		Source:     store.SourceSCIM,
	}
}

func mustUser(t *testing.T, s store.Store, tenantID, name, ext string) *store.User {
	t.Helper()
	u := newUser(name, ext)
	if err := s.CreateUser(ctx, tenantID, u, store.Audit{Operation: "create", Outcome: "201"}); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func testTenants(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com", "Acme.ORG")
	if a.ID == "" || a.CreatedAt.IsZero() {
		t.Fatalf("CreateTenant did not set ID and CreatedAt: %+v", a)
	}
	got, err := s.TenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Name != "Tenant acme" || fmt.Sprint(got.Domains) != "[acme.com acme.org]" || got.SPKeyPEM != nil || string(got.SPCertPEM) != "cert" {
		t.Fatalf("TenantBySlug = %+v (the private key is read by SPKey only)", got)
	}
	if key, err := s.SPKey(ctx, a.ID); err != nil || string(key) != "key" {
		t.Fatalf("SPKey = %q, %v", key, err)
	}
	if _, err := s.SPKey(ctx, "no-such-tenant"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SPKey of an unknown tenant: %v, want ErrNotFound", err)
	}
	if byID, err := s.TenantByID(ctx, a.ID); err != nil || byID.Slug != "acme" {
		t.Fatalf("TenantByID = %v, %v", byID, err)
	}
	if byDomain, err := s.TenantByDomain(ctx, "ACME.org"); err != nil || byDomain.ID != a.ID {
		t.Fatalf("TenantByDomain = %v, %v", byDomain, err)
	}
	_, err = s.TenantBySlug(ctx, "nope")
	wantErr(t, "unknown slug", err, store.ErrNotFound)
	_, err = s.TenantByDomain(ctx, "nope.com")
	wantErr(t, "unknown domain", err, store.ErrNotFound)

	wantErr(t, "duplicate slug", s.CreateTenant(ctx, &store.Tenant{Slug: "acme", Name: "x", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}), store.ErrAlreadyExists)
	// A domain owned by another tenant refuses the whole tenant: nothing of it is written.
	wantErr(t, "taken domain", s.CreateTenant(ctx, &store.Tenant{Slug: "beta", Name: "Beta", Domains: []string{"beta.com", "ACME.COM"}, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}), store.ErrAlreadyExists)
	_, err = s.TenantBySlug(ctx, "beta")
	wantErr(t, "half-written tenant", err, store.ErrNotFound)
	_, err = s.TenantByDomain(ctx, "beta.com")
	wantErr(t, "half-written domain", err, store.ErrNotFound)

	mustTenant(t, s, "beta", "beta.com")
	ts, err := s.ListTenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].Slug != "acme" || ts[1].Slug != "beta" {
		t.Fatalf("ListTenants = %+v, %v", ts, err)
	}
}

func testDomains(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	if err := s.AddDomain(ctx, a.ID, "Acme.Net"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "domain of another tenant", s.AddDomain(ctx, a.ID, "beta.com"), store.ErrAlreadyExists)
	wantErr(t, "domain twice", s.AddDomain(ctx, a.ID, "acme.net"), store.ErrAlreadyExists)
	wantErr(t, "unknown tenant", s.AddDomain(ctx, "no-such-tenant", "x.com"), store.ErrNotFound)
	wantErr(t, "remove another tenant's domain", s.RemoveDomain(ctx, a.ID, "beta.com"), store.ErrNotFound)
	if got, _ := s.TenantByDomain(ctx, "beta.com"); got == nil || got.ID != b.ID {
		t.Fatalf("beta.com moved: %+v", got)
	}
	if err := s.RemoveDomain(ctx, a.ID, "ACME.NET"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "removed twice", s.RemoveDomain(ctx, a.ID, "acme.net"), store.ErrNotFound)
	got, _ := s.TenantBySlug(ctx, "acme")
	if fmt.Sprint(got.Domains) != "[acme.com]" {
		t.Fatalf("domains = %v", got.Domains)
	}
}

func testTokens(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	h := sha256.Sum256([]byte("secret-a"))
	tok := &store.Token{TenantID: a.ID, Name: "okta", Hash: h[:], ExpiresAt: clock.Now().Add(time.Hour)}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(ctx, h[:])
	if err != nil || got.ID != tok.ID || got.TenantID != a.ID || got.Name != "okta" || !got.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("TokenByHash = %+v, %v", got, err)
	}
	if !got.Live(clock.Now()) || got.Live(clock.Now().Add(2*time.Hour)) {
		t.Fatal("expiry not honoured by Live")
	}
	tn, tk, err := s.TenantToken(ctx, "acme", h[:])
	if err != nil || tn.ID != a.ID || fmt.Sprint(tn.Domains) != "[acme.com]" || tk.ID != tok.ID || tk.TenantID != a.ID || !tk.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("TenantToken = %+v, %+v, %v", tn, tk, err)
	}
	_, _, err = s.TenantToken(ctx, "beta", h[:])
	wantErr(t, "token of another tenant", err, store.ErrNotFound)
	_, _, err = s.TenantToken(ctx, "nope", h[:])
	wantErr(t, "unknown tenant", err, store.ErrNotFound)
	h2 := sha256.Sum256([]byte("secret-b"))
	wantErr(t, "unknown hash", func() error { _, err := s.TokenByHash(ctx, h2[:]); return err }(), store.ErrNotFound)
	wantErr(t, "same hash twice", s.CreateToken(ctx, &store.Token{TenantID: b.ID, Hash: h[:]}), store.ErrAlreadyExists)
	wantErr(t, "unknown tenant", s.CreateToken(ctx, &store.Token{TenantID: "nope", Hash: h2[:]}), store.ErrNotFound)

	wantErr(t, "revoke from another tenant", s.RevokeToken(ctx, b.ID, tok.ID), store.ErrNotFound)
	clock.Add(time.Minute)
	if err := s.RevokeToken(ctx, a.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "revoke twice", s.RevokeToken(ctx, a.ID, tok.ID), store.ErrNotFound)
	got, _ = s.TokenByHash(ctx, h[:])
	if got.Live(clock.Now()) || !got.RevokedAt.Equal(clock.Now()) {
		t.Fatalf("revoked token still live: %+v", got)
	}
	if _, tk, err := s.TenantToken(ctx, "acme", h[:]); err != nil || tk.Live(clock.Now()) {
		t.Fatalf("TenantToken after revoke = %+v, %v", tk, err)
	}
	list, err := s.ListTokens(ctx, a.ID)
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("ListTokens = %+v, %v", list, err)
	}
	if list, _ := s.ListTokens(ctx, b.ID); len(list) != 0 {
		t.Fatalf("ListTokens(beta) = %+v", list)
	}
}

func testCreateUser(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "Alice@Acme.com", "ext-1")
	if u.ID == "" || u.Version != 1 || !u.CreatedAt.Equal(clock.Now()) || u.TenantID != a.ID {
		t.Fatalf("CreateUser set %+v", u)
	}
	got, err := s.UserByID(ctx, a.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(u) || got.Version != 1 || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("UserByID = %+v, want %+v", got, u)
	}
	// An email's display name is kept as given, through a create and an update.
	d := newUser("dora@acme.com", "")
	d.Emails = []store.Email{{Value: "dora@acme.com", Type: "work", Primary: true, Display: "Dora (work)"}, {Value: "dora@home.net", Display: "Dora ✓"}}
	if err := s.CreateUser(ctx, a.ID, d, store.Audit{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByID(ctx, a.ID, d.ID); err != nil || fmt.Sprint(got.Emails) != fmt.Sprint(d.Emails) {
		t.Fatalf("emails read back as %+v (%v), want %+v", got.Emails, err, d.Emails)
	}
	if got, err := s.UpdateUser(ctx, a.ID, d.ID, 0, store.Audit{}, func(x *store.User) error { x.Emails[1].Display = "Dora at home"; return nil }); err != nil || got.Version != 2 {
		t.Fatalf("display change = %+v, %v; want version 2", got, err)
	}
	if got, err := s.UserByID(ctx, a.ID, d.ID); err != nil || got.Emails[1].Display != "Dora at home" {
		t.Fatalf("after the display change: %+v, %v", got, err)
	}
	wantErr(t, "userName in another case", s.CreateUser(ctx, a.ID, newUser("alice@ACME.com", ""), store.Audit{}), store.ErrAlreadyExists)
	wantErr(t, "same externalId", s.CreateUser(ctx, a.ID, newUser("bob@acme.com", "ext-1"), store.Audit{}), store.ErrAlreadyExists)
	wantErr(t, "unknown tenant", s.CreateUser(ctx, "nope", newUser("carol@acme.com", ""), store.Audit{}), store.ErrNotFound)
	// Users without externalId do not collide with each other.
	mustUser(t, s, a.ID, "bob@acme.com", "")
	mustUser(t, s, a.ID, "carol@acme.com", "")
	_, total, err := s.ListUsers(ctx, a.ID, store.UserQuery{Limit: 10})
	if err != nil || total != 4 {
		t.Fatalf("after refused creates: total %d, %v; want 4", total, err)
	}
	_, err = s.UserByID(ctx, a.ID, "no-such-id")
	wantErr(t, "unknown id", err, store.ErrNotFound)
}

func testTenantIsolation(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	ua := mustUser(t, s, a.ID, "same@x.com", "ext")
	// The same userName and externalId may exist in another tenant.
	ub := mustUser(t, s, b.ID, "same@x.com", "ext")
	_, err := s.UserByID(ctx, b.ID, ua.ID)
	wantErr(t, "A's user through B", err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx, b.ID, ua.ID, 0, store.Audit{}, func(u *store.User) error { u.Active = false; return nil })
	wantErr(t, "update A's user through B", err, store.ErrNotFound)
	for _, f := range []*store.Filter{
		nil,
		{Op: store.OpEq, Attr: store.AttrUserName, Value: "same@x.com"},
		{Op: store.OpEq, Attr: store.AttrID, Value: ua.ID},
		{Op: store.OpOr, Left: &store.Filter{Op: store.OpEq, Attr: store.AttrID, Value: ua.ID}, Right: &store.Filter{Op: store.OpPr, Attr: store.AttrUserName}},
		{Op: store.OpEq, Attr: store.AttrEmailValue, Value: "same@x.com"},
	} {
		users, total, err := s.ListUsers(ctx, b.ID, store.UserQuery{Filter: f, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.ID != ub.ID || u.TenantID != b.ID {
				t.Fatalf("filter %+v in B returned %+v", f, u)
			}
		}
		if total > 1 {
			t.Fatalf("filter %+v in B counted %d", f, total)
		}
	}
}

func ids(us []store.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.UserName
	}
	return out
}

func testListUsers(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	alice := mustUser(t, s, a.ID, "alice@acme.com", "ext-a")
	clock.Add(time.Second)
	bob := newUser("bob@acme.com", "EXT-B")
	bob.Emails = []store.Email{{Value: "bob@acme.com", Type: "work", Primary: true}, {Value: "Bobby@Home.net", Type: "home"}}
	bob.Active = false
	if err := s.CreateUser(ctx, a.ID, bob, store.Audit{}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	mustUser(t, s, a.ID, "carol_50%@acme.com", "")

	eq := func(attr string, v any) *store.Filter { return &store.Filter{Op: store.OpEq, Attr: attr, Value: v} }
	tests := []struct {
		name string
		f    *store.Filter
		want string
	}{
		{"userName is case-insensitive", eq(store.AttrUserName, "ALICE@acme.COM"), "[alice@acme.com]"},
		{"externalId is case-exact", eq(store.AttrExternalID, "ext-b"), "[]"},
		{"externalId", eq(store.AttrExternalID, "EXT-B"), "[bob@acme.com]"},
		{"id", eq(store.AttrID, alice.ID), "[alice@acme.com]"},
		{"any email", eq(store.AttrEmailValue, "bobby@home.NET"), "[bob@acme.com]"},
		{"work email", &store.Filter{Op: store.OpHas, Sub: &store.Filter{Op: store.OpAnd, Left: eq(store.AttrEmailType, "work"), Right: eq(store.AttrEmailValue, "bobby@home.net")}}, "[]"},
		{"home email", &store.Filter{Op: store.OpHas, Sub: &store.Filter{Op: store.OpAnd, Left: eq(store.AttrEmailType, "Home"), Right: eq(store.AttrEmailValue, "bobby@home.net")}}, "[bob@acme.com]"},
		{"active", eq(store.AttrActive, false), "[bob@acme.com]"},
		{"and", &store.Filter{Op: store.OpAnd, Left: eq(store.AttrUserName, "alice@acme.com"), Right: eq(store.AttrExternalID, "nope")}, "[]"},
		{"or", &store.Filter{Op: store.OpOr, Left: eq(store.AttrUserName, "alice@acme.com"), Right: eq(store.AttrExternalID, "EXT-B")}, "[alice@acme.com bob@acme.com]"},
		{"not", &store.Filter{Op: store.OpNot, Sub: eq(store.AttrUserName, "alice@acme.com")}, "[bob@acme.com carol_50%@acme.com]"},
		{"ne on nullable", &store.Filter{Op: store.OpNe, Attr: store.AttrExternalID, Value: "ext-a"}, "[bob@acme.com carol_50%@acme.com]"},
		{"pr", &store.Filter{Op: store.OpPr, Attr: store.AttrExternalID}, "[alice@acme.com bob@acme.com]"},
		{"not eq keeps unset externalId", &store.Filter{Op: store.OpNot, Sub: eq(store.AttrExternalID, "ext-a")}, "[bob@acme.com carol_50%@acme.com]"},
		{"not sw keeps unset externalId", &store.Filter{Op: store.OpNot, Sub: &store.Filter{Op: store.OpSw, Attr: store.AttrExternalID, Value: "zzz"}}, "[alice@acme.com bob@acme.com carol_50%@acme.com]"},
		{"sw", &store.Filter{Op: store.OpSw, Attr: store.AttrUserName, Value: "B"}, "[bob@acme.com]"},
		{"co escapes LIKE", &store.Filter{Op: store.OpCo, Attr: store.AttrUserName, Value: "_50%"}, "[carol_50%@acme.com]"},
		{"co wildcard is literal", &store.Filter{Op: store.OpCo, Attr: store.AttrUserName, Value: "%"}, "[carol_50%@acme.com]"},
		{"ew", &store.Filter{Op: store.OpEw, Attr: store.AttrUserName, Value: "acme.com"}, "[alice@acme.com bob@acme.com carol_50%@acme.com]"},
		{"created gt", &store.Filter{Op: store.OpGt, Attr: store.AttrCreated, Value: alice.CreatedAt}, "[bob@acme.com carol_50%@acme.com]"},
		{"SQL in a value", eq(store.AttrUserName, "x' OR '1'='1"), "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, total, err := s.ListUsers(ctx, a.ID, store.UserQuery{Filter: tc.f, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ids(users)); got != tc.want || total != len(users) {
				t.Fatalf("got %s (total %d), want %s", got, total, tc.want)
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		page, total, err := s.ListUsers(ctx, a.ID, store.UserQuery{Offset: 1, Limit: 1})
		if err != nil || total != 3 || fmt.Sprint(ids(page)) != "[bob@acme.com]" {
			t.Fatalf("page 2 = %v, total %d, %v", ids(page), total, err)
		}
		page, total, _ = s.ListUsers(ctx, a.ID, store.UserQuery{Limit: 2})
		if total != 3 || len(page) != 2 {
			t.Fatalf("first page = %v, total %d", ids(page), total)
		}
		page, total, _ = s.ListUsers(ctx, a.ID, store.UserQuery{Limit: 0})
		if total != 3 || len(page) != 0 {
			t.Fatalf("count only = %v, total %d", ids(page), total)
		}
		page, total, _ = s.ListUsers(ctx, a.ID, store.UserQuery{Offset: 5, Limit: 2})
		if total != 3 || len(page) != 0 {
			t.Fatalf("past the end = %v, total %d", ids(page), total)
		}
	})
}

func testUpdateUser(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "ext-a")
	mustUser(t, s, a.ID, "bob@acme.com", "ext-b")
	clock.Add(time.Minute)

	got, err := s.UpdateUser(ctx, a.ID, u.ID, 1, store.Audit{Operation: "patch"}, func(x *store.User) error {
		x.UserName = "alice2@acme.com"
		x.Emails = []store.Email{{Value: "alice2@acme.com", Type: "work", Primary: true}}
		return nil
	})
	if err != nil || got.Version != 2 || got.UserName != "alice2@acme.com" || !got.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("UpdateUser = %+v, %v", got, err)
	}
	// The email index follows the change.
	if users, _, _ := s.ListUsers(ctx, a.ID, store.UserQuery{Filter: &store.Filter{Op: store.OpEq, Attr: store.AttrEmailValue, Value: "alice@acme.com"}, Limit: 5}); len(users) != 0 {
		t.Fatalf("old email still indexed: %v", ids(users))
	}
	if users, _, _ := s.ListUsers(ctx, a.ID, store.UserQuery{Filter: &store.Filter{Op: store.OpEq, Attr: store.AttrEmailValue, Value: "ALICE2@acme.com"}, Limit: 5}); len(users) != 1 {
		t.Fatalf("new email not indexed: %v", ids(users))
	}

	// No change: no new version.
	same, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.Country = "DE"; return nil })
	if err != nil || same.Version != 2 {
		t.Fatalf("no-op update = %+v, %v", same, err)
	}
	_, err = s.UpdateUser(ctx, a.ID, u.ID, 1, store.Audit{}, func(x *store.User) error { x.Active = false; return nil })
	wantErr(t, "stale version", err, store.ErrVersionMismatch)
	boom := errors.New("refused by updater")
	_, err = s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.Active = false; return boom })
	if err != boom {
		t.Fatalf("updater error = %v, want it unchanged", err)
	}
	_, err = s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.UserName = "BOB@acme.com"; return nil })
	wantErr(t, "rename onto another user", err, store.ErrAlreadyExists)
	_, err = s.UpdateUser(ctx, a.ID, "nope", 0, store.Audit{}, func(x *store.User) error { return nil })
	wantErr(t, "unknown user", err, store.ErrNotFound)
	// The updater cannot move the user to another tenant or change its id.
	got, err = s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.ID, x.TenantID, x.Version = "x", "y", 99; return nil })
	if err != nil || got.ID != u.ID || got.TenantID != a.ID || got.Version != 2 {
		t.Fatalf("identity changed: %+v, %v", got, err)
	}
	after, _ := s.UserByID(ctx, a.ID, u.ID)
	if after.Version != 2 || !after.Active || after.UserName != "alice2@acme.com" {
		t.Fatalf("refused updates changed the user: %+v", after)
	}
}

func testDeactivateEndsSessions(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "")
	other := mustUser(t, s, a.ID, "bob@acme.com", "")
	h1, h2 := sha256.Sum256([]byte("s1")), sha256.Sum256([]byte("s2"))
	for _, ss := range []*store.Session{{IDHash: h1[:], TenantID: a.ID, UserID: u.ID}, {IDHash: h2[:], TenantID: a.ID, UserID: other.ID}} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := s.SessionByHash(ctx, h1[:])
	wantErr(t, "session of a deactivated user", err, store.ErrNotFound)
	if _, err := s.SessionByHash(ctx, h2[:]); err != nil {
		t.Fatalf("another user's session ended: %v", err)
	}
}

func testConcurrentCreates(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	const n = 16
	var ok, dup atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different cases of one name: exactly one may win.
			name := "Race@acme.com"
			if i%2 == 1 {
				name = "race@ACME.com"
			}
			err := s.CreateUser(ctx, a.ID, newUser(name, ""), store.Audit{})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrAlreadyExists):
				dup.Add(1)
			default:
				t.Errorf("CreateUser: %v", err)
			}
		}()
	}
	// Unrelated creates at the same time all succeed (no "database is locked").
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.CreateUser(ctx, a.ID, newUser(fmt.Sprintf("u%d@acme.com", i), ""), store.Audit{}); err != nil {
				t.Errorf("CreateUser: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || dup.Load() != n-1 {
		t.Fatalf("%d created, %d duplicates; want 1 and %d", ok.Load(), dup.Load(), n-1)
	}
	if _, total, _ := s.ListUsers(ctx, a.ID, store.UserQuery{}); total != n+1 {
		t.Fatalf("total %d, want %d", total, n+1)
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "")
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error {
				x.Emails = append(x.Emails, store.Email{Value: fmt.Sprintf("e%d@acme.com", i)})
				return nil
			})
			if err != nil {
				t.Errorf("UpdateUser: %v", err)
			}
		}()
	}
	wg.Wait()
	got, _ := s.UserByID(ctx, a.ID, u.ID)
	// Every read-modify-write saw the previous one: no update was lost.
	if len(got.Emails) != n+1 || got.Version != n+1 {
		t.Fatalf("after %d concurrent updates: %d emails, version %d", n, len(got.Emails), got.Version)
	}
}

func testAudit(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	start := clock.Now()
	u := mustUser(t, s, a.ID, "alice@acme.com", "")
	clock.Add(time.Minute)
	if _, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{TokenID: "tok", Operation: "patch", Outcome: "200"}, func(x *store.User) error { x.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { return errors.New("no") }); err == nil {
		t.Fatal("updater error swallowed")
	}
	if err := s.RecordAudit(ctx, store.Audit{TenantID: a.ID, TokenID: "tok", Operation: "delete", UserID: u.ID, Outcome: "405"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(ctx, store.Audit{TenantID: b.ID, Operation: "create", Outcome: "400"}); err != nil {
		t.Fatal(err)
	}
	as, err := s.ListAudit(ctx, a.ID, start)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range as {
		got = append(got, fmt.Sprintf("%s/%s/%t/%t", e.Operation, e.Outcome, e.UserID == u.ID, e.TenantID == a.ID))
	}
	if want := "[create/201/true/true patch/200/true/true delete/405/true/true]"; fmt.Sprint(got) != want {
		t.Fatalf("audit = %v, want %s", got, want)
	}
	if as, _ := s.ListAudit(ctx, a.ID, start.Add(30*time.Second)); len(as) != 2 || !as[0].Time.Equal(start.Add(time.Minute)) {
		t.Fatalf("audit since: %+v", as)
	}
	// RecentAudit: the SCIM requests (entries made with a token) only, not the sign-ins or what was
	// done without a token (the create above); the newest first, at most limit, the tenant's only.
	for _, op := range []string{"sso-signin", "password-signin", "welcome"} {
		if err := s.RecordAudit(ctx, store.Audit{TenantID: a.ID, Operation: op, UserID: u.ID, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordAudit(ctx, store.Audit{TenantID: b.ID, TokenID: "tok-b", Operation: "get", Outcome: "200"}); err != nil {
		t.Fatal(err)
	}
	for limit, want := range map[int]string{1: "[delete]", 2: "[delete patch]", 500: "[delete patch]"} {
		as, err := s.RecentAudit(ctx, a.ID, limit)
		var got []string
		for _, e := range as {
			if e.TenantID != a.ID {
				t.Fatalf("RecentAudit of acme returned %+v", e)
			}
			got = append(got, e.Operation)
		}
		if err != nil || fmt.Sprint(got) != want {
			t.Fatalf("RecentAudit(%d) = %v, %v; want %s", limit, got, err, want)
		}
	}
	if _, err := s.RecentAudit(ctx, a.ID, 0); err == nil {
		t.Fatal("RecentAudit with limit 0 accepted")
	}
}

func testSessions(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "")
	h := sha256.Sum256([]byte("cookie"))
	ss := &store.Session{IDHash: h[:], TenantID: a.ID, UserID: u.ID, Mobile: true, Pending: true}
	if err := s.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, h[:])
	if err != nil || got.UserID != u.ID || !got.Mobile || !got.Pending || !got.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("SessionByHash = %+v, %v", got, err)
	}
	if err := s.CreateSession(ctx, &store.Session{IDHash: h[:], TenantID: a.ID, UserID: "no-such-user"}); err == nil {
		t.Fatal("session for an unknown user stored")
	}
	if err := s.DeleteSession(ctx, h[:]); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByHash(ctx, h[:])
	wantErr(t, "deleted session", err, store.ErrNotFound)
	if err := s.DeleteSession(ctx, h[:]); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if err := s.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUserSessions(ctx, a.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByHash(ctx, h[:])
	wantErr(t, "after DeleteUserSessions", err, store.ErrNotFound)
}

// quickSignIn writes a sign-in of the tenant's user userName (created if missing) answering reqID
// ("" for none) from the browser bind, recording assertionID until expires.
func quickSignIn(s store.Store, tenantID, userName, reqID string, bind []byte, assertionID string, expires time.Time) error {
	h := sha256.Sum256([]byte(tenantID + assertionID + reqID))
	in := &store.SignIn{RequestID: reqID, BindingHash: bind, AssertionID: assertionID, AssertionExpires: expires,
		Session: store.Session{IDHash: h[:], ExpiresAt: expires.Add(24 * time.Hour)}}
	_, err := s.SignIn(ctx, tenantID, in, func(f store.UserFinder) (*store.User, error) {
		u, err := f.ByEmail(userName)
		if errors.Is(err, store.ErrNotFound) {
			return newUser(userName, ""), nil
		}
		return u, err
	})
	return err
}

func testAuthnRequests(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	bind := sha256.Sum256([]byte("browser"))
	other := sha256.Sum256([]byte("other browser"))
	later := clock.Now().Add(time.Hour)
	r := &store.AuthnRequest{ID: "id-1", TenantID: a.ID, BindingHash: bind[:], ReturnTo: "/app", ExpiresAt: clock.Now().Add(5 * time.Minute)}
	if err := s.CreateAuthnRequest(ctx, r, store.RequestLimits{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AuthnRequest(ctx, b.ID, "id-1", bind[:])
	wantErr(t, "read at another tenant", err, store.ErrNotFound)
	_, err = s.AuthnRequest(ctx, a.ID, "id-1", other[:])
	wantErr(t, "read from another browser", err, store.ErrNotFound)
	if got, err := s.AuthnRequest(ctx, a.ID, "id-1", bind[:]); err != nil || got.ReturnTo != "/app" {
		t.Fatalf("AuthnRequest = %+v, %v", got, err)
	}
	wantErr(t, "answered at another tenant", quickSignIn(s, b.ID, "x@beta.com", "id-1", bind[:], "as-b", later), store.ErrNotFound)
	wantErr(t, "answered from another browser", quickSignIn(s, a.ID, "x@acme.com", "id-1", other[:], "as-o", later), store.ErrNotFound)
	if err := quickSignIn(s, a.ID, "x@acme.com", "id-1", bind[:], "as-1", later); err != nil {
		t.Fatalf("answered by its browser: %v", err)
	}
	wantErr(t, "answered twice", quickSignIn(s, a.ID, "x@acme.com", "id-1", bind[:], "as-2", later), store.ErrNotFound)
	_, err = s.AuthnRequest(ctx, a.ID, "id-1", bind[:])
	wantErr(t, "read after it was answered", err, store.ErrNotFound)

	r2 := &store.AuthnRequest{ID: "id-2", TenantID: a.ID, BindingHash: bind[:], ExpiresAt: clock.Now().Add(5 * time.Minute)}
	if err := s.CreateAuthnRequest(ctx, r2, store.RequestLimits{}); err != nil {
		t.Fatal(err)
	}
	clock.Add(6 * time.Minute)
	_, err = s.AuthnRequest(ctx, a.ID, "id-2", bind[:])
	wantErr(t, "read when expired", err, store.ErrNotFound)
	wantErr(t, "answered when expired", quickSignIn(s, a.ID, "x@acme.com", "id-2", bind[:], "as-3", later), store.ErrNotFound)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
}

func testConsumeAuthnRequest(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	bind := sha256.Sum256([]byte("browser"))
	other := sha256.Sum256([]byte("other browser"))
	for _, id := range []string{"t-1", "t-2", "t-race"} {
		r := &store.AuthnRequest{ID: id, TenantID: a.ID, BindingHash: bind[:], ReturnTo: "/me", Purpose: store.PurposeTest, ExpiresAt: clock.Now().Add(5 * time.Minute)}
		if err := s.CreateAuthnRequest(ctx, r, store.RequestLimits{}); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "consumed at another tenant", s.ConsumeAuthnRequest(ctx, b.ID, "t-1", bind[:]), store.ErrNotFound)
	wantErr(t, "consumed from another browser", s.ConsumeAuthnRequest(ctx, a.ID, "t-1", other[:]), store.ErrNotFound)
	wantErr(t, "unknown", s.ConsumeAuthnRequest(ctx, a.ID, "nosuch", bind[:]), store.ErrNotFound)
	if err := s.ConsumeAuthnRequest(ctx, a.ID, "t-1", bind[:]); err != nil {
		t.Fatalf("consumed by its browser: %v", err)
	}
	wantErr(t, "consumed twice", s.ConsumeAuthnRequest(ctx, a.ID, "t-1", bind[:]), store.ErrNotFound)
	_, err := s.AuthnRequest(ctx, a.ID, "t-1", bind[:])
	wantErr(t, "read after it was consumed", err, store.ErrNotFound)
	wantErr(t, "signed in after it was consumed", quickSignIn(s, a.ID, "x@acme.com", "t-1", bind[:], "as-1", clock.Now().Add(time.Hour)), store.ErrNotFound)

	// Concurrent answers to one request: exactly one uses it up.
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.ConsumeAuthnRequest(ctx, a.ID, "t-race", bind[:]); {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrNotFound):
				lost.Add(1)
			default:
				t.Errorf("ConsumeAuthnRequest: %v", err)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != 7 {
		t.Fatalf("%d consumed, %d refused; want 1 and 7", won.Load(), lost.Load())
	}

	clock.Add(6 * time.Minute)
	wantErr(t, "consumed when expired", s.ConsumeAuthnRequest(ctx, a.ID, "t-2", bind[:]), store.ErrNotFound)
}

func testTestLinks(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	hash := func(v string) []byte { h := sha256.Sum256([]byte(v)); return h[:] }
	for _, v := range []string{"link-1", "link-2", "link-race"} {
		l := &store.TestLink{TenantID: a.ID, Hash: hash(v), ExpiresAt: clock.Now().Add(time.Hour)}
		if err := s.CreateTestLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		if !l.CreatedAt.Equal(clock.Now()) {
			t.Fatalf("CreatedAt %v, want %v", l.CreatedAt, clock.Now())
		}
	}
	wantErr(t, "a second link with one hash", s.CreateTestLink(ctx, &store.TestLink{TenantID: a.ID, Hash: hash("link-1"), ExpiresAt: clock.Now().Add(time.Hour)}), store.ErrAlreadyExists)
	wantErr(t, "a link of an unknown tenant", s.CreateTestLink(ctx, &store.TestLink{TenantID: "nosuch", Hash: hash("x"), ExpiresAt: clock.Now().Add(time.Hour)}), store.ErrNotFound)

	wantErr(t, "valid at another tenant", s.TestLinkValid(ctx, b.ID, hash("link-1")), store.ErrNotFound)
	wantErr(t, "unknown is valid", s.TestLinkValid(ctx, a.ID, hash("nosuch")), store.ErrNotFound)
	for range 2 { // looking does not use it up
		if err := s.TestLinkValid(ctx, a.ID, hash("link-1")); err != nil {
			t.Fatalf("TestLinkValid: %v", err)
		}
	}
	wantErr(t, "used at another tenant", s.UseTestLink(ctx, b.ID, hash("link-1")), store.ErrNotFound)
	wantErr(t, "unknown", s.UseTestLink(ctx, a.ID, hash("nosuch")), store.ErrNotFound)
	if err := s.UseTestLink(ctx, a.ID, hash("link-1")); err != nil {
		t.Fatalf("UseTestLink: %v", err)
	}
	wantErr(t, "used twice", s.UseTestLink(ctx, a.ID, hash("link-1")), store.ErrNotFound)
	wantErr(t, "valid once used", s.TestLinkValid(ctx, a.ID, hash("link-1")), store.ErrNotFound)

	// Two browsers open one link at once: exactly one starts a test sign-in.
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.UseTestLink(ctx, a.ID, hash("link-race")); {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrNotFound):
				lost.Add(1)
			default:
				t.Errorf("UseTestLink: %v", err)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != 7 {
		t.Fatalf("%d opened, %d refused; want 1 and 7", won.Load(), lost.Load())
	}

	clock.Add(time.Hour)
	wantErr(t, "valid when expired", s.TestLinkValid(ctx, a.ID, hash("link-2")), store.ErrNotFound)
	wantErr(t, "used when expired", s.UseTestLink(ctx, a.ID, hash("link-2")), store.ErrNotFound)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 (the expired link)", n, err)
	}
}

func testReplayCache(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	exp := clock.Now().Add(10 * time.Minute)
	if err := quickSignIn(s, a.ID, "x@acme.com", "", nil, "as-1", exp); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "replay", quickSignIn(s, a.ID, "x@acme.com", "", nil, "as-1", exp), store.ErrReplayed)
	if err := quickSignIn(s, b.ID, "x@beta.com", "", nil, "as-1", exp); err != nil {
		t.Fatalf("same id at another tenant: %v", err)
	}
	clock.Add(5 * time.Minute)
	if n, _ := s.Sweep(ctx); n != 0 {
		t.Fatalf("swept %d live entries", n)
	}
	wantErr(t, "replay before expiry", quickSignIn(s, a.ID, "x@acme.com", "", nil, "as-1", exp), store.ErrReplayed)
	clock.Add(10 * time.Minute)
	if n, _ := s.Sweep(ctx); n != 2 {
		t.Fatalf("swept %d, want 2", n)
	}
}

func testSSOSettings(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	_, err := s.SSOSettings(ctx, a.ID)
	wantErr(t, "none stored", err, store.ErrNotFound)
	set := &store.SSOSettings{State: store.SSOTesting, IdPEntityID: "https://idp", IdPCertificatesPEM: []string{"c1", "c2"},
		Exclude: []string{"admin@acme.com"}, HardTimeout: 14 * 24 * time.Hour, SoftTimeout: 8 * time.Hour, SignedElement: store.SignedBoth}
	if err := s.PutSSOSettings(ctx, a.ID, set); err != nil {
		t.Fatal(err)
	}
	if set.Version != 1 || !set.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("after first put: %+v", set)
	}
	got, err := s.SSOSettings(ctx, a.ID)
	if err != nil || got.Version != 1 || got.TenantID != a.ID || fmt.Sprint(got.IdPCertificatesPEM) != "[c1 c2]" || got.SoftTimeout != 8*time.Hour || got.SignedElement != store.SignedBoth {
		t.Fatalf("SSOSettings = %+v, %v", got, err)
	}
	stale := *got
	got.State = store.SSOActive
	if err := s.PutSSOSettings(ctx, a.ID, got); err != nil || got.Version != 2 {
		t.Fatalf("second put: %v, version %d", err, got.Version)
	}
	stale.State = store.SSOOff
	wantErr(t, "stale version", s.PutSSOSettings(ctx, a.ID, &stale), store.ErrVersionMismatch)
	if now, _ := s.SSOSettings(ctx, a.ID); now.State != store.SSOActive || now.Version != 2 {
		t.Fatalf("stale put changed the settings: %+v", now)
	}
	_, err = s.SSOSettings(ctx, b.ID)
	wantErr(t, "another tenant's settings", err, store.ErrNotFound)
	wantErr(t, "unknown tenant", s.PutSSOSettings(ctx, "nope", &store.SSOSettings{}), store.ErrNotFound)
}

func testSignIn(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	alice := mustUser(t, s, a.ID, "alice@acme.com", "guid-alice")
	bob := newUser("bob@acme.com", "")
	bob.Emails = append(bob.Emails, store.Email{Value: "Robert@acme.com", Type: "other"})
	bob.SecondaryEmail = "bob.private@acme.com"
	if err := s.CreateUser(ctx, a.ID, bob, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	mustUser(t, s, b.ID, "carol@beta.com", "guid-carol")
	bind := sha256.Sum256([]byte("browser"))
	n := 0
	signIn := func(reqID string, decide func(store.UserFinder) (*store.User, error)) (*store.User, *store.SignIn, error) {
		n++
		h := sha256.Sum256([]byte(fmt.Sprint("session", n)))
		in := &store.SignIn{RequestID: reqID, BindingHash: bind[:], AssertionID: fmt.Sprint("as-", n),
			AssertionExpires: clock.Now().Add(5 * time.Minute), Audit: store.Audit{Operation: "sso-signin", Outcome: "ok"},
			Session: store.Session{IDHash: h[:], ExpiresAt: clock.Now().Add(time.Hour)}}
		u, err := s.SignIn(ctx, a.ID, in, decide)
		return u, in, err
	}
	find := func(f func(store.UserFinder) (*store.User, error)) func(store.UserFinder) (*store.User, error) {
		return f
	}

	// The finder: each lookup, case-insensitive, scoped to the tenant.
	lookups := []struct {
		name string
		f    func(store.UserFinder) (*store.User, error)
		want string // user id, or "" for ErrNotFound
	}{
		{"externalId", func(f store.UserFinder) (*store.User, error) { return f.ByExternalID("guid-alice") }, alice.ID},
		{"externalId of another tenant", func(f store.UserFinder) (*store.User, error) { return f.ByExternalID("guid-carol") }, ""},
		{"userName any case", func(f store.UserFinder) (*store.User, error) { return f.ByEmail("ALICE@acme.com") }, alice.ID},
		{"other email", func(f store.UserFinder) (*store.User, error) { return f.ByEmail("robert@ACME.com") }, bob.ID},
		{"secondary email is not an email", func(f store.UserFinder) (*store.User, error) { return f.ByEmail("bob.private@acme.com") }, ""},
		{"secondary email", func(f store.UserFinder) (*store.User, error) { return f.BySecondaryEmail("Bob.Private@acme.com") }, bob.ID},
		{"secondary lookup also matches emails", func(f store.UserFinder) (*store.User, error) { return f.BySecondaryEmail("alice@acme.com") }, alice.ID},
		{"email of another tenant", func(f store.UserFinder) (*store.User, error) { return f.ByEmail("carol@beta.com") }, ""},
	}
	for _, l := range lookups {
		var got *store.User
		var lerr error
		_, _, err := signIn("", find(func(f store.UserFinder) (*store.User, error) {
			got, lerr = l.f(f)
			return alice, nil
		}))
		if err != nil {
			t.Fatalf("%s: SignIn: %v", l.name, err)
		}
		if l.want == "" {
			wantErr(t, l.name, lerr, store.ErrNotFound)
		} else if lerr != nil || got.ID != l.want {
			t.Fatalf("%s: got %v, %v; want user %s", l.name, got, lerr, l.want)
		}
	}

	// A just-in-time user and its session, in one go.
	newcomer := &store.User{UserName: "dave@acme.com", Emails: []store.Email{{Value: "dave@acme.com", Primary: true}}, GivenName: "Dave", FamilyName: "D", Active: true, Source: store.SourceSSO}
	r := &store.AuthnRequest{ID: "req-1", TenantID: a.ID, BindingHash: bind[:], ReturnTo: "/app", ExpiresAt: clock.Now().Add(5 * time.Minute)}
	if err := s.CreateAuthnRequest(ctx, r, store.RequestLimits{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AuthnRequest(ctx, a.ID, "req-1", bind[:]); err != nil || got.ReturnTo != "/app" {
		t.Fatalf("AuthnRequest = %+v, %v", got, err)
	}
	u, in, err := signIn("req-1", func(store.UserFinder) (*store.User, error) { return newcomer, nil })
	if err != nil || u.ID == "" || u.Version != 1 || u.Source != store.SourceSSO {
		t.Fatalf("JIT SignIn = %+v, %v", u, err)
	}
	ss, err := s.SessionByHash(ctx, in.Session.IDHash)
	if err != nil || ss.UserID != u.ID || ss.TenantID != a.ID || !ss.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("session = %+v, %v", ss, err)
	}
	if stored, err := s.UserByID(ctx, a.ID, u.ID); err != nil || stored.UserName != "dave@acme.com" {
		t.Fatalf("JIT user = %+v, %v", stored, err)
	}
	// The request was consumed by that sign-in.
	_, _, err = signIn("req-1", func(store.UserFinder) (*store.User, error) { return alice, nil })
	wantErr(t, "request answered twice", err, store.ErrNotFound)

	// A change to an existing user is stored with the version raised; an unchanged one keeps it.
	moved := alice.Clone()
	moved.UserName, moved.Emails = "alice.new@acme.com", []store.Email{{Value: "alice.new@acme.com", Type: "work", Primary: true}}
	u, _, err = signIn("", func(store.UserFinder) (*store.User, error) { return moved, nil })
	if err != nil || u.Version != 2 || u.UserName != "alice.new@acme.com" {
		t.Fatalf("update SignIn = %+v, %v", u, err)
	}
	u, _, err = signIn("", func(f store.UserFinder) (*store.User, error) { return f.ByEmail("alice.new@acme.com") })
	if err != nil || u.Version != 2 {
		t.Fatalf("unchanged SignIn = %+v, %v", u, err)
	}

	// Refusals write nothing: not the replay entry, not the request's consumption, not the session.
	r2 := &store.AuthnRequest{ID: "req-2", TenantID: a.ID, BindingHash: bind[:], ExpiresAt: clock.Now().Add(5 * time.Minute)}
	if err := s.CreateAuthnRequest(ctx, r2, store.RequestLimits{}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused by policy")
	_, in, err = signIn("req-2", func(store.UserFinder) (*store.User, error) { return nil, refused })
	if err != refused {
		t.Fatalf("decide's error came back as %v", err)
	}
	if _, err := s.SessionByHash(ctx, in.Session.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused sign-in left a session: %v", err)
	}
	if _, err := s.AuthnRequest(ctx, a.ID, "req-2", bind[:]); err != nil {
		t.Fatalf("refused sign-in consumed the request: %v", err)
	}
	if err := quickSignIn(s, a.ID, "alice.new@acme.com", "", bind[:], in.AssertionID, clock.Now().Add(time.Minute)); err != nil {
		t.Fatalf("refused sign-in recorded its assertion: %v", err)
	}

	// Replay: the assertion id of an accepted sign-in is refused, and nothing else is written.
	h := sha256.Sum256([]byte("replayed session"))
	replay := &store.SignIn{RequestID: "req-2", BindingHash: bind[:], AssertionID: "as-1", AssertionExpires: clock.Now().Add(time.Minute),
		Session: store.Session{IDHash: h[:], ExpiresAt: clock.Now().Add(time.Hour)}}
	_, err = s.SignIn(ctx, a.ID, replay, func(store.UserFinder) (*store.User, error) { return alice, nil })
	wantErr(t, "replay", err, store.ErrReplayed)
	if _, err := s.AuthnRequest(ctx, a.ID, "req-2", bind[:]); err != nil {
		t.Fatalf("replay consumed the request: %v", err)
	}
	// The same assertion id at another tenant is another assertion.
	hb := sha256.Sum256([]byte("beta session"))
	carol, err := s.SignIn(ctx, b.ID, &store.SignIn{AssertionID: "as-1", AssertionExpires: clock.Now().Add(time.Minute),
		Session: store.Session{IDHash: hb[:], ExpiresAt: clock.Now().Add(time.Hour)}},
		func(f store.UserFinder) (*store.User, error) { return f.ByExternalID("guid-carol") })
	if err != nil || carol.UserName != "carol@beta.com" {
		t.Fatalf("beta SignIn = %+v, %v", carol, err)
	}
	// A uniqueness conflict from the user write aborts the sign-in.
	dup := &store.User{UserName: "BOB@acme.com", Active: true, Source: store.SourceSSO}
	_, in, err = signIn("", func(store.UserFinder) (*store.User, error) { return dup, nil })
	wantErr(t, "JIT of a taken userName", err, store.ErrAlreadyExists)
	if _, err := s.SessionByHash(ctx, in.Session.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("conflicting sign-in left a session: %v", err)
	}
}

func testSessionExpiry(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "")
	h := sha256.Sum256([]byte("cookie"))
	if err := s.CreateSession(ctx, &store.Session{IDHash: h[:], TenantID: a.ID, UserID: u.ID, ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock.Add(50 * time.Minute)
	if err := s.TouchSession(ctx, h[:], clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, h[:])
	if err != nil || !got.LastSeenAt.Equal(clock.Now()) || !got.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("touched session = %+v, %v", got, err)
	}
	clock.Add(30 * time.Minute) // past the first expiry, not the moved one
	if n, _ := s.Sweep(ctx); n != 0 {
		t.Fatalf("swept %d rows of a live session", n)
	}
	clock.Add(31 * time.Minute)
	if n, _ := s.Sweep(ctx); n != 1 {
		t.Fatalf("swept %d rows, want the expired session", n)
	}
	_, err = s.SessionByHash(ctx, h[:])
	wantErr(t, "swept session", err, store.ErrNotFound)
}

func testTenantSSOVersion(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com", "acme.de")
	got, v, err := s.TenantSSOVersion(ctx, "acme")
	if err != nil || got.ID != a.ID || v != 0 || fmt.Sprint(got.Domains) != "[acme.com acme.de]" {
		t.Fatalf("before settings: %+v %d %v", got, v, err)
	}
	set := &store.SSOSettings{State: store.SSOOff}
	for i := 0; i < 2; i++ {
		set.Exclude = []string{fmt.Sprintf("x%d@acme.com", i)} // a change each time: a no-op stores nothing
		if err := s.PutSSOSettings(ctx, a.ID, set); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddDomain(ctx, a.ID, "acme.org"); err != nil {
		t.Fatal(err)
	}
	if got, v, err = s.TenantSSOVersion(ctx, "acme"); err != nil || v != 2 || len(got.Domains) != 3 {
		t.Fatalf("after two puts and a domain: %+v %d %v", got, v, err)
	}
	_, _, err = s.TenantSSOVersion(ctx, "nosuch")
	wantErr(t, "unknown slug", err, store.ErrNotFound)
}
