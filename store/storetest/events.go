package storetest

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// The event log: each event type produced by the store method that produces it, with its data; nothing
// recorded by writes that fail; seq, filters and retention.

// events returns every event after seq, in order, checking the order and the fields every event has.
func events(t *testing.T, s store.Store, after int64) []store.Event {
	t.Helper()
	var out []store.Event
	for {
		page, err := s.ListEvents(ctx, store.EventQuery{After: after, Limit: 500})
		if err != nil {
			t.Fatalf("ListEvents(after %d): %v", after, err)
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("ListEvents(after %d) returned seq %d", after, e.Seq)
			}
			if e.ID == "" || e.Type == "" || e.TenantID == "" || e.Tenant == "" || e.OccurredAt.IsZero() || !json.Valid(e.Data) {
				t.Fatalf("incomplete event %+v", e)
			}
			after = e.Seq
		}
		out = append(out, page...)
		if len(page) < 500 {
			return out
		}
	}
}

// last is the store's last seq.
func last(t *testing.T, s store.Store) int64 {
	t.Helper()
	n, err := s.LastEventSeq(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func types(es []store.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}

// wantTypes checks the types of the events written after seq and returns the events.
func wantTypes(t *testing.T, s store.Store, after int64, want ...string) []store.Event {
	t.Helper()
	es := events(t, s, after)
	if got := types(es); !slices.Equal(got, want) {
		t.Fatalf("events after %d: %v, want %v", after, got, want)
	}
	return es
}

// sameJSON checks that data decodes into a value of want's type equal to want.
func sameJSON(t *testing.T, what string, data []byte, want any) {
	t.Helper()
	got := reflect.New(reflect.TypeOf(want))
	if err := json.Unmarshal(data, got.Interface()); err != nil {
		t.Fatalf("%s: %v in %s", what, err, data)
	}
	g, _ := json.Marshal(got.Elem().Interface())
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

// wantUserEvent checks an event about u (read back from the store) in tenant slug.
func wantUserEvent(t *testing.T, s store.Store, e store.Event, typ, slug string, u *store.User, at time.Time) {
	t.Helper()
	stored, err := s.UserByID(ctx, u.TenantID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != typ || e.TenantID != u.TenantID || e.Tenant != slug || e.Subject != u.ID || !e.OccurredAt.Equal(at) {
		t.Fatalf("event %+v, want %s about %s of %s at %v", e, typ, u.ID, slug, at)
	}
	sameJSON(t, typ, e.Data, store.NewUserObject(stored, slug))
}

func testEventsUsers(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	if got := last(t, s); got != 0 {
		t.Fatalf("LastEventSeq of an empty store = %d", got)
	}
	start := clock.Now()
	u := mustUser(t, s, a.ID, "alice@acme.com", "ext-alice")
	es := wantTypes(t, s, 0, store.EventUserCreated)
	wantUserEvent(t, s, es[0], store.EventUserCreated, "acme", u, start)
	var obj map[string]any
	json.Unmarshal(es[0].Data, &obj)
	if obj["source"] != "scim" || obj["last_sign_in_at"] != nil || obj["user_name"] != "alice@acme.com" || obj["tenant"] != "acme" {
		t.Fatalf("user.created data %s", es[0].Data)
	}
	if got := last(t, s); got != es[0].Seq {
		t.Fatalf("LastEventSeq = %d, want %d", got, es[0].Seq)
	}

	// A session of alice's with tokens of two OpenID clients, and one without.
	c1, c2 := mustOIDCClient(t, s, "wiki", false), mustOIDCClient(t, s, "chat", true)
	sess, bare := &store.Session{IDHash: hash("alice-1"), TenantID: a.ID, UserID: u.ID, ExpiresAt: start.Add(time.Hour)},
		&store.Session{IDHash: hash("alice-2"), TenantID: a.ID, UserID: u.ID, ExpiresAt: start.Add(2 * time.Hour), Mobile: true}
	for _, ss := range []*store.Session{sess, bare} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
	}
	giveTokens(t, s, clock, c1.ID, "r1", sess)
	giveTokens(t, s, clock, c2.ID, "r2", sess)
	giveTokens(t, s, clock, c2.ID, "r3", sess)

	update := func(fn func(*store.User)) int64 {
		t.Helper()
		before := last(t, s)
		clock.Add(time.Minute)
		if _, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{Operation: "patch"}, func(x *store.User) error { fn(x); return nil }); err != nil {
			t.Fatal(err)
		}
		return before
	}
	cases := []struct {
		name string
		fn   func(*store.User)
		want []string
	}{
		{"another field", func(x *store.User) { x.GivenName = "Alicia" }, []string{store.EventUserUpdated}},
		{"userName in another case", func(x *store.User) { x.UserName = "Alice@acme.com" }, []string{store.EventUserUpdated}},
		{"userName and the primary email with it", func(x *store.User) {
			x.UserName, x.Emails[0].Value = "alice.new@acme.com", "alice.new@acme.com"
		}, []string{store.EventUserEmailChanged}},
		{"userName, another field and active", func(x *store.User) {
			x.UserName, x.Department, x.Active = "alice.third@acme.com", "R&D", false
		}, []string{store.EventUserUpdated, store.EventUserEmailChanged, store.EventUserDeactivated, store.EventSessionEnded, store.EventSessionEnded}},
		{"reactivated", func(x *store.User) { x.Active = true }, []string{store.EventUserReactivated}},
		{"nothing", func(x *store.User) {}, nil},
		{"LastSignInAt is not the updater's", func(x *store.User) { x.LastSignInAt = clock.Now() }, nil},
	}
	for _, c := range cases {
		before := update(c.fn)
		es := wantTypes(t, s, before, c.want...)
		for _, e := range es {
			if strings.HasPrefix(e.Type, "user.") {
				wantUserEvent(t, s, e, e.Type, "acme", u, clock.Now())
			}
		}
		if c.name == "userName, another field and active" {
			// The sessions end with the deactivation, oldest first, each naming the clients that
			// held tokens of it, each once.
			for i, ss := range []*store.Session{sess, bare} {
				want := store.NewSessionObject(ss, "acme")
				want.Reason = store.EndDeactivated
				if i == 0 {
					want.Clients = slices.Sorted(slices.Values([]string{c1.ID, c2.ID}))
				}
				e := es[3+i]
				if e.Subject != u.ID || e.Tenant != "acme" || !e.OccurredAt.Equal(clock.Now()) {
					t.Fatalf("session.ended %+v", e)
				}
				sameJSON(t, "session.ended", e.Data, want)
			}
		}
	}
	if got, err := s.UserByID(ctx, a.ID, u.ID); err != nil || !got.LastSignInAt.IsZero() {
		t.Fatalf("UpdateUser set LastSignInAt: %+v, %v", got, err)
	}
}

// giveTokens gives client clientID tokens of session ss, through an authorization request reqID.
func giveTokens(t *testing.T, s store.Store, clock *Clock, clientID, reqID string, ss *store.Session) {
	t.Helper()
	mustOIDCRequest(t, s, clock, clientID, reqID)
	in := store.OIDCSignIn{TenantID: ss.TenantID, UserID: ss.UserID, SessionHash: ss.IDHash, AuthTime: clock.Now(), AMR: "saml"}
	if err := s.IssueOIDCCode(ctx, reqID, in, hash("code"+reqID), clock.Now().Add(time.Minute), clock.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	toks := []store.OIDCToken{{Hash: hash("at" + reqID), ClientID: clientID, OIDCSignIn: in, Family: reqID, Scopes: []string{"openid"},
		ExpiresAt: clock.Now().Add(10 * time.Minute)}}
	if err := s.RedeemOIDCCode(ctx, reqID, toks); err != nil {
		t.Fatal(err)
	}
}

func testEventsSessions(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "")
	v := mustUser(t, s, a.ID, "bob@acme.com", "")
	newSession := func(name string, who *store.User, ttl time.Duration) *store.Session {
		t.Helper()
		before := last(t, s)
		ss := &store.Session{IDHash: hash(name), TenantID: a.ID, UserID: who.ID, ExpiresAt: clock.Now().Add(ttl), Mobile: name == "mobile"}
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		es := wantTypes(t, s, before, store.EventSessionStarted)
		if es[0].Subject != who.ID || !es[0].OccurredAt.Equal(clock.Now()) {
			t.Fatalf("session.started %+v", es[0])
		}
		sameJSON(t, "session.started", es[0].Data, store.NewSessionObject(ss, "acme"))
		var obj map[string]any
		json.Unmarshal(es[0].Data, &obj)
		if obj["id"] != store.SessionID(ss.IDHash) || obj["reason"] != nil || obj["clients"] != nil {
			t.Fatalf("session.started data %s", es[0].Data)
		}
		return ss
	}
	wantEnded := func(before int64, reason string, ended ...*store.Session) {
		t.Helper()
		want := make([]string, len(ended))
		for i := range want {
			want[i] = store.EventSessionEnded
		}
		es := wantTypes(t, s, before, want...)
		for i, ss := range ended {
			o := store.NewSessionObject(ss, "acme")
			o.Reason = reason
			sameJSON(t, "session.ended", es[i].Data, o)
			if es[i].Subject != ss.UserID {
				t.Fatalf("session.ended about %s, want %s", es[i].Subject, ss.UserID)
			}
		}
	}

	logout := newSession("logout", u, time.Hour)
	before := last(t, s)
	if err := s.DeleteSession(ctx, logout.IDHash); err != nil {
		t.Fatal(err)
	}
	wantEnded(before, store.EndLogout, logout)
	before = last(t, s)
	if err := s.DeleteSession(ctx, logout.IDHash); err != nil {
		t.Fatal(err)
	}
	wantTypes(t, s, before) // an unknown session: nothing ended, nothing recorded

	reauth := newSession("mobile", u, time.Hour)
	before = last(t, s)
	if err := s.EndSession(ctx, reauth.IDHash, store.EndTimeout); err != nil {
		t.Fatal(err)
	}
	wantEnded(before, store.EndTimeout, reauth)
	if err := s.EndSession(ctx, hash("x"), "bored"); err == nil {
		t.Fatal("EndSession accepted an unknown reason")
	}

	b1 := newSession("bob-1", v, time.Hour)
	clock.Add(time.Second)
	b2 := newSession("bob-2", v, time.Hour)
	keep := newSession("alice-keeps", u, 3*time.Hour)
	before = last(t, s)
	if err := s.DeleteUserSessions(ctx, a.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	wantEnded(before, store.EndLogout, b1, b2)

	// A session that expired and was not swept yet ended by timeout, however it is ended now.
	expired := newSession("expired", u, time.Minute)
	clock.Add(2 * time.Minute)
	before = last(t, s)
	if err := s.DeleteSession(ctx, expired.IDHash); err != nil {
		t.Fatal(err)
	}
	wantEnded(before, store.EndTimeout, expired)

	// The clients named are those signed in with the session (they redeemed a code of it), whether
	// their tokens expired or were revoked since: each may have a session of its own with the person
	// that a back-channel logout ends.
	wiki, chat, mail := mustOIDCClient(t, s, "wiki", false), mustOIDCClient(t, s, "chat", true), mustOIDCClient(t, s, "mail", false)
	held := newSession("held", u, 3*time.Hour)
	giveTokens(t, s, clock, wiki.ID, "wiki-1", held) // revoked below: wiki is still told
	giveTokens(t, s, clock, chat.ID, "chat-1", held)
	giveTokens(t, s, clock, mail.ID, "mail-1", held) // revoked below, but mail-2 is not
	giveTokens(t, s, clock, mail.ID, "mail-2", held)
	for _, family := range []string{"wiki-1", "mail-1"} {
		if err := s.RevokeOIDCFamily(ctx, family); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(time.Hour) // the tokens (10 minutes) expire; the session does not
	before = last(t, s)
	if err := s.DeleteSession(ctx, held.IDHash); err != nil {
		t.Fatal(err)
	}
	es := wantTypes(t, s, before, store.EventSessionEnded)
	want := store.NewSessionObject(held, "acme")
	want.Reason, want.Clients = store.EndLogout, slices.Sorted(slices.Values([]string{chat.ID, mail.ID, wiki.ID}))
	sameJSON(t, "session.ended", es[0].Data, want)

	// Sweep ends the sessions that timed out, and only those.
	soon := newSession("soon", v, time.Minute)
	clock.Add(2 * time.Minute)
	before = last(t, s)
	n, err := s.Sweep(ctx)
	if err != nil || n < 1 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	wantEnded(before, store.EndTimeout, soon)
	if _, err := s.SessionByHash(ctx, keep.IDHash); err != nil {
		t.Fatalf("a live session was swept: %v", err)
	}
}

func testEventsSignIn(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	n := 0
	signIn := func(cont []byte, decide func(store.UserFinder) (*store.User, error)) (*store.User, *store.SignIn, []store.Event) {
		t.Helper()
		before := last(t, s)
		n++
		clock.Add(time.Minute)
		in := &store.SignIn{AssertionID: fmt.Sprint("as-", n), AssertionExpires: clock.Now().Add(5 * time.Minute),
			Audit: store.Audit{Operation: "sso-signin", Outcome: "ok"}, Session: store.Session{IDHash: hash(fmt.Sprint("s", n)), ExpiresAt: clock.Now().Add(time.Hour)}}
		if cont != nil {
			in.Session.IDHash, in.Continue = cont, true
		}
		u, err := s.SignIn(ctx, a.ID, in, decide)
		if err != nil {
			t.Fatal(err)
		}
		if !u.LastSignInAt.Equal(clock.Now()) {
			t.Fatalf("SignIn returned LastSignInAt %v, want %v", u.LastSignInAt, clock.Now())
		}
		stored, err := s.UserByID(ctx, a.ID, u.ID)
		if err != nil || !stored.LastSignInAt.Equal(clock.Now()) || stored.Version != u.Version {
			t.Fatalf("after SignIn: %+v, %v", stored, err)
		}
		return u, in, events(t, s, before)
	}
	byEmail := func(email string, change func(*store.User)) func(store.UserFinder) (*store.User, error) {
		return func(f store.UserFinder) (*store.User, error) {
			u, err := f.ByEmail(email)
			if errors.Is(err, store.ErrNotFound) {
				u = &store.User{UserName: email, Emails: []store.Email{{Value: email, Primary: true}}, Country: "DE", Active: true, Source: store.SourceSSO}
			} else if err != nil {
				return nil, err
			}
			if change != nil {
				change(u)
			}
			return u, nil
		}
	}

	// JIT creation: user.created (source sso, signed in now), then the session.
	u, in, es := signIn(nil, byEmail("jit@acme.com", nil))
	if got := types(es); !slices.Equal(got, []string{store.EventUserCreated, store.EventSessionStarted}) {
		t.Fatalf("JIT sign-in events %v", got)
	}
	wantUserEvent(t, s, es[0], store.EventUserCreated, "acme", u, clock.Now())
	var obj map[string]any
	json.Unmarshal(es[0].Data, &obj)
	if obj["source"] != "sso" || obj["last_sign_in_at"] == nil {
		t.Fatalf("JIT user.created data %s", es[0].Data)
	}
	sameJSON(t, "session.started", es[1].Data, store.NewSessionObject(&in.Session, "acme"))

	// Signing in again: the session only; the sign-in time moves without a new version.
	u2, _, es := signIn(nil, byEmail("jit@acme.com", nil))
	if got := types(es); !slices.Equal(got, []string{store.EventSessionStarted}) || u2.Version != 1 {
		t.Fatalf("second sign-in: events %v, version %d", got, u2.Version)
	}
	// Reconciled by principal id to a new email: user.email_changed, with the sign-in time.
	u3, _, es := signIn(nil, byEmail("jit@acme.com", func(x *store.User) {
		x.UserName, x.Emails = "jit.renamed@acme.com", []store.Email{{Value: "jit.renamed@acme.com", Primary: true}}
	}))
	if got := types(es); !slices.Equal(got, []string{store.EventUserEmailChanged, store.EventSessionStarted}) || u3.Version != 2 {
		t.Fatalf("reconciling sign-in: events %v, version %d", got, u3.Version)
	}
	wantUserEvent(t, s, es[0], store.EventUserEmailChanged, "acme", u3, clock.Now())
	// A silent re-authentication continues its session: nothing recorded.
	if _, _, es := signIn(in.Session.IDHash, byEmail("jit.renamed@acme.com", nil)); len(es) != 0 {
		t.Fatalf("re-authentication recorded %v", types(es))
	}

	// A password sign-in: the session, and the sign-in time.
	pw := mustUser(t, s, a.ID, "admin@acme.com", "")
	if err := s.SetPassword(ctx, a.ID, pw.ID, "$argon2id$x"); err != nil {
		t.Fatal(err)
	}
	id, err := s.ReserveLoginAttempt(ctx, time.Minute, store.Limit{Key: "acct:admin", Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	before := last(t, s)
	pin := &store.PasswordSignIn{UserID: pw.ID, PasswordHash: "$argon2id$x", Attempt: id, AccountKey: "acct:admin",
		Session: store.Session{IDHash: hash("pw"), ExpiresAt: clock.Now().Add(time.Hour)}}
	got, err := s.PasswordSignIn(ctx, a.ID, pin, func(store.UserFinder, *store.User) (bool, error) { return false, nil })
	if err != nil || !got.LastSignInAt.Equal(clock.Now()) || got.Version != 1 {
		t.Fatalf("PasswordSignIn = %+v, %v", got, err)
	}
	es = wantTypes(t, s, before, store.EventSessionStarted)
	sameJSON(t, "session.started", es[0].Data, store.NewSessionObject(&pin.Session, "acme"))
	if stored, err := s.UserByID(ctx, a.ID, pw.ID); err != nil || !stored.LastSignInAt.Equal(clock.Now()) {
		t.Fatalf("after PasswordSignIn: %+v, %v", stored, err)
	}
	// Every read of users has the sign-in time.
	list, _, err := s.ListUsers(ctx, a.ID, store.UserQuery{Limit: 10})
	if err != nil || len(list) != 2 || !list[1].LastSignInAt.Equal(clock.Now()) || list[0].LastSignInAt.IsZero() {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	s.Lookup(ctx, a.ID, func(f store.UserFinder) error {
		if u, err := f.ByEmail("admin@acme.com"); err != nil || !u.LastSignInAt.Equal(clock.Now()) {
			t.Fatalf("finder: %+v, %v", u, err)
		}
		return nil
	})
}

func testEventsTenant(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	set := &store.SSOSettings{State: store.SSOTesting, IdPEntityID: "https://idp", IdPSSOURL: "https://idp/sso",
		IdPCertificatesPEM: []string{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
		Exclude:            []string{"admin@acme.com"}, HardTimeout: 14 * 24 * time.Hour, SoftTimeout: 8 * time.Hour, SignedElement: store.SignedBoth}
	if err := s.PutSSOSettings(ctx, a.ID, set); err != nil {
		t.Fatal(err)
	}
	es := wantTypes(t, s, 0, store.EventSSOSettingsChanged)
	if es[0].Subject != "" || es[0].Tenant != "acme" {
		t.Fatalf("sso.settings_changed %+v", es[0])
	}
	sameJSON(t, "sso.settings_changed", es[0].Data, store.NewSSOSettingsObject(set, "acme"))
	var obj map[string]any
	json.Unmarshal(es[0].Data, &obj)
	if obj["version"] != 1.0 || obj["soft_timeout_seconds"] != 28800.0 || obj["idp_certificates"].([]any)[0] != set.IdPCertificatesPEM[0] {
		t.Fatalf("sso.settings_changed data %s", es[0].Data)
	}
	stale := *set
	stale.Version = 0
	before := last(t, s)
	wantErr(t, "stale settings", s.PutSSOSettings(ctx, a.ID, &stale), store.ErrVersionMismatch)
	wantTypes(t, s, before)

	clock.Add(time.Minute)
	tok := &store.Token{TenantID: a.ID, Name: "okta", Hash: hash("secret"), ExpiresAt: clock.Now().Add(24 * time.Hour)}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	es = wantTypes(t, s, before, store.EventSCIMTokenIssued)
	sameJSON(t, "scim_token.issued", es[0].Data, store.NewTokenObject(tok, "acme"))
	wantKeys(t, es[0].Data, "created_at", "expires_at", "id", "name", "revoked_at", "tenant")
	clock.Add(time.Minute)
	if err := s.RevokeToken(ctx, a.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	es = wantTypes(t, s, es[0].Seq, store.EventSCIMTokenRevoked)
	tok.RevokedAt = clock.Now()
	sameJSON(t, "scim_token.revoked", es[0].Data, store.NewTokenObject(tok, "acme"))
	before = last(t, s)
	wantErr(t, "revoked twice", s.RevokeToken(ctx, a.ID, tok.ID), store.ErrNotFound)
	wantErr(t, "token of an unknown tenant", s.CreateToken(ctx, &store.Token{TenantID: "nope", Name: "x", Hash: hash("x")}), store.ErrNotFound)
	wantTypes(t, s, before)
}

// wantKeys checks the keys of a JSON object: a token's hash must never be among them.
func wantKeys(t *testing.T, data []byte, keys ...string) {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range obj {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(got, keys) {
		t.Fatalf("keys %v, want %v", got, keys)
	}
}

// testEventsRollback: a write that fails records nothing, whatever failed.
func testEventsRollback(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, a.ID, "alice@acme.com", "ext-1")
	mustUser(t, s, a.ID, "bob@acme.com", "ext-2")
	h := sha256.Sum256([]byte("alice's session"))
	if err := s.CreateSession(ctx, &store.Session{IDHash: h[:], TenantID: a.ID, UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	before := last(t, s)
	boom := errors.New("boom")
	failing := []struct {
		name string
		err  error
		fn   func() error
	}{
		{"an updater that fails after deactivating", boom, func() error {
			_, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.Active, x.UserName = false, "x@acme.com"; return boom })
			return err
		}},
		{"a userName taken", store.ErrAlreadyExists, func() error {
			_, err := s.UpdateUser(ctx, a.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.UserName, x.Active = "BOB@acme.com", false; return nil })
			return err
		}},
		{"a stale version", store.ErrVersionMismatch, func() error {
			_, err := s.UpdateUser(ctx, a.ID, u.ID, 7, store.Audit{}, func(x *store.User) error { x.Active = false; return nil })
			return err
		}},
		{"a create with a taken externalId", store.ErrAlreadyExists, func() error {
			return s.CreateUser(ctx, a.ID, newUser("carol@acme.com", "ext-1"), store.Audit{})
		}},
		{"a session of an unknown user", store.ErrNotFound, func() error {
			return s.CreateSession(ctx, &store.Session{IDHash: hash("nobody"), TenantID: a.ID, UserID: "nobody"})
		}},
		{"a session that exists", store.ErrAlreadyExists, func() error {
			return s.CreateSession(ctx, &store.Session{IDHash: h[:], TenantID: a.ID, UserID: u.ID})
		}},
		{"a sign-in whose decision fails", boom, func() error {
			_, err := s.SignIn(ctx, a.ID, &store.SignIn{AssertionID: "as-1", AssertionExpires: clock.Now().Add(time.Minute), Session: store.Session{IDHash: hash("s1")}},
				func(store.UserFinder) (*store.User, error) { return nil, boom })
			return err
		}},
		{"a sign-in that creates a user whose session clashes", store.ErrAlreadyExists, func() error {
			_, err := s.SignIn(ctx, a.ID, &store.SignIn{AssertionID: "as-2", AssertionExpires: clock.Now().Add(time.Minute), Session: store.Session{IDHash: h[:]}},
				func(store.UserFinder) (*store.User, error) { return newUser("dave@acme.com", ""), nil })
			return err
		}},
		{"a sign-in replaying an assertion", store.ErrReplayed, func() error {
			if err := quickSignIn(s, a.ID, "erin@acme.com", "", nil, "as-3", clock.Now().Add(time.Minute)); err != nil {
				return err
			}
			before = last(t, s) // the first use recorded its events
			return quickSignIn(s, a.ID, "erin@acme.com", "", nil, "as-3", clock.Now().Add(time.Minute))
		}},
	}
	for _, f := range failing {
		wantErr(t, f.name, f.fn(), f.err)
		if es := events(t, s, before); len(es) != 0 {
			t.Fatalf("%s recorded %v", f.name, types(es))
		}
	}
	if _, err := s.SessionByHash(ctx, h[:]); err != nil {
		t.Fatalf("a failed deactivation ended the session: %v", err)
	}
}

// testEventsQuery: seq increases with every event, and the query's after, limit and types select.
func testEventsQuery(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	for i := range 6 {
		tn := a
		if i%2 == 1 {
			tn = b
		}
		u := mustUser(t, s, tn.ID, fmt.Sprintf("u%d@x.com", i), "")
		if _, err := s.UpdateUser(ctx, tn.ID, u.ID, 0, store.Audit{}, func(x *store.User) error { x.Active = false; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	all := events(t, s, 0)
	if len(all) != 12 {
		t.Fatalf("%d events, want 12", len(all))
	}
	ids := map[string]bool{}
	for i, e := range all {
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Fatalf("seq %d after %d", e.Seq, all[i-1].Seq)
		}
		if ids[e.ID] {
			t.Fatalf("event id %s twice", e.ID)
		}
		ids[e.ID] = true
		if wantSlug := map[string]string{a.ID: "acme", b.ID: "beta"}[e.TenantID]; e.Tenant != wantSlug {
			t.Fatalf("event of tenant %s names %q", e.TenantID, e.Tenant)
		}
	}
	if got := last(t, s); got != all[11].Seq {
		t.Fatalf("LastEventSeq = %d, want %d", got, all[11].Seq)
	}
	query := []struct {
		name string
		q    store.EventQuery
		want []store.Event
	}{
		{"after the third, two", store.EventQuery{After: all[2].Seq, Limit: 2}, all[3:5]},
		{"after the last", store.EventQuery{After: all[11].Seq, Limit: 5}, nil},
		{"a negative after is the start", store.EventQuery{After: -5, Limit: 1}, all[:1]},
		{"no limit is a default page", store.EventQuery{}, all},
		{"one type", store.EventQuery{Types: []string{store.EventUserDeactivated}, Limit: 100}, everyOther(all[1:])},
		{"two types, one twice, after", store.EventQuery{After: all[9].Seq, Types: []string{store.EventUserCreated, store.EventUserDeactivated, store.EventUserCreated}, Limit: 100}, all[10:]},
		{"an unknown type matches nothing", store.EventQuery{Types: []string{"user.deleted"}, Limit: 100}, nil},
		{"unknown and known", store.EventQuery{Types: []string{"nope", store.EventUserCreated}, Limit: 3}, everyOther(all)[:3]},
	}
	for _, c := range query {
		got, err := s.ListEvents(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d events, want %d", c.name, len(got), len(c.want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], c.want[i]) {
				t.Fatalf("%s: event %d = %+v, want %+v", c.name, i, got[i], c.want[i])
			}
		}
	}
}

func everyOther(es []store.Event) []store.Event {
	var out []store.Event
	for i := 0; i < len(es); i += 2 {
		out = append(out, es[i])
	}
	return out
}

// testEventsRetention: Sweep deletes events older than 30 days and counts them, but keeps the newest
// however old, and seq never goes back.
func testEventsRetention(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	for i := range 3 {
		mustUser(t, s, a.ID, fmt.Sprintf("old%d@acme.com", i), "")
	}
	clock.Add(20 * 24 * time.Hour)
	mustUser(t, s, a.ID, "young@acme.com", "")
	all := events(t, s, 0)
	clock.Add(10*24*time.Hour + time.Second) // the first three are 30 days and a second old
	n, err := s.Sweep(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want the 3 old events", n, err)
	}
	if got := events(t, s, 0); len(got) != 1 || got[0].ID != all[3].ID {
		t.Fatalf("after the sweep: %v", types(got))
	}
	clock.Add(30 * 24 * time.Hour)
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v; want the newest event kept", n, err)
	}
	if got := last(t, s); got != all[3].Seq {
		t.Fatalf("LastEventSeq = %d, want the kept %d", got, all[3].Seq)
	}
	u := mustUser(t, s, a.ID, "new@acme.com", "")
	last(t, s) // readers see it: the newest now
	clock.Add(31 * 24 * time.Hour)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("third Sweep = %d, %v; want the one before the newest", n, err)
	}
	es := wantTypes(t, s, 0, store.EventUserCreated)
	if es[0].Seq <= all[3].Seq || es[0].Subject != u.ID {
		t.Fatalf("after the old events were swept, the next has seq %d, not above %d", es[0].Seq, all[3].Seq)
	}
}
