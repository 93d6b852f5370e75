package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// wantLimited checks that err is the refusal of the limit key.
func wantLimited(t *testing.T, what string, err error, key string) {
	t.Helper()
	var le *store.LimitError
	if !errors.Is(err, store.ErrLimited) || !errors.As(err, &le) || le.Key != key {
		t.Fatalf("%s: got error %v, want the limit %q reached", what, err, key)
	}
}

// testLoginReservations: an attempt is reserved under every key before it is made, or under none when
// one key is at its limit; reservations age out of the window, and a forgotten one no longer counts.
func testLoginReservations(t *testing.T, s store.Store, clock *Clock) {
	const window = 15 * time.Minute
	start := clock.Now()
	count := func(key string) int {
		t.Helper()
		n, err := s.LoginFailures(ctx, key, clock.Now().Add(-window))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	acct := func(name string) store.Limit { return store.Limit{Key: "acct:" + name, Max: 3} }
	addr := store.Limit{Key: "addr:1", Max: 5}
	for i := range 3 {
		if _, err := s.ReserveLoginAttempt(ctx, window, acct("a"), addr); err != nil {
			t.Fatalf("reservation %d: %v", i+1, err)
		}
		clock.Add(time.Minute)
	}
	_, err := s.ReserveLoginAttempt(ctx, window, acct("a"), addr)
	wantLimited(t, "a fourth attempt on the account", err, "acct:a")
	if count("acct:a") != 3 || count("addr:1") != 3 {
		t.Fatalf("a refused reservation recorded something: account %d, address %d", count("acct:a"), count("addr:1"))
	}
	ok, err := s.ReserveLoginAttempt(ctx, window, acct("b"), addr)
	if err != nil {
		t.Fatalf("another account from the address: %v", err)
	}
	if _, err := s.ReserveLoginAttempt(ctx, window, acct("c"), addr); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReserveLoginAttempt(ctx, window, acct("d"), addr)
	wantLimited(t, "a sixth attempt from the address", err, "addr:1")
	if count("acct:d") != 0 {
		t.Fatal("refused by the address limit, yet recorded under the account")
	}
	// A successful attempt is forgotten under every key, freeing the address for one more.
	if err := s.ForgetLoginAttempt(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetLoginAttempt(ctx, "no-such-attempt"); err != nil {
		t.Fatalf("forget an unknown attempt: %v", err)
	}
	if count("acct:b") != 0 || count("addr:1") != 4 {
		t.Fatalf("after forgetting: account b %d, address %d; want 0 and 4", count("acct:b"), count("addr:1"))
	}
	if _, err := s.ReserveLoginAttempt(ctx, window, acct("d"), addr); err != nil {
		t.Fatalf("after a forgotten attempt: %v", err)
	}
	// The first attempt on a was made at start: one minute past its window, a has room for one more.
	clock.Set(start.Add(window + time.Second))
	if _, err := s.ReserveLoginAttempt(ctx, window, acct("a")); err != nil {
		t.Fatalf("once the first attempt left the window: %v", err)
	}
	_, err = s.ReserveLoginAttempt(ctx, window, acct("a"))
	wantLimited(t, "the window still holds three", err, "acct:a")
	if err := s.ClearLoginFailures(ctx, "acct:a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveLoginAttempt(ctx, window, acct("a")); err != nil {
		t.Fatalf("after the account's attempts were cleared: %v", err)
	}
}

// testConcurrentLoginReservations: reservations made all at once (on PostgreSQL, on many connections,
// as replicas make them) never record more attempts under a key than its limit.
func testConcurrentLoginReservations(t *testing.T, s store.Store, _ *Clock) {
	const n, perAccount, perAddress = 60, 5, 20
	var granted, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Every goroutine guesses at one of six accounts from the one address: the accounts allow 30
			// between them, the address 20.
			_, err := s.ReserveLoginAttempt(ctx, 15*time.Minute,
				store.Limit{Key: fmt.Sprintf("acct:%d", i%6), Max: perAccount}, store.Limit{Key: "addr:x", Max: perAddress})
			switch {
			case err == nil:
				granted.Add(1)
			case errors.Is(err, store.ErrLimited):
				refused.Add(1)
			default:
				t.Errorf("ReserveLoginAttempt: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	since := time.Unix(0, 0)
	addr, err := s.LoginFailures(ctx, "addr:x", since)
	if err != nil {
		t.Fatal(err)
	}
	if granted.Load() != perAddress || refused.Load() != n-perAddress || addr != perAddress {
		t.Fatalf("%d reservations granted, %d refused, %d recorded for the address; want %d, %d, %d",
			granted.Load(), refused.Load(), addr, perAddress, n-perAddress, perAddress)
	}
	for i := range 6 {
		if got, _ := s.LoginFailures(ctx, fmt.Sprintf("acct:%d", i), since); got > perAccount {
			t.Fatalf("account %d: %d attempts recorded, limit %d", i, got, perAccount)
		}
	}
}

// testAuthnRequestLimits: outstanding AuthnRequests are capped per client address (across tenants) and
// per tenant; a refused request stores nothing, and answered or expired requests free their place.
func testAuthnRequestLimits(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	b := mustTenant(t, s, "beta", "beta.com")
	lim := store.RequestLimits{PerClient: 3, PerTenant: 5}
	bind := sha256.Sum256([]byte("browser"))
	n := 0
	create := func(tenantID, client string, ttl time.Duration) (string, error) {
		n++
		id := fmt.Sprintf("id-%d", n)
		return id, s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: id, TenantID: tenantID, BindingHash: bind[:], ReturnTo: "/",
			ClientKey: client, ExpiresAt: clock.Now().Add(ttl)}, lim)
	}
	must := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := must(create(a.ID, "198.51.100.1", 5*time.Minute))
	must(create(a.ID, "198.51.100.1", 10*time.Minute))
	must(create(b.ID, "198.51.100.1", 10*time.Minute))
	id, err := create(b.ID, "198.51.100.1", 10*time.Minute)
	wantLimited(t, "a fourth from one client, at any tenant", err, "client")
	if _, err := s.AuthnRequest(ctx, b.ID, id, bind[:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request was stored: %v", err)
	}
	if got, err := s.AuthnRequest(ctx, a.ID, first, bind[:]); err != nil || got.ClientKey != "198.51.100.1" {
		t.Fatalf("AuthnRequest = %+v, %v; want its client key kept", got, err)
	}
	// Answering a request frees its place.
	if err := quickSignIn(s, a.ID, "x@acme.com", first, bind[:], "as-1", clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	must(create(a.ID, "198.51.100.1", 5*time.Minute))
	// The tenant: a has two outstanding; three more from other clients fill it.
	for i := range 3 {
		must(create(a.ID, fmt.Sprintf("203.0.113.%d", i), 10*time.Minute))
	}
	_, err = create(a.ID, "192.0.2.9", 10*time.Minute)
	wantLimited(t, "a sixth at one tenant", err, "tenant")
	must(create(b.ID, "192.0.2.9", 10*time.Minute)) // another tenant is not affected
	// Expired requests count for nothing, swept or not: the 5-minute one frees a place at the tenant and
	// one of the client's.
	clock.Add(6 * time.Minute)
	must(create(a.ID, "192.0.2.9", 10*time.Minute))
	must(create(b.ID, "198.51.100.1", 10*time.Minute))
	_, err = create(b.ID, "198.51.100.1", 10*time.Minute)
	wantLimited(t, "the client full again", err, "client")
	// No caps: nothing is counted.
	if err := s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: "uncapped", TenantID: a.ID, BindingHash: bind[:], ExpiresAt: clock.Now().Add(time.Minute)},
		store.RequestLimits{}); err != nil {
		t.Fatalf("without caps: %v", err)
	}
}

// testConcurrentAuthnRequestLimits: requests started all at once never take a client past its cap.
func testConcurrentAuthnRequestLimits(t *testing.T, s store.Store, clock *Clock) {
	a := mustTenant(t, s, "acme", "acme.com")
	const n, perClient, perTenant = 60, 7, 12
	bind := sha256.Sum256([]byte("browser"))
	var granted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Half from one client (capped at 7), half from thirty others (which fill the tenant's 12).
			client := "198.51.100.1"
			if i%2 == 1 {
				client = fmt.Sprintf("203.0.113.%d", i)
			}
			err := s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: fmt.Sprintf("id-%d", i), TenantID: a.ID, BindingHash: bind[:],
				ClientKey: client, ExpiresAt: clock.Now().Add(time.Hour)}, store.RequestLimits{PerClient: perClient, PerTenant: perTenant})
			switch {
			case err == nil:
				granted.Add(1)
			case !errors.Is(err, store.ErrLimited):
				t.Errorf("CreateAuthnRequest: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	stored := 0
	for i := range n {
		if _, err := s.AuthnRequest(ctx, a.ID, fmt.Sprintf("id-%d", i), bind[:]); err == nil {
			stored++
		}
	}
	if granted.Load() != perTenant || stored != perTenant {
		t.Fatalf("%d requests granted, %d stored; want the tenant's cap, %d", granted.Load(), stored, perTenant)
	}
	mine := 0
	for i := 0; i < n; i += 2 {
		if _, err := s.AuthnRequest(ctx, a.ID, fmt.Sprintf("id-%d", i), bind[:]); err == nil {
			mine++
		}
	}
	if mine > perClient {
		t.Fatalf("one client holds %d outstanding requests, cap %d", mine, perClient)
	}
}
