package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
)

// hotPaths runs what SCIM requests and sign-ins ask of the store, in tenant acme (created by the first
// round), with values made from round.
func hotPaths(t *testing.T, s *Store, round int) {
	t.Helper()
	ctx := context.Background()
	tn, err := s.TenantBySlug(ctx, "acme")
	if errors.Is(err, store.ErrNotFound) {
		tn = &store.Tenant{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		err = s.CreateTenant(ctx, tn)
	}
	if err != nil {
		t.Fatal(err)
	}
	secret := sha256.Sum256(fmt.Appendf(nil, "token %d", round))
	if err := s.CreateToken(ctx, &store.Token{TenantID: tn.ID, Name: "t", Hash: secret[:]}); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("user.%d@example.com", round)
	ext := fmt.Sprintf("00u%d", round)
	second := fmt.Sprintf("second.%d@example.org", round)
	u := &store.User{UserName: name, Emails: []store.Email{{Value: name, Type: "work", Primary: true}},
		GivenName: "G", FamilyName: "F", Country: "DE", ExternalID: ext, SecondaryEmail: second,
		Active: true, Source: store.SourceSCIM}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("round %d: %s: %v", round, what, err)
		}
	}
	audit := store.Audit{Operation: "create", Outcome: "201"}
	must("create", s.CreateUser(ctx, tn.ID, u, audit))
	_, _, err = s.TenantToken(ctx, "acme", secret[:])
	must("token", err)
	for _, f := range lookupFilters(name, ext, u.ID) {
		users, _, err := s.ListUsers(ctx, tn.ID, store.UserQuery{Filter: f.filter, Limit: 100})
		must(f.name, err)
		if len(users) != 1 || users[0].ID != u.ID {
			t.Fatalf("round %d: %s found %d users", round, f.name, len(users))
		}
	}
	_, err = s.UserByID(ctx, tn.ID, u.ID)
	must("get", err)
	_, err = s.UpdateUser(ctx, tn.ID, u.ID, 0, store.Audit{Operation: "patch", Outcome: "200"}, func(u *store.User) error {
		u.Active = !u.Active
		return nil
	})
	must("patch", err)
	must("lookups", s.Lookup(ctx, tn.ID, func(f store.UserFinder) error {
		for _, find := range []func() (*store.User, error){
			func() (*store.User, error) { return f.ByExternalID(ext) },
			func() (*store.User, error) { return f.ByEmail(name) },
			func() (*store.User, error) { return f.BySecondaryEmail(second) },
		} {
			if got, err := find(); err != nil || got.ID != u.ID {
				return fmt.Errorf("finder: %v, %v", got, err)
			}
		}
		return nil
	}))
	_, _, err = s.TenantSSOVersion(ctx, "acme")
	must("sso version", err)
	sid := sha256.Sum256(fmt.Appendf(nil, "session %d", round))
	in := &store.SignIn{AssertionID: fmt.Sprintf("a-%d", round), AssertionExpires: s.now().Add(time.Hour),
		Session: store.Session{IDHash: sid[:], ExpiresAt: s.now().Add(time.Hour)}, Audit: store.Audit{Operation: "signin", Outcome: "ok"}}
	_, err = s.SignIn(ctx, tn.ID, in, func(f store.UserFinder) (*store.User, error) { return f.ByExternalID(ext) })
	must("sign-in", err)
	_, err = s.SessionByHash(ctx, sid[:])
	must("session", err)
	// What anonymous clients can make the store do is counted on indexes too.
	must("authn request", s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: fmt.Sprintf("r-%d", round), TenantID: tn.ID, BindingHash: sid[:],
		ReturnTo: "/", ClientKey: "198.51.100.1", ExpiresAt: s.now().Add(time.Hour)}, store.RequestLimits{PerClient: 100, PerTenant: 1000}))
	attempt, err := s.ReserveLoginAttempt(ctx, 15*time.Minute, store.Limit{Key: "acct:" + name, Max: 5}, store.Limit{Key: "addr:198.51.100.1", Max: 20})
	must("reserve login attempt", err)
	must("forget login attempt", s.ForgetLoginAttempt(ctx, attempt))
}

type lookupFilter struct {
	name   string
	filter *store.Filter
}

// lookupFilters are the filters IdPs send to find one user.
func lookupFilters(userName, externalID, id string) []lookupFilter {
	eq := func(attr, v string) *store.Filter { return &store.Filter{Op: store.OpEq, Attr: attr, Value: v} }
	return []lookupFilter{
		{"userName eq", eq(store.AttrUserName, userName)},
		{"externalId eq", eq(store.AttrExternalID, externalID)},
		{"id eq", eq(store.AttrID, id)},
		{"emails eq", eq(store.AttrEmailValue, userName)},
		{`emails[type eq "work"].value eq`, &store.Filter{Op: store.OpHas, Sub: &store.Filter{Op: store.OpAnd,
			Left: eq(store.AttrEmailType, "work"), Right: eq(store.AttrEmailValue, userName)}}},
	}
}

