package people

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimsso/scimsso/internal/page"
)

// Forward authentication: a reverse proxy in front of an application (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth) asks GET /auth/verify, with the browser's cookies, whether the
// request may go on, and passes the identity headers of a 204 to the application.
//
// The session cookie is host-only (__Host- over https), so a browser sends it only to BASE's host
// name, on any port. Forward authentication therefore serves applications on that host name (another
// path behind the same proxy, or another port); an application on another host name signs people in
// with the OpenID provider instead. ParseForwardAuthHosts refuses a host the cookie can never reach, so
// that such a set-up fails at start rather than looping between the application and /login.

// The headers a 204 from /auth/verify carries. Id, email and tenant are ASCII by the store's rules
// (a UUID, store.ParseEmail, a slug). The name is free text from the IdP or SCIM: it is sent
// percent-encoded UTF-8 (RFC 3986: every byte but A-Z a-z 0-9 - . _ ~ as %XX), so that a name with
// non-ASCII letters, or a CR/LF, is carried whole and unambiguously; decodeURIComponent,
// url.PathUnescape or urllib.parse.unquote give it back.
const (
	HeaderUserID = "X-Scimsso-User-Id"
	HeaderEmail  = "X-Scimsso-Email"
	HeaderTenant = "X-Scimsso-Tenant"
	HeaderName   = "X-Scimsso-Name"
)

// maxForwardedURL bounds the URL rebuilt from a proxy's headers; a longer one gets no redirect.
const maxForwardedURL = 4096

// forwardHost is an entry of the forward-auth host list: a host name, and a port when the entry names
// one (else any port matches).
type forwardHost struct{ name, port string }

