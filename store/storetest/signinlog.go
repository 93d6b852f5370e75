package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

func mustRecord(t *testing.T, s store.Store, r store.SignInRecord) store.SignInRecord {
	t.Helper()
	if err := s.RecordSignIn(ctx, &r); err != nil {
		t.Fatalf("RecordSignIn(%+v): %v", r, err)
	}
	return r
}

func listSignIns(t *testing.T, s store.Store, q store.SignInQuery) []store.SignInRecord {
	t.Helper()
	got, err := s.ListSignIns(ctx, q)
	if err != nil {
		t.Fatalf("ListSignIns(%+v): %v", q, err)
	}
	return got
}

func refs(rs []store.SignInRecord) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Ref)
	}
	return strings.Join(out, ",")
}

// testSignInLog: records are stored as given (texts bounded), listed newest first with a cursor and
// the outcome and email filters, never another tenant's; accepted sign-ins are recorded by SignIn and
// PasswordSignIn in their own transaction, and nothing when they fail; an unknown tenant is refused.
func testSignInLog(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	r1 := mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Code: "audience",
		Reason: "audience is not ours", Ref: "r1", Issuer: "https://idp.test", ClientAddr: "192.0.2.1", Verified: true})
	if r1.Seq == 0 || !r1.Time.Equal(clock.Now()) || r1.Count != 1 {
		t.Fatalf("recorded %+v", r1)
	}
	clock.Add(time.Second)
	mustRecord(t, s, store.SignInRecord{TenantID: b.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Code: "guard", Ref: "b1"})
	long := strings.Repeat("é", store.MaxSignInReason) + "\x00\xff"
	r2 := mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Method: store.SignInPassword, Code: "password",
		Email: "Ops@Acme.com", Reason: long, Ref: "r2"})
	if len(r2.Reason) > store.MaxSignInReason || !strings.HasSuffix(r2.Reason, "…") || r2.Email != "ops@acme.com" {
		t.Errorf("long reason stored as %d bytes %q…, email %q", len(r2.Reason), r2.Reason[:10], r2.Email)
	}

	u := mustUser(t, s, a.ID, "ops@acme.com", "")
	if err := s.SetPassword(ctx, a.ID, u.ID, "$argon2id$x"); err != nil {
		t.Fatal(err)
	}
	pin := &store.PasswordSignIn{UserID: u.ID, PasswordHash: "$argon2id$x", Session: store.Session{IDHash: hash("pw"), ExpiresAt: clock.Now().Add(time.Hour)},
		Log: &store.SignInRecord{Method: store.SignInPassword, Ref: "r3", ClientAddr: "192.0.2.3"}}
	if _, err := s.PasswordSignIn(ctx, a.ID, pin, func(store.UserFinder, *store.User) (bool, error) { return false, nil }); err != nil {
		t.Fatal(err)
	}
	in := &store.SignIn{AssertionID: "as-1", AssertionExpires: clock.Now().Add(time.Minute), Session: store.Session{IDHash: hash("s1")},
		Log: &store.SignInRecord{Method: store.SignInSAML, Ref: "r4", Issuer: "https://idp.test", Verified: true}}
	if _, err := s.SignIn(ctx, a.ID, in, func(f store.UserFinder) (*store.User, error) { return f.ByEmail("ops@acme.com") }); err != nil {
		t.Fatal(err)
	}
	// A sign-in that fails writes no record.
	boom := errors.New("boom")
	in2 := &store.SignIn{AssertionID: "as-2", AssertionExpires: clock.Now().Add(time.Minute), Session: store.Session{IDHash: hash("s2")},
		Log: &store.SignInRecord{Method: store.SignInSAML, Ref: "r-failed"}}
	if _, err := s.SignIn(ctx, a.ID, in2, func(store.UserFinder) (*store.User, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing SignIn: %v", err)
	}

	all := listSignIns(t, s, store.SignInQuery{TenantID: a.ID})
	if got := refs(all); got != "r4,r3,r2,r1" {
		t.Fatalf("ListSignIns = %s, want r4,r3,r2,r1", got)
	}
	if r := all[0]; r.Outcome != store.SignInAccepted || r.UserID != u.ID || r.Email != "ops@acme.com" || !r.Verified || r.Issuer != "https://idp.test" {
		t.Errorf("accepted SAML record %+v", r)
	}
	if r := all[1]; r.Outcome != store.SignInAccepted || r.Method != store.SignInPassword || r.UserID != u.ID || r.ClientAddr != "192.0.2.3" {
		t.Errorf("accepted password record %+v", r)
	}
	if r := all[3]; r != r1 {
		t.Errorf("read back %+v, want %+v", r, r1)
	}
	for _, tc := range []struct {
		q    store.SignInQuery
		want string
	}{
		{store.SignInQuery{TenantID: a.ID, Outcome: store.SignInRefused}, "r2,r1"},
		{store.SignInQuery{TenantID: a.ID, Outcome: store.SignInAccepted}, "r4,r3"},
		{store.SignInQuery{TenantID: a.ID, Email: "OPS@acme.com"}, "r4,r3,r2"},
		{store.SignInQuery{TenantID: a.ID, Email: "OPS@acme.com", Outcome: store.SignInRefused}, "r2"},
		{store.SignInQuery{TenantID: a.ID, Limit: 2}, "r4,r3"},
		{store.SignInQuery{TenantID: a.ID, Before: all[1].Seq}, "r2,r1"},
		{store.SignInQuery{TenantID: b.ID}, "b1"},
		{store.SignInQuery{TenantID: "nope"}, ""},
		{store.SignInQuery{TenantID: a.ID, Email: "\xff\x00"}, ""},
		{store.SignInQuery{TenantID: a.ID, Ref: "r2"}, "r2"},
		{store.SignInQuery{TenantID: a.ID, Ref: "r2", Outcome: store.SignInAccepted}, ""},
		{store.SignInQuery{TenantID: b.ID, Ref: "r2"}, ""},
		{store.SignInQuery{TenantID: a.ID, Ref: "\x00"}, ""},
	} {
		if got := refs(listSignIns(t, s, tc.q)); got != tc.want {
			t.Errorf("ListSignIns(%+v) = %s, want %s", tc.q, got, tc.want)
		}
	}
	if err := s.RecordSignIn(ctx, &store.SignInRecord{TenantID: "nope", Outcome: store.SignInRefused}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordSignIn(unknown tenant) = %v, want ErrNotFound", err)
	}
}

