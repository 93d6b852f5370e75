package main

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/scimsso/scimsso/store"
)

// The cost of a signed-in person's round trip (authorize with a session → code → token), by the
// issue's Speed section: at most one write transaction per step and one signature.

// countingStore counts the store's write transactions: every method of store.Store that writes is one
// transaction, and each is counted here; reads pass through uncounted.
type countingStore struct {
	store.Store
	writes atomic.Int64
}

func (cs *countingStore) CreateTenant(ctx context.Context, t *store.Tenant) error {
	cs.writes.Add(1)
	return cs.Store.CreateTenant(ctx, t)
}

func (cs *countingStore) AddDomain(ctx context.Context, tenantID, domain string) error {
	cs.writes.Add(1)
	return cs.Store.AddDomain(ctx, tenantID, domain)
}

func (cs *countingStore) RemoveDomain(ctx context.Context, tenantID, domain string) error {
	cs.writes.Add(1)
	return cs.Store.RemoveDomain(ctx, tenantID, domain)
}

func (cs *countingStore) CreateToken(ctx context.Context, tok *store.Token) error {
	cs.writes.Add(1)
	return cs.Store.CreateToken(ctx, tok)
}

func (cs *countingStore) RevokeToken(ctx context.Context, tenantID, id string) error {
	cs.writes.Add(1)
	return cs.Store.RevokeToken(ctx, tenantID, id)
}

func (cs *countingStore) CreateUser(ctx context.Context, tenantID string, u *store.User, a store.Audit) error {
	cs.writes.Add(1)
	return cs.Store.CreateUser(ctx, tenantID, u, a)
}

func (cs *countingStore) UpdateUser(ctx context.Context, tenantID, id string, wantVersion int64, a store.Audit, fn func(*store.User) error) (*store.User, error) {
	cs.writes.Add(1)
	return cs.Store.UpdateUser(ctx, tenantID, id, wantVersion, a, fn)
}

func (cs *countingStore) RecordAudit(ctx context.Context, a store.Audit) error {
	cs.writes.Add(1)
	return cs.Store.RecordAudit(ctx, a)
}

func (cs *countingStore) CreateSession(ctx context.Context, s *store.Session) error {
	cs.writes.Add(1)
	return cs.Store.CreateSession(ctx, s)
}

func (cs *countingStore) DeleteSession(ctx context.Context, idHash []byte) error {
	cs.writes.Add(1)
	return cs.Store.DeleteSession(ctx, idHash)
}

func (cs *countingStore) DeleteUserSessions(ctx context.Context, tenantID, userID string) error {
	cs.writes.Add(1)
	return cs.Store.DeleteUserSessions(ctx, tenantID, userID)
}

func (cs *countingStore) CreateAuthnRequest(ctx context.Context, r *store.AuthnRequest, lim store.RequestLimits) error {
	cs.writes.Add(1)
	return cs.Store.CreateAuthnRequest(ctx, r, lim)
}

func (cs *countingStore) ConsumeAuthnRequest(ctx context.Context, tenantID, id string, bindingHash []byte) error {
	cs.writes.Add(1)
	return cs.Store.ConsumeAuthnRequest(ctx, tenantID, id, bindingHash)
}

func (cs *countingStore) SignIn(ctx context.Context, tenantID string, in *store.SignIn, decide func(store.UserFinder) (*store.User, error)) (*store.User, error) {
	cs.writes.Add(1)
	return cs.Store.SignIn(ctx, tenantID, in, decide)
}

func (cs *countingStore) PasswordSignIn(ctx context.Context, tenantID string, in *store.PasswordSignIn, complete func(f store.UserFinder, u *store.User) (pending bool, err error)) (*store.User, error) {
	cs.writes.Add(1)
	return cs.Store.PasswordSignIn(ctx, tenantID, in, complete)
}

func (cs *countingStore) TouchSession(ctx context.Context, idHash []byte, expiresAt time.Time) error {
	cs.writes.Add(1)
	return cs.Store.TouchSession(ctx, idHash, expiresAt)
}

func (cs *countingStore) PutSSOSettings(ctx context.Context, tenantID string, s *store.SSOSettings) error {
	cs.writes.Add(1)
	return cs.Store.PutSSOSettings(ctx, tenantID, s)
}

func (cs *countingStore) CompleteSession(ctx context.Context, idHash []byte) error {
	cs.writes.Add(1)
	return cs.Store.CompleteSession(ctx, idHash)
}

func (cs *countingStore) CreateTeam(ctx context.Context, tenantID string, t *store.Team) error {
	cs.writes.Add(1)
	return cs.Store.CreateTeam(ctx, tenantID, t)
}

func (cs *countingStore) ReplaceDepartmentMap(ctx context.Context, tenantID string, m []store.DepartmentMapping) error {
	cs.writes.Add(1)
	return cs.Store.ReplaceDepartmentMap(ctx, tenantID, m)
}

func (cs *countingStore) SetPassword(ctx context.Context, tenantID, userID, hash string) error {
	cs.writes.Add(1)
	return cs.Store.SetPassword(ctx, tenantID, userID, hash)
}

func (cs *countingStore) RecordLoginFailure(ctx context.Context, key string) error {
	cs.writes.Add(1)
	return cs.Store.RecordLoginFailure(ctx, key)
}

func (cs *countingStore) ClearLoginFailures(ctx context.Context, key string) error {
	cs.writes.Add(1)
	return cs.Store.ClearLoginFailures(ctx, key)
}