// ParseForwardAuthHosts reads --forward-auth-hosts, a comma-separated list of host names, each
// optionally with :port, for BASE baseURL. Each must be BASE's host name: the session cookie reaches no
// other (see above), and an application there would loop between itself and /login. An empty list
// is valid: no redirects at all.
func ParseForwardAuthHosts(list, baseURL string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(list, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if _, err := parseForwardHost(e, baseURL); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseForwardHost(entry, baseURL string) (forwardHost, error) {
	e := strings.ToLower(entry)
	if strings.ContainsAny(e, "/*@?#") {
		return forwardHost{}, fmt.Errorf("%q must be a host name, or host:port, without scheme, path or wildcard", entry)
	}
	h := forwardHost{name: e}
	if strings.HasPrefix(e, "[") || strings.Count(e, ":") == 1 {
		name, port, err := net.SplitHostPort(e)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 || port[0] == '0' {
			return forwardHost{}, fmt.Errorf("%q must be a host name, or host:port with a port from 1 to 65535", entry)
		}
		h = forwardHost{name: name, port: port}
	}
	if !validHostName(h.name) {
		return forwardHost{}, fmt.Errorf("%q is not a host name or IP address", entry)
	}
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" {
		return forwardHost{}, fmt.Errorf("BASE %q is not an absolute URL", baseURL)
	}
	if bh := strings.ToLower(base.Hostname()); h.name != bh {
		return forwardHost{}, fmt.Errorf("%q is not BASE's host name %s: the session cookie is host-only, so browsers never send it to %s "+
			"(an application on another host name signs people in through the OpenID provider, e.g. with oauth2-proxy)", entry, bh, h.name)
	}
	return h, nil
}

// validHostName reports whether s is an IP address or a DNS name of letters, digits and hyphens.
func validHostName(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// verify is GET /auth/verify. A live, complete session within its soft timeout: 204 with the identity
// headers (the session counts as used). No live session: 401; past the soft timeout: 401, to be
// re-authenticated silently at the IdP; first sign-in pending: 403. A 401 or 403 carries, in
// Location, where to send the person (sign-in, re-authentication or /welcome, back to the URL they
// asked the proxy for afterwards) when that URL is on an allowed host: nginx's auth_request accepts
// only 2xx, 401 and 403 from here and redirects with error_page. With ?redirect=1 (Traefik, Caddy,
// which hand this answer to the browser) it is a 302 there instead. Without an allowed URL it is a
// plain status, so nothing here redirects anywhere a request's headers choose.
//
// It costs the store reads of a session lookup (Server.current) and, at most once a minute per
// session, the write that moves its idle expiry.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	cur, err := s.current(r)
	if err != nil {
		s.internal(w, r, "session lookup", err)
		return
	}
	var status int
	var to string
	back, ok := s.backTo(r)
	switch {
	case cur == nil:
		status, to = http.StatusUnauthorized, page.WithReturn("/login", back)
	case cur.soft:
		status, to = http.StatusUnauthorized, s.sso.ReauthURL(cur.t.Slug, back)
	case cur.sess.Pending:
		status, to = http.StatusForbidden, page.WithReturn("/welcome", back)
	default:
		s.touch(r, cur)
		h := w.Header()
		h[HeaderUserID] = []string{headerValue(cur.user.ID)}
		h[HeaderEmail] = []string{headerValue(cur.user.UserName)}
		h[HeaderTenant] = []string{headerValue(cur.t.Slug)}
		h[HeaderName] = []string{encodeName(strings.TrimSpace(cur.user.GivenName + " " + cur.user.FamilyName))}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !ok {
		http.Error(w, http.StatusText(status), status)
		return
	}
	loc := s.base + to
	if r.URL.Query().Get("redirect") == "1" {
		http.Redirect(w, r, loc, http.StatusFound)
		return
	}
	w.Header().Set("Location", loc)
	http.Error(w, http.StatusText(status), status)
}

// headerValue returns v when it is printable ASCII, else "" (never the case for the values the store
// accepts): a header value never carries a CR, LF or byte a proxy might read otherwise.
func headerValue(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

// encodeName percent-encodes every byte of v but RFC 3986's unreserved characters.
func encodeName(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// backTo returns the local return path that brings a person, once signed in, back to the URL they
// asked the proxy for: the path itself on BASE's origin, else /auth/continue?to=URL. ok is false when
// the proxy named no URL, or one that is not on an allowed host (see allowed). A URL too long for a
// return path loses its query, then its path: the person lands on the application's front page.
func (s *Server) backTo(r *http.Request) (string, bool) {
	u, ok := s.allowed(forwardedURL(r))
	if !ok {
		return "", false
	}
	origin := u.Scheme + "://" + u.Host
	for _, c := range []string{u.RequestURI(), u.EscapedPath(), "/"} {
		if c == "" {
			continue
		}
		if strings.EqualFold(origin, s.origin) {
			if page.SafeReturnTo(c) {
				return c, true
			}
			continue
		}
		if to := "/auth/continue?to=" + url.QueryEscape(origin+c); page.SafeReturnTo(to) {
			return to, true
		}
	}
	return "", false
}

// forwardedURL is the URL the browser asked the proxy for, as the proxy reports it: X-Forwarded-Proto,
// X-Forwarded-Host and X-Forwarded-Uri (Traefik, Caddy), or else X-Original-URL (nginx, as its
// configuration sets it). Anyone can send these headers; allowed decides what they may name.
func forwardedURL(r *http.Request) string {
	host, uri := r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Uri")
	if host == "" {
		return r.Header.Get("X-Original-URL")
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto == "" {
		proto = "https" // the safe guess: never a downgrade
	}
	if uri == "" {
		uri = "/"
	}
	if uri[0] != '/' {
		return ""
	}
	return proto + "://" + host + uri
}

// allowed parses raw and reports whether a browser may be sent there: an absolute http(s) URL of at
// most maxForwardedURL bytes, without user info, control character, space or backslash, on a host of
// the forward-auth list, and https unless that host is loopback (a browser treats loopback as
// secure, and it never crosses a network). Its host is returned lower case.
func (s *Server) allowed(raw string) (*url.URL, bool) {
	if raw == "" || len(raw) > maxForwardedURL {
		return nil, false
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return nil, false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, false
	}
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	name, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if u.Scheme == "http" && !loopback(name) {
		return nil, false
	}
	for _, h := range s.forwardHosts {
		if h.name == name && (h.port == "" || h.port == port) {
			return u, true
		}
	}
	return nil, false
}

// loopback reports whether host is localhost (or a name under it) or a loopback address.
func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// continueTo is GET /auth/continue?to=URL, the return path of a sign-in that forward authentication
// started for an application on another origin of BASE's host name: it sends the browser to URL when
// that is allowed, and otherwise shows a page (never an open redirect).
func (s *Server) continueTo(w http.ResponseWriter, r *http.Request) {
	u, ok := s.allowed(r.URL.Query().Get("to"))
	if !ok {
		page.Message(w, http.StatusBadRequest, "Cannot continue", "This link does not lead to an application of this site.", page.Ref(r))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
