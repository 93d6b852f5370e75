package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// testAdminGuards: SetAdmin refuses a tenant admin actor who is no longer an admin (ErrNotAdmin) and
// the removal of the tenant's last admin by anyone but the operator (ErrLastAdmin), changing and
// recording nothing; two admins removing each other at once leave exactly one, whichever wins.
func testAdminGuards(t *testing.T, s store.Store, _ *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	x := mustUser(t, s, a.ID, "x@acme.com", "")
	y := mustUser(t, s, a.ID, "y@acme.com", "")
	z := mustUser(t, s, a.ID, "z@acme.com", "")
	as := func(u *store.User) context.Context {
		return store.WithActor(ctx, store.Actor{Kind: store.ActorAdmin, ID: u.ID, Name: u.UserName})
	}
	key := store.WithActor(ctx, store.Actor{Kind: store.ActorAPIKey, ID: "k1"})
	admins := func() string {
		us, err := s.ListAdmins(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range us {
			names = append(names, u.UserName)
		}
		return fmt.Sprint(names)
	}
	if err := s.SetAdmin(ctx, a.ID, x.ID, true); err != nil {
		t.Fatal(err)
	}
	// Not (or no longer) an admin: refused, whatever the change.
	for _, on := range []bool{true, false} {
		if err := s.SetAdmin(as(y), a.ID, z.ID, on); !errors.Is(err, store.ErrNotAdmin) {
			t.Fatalf("a non-admin actor sets admin=%v: %v, want ErrNotAdmin", on, err)
		}
	}
	// The last admin: not by an admin (themselves) nor a key; the operator may.
	for _, c := range []context.Context{as(x), key} {
		if err := s.SetAdmin(c, a.ID, x.ID, false); !errors.Is(err, store.ErrLastAdmin) {
			t.Fatalf("removing the last admin: %v, want ErrLastAdmin", err)
		}
	}
	if got := admins(); got != "[x@acme.com]" {
		t.Fatalf("refused changes stored: admins %s", got)
	}
	// A deactivated admin cannot sign in to act: the last active admin is still the last.
	if err := s.SetAdmin(ctx, a.ID, z.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, a.ID, z.ID, 0, store.Audit{Operation: "deactivate"}, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdmin(key, a.ID, x.ID, false); !errors.Is(err, store.ErrLastAdmin) {
		t.Fatalf("removing the last active admin beside a deactivated one: %v, want ErrLastAdmin", err)
	}
	if err := s.SetAdmin(ctx, a.ID, z.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdmin(ctx, a.ID, x.ID, false); err != nil {
		t.Fatalf("the operator removes the last admin: %v", err)
	}
	// Two admins removing each other at once, many times: one wins, one admin remains.
	for i := range 10 {
		for _, u := range []*store.User{x, y} {
			if err := s.SetAdmin(ctx, a.ID, u.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, pair := range [][2]*store.User{{x, y}, {y, x}} {
			wg.Go(func() { errs[j] = s.SetAdmin(as(pair[0]), a.ID, pair[1].ID, false) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrNotAdmin) && !errors.Is(err, store.ErrLastAdmin):
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if got := admins(); ok != 1 || (got != "[x@acme.com]" && got != "[y@acme.com]") {
			t.Fatalf("round %d: %d removals succeeded, admins %s (errors %v)", i, ok, got, errs)
		}
		if err := s.SetAdmin(ctx, a.ID, x.ID, false); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		s.SetAdmin(ctx, a.ID, y.ID, false)
	}
}