// testSignInLogCap: past MaxRefusalsPerMinute refusals of a tenant and class in a minute, one record
// counts the rest, exactly, even with writers racing; the other class, other tenants, accepted
// sign-ins and the next minute are not affected.
func testSignInLogCap(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	const extra = 25
	var wg sync.WaitGroup
	errs := make(chan error, store.MaxRefusalsPerMinute+extra)
	for range store.MaxRefusalsPerMinute + extra {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RecordSignIn(ctx, &store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Code: "guard", Ref: "junk"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// A SignInMeter's count of this replica lands on the same record, never on another class's or
	// tenant's, nor on a minute without one.
	if err := s.AddRefusals(ctx, a.ID, clock.Now(), store.ClassOther, 7); err != nil {
		t.Fatal(err)
	}
	for _, add := range []struct {
		id    string
		at    time.Time
		class store.SignInClass
	}{{a.ID, clock.Now(), store.ClassVerified}, {a.ID, clock.Now(), store.ClassFromIdP}, {a.ID, clock.Now(), store.ClassPassword},
		{b.ID, clock.Now(), store.ClassOther}, {a.ID, clock.Now().Add(-time.Hour), store.ClassOther}} {
		if err := s.AddRefusals(ctx, add.id, add.at, add.class, 1000); err != nil {
			t.Fatal(err)
		}
	}
	mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Code: "audience", Ref: "signed", Verified: true})
	// Nor do the IdP's unverified responses (a missed key rollover) or password refusals.
	mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Code: "invalid", Ref: "from-idp", FromIdP: true})
	mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Method: store.SignInPassword, Code: "password", Ref: "password"})
	mustRecord(t, s, store.SignInRecord{TenantID: b.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Code: "guard", Ref: "other"})
	mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInAccepted, Method: store.SignInSAML, Ref: "ok"})
	got := listSignIns(t, s, store.SignInQuery{TenantID: a.ID, Limit: 500})
	var junk, more, signed, ok int
	for _, r := range got {
		switch {
		case r.Code == store.SignInCodeMore:
			more++
			if r.Count != extra+7 || r.Verified || r.Outcome != store.SignInRefused {
				t.Errorf("the record of the rest: %+v, want count %d", r, extra+7)
			}
		case r.Ref == "junk":
			junk++
		case r.Ref == "signed" || r.Ref == "from-idp" || r.Ref == "password":
			signed++
		case r.Ref == "ok":
			ok++
		}
	}
	if junk != store.MaxRefusalsPerMinute || more != 1 || signed != 3 || ok != 1 || len(got) != store.MaxRefusalsPerMinute+5 {
		t.Errorf("recorded %d refusals, %d counting records, %d of other classes, %d accepted (%d in all); want %d, 1, 3, 1",
			junk, more, signed, ok, len(got), store.MaxRefusalsPerMinute)
	}
	if got := listSignIns(t, s, store.SignInQuery{TenantID: b.ID}); len(got) != 1 || got[0].Ref != "other" {
		t.Errorf("other tenant: %+v", got)
	}
	// Accepted test sign-ins count against the cap too: one signed response posted again and again
	// while the tenant is testing is never marked used.
	for range store.MaxRefusalsPerMinute + 5 {
		mustRecord(t, s, store.SignInRecord{TenantID: b.ID, Outcome: store.SignInAccepted, Method: store.SignInTest, Verified: true, Ref: "test"})
	}
	tests, moreTests := 0, 0
	for _, r := range listSignIns(t, s, store.SignInQuery{TenantID: b.ID, Limit: 500}) {
		switch {
		case r.Ref == "test":
			tests++
		case r.Code == store.SignInCodeMore && r.Method == store.SignInTest && r.Verified:
			moreTests += r.Count
		}
	}
	if tests != store.MaxRefusalsPerMinute || moreTests != 5 {
		t.Errorf("%d test sign-ins: %d recorded, %d counted; want %d, 5", store.MaxRefusalsPerMinute+5, tests, moreTests, store.MaxRefusalsPerMinute)
	}
	clock.Add(time.Minute)
	if r := mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Code: "guard", Ref: "next minute"}); r.Ref != "next minute" {
		t.Errorf("a refusal of the next minute was recorded as %+v", r)
	}
}

