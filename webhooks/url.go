package webhooks

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Where webhooks may be sent: https to public addresses. http is allowed only to loopback, and only
// with Config.AllowHTTPLoopback (serve --allow-http-loopback-webhooks), for a receiver on the same
// machine (tests, a sidecar). CheckURL refuses the rest when a webhook is added; the dialer refuses
// to connect to such an address whatever name led there, since a public name can resolve to a private
// address (DNS rebinding) and a receiver's DNS can change after it was added.

// CheckURL returns the reason raw may not be a webhook's URL, or nil: it must be an absolute https
// URL (http only to a loopback host with allowHTTPLoopback) without userinfo or fragment, whose host,
// when it is an IP address or localhost, is not private, loopback (unless allowed), link-local,
// multicast or unspecified.
func CheckURL(raw string, allowHTTPLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("webhook URL %q is not an absolute URL", clipURL(raw))
	}
	if u.User != nil {
		return errors.New("a webhook URL may not hold a user or password: put credentials nowhere in it; the signature authenticates scimsso")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("a webhook URL may not have a fragment (#…)")
	}
	host := u.Hostname()
	loopback := isLoopbackName(host)
	if a, err := netip.ParseAddr(host); err == nil {
		if why := refused(a, allowHTTPLoopback); why != "" {
			return fmt.Errorf("webhook URL %q points at %s", raw, why)
		}
		loopback = a.Unmap().IsLoopback()
	} else if numericHost(host) {
		// 127.1, 2130706433, 0x7f.1: not an address netip reads, yet resolvers and browsers take it as
		// one (inet_aton), so the dialer would reach whatever IPv4 address it spells.
		return fmt.Errorf("webhook URL %q has a numeric host that is not an IPv4 address in dotted decimal (a.b.c.d)", clipURL(raw))
	} else if loopback && !allowHTTPLoopback {
		return fmt.Errorf("webhook URL %q points at a loopback address (serve --allow-http-loopback-webhooks allows it)", clipURL(raw))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback || !allowHTTPLoopback {
			return fmt.Errorf("webhook URL %q is not https (http only to loopback, with serve --allow-http-loopback-webhooks)", clipURL(raw))
		}
	default:
		return fmt.Errorf("webhook URL %q is not https", clipURL(raw))
	}
	return nil
}

// clipURL shortens a URL for an error message: a megabyte of URL need not come back in the answer.
func clipURL(raw string) string {
	if len(raw) > 128 {
		return raw[:128] + "…"
	}
	return raw
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

// notPublic are ranges beyond net/netip's predicates that no webhook receiver lives in: carrier-grade
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
}

// refused names the kind of address a is when webhooks may not be sent there, or returns "".
func refused(a netip.Addr, allowLoopback bool) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		if allowLoopback {
			return ""
		}
		return "a loopback address (serve --allow-http-loopback-webhooks allows it)"
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

// errAddress is the dial error for an address refused at connection time.
type errAddress struct{ why string }

func (e *errAddress) Error() string { return "refused to connect to " + e.why }

// dialControl is the net.Dialer Control that refuses, after DNS, to connect where CheckURL would refuse.
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &errAddress{"an address it cannot read"}
		}
		if why := refused(ap.Addr(), allowLoopback); why != "" {
			return &errAddress{why}
		}
		return nil
	}
}
