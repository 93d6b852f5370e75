package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mustOIDCClient(t *testing.T, s store.Store, name string, public bool) *store.OIDCClient {
	t.Helper()
	c := &store.OIDCClient{Name: name, RedirectURIs: []string{"https://app.test/cb", "http://127.0.0.1:8000/cb"},
		PostLogoutRedirectURIs: []string{"https://app.test/bye"}, Public: public}
	if !public {
		c.SecretHash = hash("secret of " + name)
		c.IDTokenAlg = store.AlgES256
		c.BackchannelLogoutURI = "https://app.test/backchannel?tenant=any"
	}
	if err := s.CreateOIDCClient(ctx, c); err != nil {
		t.Fatalf("CreateOIDCClient(%s): %v", name, err)
	}
	return c
}

// mustOIDCRequest stores an authorization request of client id, expiring in 15 minutes.
func mustOIDCRequest(t *testing.T, s store.Store, clock *Clock, clientID, id string) *store.OIDCAuthRequest {
	t.Helper()
	r := &store.OIDCAuthRequest{ID: id, ClientID: clientID, RedirectURI: "https://app.test/cb", Scopes: []string{"openid", "offline_access"},
		State: "st", Nonce: "n", CodeChallenge: "abc", CodeChallengeMethod: "S256", Prompt: []string{"login"}, MaxAge: -1,
		LoginHint: "ada@acme.com", Organization: "acme", BindingHash: hash("binding"), HintSubject: "u1", ClientKey: "198.51.100.1",
		ExpiresAt: clock.Now().Add(15 * time.Minute)}
	if err := s.CreateOIDCAuthRequest(ctx, r, 0); err != nil {
		t.Fatalf("CreateOIDCAuthRequest(%s): %v", id, err)
	}
	return r
}

// mustOIDCSession stores the session oidcSignIn names (a code of an ended session is not redeemed).
func mustOIDCSession(t *testing.T, s store.Store, clock *Clock) {
	t.Helper()
	tn := mustTenant(t, s, "oidc-session", "oidc-session.test")
	u := mustUser(t, s, tn.ID, "ada@oidc-session.test", "")
	ss := &store.Session{IDHash: oidcSignIn.SessionHash, TenantID: tn.ID, UserID: u.ID, ExpiresAt: clock.Now().Add(30 * 24 * time.Hour)}
	if err := s.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
}

var oidcSignIn = store.OIDCSignIn{TenantID: "t1", UserID: "u1", SessionHash: hash("session"), AuthTime: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), AMR: "saml"}

func oidcTokens(clientID, family, suffix string, expires time.Time) []store.OIDCToken {
	return []store.OIDCToken{
		{Hash: hash("access" + suffix), ClientID: clientID, OIDCSignIn: oidcSignIn, Family: family, Scopes: []string{"openid"}, ExpiresAt: expires},
		{Hash: hash("refresh" + suffix), Refresh: true, ClientID: clientID, OIDCSignIn: oidcSignIn, Family: family, Scopes: []string{"openid"},
			ExpiresAt: expires.Add(time.Hour)},
	}
}

func mustToken(t *testing.T, s store.Store, name string) *store.OIDCToken {
	t.Helper()
	tok, err := s.OIDCToken(ctx, hash(name))
	if err != nil {
		t.Fatalf("OIDCToken(%s): %v", name, err)
	}
	return tok
}