// testSignInLogRetention: Sweep deletes records older than SignInRetention and keeps the rest.
func testSignInLogRetention(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	for i := range 3 {
		mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInRefused, Code: "guard", Ref: "old"})
		clock.Add(time.Duration(i) * time.Second)
	}
	clock.Add(store.SignInRetention - time.Hour)
	mustRecord(t, s, store.SignInRecord{TenantID: a.ID, Outcome: store.SignInAccepted, Ref: "new"})
	clock.Add(2 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := refs(listSignIns(t, s, store.SignInQuery{TenantID: a.ID})); got != "new" {
		t.Errorf("after Sweep: %s, want new", got)
	}
}

// testMetadataFetch: a due fetch is claimed once, by one of racing claimers; a claimed fetch is not
// due again until its lease ends; force claims anyway; outcomes are recorded and read back.
func testMetadataFetch(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	if _, err := s.MetadataFetch(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MetadataFetch before any claim: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ClaimMetadataFetch(ctx, a.ID, time.Hour, false)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 racing claims won, want 1", won)
	}
	clock.Add(30 * time.Minute)
	if ok, err := s.ClaimMetadataFetch(ctx, a.ID, time.Hour, false); ok || err != nil {
		t.Errorf("claim within the lease = %v, %v", ok, err)
	}
	if ok, err := s.ClaimMetadataFetch(ctx, a.ID, time.Hour, true); !ok || err != nil {
		t.Errorf("forced claim = %v, %v", ok, err)
	}
	if err := s.FinishMetadataFetch(ctx, a.ID, "https://idp.test/md", "", 6*time.Hour); err != nil {
		t.Fatal(err)
	}
	ok := clock.Now()
	clock.Add(7 * time.Hour)
	if ok, err := s.ClaimMetadataFetch(ctx, a.ID, time.Hour, false); !ok || err != nil {
		t.Errorf("claim when due = %v, %v", ok, err)
	}
	if err := s.FinishMetadataFetch(ctx, a.ID, "https://idp.test/md", "connection refused", time.Hour); err != nil {
		t.Fatal(err)
	}
	f, err := s.MetadataFetch(ctx, a.ID)
	if err != nil || f.URL != "https://idp.test/md" || f.LastError != "connection refused" || !f.LastOKAt.Equal(ok) ||
		!f.LastAt.Equal(clock.Now()) || !f.NextAt.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("MetadataFetch = %+v, %v", f, err)
	}
	if _, err := s.ClaimMetadataFetch(ctx, "nope", time.Hour, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("claim of an unknown tenant: %v", err)
	}
}

// testCertificateExpiring: a certificate is announced once, by one event, whoever asks again.
func testCertificateExpiring(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	before := last(t, s)
	c := store.CertificateObject{Fingerprint: "ab01", Subject: "CN=idp", NotAfter: clock.Now().Add(10 * 24 * time.Hour)}
	for i := range 3 {
		got, err := s.AnnounceCertificateExpiring(ctx, a.ID, c)
		if err != nil || got != (i == 0) {
			t.Fatalf("announcement %d = %v, %v", i, got, err)
		}
	}
	es := wantTypes(t, s, before, store.EventSSOCertificateExpiring)
	c.Tenant = "acme"
	sameJSON(t, store.EventSSOCertificateExpiring, es[0].Data, c)
	if _, err := s.AnnounceCertificateExpiring(ctx, "nope", c); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("announcement for an unknown tenant: %v", err)
	}
}
