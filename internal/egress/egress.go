// Package egress holds the rule for the URLs scimsso sends requests to on someone's behalf (webhooks,
// OpenID Connect back-channel logout): https to a public address; http, and loopback addresses, only
// where the operator allows loopback receivers (serve --allow-http-loopback-webhooks). One rule, so
// that what registration accepts is what delivery dials.
package egress

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// MaxURL bounds a registered URL: longer ones are refused, not cut.
const MaxURL = 2048

// CheckURL reports why raw may not receive deliveries, or nil: an absolute https URL (http only to a
// loopback host when allowLoopback) without user information or fragment, whose host is a name or a
// public address. A name is checked again, address by address, when delivery dials it (Allowed).
func CheckURL(raw string, allowLoopback bool) error {
	if len(raw) > MaxURL {
		return fmt.Errorf("URL is longer than %d bytes", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("URL %q: %v", raw, err)
	}
	host := u.Hostname()
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("URL %q: the scheme must be https", raw)
	case u.Opaque != "" || host == "":
		return fmt.Errorf("URL %q is not an absolute URL", raw)
	case u.User != nil:
		return fmt.Errorf("URL %q holds user information", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("URL %q has a fragment", raw)
	}
	a, addrErr := netip.ParseAddr(host)
	if addrErr != nil && strings.ContainsAny(host, "%:") {
		return fmt.Errorf("URL %q: host %q is not a name or an address", raw, host)
	}
	loop := isLoopbackName(host) || (addrErr == nil && a.Unmap().IsLoopback())
	switch {
	case loop && !allowLoopback:
		return fmt.Errorf("URL %q points at this machine (loopback receivers need serve --allow-http-loopback-webhooks)", raw)
	case addrErr == nil && !Allowed(a, allowLoopback):
		return fmt.Errorf("URL %q points at a private or reserved address", raw)
	case u.Scheme == "http" && !loop:
		return fmt.Errorf("URL %q: the scheme must be https (http only to a loopback address with --allow-http-loopback-webhooks)", raw)
	}
	return nil
}

// isLoopbackName reports whether host is a name that resolves to this machine by convention
// (RFC 6761 §6.3): localhost and its subdomains.
func isLoopbackName(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// Allowed reports whether a delivery may connect to a: a public unicast address, or a loopback one
// when allowLoopback. Private (RFC 1918, RFC 4193), shared (RFC 6598), link-local (cloud metadata
// services live there), unspecified, multicast and other reserved addresses never are: a registered
// URL must not reach into the network scimsso runs in. An IPv4-mapped IPv6 address counts as the IPv4
// address it maps. Delivery calls it for every address it dials, after names are resolved.
func Allowed(a netip.Addr, allowLoopback bool) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.IsLoopback() {
		return allowLoopback
	}
	if a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// reserved are the ranges netip does not classify that are not the public internet either (IANA
// special-purpose registries).
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may translate to a private IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo and others)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed a private IPv4 address
}