func (cs *countingStore) ReserveLoginAttempt(ctx context.Context, window time.Duration, limits ...store.Limit) (id string, err error) {
	cs.writes.Add(1)
	return cs.Store.ReserveLoginAttempt(ctx, window, limits...)
}

func (cs *countingStore) ForgetLoginAttempt(ctx context.Context, id string) error {
	cs.writes.Add(1)
	return cs.Store.ForgetLoginAttempt(ctx, id)
}

func (cs *countingStore) CreateTestLink(ctx context.Context, l *store.TestLink) error {
	cs.writes.Add(1)
	return cs.Store.CreateTestLink(ctx, l)
}

func (cs *countingStore) UseTestLink(ctx context.Context, tenantID string, hash []byte) error {
	cs.writes.Add(1)
	return cs.Store.UseTestLink(ctx, tenantID, hash)
}

func (cs *countingStore) Sweep(ctx context.Context) (int64, error) {
	cs.writes.Add(1)
	return cs.Store.Sweep(ctx)
}

func (cs *countingStore) CreateOIDCClient(ctx context.Context, c *store.OIDCClient) error {
	cs.writes.Add(1)
	return cs.Store.CreateOIDCClient(ctx, c)
}

func (cs *countingStore) DeleteOIDCClient(ctx context.Context, id string) error {
	cs.writes.Add(1)
	return cs.Store.DeleteOIDCClient(ctx, id)
}

func (cs *countingStore) AddOIDCKeys(ctx context.Context, keys []store.OIDCKey, keep time.Duration, onlyIfNone bool) (bool, error) {
	cs.writes.Add(1)
	return cs.Store.AddOIDCKeys(ctx, keys, keep, onlyIfNone)
}

func (cs *countingStore) CreateOIDCAuthRequest(ctx context.Context, r *store.OIDCAuthRequest, maxPerClient int) error {
	cs.writes.Add(1)
	return cs.Store.CreateOIDCAuthRequest(ctx, r, maxPerClient)
}

func (cs *countingStore) IssueOIDCCode(ctx context.Context, id string, in store.OIDCSignIn, codeHash []byte, codeExpires, keepUntil time.Time) error {
	cs.writes.Add(1)
	return cs.Store.IssueOIDCCode(ctx, id, in, codeHash, codeExpires, keepUntil)
}

func (cs *countingStore) RedeemOIDCCode(ctx context.Context, id string, toks []store.OIDCToken) error {
	cs.writes.Add(1)
	return cs.Store.RedeemOIDCCode(ctx, id, toks)
}

func (cs *countingStore) RotateOIDCRefresh(ctx context.Context, hash []byte, toks []store.OIDCToken, sessionExpires time.Time) error {
	cs.writes.Add(1)
	return cs.Store.RotateOIDCRefresh(ctx, hash, toks, sessionExpires)
}

func (cs *countingStore) RevokeOIDCFamily(ctx context.Context, family string) error {
	cs.writes.Add(1)
	return cs.Store.RevokeOIDCFamily(ctx, family)
}

// TestOIDCRoundTripCost: for a person signed in already, authorize answers the application with a
// code in one request and at most one write, and the token request costs one write and signs one
// JWT (the ID token; the access token is opaque).
func TestOIDCRoundTripCost(t *testing.T) {
	cs := &countingStore{}
	e := newOIDCEnvWith(t, func(s store.Store) store.Store { cs.Store = s; return cs })
	b, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	if _, err := e.conf.Exchange(e.ctx, code); err != nil { // the first token also makes the signing keys
		t.Fatal(err)
	}
	for round := range 3 {
		cs.writes.Store(0)
		req, _ := http.NewRequest(http.MethodGet, e.conf.AuthCodeURL("st", gooidc.Nonce(random(t))), nil)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		q := e.callback(res) // one request: straight back to the application
		if q.Get("code") == "" {
			t.Fatalf("round %d: authorize with a session: %v, want a code", round, q)
		}
		if n := cs.writes.Load(); n > 1 {
			t.Errorf("round %d: authorize with a session cost %d write transactions, want at most 1", round, n)
		}
		cs.writes.Store(0)
		tok, err := e.conf.Exchange(e.ctx, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if n := cs.writes.Load(); n != 1 {
			t.Errorf("round %d: the token request cost %d write transactions, want 1", round, n)
		}
		idt, _ := tok.Extra("id_token").(string)
		if strings.Count(idt, ".") != 2 || strings.Contains(tok.AccessToken, ".") || tok.RefreshToken != "" {
			t.Errorf("round %d: token response %+v (id_token %q): want one JWT, the ID token, and an opaque access token", round, tok, idt)
		}
		e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.conf.ClientID}), tok)
		e.clock.Add(time.Second)
	}
}

// BenchmarkOIDCRoundTrip: a signed-in person's authorize and token request against the real handler
// (a TLS test server on SQLite), as TestOIDCRoundTripCost makes them.
func BenchmarkOIDCRoundTrip(b *testing.B) {
	e := newOIDCEnv(b)
	br, code := e.login(&e.conf, "ada@acme.com", "st", random(b))
	if _, err := e.conf.Exchange(e.ctx, code); err != nil {
		b.Fatal(err)
	}
	u := e.conf.AuthCodeURL("st")
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		res, err := br.c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if _, err := e.conf.Exchange(e.ctx, e.callback(res).Get("code")); err != nil {
			b.Fatal(err)
		}
	}
}
