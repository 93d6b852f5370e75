package scimserver

import (
	"container/list"
	"sync"
	"time"
)

// The token-guessing slow-down. A client address that presents authFailLimit bearer tokens which do
// not open the tenant within authFailWindow is refused with 429 for authFailWindow after the last one
// it was allowed, before any store lookup. Bearer tokens are 256-bit random secrets, so this is not
// what makes guessing hopeless; it keeps a guesser from costing the store one query per try and
// makes a token hunt loud: the server logs a warning each time an address is refused.
const (
	authFailLimit  = 10          // failed bearer checks allowed per address and window
	authFailWindow = time.Minute // the window, and how long an address stays refused
	// authFailAddrs caps the addresses tracked, so a flood of source addresses costs bounded memory;
	// past it the address not seen for the longest time is forgotten.
	authFailAddrs = 10000
)

// throttle counts failed bearer checks per client address. It is safe for concurrent use.
//
// What counts: a request that presented a non-empty Bearer credential which did not resolve to a live
// token of the tenant in the URL. Requests without credentials (or with another scheme) can never
// succeed, so they guess nothing and do not count; successful requests do not count, and do not reset
// the count either, or one valid token of any tenant would let a guesser interleave unlimited tries.
// A refused (429) request is not counted again, so the refusal ends authFailWindow after the limit was
// reached.
//
// The address is the host of r.RemoteAddr: X-Forwarded-For and the like are set by the client and are
// not trusted. Behind a reverse proxy every client shares the proxy's address, so guessing through
// the proxy slows every client of that proxy; that is the price of not trusting client headers.
// IPv6 clients are keyed by their /64, which one host usually holds entirely.
type throttle struct {
	limit  int
	window time.Duration
	max    int

	mu    sync.Mutex
	addrs map[string]*list.Element // of *failures
	order *list.List               // least recently failed first
}

type failures struct {
	addr  string
	start time.Time // the first failure of the current window
	count int
	until time.Time // refused until then, once count reached the limit
}

func newThrottle(limit int, window time.Duration, max int) *throttle {
	return &throttle{limit: limit, window: window, max: max, addrs: map[string]*list.Element{}, order: list.New()}
}

// blocked reports whether addr is refused at now, and for how long still.
func (t *throttle) blocked(addr string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.addrs[addr]
	if !ok {
		return 0, false
	}
	f := el.Value.(*failures)
	if now.Before(f.until) {
		return f.until.Sub(now), true
	}
	if !f.until.IsZero() || now.Sub(f.start) >= t.window {
		// The refusal or the window is over: forget the address.
		t.order.Remove(el)
		delete(t.addrs, addr)
	}
	return 0, false
}

// fail records a failed bearer check from addr at now, and reports whether that reached the limit.
func (t *throttle) fail(addr string, now time.Time) (blockedNow bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.addrs[addr]
	if !ok {
		for t.order.Len() >= t.max {
			oldest := t.order.Front()
			t.order.Remove(oldest)
			delete(t.addrs, oldest.Value.(*failures).addr)
		}
		el = t.order.PushBack(&failures{addr: addr, start: now})
		t.addrs[addr] = el
	} else {
		t.order.MoveToBack(el)
	}
	f := el.Value.(*failures)
	if now.Sub(f.start) >= t.window || now.Before(f.start) {
		f.start, f.count, f.until = now, 0, time.Time{}
	}
	f.count++
	if f.count >= t.limit && f.until.IsZero() {
		f.until = now.Add(t.window)
		return true
	}
	return false
}

// tracked is the number of addresses tracked (for tests).
func (t *throttle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