// TestWarmStoreCompilesNothing shows the go-sqlite3 case qpsg.go works around: once every statement
// of the hot paths has run, running them again with other values compiles no SQL. SQLite calls the
// authorizer only while it compiles a statement; without the planner stability guarantee the token
// check (a join), the externalId lookup (a partial index) and any LIMIT ? compiled at every run.
func TestWarmStoreCompilesNothing(t *testing.T) {
	var compiles atomic.Int64
	var warm atomic.Bool
	var mu sync.Mutex
	var seen []string // what the compiles after warm-up read or wrote
	s, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "x.db"), ReadConns: 1,
		onConnect: func(c *sqlite3.SQLiteConn) error {
			c.RegisterAuthorizer(func(op int, a, b, _ string) int {
				if compiles.Add(1); warm.Load() {
					mu.Lock()
					if s := fmt.Sprint(op, " ", a, " ", b); !slices.Contains(seen, s) {
						seen = append(seen, s)
					}
					mu.Unlock()
				}
				return sqlite3.SQLITE_OK
			})
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hotPaths(t, s, 1) // creates the tenant
	hotPaths(t, s, 2) // finds it
	if compiles.Load() == 0 {
		t.Fatal("the authorizer saw no compile at all: it does not observe what this test needs")
	}
	compiles.Store(0)
	warm.Store(true)
	for round := 3; round <= 5; round++ {
		hotPaths(t, s, round)
	}
	if n := compiles.Load(); n != 0 {
		t.Fatalf("a warm store compiled SQL again (%d authorizer calls: %s): a statement's plan depends on its bound values", n, strings.Join(seen, ", "))
	}
}

// TestLookupPlans requires every statement the hot paths run to use an index, never a scan of a whole
// table, and each lookup an IdP sends to go straight to its index rather than through the tenant's
// users. Plans do not depend on bound values (qpsg.go), so EXPLAIN with none shows the real plan.
func TestLookupPlans(t *testing.T) {
	s := openTest(t)
	hotPaths(t, s, 1)
	ctx := context.Background()
	tn, err := s.TenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// statements runs fn and returns the SQL it prepared for the first time.
	statements := func(fn func()) []string {
		before := s.cachedStatements()
		fn()
		var added []string
		for _, q := range s.cachedStatements() {
			if !slices.Contains(before, q) {
				added = append(added, q)
			}
		}
		return added
	}
	for _, q := range s.cachedStatements() {
		if strings.HasPrefix(q, "INSERT") {
			continue // their plans list foreign-key checks SQLite skips while no constraint is deferred
		}
		if plan := s.explain(t, q); strings.Contains(plan, "SCAN ") {
			t.Errorf("a hot statement scans a whole table:\n%s\n%s", q, plan)
		}
	}
	type planCase struct {
		name  string
		run   func()
		index string // a line of the plan must contain this
	}
	cases := []planCase{
		{"token check", func() { s.TenantToken(ctx, "acme", []byte("x")) }, "sqlite_autoindex_scim_tokens_2 (hash=?)"},
		{"secondary email", func() {
			s.Lookup(ctx, tn.ID, func(f store.UserFinder) error { f.BySecondaryEmail("x@example.org"); return nil })
		}, "users_secondary_email (tenant_id=? AND secondary_email_key=?)"},
		{"outstanding requests of a client", func() {
			s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: "p", TenantID: tn.ID, BindingHash: []byte("b"), ExpiresAt: s.now().Add(time.Hour)},
				store.RequestLimits{PerClient: 1})
		}, "COVERING INDEX authn_requests_client (client_key=? AND expires_at>?)"},
		{"outstanding requests of a tenant", func() {
			s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: "q", TenantID: tn.ID, BindingHash: []byte("b"), ExpiresAt: s.now().Add(time.Hour)},
				store.RequestLimits{PerTenant: 1000})
		}, "COVERING INDEX authn_requests_tenant (tenant_id=? AND expires_at>?)"},
		{"login attempts of a key", func() { s.ReserveLoginAttempt(ctx, time.Minute, store.Limit{Key: "k", Max: 1}) }, "login_failures_key (key=? AND at>?)"},
		{"forget a login attempt", func() { s.ForgetLoginAttempt(ctx, "x") }, "login_failures_attempt (attempt=?)"},
		{"API key check", func() { s.APIKeyByHash(ctx, []byte("x")) }, "sqlite_autoindex_api_keys_2 (hash=?)"},
		{"a page of users", func() { s.UsersAfter(ctx, tn.ID, 1, 50) }, "users_tenant_seq (tenant_id=? AND seq>?)"},
	}
	indexes := map[string]string{
		"userName eq":                     "users_user_name (tenant_id=? AND user_name_key=?)",
		"externalId eq":                   "users_external_id (tenant_id=? AND external_id=?)",
		"id eq":                           "sqlite_autoindex_users_1 (id=?)",
		"emails eq":                       "user_emails_value (tenant_id=? AND value_key=?)",
		`emails[type eq "work"].value eq`: "user_emails_value (tenant_id=? AND value_key=?)",
	}
	for _, f := range lookupFilters("x", "y", "z") {
		index, ok := indexes[f.name]
		if !ok {
			t.Fatalf("lookup %q has no expected index here", f.name)
		}
		cases = append(cases, planCase{f.name, func() { s.ListUsers(ctx, tn.ID, store.UserQuery{Filter: f.filter, Limit: 37}) }, index})
	}
	l := s.lite()
	l.rStmts.close() // every case prepares its statements anew, so that they can be told apart
	l.lockW()
	l.wStmts.close()
	l.unlockW()
	for _, c := range cases {
		qs := statements(c.run)
		if len(qs) == 0 {
			t.Fatalf("%s: no statement prepared", c.name)
		}
		var plans []string
		for _, q := range qs {
			plans = append(plans, s.explain(t, q))
		}
		if all := strings.Join(plans, "\n"); !strings.Contains(all, c.index) {
			t.Errorf("%s: the plan does not use %s:\n%s\n%s", c.name, c.index, strings.Join(qs, "\n"), all)
		}
	}
}

