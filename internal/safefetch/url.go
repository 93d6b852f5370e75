// Package safefetch is the one way scimsso reaches a URL that someone other than the operator named
// (a webhook receiver, an OpenID client's back-channel logout URI, an IdP's metadata URL) without
// letting that URL reach the server's own network: https to public addresses only, checked when the
// URL is given (CheckURL) and again at every connection, after DNS (Control), since a public name can
// resolve to a private address (DNS rebinding) and a name's DNS can change after it was checked.
// http is allowed only to loopback, and only where the operator switched it on with a setting that is
// logged (Policy.AllowHTTPLoopback), for a receiver on the same machine (tests, a sidecar).
package safefetch

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Policy says where requests may go.
type Policy struct {
	// AllowHTTPLoopback allows http:// (and https://) to loopback addresses; otherwise only https to
	// public addresses.
	AllowHTTPLoopback bool
	// LoopbackSetting names the setting that allows loopback (serve --allow-http-loopback-webhooks),
	// for the refusals to point at.
	LoopbackSetting string
	// RootCAs are the certificate authorities trusted; nil: the system's. Tests trust their own server.
	RootCAs *x509.CertPool
}

// CheckURL returns the reason raw may not be fetched under p, or nil: it must be an absolute https
// URL (http only to a loopback host with p.AllowHTTPLoopback) without userinfo or fragment, whose
// host, when it is an IP address or localhost, is not private, loopback (unless allowed), link-local,
// multicast, unspecified or reserved. Its refusals start with "URL", for the caller to prefix with
// what the URL is ("webhook URL …").
func CheckURL(raw string, p Policy) error {
	return checkURL(raw, p, fmt.Sprintf("URL %q", clip(raw)))
}

// checkURL is CheckURL naming raw as name in its refusals: a redirect's target is not quoted.
func checkURL(raw string, p Policy, name string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%s is not an absolute URL", name)
	}
	if u.User != nil {
		return errors.New("URL may not hold a user or password: put credentials nowhere in it")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("URL may not have a fragment (#…)")
	}
	host := u.Hostname()
	loopback := isLoopbackName(host)
	if a, err := netip.ParseAddr(host); err == nil {
		if why := p.refused(a); why != "" {
			return fmt.Errorf("%s points at %s", name, why)
		}
		loopback = a.Unmap().IsLoopback()
	} else if numericHost(host) {
		// 127.1, 2130706433, 0x7f.1: not an address netip reads, yet resolvers and browsers take it as
		// one (inet_aton), so the dialer would reach whatever IPv4 address it spells.
		return fmt.Errorf("%s has a numeric host that is not an IPv4 address in dotted decimal (a.b.c.d)", name)
	} else if loopback && !p.AllowHTTPLoopback {
		return fmt.Errorf("%s points at a loopback address (%s allows it)", name, p.LoopbackSetting)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback || !p.AllowHTTPLoopback {
			return fmt.Errorf("%s is not https (http only to loopback, with %s)", name, p.LoopbackSetting)
		}
	default:
		return fmt.Errorf("%s is not https", name)
	}
	return nil
}

// numericHost reports whether host ends in a number (decimal, or hex with 0x), as the WHATWG URL
// standard reads an IPv4 host: no DNS name ends so (top-level domains are not numeric).
func numericHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	last := h[strings.LastIndexByte(h, '.')+1:]
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

func isLoopbackName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// notPublic are ranges beyond net/netip's predicates that no public server lives in: carrier-grade
// NAT, IETF protocol assignments, benchmarking, "this network", reserved, and the IPv6 forms that
// embed an IPv4 address, private ones included: NAT64, IPv4-compatible (::/96; :: and ::1 are
// caught before), SIIT (::ffff:0:0:0/96), 6to4 (2002::/16) and Teredo (2001::/32).
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("fec0::/10"), // site-local (deprecated, still routed inside some sites)
}

// refused names the kind of address a is when p sends nothing there, or returns "".
func (p Policy) refused(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		if p.AllowHTTPLoopback {
			return ""
		}
		return "a loopback address (" + p.LoopbackSetting + " allows it)"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return "a reserved address"
		}
	}
	return ""
}

// AddressError is the dial error for an address refused at connection time.
type AddressError struct{ why string }

func (e *AddressError) Error() string { return "refused to connect to " + e.why }

// Control is the net.Dialer Control that refuses, after DNS, to connect where CheckURL would refuse:
// every dialer of a URL someone else named uses it.
func (p Policy) Control() func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &AddressError{"an address it cannot read"}
		}
		if why := p.refused(ap.Addr()); why != "" {
			return &AddressError{why}
		}
		return nil
	}
}

// clip shortens a URL for an error message: a megabyte of URL need not come back in an answer or a log.
func clip(raw string) string {
	if len(raw) <= 128 {
		return raw
	}
	i := 128
	for i > 0 && !utf8.RuneStart(raw[i]) {
		i--
	}
	return raw[:i] + "…"
}