// testOIDCClients: clients are stored with their lists, secret hash and type, listed by name, and a
// removed client takes its requests and tokens with it.
func testOIDCClients(t *testing.T, s store.Store, clock *Clock) {
	mustOIDCSession(t, s, clock)
	conf := mustOIDCClient(t, s, "wiki", false)
	pub := mustOIDCClient(t, s, "app", true)
	got, err := s.OIDCClient(ctx, conf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, conf) || got.CreatedAt.IsZero() || got.IDTokenAlg != store.AlgES256 ||
		got.BackchannelLogoutURI != "https://app.test/backchannel?tenant=any" {
		t.Errorf("OIDCClient = %+v, want %+v", got, conf)
	}
	if got, err := s.OIDCClient(ctx, pub.ID); err != nil || !got.Public || got.SecretHash != nil || got.BackchannelLogoutURI != "" {
		t.Errorf("public client = %+v, %v; want public without a secret or back-channel logout URI", got, err)
	}
	_, err = s.OIDCClient(ctx, "nope")
	wantErr(t, "OIDCClient(unknown)", err, store.ErrNotFound)
	list, err := s.ListOIDCClients(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "app" || list[1].Name != "wiki" || !reflect.DeepEqual(list[1], *conf) {
		t.Fatalf("ListOIDCClients = %+v, %v; want app, wiki", list, err)
	}

	mustOIDCRequest(t, s, clock, conf.ID, "req1")
	if err := s.IssueOIDCCode(ctx, "req1", oidcSignIn, hash("code1"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RedeemOIDCCode(ctx, "req1", oidcTokens(conf.ID, "req1", "1", clock.Now().Add(10*time.Minute))); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteOIDCClient(unknown)", s.DeleteOIDCClient(ctx, "nope"), store.ErrNotFound)
	if err := s.DeleteOIDCClient(ctx, conf.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.OIDCClient(ctx, conf.ID)
	wantErr(t, "OIDCClient(removed)", err, store.ErrNotFound)
	_, err = s.OIDCAuthRequest(ctx, "req1")
	wantErr(t, "request of a removed client", err, store.ErrNotFound)
	_, err = s.OIDCToken(ctx, hash("access1"))
	wantErr(t, "token of a removed client", err, store.ErrNotFound)
	err = s.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "req2", ClientID: conf.ID, ExpiresAt: clock.Now().Add(time.Minute)}, 0)
	wantErr(t, "request of a removed client", err, store.ErrNotFound)
}

// testOIDCKeys: the first keys are made once whoever asks; a rotation makes new current keys and gives
// the old ones a retirement time, after which they are no longer listed and are swept.
func testOIDCKeys(t *testing.T, s store.Store, clock *Clock) {
	if keys, err := s.OIDCKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("OIDCKeys of an empty store = %v, %v", keys, err)
	}
	first := []store.OIDCKey{{ID: "k1", Algorithm: store.AlgRS256, PrivateKeyPEM: []byte("private 1"), PublicKeyPEM: []byte("public 1")},
		{ID: "k1e", Algorithm: store.AlgES256, PrivateKeyPEM: []byte("private 1e"), PublicKeyPEM: []byte("public 1e")}}
	if added, err := s.AddOIDCKeys(ctx, first, 24*time.Hour, true); err != nil || !added {
		t.Fatalf("AddOIDCKeys(first) = %v, %v", added, err)
	}
	if added, err := s.AddOIDCKeys(ctx, []store.OIDCKey{{ID: "k9", Algorithm: store.AlgRS256, PrivateKeyPEM: []byte("x"), PublicKeyPEM: []byte("y")}},
		24*time.Hour, true); err != nil || added {
		t.Fatalf("AddOIDCKeys(onlyIfNone) with keys present = %v, %v; want nothing added", added, err)
	}
	// A rotation in the same instant as the first keys (a clock's resolution): the new key is first.
	if _, err := s.AddOIDCKeys(ctx, []store.OIDCKey{{ID: "k2", Algorithm: store.AlgRS256, PrivateKeyPEM: []byte("private 2"), PublicKeyPEM: []byte("public 2")}},
		24*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	keys, err := s.OIDCKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != "k2" || !keys[0].RetiresAt.IsZero() || string(keys[0].PrivateKeyPEM) != "private 2" {
		t.Fatalf("OIDCKeys after rotation = %+v; want k2 first and current", keys)
	}
	for _, k := range keys[1:] {
		if want := clock.Now().Add(24 * time.Hour); !k.RetiresAt.Equal(want) {
			t.Errorf("key %s retires at %v, want %v", k.ID, k.RetiresAt, want)
		}
		if k.PublicKeyPEM == nil || k.PrivateKeyPEM == nil {
			t.Errorf("key %s lost its key material: %+v", k.ID, k)
		}
	}
	clock.Add(24*time.Hour + time.Second)
	keys, err = s.OIDCKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != "k2" {
		t.Fatalf("OIDCKeys after the retirement = %+v, %v; want k2 alone", keys, err)
	}
	if n, err := s.Sweep(ctx); err != nil || n < 2 {
		t.Errorf("Sweep = %d, %v; want the two retired keys deleted", n, err)
	}
}

// testOIDCCodes: a code is issued once per request, redeemed once; a second redemption fails and
// revokes what the first issued; an expired code redeems nothing and revokes nothing.
func testOIDCCodes(t *testing.T, s store.Store, clock *Clock) {
	mustOIDCSession(t, s, clock)
	c := mustOIDCClient(t, s, "wiki", false)
	req := mustOIDCRequest(t, s, clock, c.ID, "req1")
	got, err := s.OIDCAuthRequest(ctx, "req1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Errorf("OIDCAuthRequest = %+v\nwant %+v", got, req)
	}
	wantErr(t, "duplicate request id", s.CreateOIDCAuthRequest(ctx, req, 0), store.ErrAlreadyExists)
	_, err = s.OIDCAuthRequestByCode(ctx, hash("code1"))
	wantErr(t, "request by a code not issued", err, store.ErrNotFound)
	_, err = s.OIDCAuthRequestByCode(ctx, nil)
	wantErr(t, "request by an empty code", err, store.ErrNotFound)
	wantErr(t, "redeem before a code", s.RedeemOIDCCode(ctx, "req1", nil), store.ErrNotFound)

	keep := clock.Now().Add(11 * time.Minute)
	if err := s.IssueOIDCCode(ctx, "req1", oidcSignIn, hash("code1"), clock.Now().Add(time.Minute), keep); err != nil {
		t.Fatal(err)
	}
	err = s.IssueOIDCCode(ctx, "req1", oidcSignIn, hash("code2"), clock.Now().Add(time.Minute), keep)
	wantErr(t, "a second code for one request", err, store.ErrNotFound)
	wantErr(t, "a code for an unknown request", s.IssueOIDCCode(ctx, "nope", oidcSignIn, hash("c"), keep, keep), store.ErrNotFound)
	got, err = s.OIDCAuthRequestByCode(ctx, hash("code1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "req1" || !reflect.DeepEqual(got.SignIn, oidcSignIn) || !got.CodeUsedAt.IsZero() || !got.ExpiresAt.Equal(keep) {
		t.Errorf("request by code = %+v", got)
	}

	clock.Add(10 * time.Second)
	exp := clock.Now().Add(10 * time.Minute)
	if err := s.RedeemOIDCCode(ctx, "req1", oidcTokens(c.ID, "req1", "1", exp)); err != nil {
		t.Fatal(err)
	}
	at := mustToken(t, s, "access1")
	if !at.Live(clock.Now()) || at.Refresh || at.ClientID != c.ID || at.Family != "req1" || !reflect.DeepEqual(at.OIDCSignIn, oidcSignIn) ||
		!at.ExpiresAt.Equal(exp) || !reflect.DeepEqual(at.Scopes, []string{"openid"}) {
		t.Errorf("access token = %+v", at)
	}
	if rt := mustToken(t, s, "refresh1"); !rt.Refresh || !rt.Live(clock.Now()) {
		t.Errorf("refresh token = %+v", rt)
	}
	if got, err := s.OIDCAuthRequestByCode(ctx, hash("code1")); err != nil || got.CodeUsedAt.IsZero() {
		t.Errorf("request after redemption = %+v, %v; want its code marked used", got, err)
	}
	err = s.RedeemOIDCCode(ctx, "req1", oidcTokens(c.ID, "req1", "2", exp))
	wantErr(t, "second redemption", err, store.ErrReplayed)
	for _, name := range []string{"access1", "refresh1"} {
		if tok := mustToken(t, s, name); tok.RevokedAt.IsZero() || tok.Live(clock.Now()) {
			t.Errorf("%s after the code's reuse: %+v, want revoked", name, tok)
		}
	}
	_, err = s.OIDCToken(ctx, hash("access2"))
	wantErr(t, "token of the refused redemption", err, store.ErrNotFound)

	// An expired code: nothing issued, nothing revoked.
	mustOIDCRequest(t, s, clock, c.ID, "req2")
	if err := s.IssueOIDCCode(ctx, "req2", oidcSignIn, hash("code3"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute + time.Second)
	wantErr(t, "expired code", s.RedeemOIDCCode(ctx, "req2", oidcTokens(c.ID, "req2", "3", clock.Now().Add(time.Minute))), store.ErrNotFound)
	_, err = s.OIDCToken(ctx, hash("access3"))
	wantErr(t, "token of an expired code", err, store.ErrNotFound)

	// Requests expire; the sweep takes them and the tokens.
	clock.Add(time.Hour)
	_, err = s.OIDCAuthRequest(ctx, "req2")
	wantErr(t, "expired request", err, store.ErrNotFound)
	_, err = s.OIDCAuthRequestByCode(ctx, hash("code3"))
	wantErr(t, "expired request by code", err, store.ErrNotFound)
	wantErr(t, "code of an expired request", s.IssueOIDCCode(ctx, "req2", oidcSignIn, hash("c4"), clock.Now().Add(time.Hour), clock.Now().Add(time.Hour)), store.ErrNotFound)
	clock.Add(2 * time.Hour)
	if n, err := s.Sweep(ctx); err != nil || n < 4 {
		t.Errorf("Sweep = %d, %v; want the requests and tokens deleted", n, err)
	}
	_, err = s.OIDCToken(ctx, hash("refresh1"))
	wantErr(t, "swept token", err, store.ErrNotFound)
}

// testOIDCRefresh: a refresh token is used up by its rotation; using it again revokes its whole family,
// the tokens of the rotation included.
func testOIDCRefresh(t *testing.T, s store.Store, clock *Clock) {
	mustOIDCSession(t, s, clock)
	c := mustOIDCClient(t, s, "wiki", false)
	mustOIDCRequest(t, s, clock, c.ID, "req1")
	if err := s.IssueOIDCCode(ctx, "req1", oidcSignIn, hash("code1"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	exp := clock.Now().Add(10 * time.Minute)
	if err := s.RedeemOIDCCode(ctx, "req1", oidcTokens(c.ID, "req1", "1", exp)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "rotate an access token", s.RotateOIDCRefresh(ctx, hash("access1"), nil, time.Time{}), store.ErrNotFound)
	wantErr(t, "rotate an unknown token", s.RotateOIDCRefresh(ctx, hash("nope"), nil, time.Time{}), store.ErrNotFound)
	if err := s.RotateOIDCRefresh(ctx, hash("refresh1"), oidcTokens(c.ID, "req1", "2", exp), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if rt := mustToken(t, s, "refresh1"); rt.UsedAt.IsZero() || rt.Live(clock.Now()) || !rt.RevokedAt.IsZero() {
		t.Errorf("rotated refresh token = %+v; want used, not revoked", rt)
	}
	if rt := mustToken(t, s, "refresh2"); !rt.Live(clock.Now()) {
		t.Errorf("new refresh token = %+v; want live", rt)
	}
	wantErr(t, "reuse of a rotated refresh token", s.RotateOIDCRefresh(ctx, hash("refresh1"), oidcTokens(c.ID, "req1", "3", exp), time.Time{}), store.ErrReplayed)
	for _, name := range []string{"access1", "access2", "refresh2"} {
		if tok := mustToken(t, s, name); tok.RevokedAt.IsZero() {
			t.Errorf("%s after a refresh token's reuse: %+v, want revoked", name, tok)
		}
	}
	wantErr(t, "rotation of a revoked token", s.RotateOIDCRefresh(ctx, hash("refresh2"), nil, time.Time{}), store.ErrReplayed)

	// RevokeOIDCFamily ends a family at once.
	mustOIDCRequest(t, s, clock, c.ID, "req2")
	if err := s.IssueOIDCCode(ctx, "req2", oidcSignIn, hash("code2"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RedeemOIDCCode(ctx, "req2", oidcTokens(c.ID, "req2", "4", exp)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeOIDCFamily(ctx, "req2"); err != nil {
		t.Fatal(err)
	}
	if tok := mustToken(t, s, "access4"); tok.Live(clock.Now()) {
		t.Errorf("access token of a revoked family is live: %+v", tok)
	}
	if err := s.RevokeOIDCFamily(ctx, "unknown"); err != nil {
		t.Errorf("RevokeOIDCFamily(unknown) = %v", err)
	}
	// An expired refresh token is not found, and revokes nothing.
	clock.Add(2 * time.Hour)
	wantErr(t, "expired refresh token", s.RotateOIDCRefresh(ctx, hash("refresh2"), nil, time.Time{}), store.ErrNotFound)
}

// testConcurrentOIDCRedeem: of concurrent redemptions of one code exactly one issues tokens, and
// whichever came second revokes them.
func testConcurrentOIDCRedeem(t *testing.T, s store.Store, clock *Clock) {
	mustOIDCSession(t, s, clock)
	c := mustOIDCClient(t, s, "wiki", false)
	mustOIDCRequest(t, s, clock, c.ID, "req1")
	if err := s.IssueOIDCCode(ctx, "req1", oidcSignIn, hash("code1"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.RedeemOIDCCode(ctx, "req1", oidcTokens(c.ID, "req1", string(rune('a'+i)), clock.Now().Add(10*time.Minute)))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrReplayed):
				replayed.Add(1)
			default:
				t.Errorf("RedeemOIDCCode: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != n-1 {
		t.Fatalf("%d redemptions succeeded, %d refused as replays; want 1 and %d", ok.Load(), replayed.Load(), n-1)
	}
	for i := range n {
		tok, err := s.OIDCToken(ctx, hash("access"+string(rune('a'+i))))
		if err == nil && tok.RevokedAt.IsZero() {
			t.Errorf("token %d issued by the one redemption is not revoked after the others", i)
		}
	}
}

// testOIDCAnsweredAtOnce: a request stored with its code (the person was signed in already) is, in
// that one write, what IssueOIDCCode would have made of it: found by its code, redeemed once, and
// never given a second code.
func testOIDCAnsweredAtOnce(t *testing.T, s store.Store, clock *Clock) {
	mustOIDCSession(t, s, clock)
	c := mustOIDCClient(t, s, "wiki", false)
	keep := clock.Now().Add(11 * time.Minute)
	r := &store.OIDCAuthRequest{ID: "req1", ClientID: c.ID, RedirectURI: "https://app.test/cb", Scopes: []string{"openid"}, State: "st",
		Nonce: "n", MaxAge: -1, BindingHash: hash("binding"), ClientKey: "198.51.100.1", ExpiresAt: keep, SignIn: oidcSignIn,
		CodeHash: hash("code1"), CodeExpiresAt: clock.Now().Add(time.Minute)}
	// Answered at once, it takes no place under a cap, even a full one.
	if err := s.CreateOIDCAuthRequest(ctx, r, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "req2", ClientID: c.ID, ClientKey: "198.51.100.1",
		ExpiresAt: keep}, 1); err != nil {
		t.Fatalf("an outstanding request beside one answered at once, cap 1: %v", err)
	}
	got, err := s.OIDCAuthRequestByCode(ctx, hash("code1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "req1" || !reflect.DeepEqual(got.SignIn, oidcSignIn) || !got.CodeExpiresAt.Equal(r.CodeExpiresAt) || !got.CodeUsedAt.IsZero() ||
		!got.ExpiresAt.Equal(keep) || got.ClientKey != "198.51.100.1" {
		t.Errorf("request answered at once, by its code = %+v", got)
	}
	wantErr(t, "a second code", s.IssueOIDCCode(ctx, "req1", oidcSignIn, hash("code2"), keep, keep), store.ErrNotFound)
	if err := s.RedeemOIDCCode(ctx, "req1", oidcTokens(c.ID, "req1", "1", clock.Now().Add(10*time.Minute))); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second redemption", s.RedeemOIDCCode(ctx, "req1", nil), store.ErrReplayed)
}

// testOIDCRequestLimits: outstanding authorization requests are capped per client address; a refused
// request stores nothing, and answered or expired requests free their place.
func testOIDCRequestLimits(t *testing.T, s store.Store, clock *Clock) {
	c := mustOIDCClient(t, s, "wiki", false)
	n := 0
	create := func(client string, ttl time.Duration) (string, error) {
		n++
		id := fmt.Sprintf("id-%d", n)
		return id, s.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: id, ClientID: c.ID, ClientKey: client, MaxAge: -1,
			ExpiresAt: clock.Now().Add(ttl)}, 3)
	}
	must := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := must(create("198.51.100.1", 5*time.Minute))
	must(create("198.51.100.1", 10*time.Minute))
	must(create("198.51.100.1", 10*time.Minute))
	id, err := create("198.51.100.1", 10*time.Minute)
	wantLimited(t, "a fourth from one client", err, "client")
	if _, err := s.OIDCAuthRequest(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request was stored: %v", err)
	}
	must(create("203.0.113.7", 10*time.Minute)) // another client is not affected
	// Answering a request frees its place.
	if err := s.IssueOIDCCode(ctx, first, oidcSignIn, hash("code1"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	must(create("198.51.100.1", 5*time.Minute))
	_, err = create("198.51.100.1", 10*time.Minute)
	wantLimited(t, "the client full again", err, "client")
	// Expired requests count for nothing, swept or not.
	clock.Add(6 * time.Minute)
	must(create("198.51.100.1", 10*time.Minute))
	// No cap: nothing is counted.
	if err := s.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: "uncapped", ClientID: c.ID, ClientKey: "198.51.100.1",
		ExpiresAt: clock.Now().Add(time.Minute)}, 0); err != nil {
		t.Fatalf("without a cap: %v", err)
	}
}

// testConcurrentOIDCRequestLimits: requests sent all at once never take a client past its cap.
func testConcurrentOIDCRequestLimits(t *testing.T, s store.Store, clock *Clock) {
	c := mustOIDCClient(t, s, "wiki", false)
	const n, perClient = 40, 7
	var granted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := s.CreateOIDCAuthRequest(ctx, &store.OIDCAuthRequest{ID: fmt.Sprintf("id-%d", i), ClientID: c.ID, ClientKey: "198.51.100.1",
				ExpiresAt: clock.Now().Add(time.Hour)}, perClient)
			switch {
			case err == nil:
				granted.Add(1)
			case !errors.Is(err, store.ErrLimited):
				t.Errorf("CreateOIDCAuthRequest: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	stored := 0
	for i := range n {
		if _, err := s.OIDCAuthRequest(ctx, fmt.Sprintf("id-%d", i)); err == nil {
			stored++
		}
	}
	if granted.Load() != perClient || stored != perClient {
		t.Fatalf("%d requests granted, %d stored; want the cap, %d", granted.Load(), stored, perClient)
	}
}

// testOIDCRefreshTouchesSession: a rotation given the session's new expiry records the use of the
// token's session in its transaction; a refused rotation touches nothing.
func testOIDCRefreshTouchesSession(t *testing.T, s store.Store, clock *Clock) {
	tn := mustTenant(t, s, "acme", "acme.com")
	u := mustUser(t, s, tn.ID, "ada@acme.com", "ext-ada")
	sess := &store.Session{IDHash: hash("session"), TenantID: tn.ID, UserID: u.ID, ExpiresAt: clock.Now().Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	c := mustOIDCClient(t, s, "wiki", false)
	mustOIDCRequest(t, s, clock, c.ID, "req1")
	in := store.OIDCSignIn{TenantID: tn.ID, UserID: u.ID, SessionHash: sess.IDHash, AuthTime: clock.Now(), AMR: "saml"}
	if err := s.IssueOIDCCode(ctx, "req1", in, hash("code1"), clock.Now().Add(time.Minute), clock.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	toks := func(suffix string) []store.OIDCToken {
		ts := oidcTokens(c.ID, "req1", suffix, clock.Now().Add(10*time.Minute))
		for i := range ts {
			ts[i].OIDCSignIn = in
		}
		return ts
	}
	if err := s.RedeemOIDCCode(ctx, "req1", toks("1")); err != nil {
		t.Fatal(err)
	}
	clock.Add(30 * time.Minute)
	// Without a new expiry, the session is not touched.
	if err := s.RotateOIDCRefresh(ctx, hash("refresh1"), toks("2"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, sess.IDHash); err != nil || !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("session after a rotation without a touch = %+v, %v; want it unchanged", got, err)
	}
	exp := clock.Now().Add(2 * time.Hour)
	if err := s.RotateOIDCRefresh(ctx, hash("refresh2"), toks("3"), exp); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, sess.IDHash)
	if err != nil || !got.ExpiresAt.Equal(exp) || !got.LastSeenAt.Equal(sess.LastSeenAt) {
		t.Fatalf("session after a rotation = %+v, %v; want its last use unchanged (%v), expiring at %v", got, err, sess.LastSeenAt, exp)
	}
	// An expiry earlier than the session's is not taken.
	if err := s.RotateOIDCRefresh(ctx, hash("refresh3"), toks("3b"), exp.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, sess.IDHash); err != nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("session after a rotation with an earlier expiry = %+v, %v; want it still expiring at %v", got, err, exp)
	}
	clock.Add(time.Minute)
	wantErr(t, "reuse", s.RotateOIDCRefresh(ctx, hash("refresh2"), toks("4"), clock.Now().Add(5*time.Hour)), store.ErrReplayed)
	if got, err := s.SessionByHash(ctx, sess.IDHash); err != nil || !got.ExpiresAt.Equal(exp) {
		t.Errorf("session after a refused rotation = %+v, %v; want it untouched", got, err)
	}
}
