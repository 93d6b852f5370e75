package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// testBackchannelDestinations: a client registered with a back-channel logout URI gets, with it, a
// destination of events (KindBackchannelLogout, Ref the client, session.ended only) that starts after
// the newest event; a client without one gets none; removing the client removes its destination and
// deliveries, and nothing else.
func testBackchannelDestinations(t *testing.T, s store.Store, clock *Clock) {
	tn := mustTenant(t, s, "acme", "acme.com")
	mustUser(t, s, tn.ID, "ada@acme.com", "ext-ada")
	last, err := s.LastEventSeq(ctx, false)
	if err != nil || last == 0 {
		t.Fatalf("LastEventSeq after a create = %d, %v; want the create's event", last, err)
	}
	hook := mustWebhook(t, s, "https://hooks.test/all", last)
	with := mustOIDCClient(t, s, "wiki", false) // registered with a back-channel logout URI
	without := mustOIDCClient(t, s, "app", true)
	if with.BackchannelLogoutURI == "" || without.BackchannelLogoutURI != "" {
		t.Fatalf("fixture: %+v, %+v", with, without)
	}
	dests := func() []store.Webhook {
		t.Helper()
		ws, err := s.ListWebhooks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(ws, func(w store.Webhook) bool { return w.Kind != store.KindBackchannelLogout })
	}
	ds := dests()
	if len(ds) != 1 {
		t.Fatalf("back-channel logout destinations %+v, want the one of client %s", ds, with.ID)
	}
	d := ds[0]
	if d.Ref != with.ID || d.URL != with.BackchannelLogoutURI || !slices.Equal(d.Types, []string{store.EventSessionEnded}) || d.Cursor != last ||
		d.Failures != 0 || !d.CreatedAt.Equal(with.CreatedAt) {
		t.Errorf("destination %+v; want Ref %s, URL %s, session.ended only, cursor %d", d, with.ID, with.BackchannelLogoutURI, last)
	}
	got, err := s.Webhook(ctx, d.ID)
	if err != nil || got.Kind != store.KindBackchannelLogout || got.Secret != "" {
		t.Errorf("Webhook(%s) = %+v, %v; want it, without a secret", d.ID, got, err)
	}
	if err := s.AdvanceWebhook(ctx, d.ID, last, last+1, []store.Delivery{delivery(&d, last+1, store.DeliveryDelivered, clock.Now())}); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteOIDCClient(ctx, without.ID); err != nil {
		t.Fatal(err)
	}
	if len(dests()) != 1 {
		t.Errorf("removing a client without a back-channel logout URI removed a destination")
	}
	clock.Add(time.Second)
	if err := s.DeleteOIDCClient(ctx, with.ID); err != nil {
		t.Fatal(err)
	}
	if ds := dests(); len(ds) != 0 {
		t.Errorf("destinations after the client was removed: %+v", ds)
	}
	_, err = s.Webhook(ctx, d.ID)
	wantErr(t, "the removed client's destination", err, store.ErrNotFound)
	if ds, err := s.ListDeliveries(ctx, d.ID, "", 10); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of the removed destination: %+v, %v", ds, err)
	}
	if _, err := s.Webhook(ctx, hook.ID); err != nil {
		t.Errorf("the webhook went with the client: %v", err)
	}
}

// testSessionClients: the clients that redeemed a code of a session are named by its session.ended
// event (sorted, once each) though their tokens expired and were swept long before; a session no
// client signed in with names none; a removed client is not named; what is remembered for a session
// that is gone is swept.
func testSessionClients(t *testing.T, s store.Store, clock *Clock) {
	tn := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, tn.ID, "ada@acme.com", "ext-ada")
	newSession := func(name string) *store.Session {
		t.Helper()
		ss := &store.Session{IDHash: hash(name), TenantID: tn.ID, UserID: u.ID, ExpiresAt: clock.Now().Add(24 * time.Hour)}
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		return ss
	}
	n := 0
	redeemErr := func(c *store.OIDCClient, session string, want error) {
		t.Helper()
		n++
		id := fmt.Sprintf("req%d", n)
		in := store.OIDCSignIn{TenantID: tn.ID, UserID: u.ID, SessionHash: hash(session), AuthTime: clock.Now(), AMR: "saml"}
		mustOIDCRequest(t, s, clock, c.ID, id)
		if err := s.IssueOIDCCode(ctx, id, in, hash("code"+id), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
			t.Fatal(err)
		}
		tok := store.OIDCToken{Hash: hash("access" + id), ClientID: c.ID, OIDCSignIn: in, Family: id, Scopes: []string{"openid"},
			ExpiresAt: clock.Now().Add(10 * time.Minute)}
		wantErr(t, "redeeming a code of session "+session, s.RedeemOIDCCode(ctx, id, []store.OIDCToken{tok}), want)
	}
	redeem := func(c *store.OIDCClient, session string) { t.Helper(); redeemErr(c, session, nil) }
	ended := func(ss *store.Session, end func() error) []string {
		t.Helper()
		before, err := s.LastEventSeq(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
		es, err := s.ListEvents(ctx, store.EventQuery{After: before, Limit: 10, Types: []string{store.EventSessionEnded}})
		if err != nil || len(es) != 1 {
			t.Fatalf("session.ended events: %d, %v; want one", len(es), err)
		}
		var o store.SessionObject
		if err := json.Unmarshal(es[0].Data, &o); err != nil || o.ID != store.SessionID(ss.IDHash) {
			t.Fatalf("session.ended %s (%v), want session %s", es[0].Data, err, store.SessionID(ss.IDHash))
		}
		return o.Clients
	}

	a, b, c := mustOIDCClient(t, s, "a", false), mustOIDCClient(t, s, "b", true), mustOIDCClient(t, s, "c", false)
	one, two, none := newSession("one"), newSession("two"), newSession("none")
	redeem(b, "one")
	redeem(a, "one")
	redeem(a, "one") // a second sign-in of the same client: named once
	redeem(c, "two")
	// A session that ended as its code was redeemed: the code is refused (its tokens would be dead,
	// and the client, remembered for no session, would never be told by back-channel logout).
	redeemErr(a, "ghost", store.ErrNotFound)
	clock.Add(time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := s.OIDCToken(ctx, hash("accessreq1"))
	wantErr(t, "an access token an hour on, after a sweep", err, store.ErrNotFound)

	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if got := ended(one, func() error { return s.DeleteSession(ctx, one.IDHash) }); !slices.Equal(got, want) {
		t.Errorf("session one ended naming %v, want %v (its tokens expired, its clients did not go)", got, want)
	}
	if err := s.DeleteOIDCClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := ended(two, func() error { return s.EndSession(ctx, two.IDHash, store.EndTimeout) }); len(got) != 0 {
		t.Errorf("session two ended naming %v, want none (its one client was removed)", got)
	}
	if got := ended(none, func() error { return s.DeleteUserSessions(ctx, tn.ID, u.ID) }); len(got) != 0 {
		t.Errorf("a session no client signed in with ended naming %v", got)
	}
	// Nothing was remembered of "ghost", whose code was refused: a session by that name, begun now,
	// ends naming no client.
	ghost := newSession("ghost")
	if got := ended(ghost, func() error { return s.DeleteSession(ctx, ghost.IDHash) }); len(got) != 0 {
		t.Errorf("a new session ended naming %v, remembered for a session that was gone", got)
	}
}
