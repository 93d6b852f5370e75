// Package clientaddr finds the address of the client behind a request: the TCP peer, or, when the peer
// is a proxy the operator trusts (serve --trusted-proxies), the address that proxy reports in
// X-Forwarded-For. Every limit keyed by address (bad SCIM tokens, password guesses, anonymous sign-in
// starts) reads it from here, so they all agree on who the client is.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
)

// Resolver resolves client addresses. Its zero value trusts no proxy: X-Forwarded-For is the client's
// to set, so it is believed only from a trusted peer.
type Resolver struct {
	trusted []netip.Prefix

	// Untrusted, when set, is called once, the first time a request carries X-Forwarded-For from a peer
	// that is not a trusted proxy (serve logs it: --trusted-proxies is probably missing).
	Untrusted func(peer netip.Addr)
	warned    atomic.Bool
}

// Parse returns a Resolver trusting the proxies in cidrs, a comma-separated list of CIDR prefixes or
// single addresses ("10.0.0.0/8,127.0.0.1"); an empty list trusts none. It fails on anything else.
func Parse(cidrs string) (*Resolver, error) {
	r := &Resolver{}
	for _, s := range strings.Split(cidrs, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", s)
			}
			r.trusted = append(r.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// Trusted returns the prefixes of the trusted proxies, single addresses as /32 or /128 (for the log).
func (rv *Resolver) Trusted() []netip.Prefix {
	if rv == nil {
		return nil
	}
	return append([]netip.Prefix(nil), rv.trusted...)
}

func (rv *Resolver) isTrusted(a netip.Addr) bool {
	return slices.ContainsFunc(rv.trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

// Resolve returns the client address of r: the peer, unless the peer is trusted; then the rightmost
// X-Forwarded-For entry that is not itself a trusted proxy (entries to its left are the client's to
// forge). An unparsable entry ends the walk at the last address known good.
func (rv *Resolver) Resolve(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !peer.IsValid() || !rv.isTrusted(peer) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !rv.isTrusted(client) {
				return client
			}
		}
	}
	return client
}

type ctxKey struct{}

// Middleware resolves each request's client address once and keeps it in the request's context, where
// From finds it.
func (rv *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := rv.Resolve(r)
		if rv.Untrusted != nil && r.Header.Get("X-Forwarded-For") != "" && !rv.isTrusted(peerAddr(r)) &&
			rv.warned.CompareAndSwap(false, true) {
			// A proxy nobody said to trust: every client behind it shares its address in every limit,
			// so one of them can use up the others' share. Said once per process.
			rv.Untrusted(peerAddr(r))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, a)))
	})
}

// From returns the client address of r as the Middleware resolved it, or the peer's address when no
// Middleware ran (a handler tested on its own). It is invalid only when RemoteAddr is not an address.
func From(r *http.Request) netip.Addr {
	if a, ok := r.Context().Value(ctxKey{}).(netip.Addr); ok {
		return a
	}
	return peerAddr(r)
}

// Key is the client of r as limits count it: an IPv4 address as it is, an IPv6 address as its /64
// (one subscriber is commonly given a whole /64, so counting single IPv6 addresses would let one
// client rotate through billions of them). A request with no parsable address is keyed by RemoteAddr.
func Key(r *http.Request) string {
	a := From(r)
	switch {
	case !a.IsValid():
		return r.RemoteAddr
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// String is the client of r as a person reads it (a sign-in log): its whole address, where Key keys
// an IPv6 client by its /64; RemoteAddr when no address parses.
func String(r *http.Request) string {
	if a := From(r); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