// cachedStatements returns the SQL of the read and write statement caches.
func (s *Store) cachedStatements() []string {
	var qs []string
	for _, c := range []*stmtCache{&s.lite().rStmts, &s.lite().wStmts} {
		c.mu.Lock()
		for q := range c.m {
			qs = append(qs, q)
		}
		c.mu.Unlock()
	}
	return qs
}

// explain returns SQLite's query plan of q, its details one per line.
func (s *Store) explain(t *testing.T, q string) string {
	t.Helper()
	conn, err := s.lite().r.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var plan []string
	err = conn.Raw(func(dc any) error {
		st, err := dc.(*sqlite3.SQLiteConn).Prepare("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			return err
		}
		defer st.Close()
		rows, err := st.Query(make([]driver.Value, st.NumInput()))
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, len(rows.Columns()))
		for rows.Next(row) == nil {
			plan = append(plan, fmt.Sprint(row[len(row)-1]))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	return strings.Join(plan, "\n")
}

// TestEventTypePlans: a poll for a few types walks the (type, seq) index from the cursor, never the
// whole log after it. On SQLite (without statistics) every statement ListEvents runs for one to three
// types searches events_type for each type. On PostgreSQL, over a log of common events and a few rare
// ones, a poll for the rare type, alone or with common ones, walks events_type for it, in the plan
// for its values and in the generic plan a prepared statement may settle on.
func TestEventTypePlans(t *testing.T) {
	ctx := context.Background()
	polls := [][]string{
		{store.EventSCIMTokenIssued},
		{store.EventSCIMTokenIssued, store.EventUserUpdated},
		{store.EventSCIMTokenIssued, store.EventUserUpdated, store.EventSessionEnded},
	}
	t.Run("sqlite", func(t *testing.T) {
		s := openTest(t)
		for _, types := range polls {
			if _, err := s.ListEvents(ctx, store.EventQuery{Types: types}); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for _, q := range s.cachedStatements() {
			if !strings.Contains(q, "FROM events") {
				continue
			}
			n++
			plan := s.explain(t, q)
			if strings.Count(plan, "events_type (type=? AND seq>?)") != strings.Count(q, "type =") || strings.Contains(plan, "SCAN events") {
				t.Errorf("a poll by type does not walk events_type alone:\n%s\n%s", q, plan)
			}
		}
		if n != len(polls) {
			t.Fatalf("%d statements on events, want %d", n, len(polls))
		}
	})
	t.Run("postgres", func(t *testing.T) {
		s, err := OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		err = s.write(ctx, func(tx *wtx, now time.Time) error {
			common := slices.DeleteFunc(slices.Clone(store.EventTypes), func(typ string) bool { return typ == store.EventSCIMTokenIssued })
			for i := range 20000 {
				typ := common[i%len(common)]
				if i%5000 == 0 {
					typ = store.EventSCIMTokenIssued
				}
				if err := s.record(ctx, tx, now, typ, tn.ID, "", []byte(`{}`)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.LastEventSeq(ctx, false); err != nil { // numbers them
			t.Fatal(err)
		}
		conn, err := s.db.pool().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		exec := func(q string) {
			t.Helper()
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("ANALYZE events")
		for i, types := range polls {
			q := s.db.bind(listEventsSQL(types))
			exec(fmt.Sprintf("PREPARE poll%d AS %s", i, q))
			values := "0, 100"
			for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
				exec("SET plan_cache_mode = " + mode)
				var plan []string
				rows, err := conn.QueryContext(ctx, fmt.Sprintf("EXPLAIN EXECUTE poll%d(%s)", i, values))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var line string
					rows.Scan(&line)
					plan = append(plan, line)
				}
				rows.Close()
				all := strings.Join(plan, "\n")
				if !strings.Contains(all, "events_type") || strings.Contains(all, "Seq Scan on events") {
					t.Errorf("%s, %s: the plan does not walk events_type:\n%s\n%s", strings.Join(types, ","), mode, q, all)
				}
			}
		}
	})
}
