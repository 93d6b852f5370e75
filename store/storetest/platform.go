package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// The platform API's part of the store: its keys, and the keyset pages of a tenant's users.

// testAPIKeys: a key is found by its hash with its scopes, listed oldest first without its hash, and
// revoked once, at the store's time, after which it is still found but not live.
func testAPIKeys(t *testing.T, s store.Store, clock *Clock) {
	if ks, err := s.ListAPIKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("ListAPIKeys of an empty store = %+v, %v", ks, err)
	}
	secret, hash, err := store.NewSecret(store.APIKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	a := &store.APIKey{Name: "billing sync", Scopes: []string{store.ScopeDirectoryRead, store.ScopeEventsRead}, Hash: hash}
	if err := s.CreateAPIKey(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || !a.CreatedAt.Equal(clock.Now()) || !a.Live() {
		t.Fatalf("CreateAPIKey set %+v", a)
	}
	got, err := s.APIKeyByHash(ctx, store.HashSecret(secret))
	if err != nil || got.ID != a.ID || got.Name != "billing sync" || !slices.Equal(got.Scopes, a.Scopes) ||
		!slices.Equal(got.Hash, hash) || !got.CreatedAt.Equal(a.CreatedAt) || !got.Live() {
		t.Fatalf("APIKeyByHash = %+v, %v; want %+v", got, err, a)
	}
	if !got.Allows(store.ScopeEventsRead) || got.Allows(store.ScopeManage) {
		t.Fatalf("Allows does not follow the scopes %v", got.Scopes)
	}
	_, err = s.APIKeyByHash(ctx, store.HashSecret(secret+"x"))
	wantErr(t, "unknown hash", err, store.ErrNotFound)
	wantErr(t, "same hash twice", s.CreateAPIKey(ctx, &store.APIKey{Name: "copy", Scopes: []string{store.ScopeManage}, Hash: hash}), store.ErrAlreadyExists)

	clock.Add(time.Minute)
	_, hash2, _ := store.NewSecret(store.APIKeyPrefix)
	b := &store.APIKey{Name: "ops", Scopes: []string{store.ScopeManage}, Hash: hash2}
	if err := s.CreateAPIKey(ctx, b); err != nil {
		t.Fatal(err)
	}
	ks, err := s.ListAPIKeys(ctx)
	if err != nil || len(ks) != 2 || ks[0].ID != a.ID || ks[1].ID != b.ID || ks[1].Name != "ops" || !slices.Equal(ks[1].Scopes, b.Scopes) {
		t.Fatalf("ListAPIKeys = %+v, %v; want billing sync then ops", ks, err)
	}
	for _, k := range ks {
		if k.Hash != nil {
			t.Fatalf("ListAPIKeys returned the hash of %s", k.Name)
		}
	}

	clock.Add(time.Minute)
	if err := s.RevokeAPIKey(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "revoke twice", s.RevokeAPIKey(ctx, a.ID), store.ErrNotFound)
	wantErr(t, "revoke an unknown key", s.RevokeAPIKey(ctx, "no-such-key"), store.ErrNotFound)
	got, err = s.APIKeyByHash(ctx, hash)
	if err != nil || got.Live() || !got.RevokedAt.Equal(clock.Now()) {
		t.Fatalf("after revoke: %+v, %v; want revoked at %v", got, err, clock.Now())
	}
	if got, _ := s.APIKeyByHash(ctx, hash2); got == nil || !got.Live() {
		t.Fatalf("revoking one key revoked another: %+v", got)
	}
	ks, _ = s.ListAPIKeys(ctx)
	if len(ks) != 2 || ks[0].Live() || !ks[1].Live() {
		t.Fatalf("ListAPIKeys after revoke = %+v", ks)
	}
}

// testUsersAfter: pages of a tenant's users in creation order, walked by position, see each user once
// even when users are created and changed between pages; other tenants' users never appear.
func testUsersAfter(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	var want []string
	add := func(tn *store.Tenant, i int) {
		u := mustUser(t, s, tn.ID, fmt.Sprintf("u%d@%s.com", i, tn.Slug), "")
		if tn == a {
			want = append(want, u.ID)
		}
		clock.Add(time.Millisecond)
	}
	for i := range 7 {
		add(a, i)
		add(b, i)
	}
	if users, next, err := s.UsersAfter(ctx, "no-such-tenant", 0, 10); err != nil || len(users) != 0 || next != 0 {
		t.Fatalf("UsersAfter of an unknown tenant = %d users, next %d, %v", len(users), next, err)
	}
	all, next, err := s.UsersAfter(ctx, a.ID, 0, 100)
	if err != nil || next != 0 || len(all) != 7 {
		t.Fatalf("UsersAfter(0, 100) = %d users, next %d, %v; want 7 and no next", len(all), next, err)
	}
	if all[0].UserName != "u0@acme.com" || all[0].TenantID != a.ID || len(all[0].Emails) != 1 || all[0].Version != 1 {
		t.Fatalf("first user = %+v", all[0])
	}
	// An exact fit has no next page either.
	if users, next, err := s.UsersAfter(ctx, a.ID, 0, 7); err != nil || len(users) != 7 || next != 0 {
		t.Fatalf("UsersAfter(0, 7) = %d users, next %d, %v; want 7 and no next", len(users), next, err)
	}

	var seen []string
	after, pages := int64(0), 0
	for {
		users, next, err := s.UsersAfter(ctx, a.ID, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) > 3 || len(users) == 0 {
			t.Fatalf("page %d has %d users", pages, len(users))
		}
		for _, u := range users {
			if u.TenantID != a.ID {
				t.Fatalf("page %d holds %s of another tenant", pages, u.UserName)
			}
			seen = append(seen, u.ID)
		}
		pages++
		if pages == 1 {
			// Between pages: users are created in both tenants, and one already seen changes.
			add(a, 100)
			add(b, 100)
			if _, err := s.UpdateUser(ctx, a.ID, users[0].ID, 0, store.Audit{Operation: "patch"}, func(u *store.User) error {
				u.GivenName = "Changed"
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if next == 0 {
			break
		}
		if next <= after {
			t.Fatalf("page %d: next %d does not move past %d", pages, next, after)
		}
		after = next
	}
	if !slices.Equal(seen, want) || pages != 3 {
		t.Fatalf("walk saw %d users in %d pages:\n%v\nwant %d in creation order:\n%v", len(seen), pages, seen, len(want), want)
	}
	// The position of the last user leads to an empty page.
	if users, next, err := s.UsersAfter(ctx, a.ID, after+1_000_000, 3); err != nil || len(users) != 0 || next != 0 {
		t.Fatalf("UsersAfter past the end = %d users, next %d, %v", len(users), next, err)
	}
}
