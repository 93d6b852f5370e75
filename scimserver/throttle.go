package scimserver

import (
	"container/list"
	"sync"
	"time"
)

// The bad-token throttle. It decides how failed bearer checks are answered, never whether a valid token
// is served: every request's token is looked up (one indexed query) and a valid one is served, whoever
// else failed from the same address. Okta's and Entra's provisioning comes from shared egress
// addresses, and behind a proxy every client may have one address, so a limit that refused valid
// tokens would let ten anonymous requests a minute stop provisioning for every tenant.
//
// What the throttle is for: bearer tokens are 256-bit random secrets, so a guesser gains nothing from
// any number of tries and no limit is needed to keep them secret. It keeps a token hunt loud but not
// noisy (one warning when a client reaches the limit, not one per try) and tells a client that keeps
// failing to back off: past authFailLimit failures for one tenant within authFailWindow, that client's
// failing requests for that tenant are answered 429 with Retry-After instead of 401, until
// authFailWindow after the limit was reached.
//
// Failures are counted per client address and tenant slug, so one tenant's bad or revoked token, or a
// guesser aiming at it, changes nothing for another tenant's client at the same address.
const (
	authFailLimit  = 10          // failed bearer checks answered 401 per address, tenant and window
	authFailWindow = time.Minute // the window, and how long failures are answered 429 after the limit
	// authFailKeys caps the (address, tenant) pairs tracked, so a flood of addresses or slugs costs
	// bounded memory; past it the pair that failed longest ago is forgotten.
	authFailKeys = 10000
	// maxSlugKey bounds the slug part of a key: slugs are at most 63 characters, so a longer one names
	// no tenant and its tail tells nothing apart.
	maxSlugKey = 64
)

// throttle counts failed bearer checks per key (throttleKey). It is safe for concurrent use.
//
// What counts: a request that presented a non-empty Bearer credential which did not resolve to a live
// token of the tenant in the URL. Requests without credentials (or with another scheme) can never
// succeed, so they guess nothing and do not count; successful requests do not count, and do not reset
// the count either, or a client holding one valid token could interleave unlimited tries. A failure
// answered 429 is not counted again, so the refusal ends authFailWindow after the limit was reached.
type throttle struct {
	limit  int
	window time.Duration
	max    int

	mu    sync.Mutex
	keys  map[string]*list.Element // of *failures
	order *list.List               // least recently failed first
}

type failures struct {
	key   string
	start time.Time // the first failure of the current window
	count int
	until time.Time // failures are answered 429 until then, once count reached the limit
}

func newThrottle(limit int, window time.Duration, max int) *throttle {
	return &throttle{limit: limit, window: window, max: max, keys: map[string]*list.Element{}, order: list.New()}
}

// throttleKey is what failures are counted under: the client address (clientaddr.Key) and the tenant
// slug of the URL, cut to maxSlugKey bytes.
func throttleKey(addr, slug string) string {
	return addr + " " + cutSlug(slug)
}

// cutSlug cuts a slug from a URL to maxSlugKey bytes, for keys and logs.
func cutSlug(slug string) string {
	if len(slug) > maxSlugKey {
		return slug[:maxSlugKey]
	}
	return slug
}

// verdict is how a failed bearer check is answered.
type verdict struct {
	refuse  bool          // answer 429, not 401
	wait    time.Duration // with refuse: how long the refusal lasts still
	reached bool          // this failure reached the limit: the moment to log, once
}

// fail records a failed bearer check under key at now and says how to answer it.
func (t *throttle) fail(key string, now time.Time) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.keys[key]
	if !ok {
		for t.order.Len() >= t.max {
			oldest := t.order.Front()
			t.order.Remove(oldest)
			delete(t.keys, oldest.Value.(*failures).key)
		}
		el = t.order.PushBack(&failures{key: key, start: now})
		t.keys[key] = el
	} else {
		t.order.MoveToBack(el)
	}
	f := el.Value.(*failures)
	if now.Before(f.until) {
		return verdict{refuse: true, wait: f.until.Sub(now)}
	}
	if !f.until.IsZero() || now.Sub(f.start) >= t.window || now.Before(f.start) {
		// The refusal or the window is over (or the clock went back): a new window starts here.
		f.start, f.count, f.until = now, 0, time.Time{}
	}
	f.count++
	if f.count >= t.limit {
		f.until = now.Add(t.window)
		return verdict{reached: true}
	}
	return verdict{}
}

// tracked is the number of keys tracked (for tests).
func (t *throttle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
