package samlsp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/store"
)

// Cookie names. The session cookie is the signed-in browser; the binding cookie ties outstanding
// AuthnRequests to the browser that started them and must reach the ACS on the IdP's cross-site POST.
//
// The session cookie is named with the __Host- prefix when BASE is https: browsers then accept it only
// when Secure, for Path=/ and without Domain, so a sibling subdomain (or a page on plain http) cannot
// plant a session of its choosing in a victim's browser, and the server reads no cookie of that name
// set any other way. Over plain http (local use) a __Host- cookie would need Secure, which browsers
// grant only to localhost, so the plain name is kept there.
const (
	sessionCookieHost  = "__Host-scimsso_session"
	sessionCookiePlain = "scimsso_session"
	bindingCookie      = "__Host-scimsso_binding"
)

// sessionCookie is the session cookie's name for this server's BASE.
func (s *Server) sessionCookie() string {
	if s.secure {
		return sessionCookieHost
	}
	return sessionCookiePlain
}

// newSecret returns 256 random bits, URL-safe, and their SHA-256 (the only form stored).
func newSecret() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	v := base64.RawURLEncoding.EncodeToString(b[:])
	return v, hashSecret(v), nil
}

// secretCookie returns the value of the named cookie if it has the shape newSecret gives (43
// characters of base64url), else "": anything else was never issued here and needs no lookup.
func secretCookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || !isSecret(c.Value) {
		return ""
	}
	return c.Value
}

// isSecret reports whether v has the shape newSecret gives.
func isSecret(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

func hashSecret(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// setSessionCookie: HttpOnly, SameSite=Lax (sent on top-level navigation, never on a cross-site
// POST), Secure when BASE is https. No Max-Age: the server decides when a session is over.
func (s *Server) setSessionCookie(w http.ResponseWriter, v string) {
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: v, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, name, path string, sameSite http.SameSite, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: sameSite})
}

// setBindingCookie: SameSite=None so the IdP's cross-site POST to the ACS carries it, which browsers
// allow only with Secure (they treat http://localhost as secure, so the demo works without TLS). The
// __Host- prefix makes browsers refuse the cookie from a sibling subdomain or without Secure and
// Path=/, so nobody can plant their own binding in a victim's browser (login CSRF). Short-lived.
func (s *Server) setBindingCookie(w http.ResponseWriter, v string) {
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: v, Path: "/", MaxAge: int(requestTTL / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode})
}

// sessionOf returns the request's live session, or nil.
func (s *Server) sessionOf(r *http.Request) (*store.Session, error) {
	v := secretCookie(r, s.sessionCookie())
	if v == "" {
		return nil, nil
	}
	ss, err := s.st.SessionByHash(r.Context(), hashSecret(v))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.now().Before(ss.ExpiresAt) {
		return nil, nil
	}
	return ss, nil
}

type meUser struct {
	ID         string `json:"id"`
	Tenant     string `json:"tenant"`
	UserName   string `json:"userName"`
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	Country    string `json:"country,omitempty"`
	Department string `json:"department,omitempty"`
	Team       string `json:"team,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	Source     string `json:"source"`
}

type meSession struct {
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	Pending    bool      `json:"pending"`
	Mobile     bool      `json:"mobile"`
}

// signedIn is a request's live session with its user and tenant configuration.
type signedIn struct {
	sess *store.Session
	user *store.User
	c    *tenantSP
	// soft: idle beyond the soft timeout, so the IdP must vouch again (silently) before the session
	// goes on. Users on the exclusion list sign in with a password and have no IdP to ask.
	soft bool
}

// current returns the request's live session, or nil when there is none: no cookie, an unknown or
// ended session, past its hard timeout, or a user that is gone or deactivated.
func (s *Server) current(r *http.Request) (*signedIn, error) {
	ss, err := s.sessionOf(r)
	if ss == nil || err != nil {
		return nil, err
	}
	u, err := s.st.UserByID(r.Context(), ss.TenantID, ss.UserID)
	var c *tenantSP
	if err == nil {
		c, err = s.tenantOfSession(r.Context(), ss.TenantID)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errNoTenant) || (err == nil && !u.Active) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cur := &signedIn{sess: ss, user: u, c: c}
	cur.soft = s.now().Sub(ss.LastSeenAt) >= softTimeout(c.set) && !excluded(c.set, u.UserName)
	return cur, nil
}

// SessionOf returns the request's live session and its user, for the packages that let a signed-in
// person through without owning the cookie (the OpenID provider): nil when there is none, it ended or
// passed its hard timeout, or its user is gone or deactivated. stale reports that it is past the
// tenant's soft timeout: the IdP must vouch again (/saml/{tenant}/login?reauth=1) before it is used.
// A Pending session must complete /welcome first. A session used while not stale counts as used.
func (s *Server) SessionOf(r *http.Request) (sess *store.Session, u *store.User, stale bool, err error) {
	cur, err := s.current(r)
	if cur == nil || err != nil {
		return nil, nil, false, err
	}
	if !cur.soft {
		s.touch(r, cur)
	}
	return cur.sess, cur.user, cur.soft, nil
}

// touch records the session's use, moving its idle expiry, at most once a minute.
func (s *Server) touch(r *http.Request, cur *signedIn) {
	now := s.now()
	if now.Sub(cur.sess.LastSeenAt) < touchInterval {
		return
	}
	exp := now.Add(hardTimeout(cur.c.set, cur.sess.Mobile))
	if err := s.st.TouchSession(r.Context(), cur.sess.IDHash, exp); err == nil {
		cur.sess.LastSeenAt, cur.sess.ExpiresAt = now, exp
	}
}

// gate lets a request through only with a complete session that is within its soft timeout. Otherwise
// a browser is redirected (to /login, to the IdP for silent re-authentication, or to /welcome) and
// anything else gets a JSON 401 or 403 naming the URL to go to.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) (*signedIn, bool) {
	cur, err := s.current(r)
	if err != nil {
		s.internal(w, r, "session lookup", err)
		return nil, false
	}
	here := r.URL.RequestURI()
	if !safeReturnTo(here) {
		here = defaultReturnTo
	}
	var status int
	var msg, key, to string
	switch {
	case cur == nil:
		status, msg, key, to = http.StatusUnauthorized, "not signed in", "login", withReturn("/login", here)
	case cur.soft:
		status, msg, key, to = http.StatusUnauthorized, "re-authentication required", "login", "/saml/"+cur.c.tenant.Slug+"/login?reauth=1&return_to="+url.QueryEscape(here)
	case cur.sess.Pending:
		status, msg, key, to = http.StatusForbidden, "first sign-in incomplete", "welcome", withReturn("/welcome", here)
	default:
		s.touch(r, cur)
		return cur, true
	}
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		http.Redirect(w, r, to, http.StatusSeeOther)
	} else {
		writeJSON(w, status, map[string]string{"error": msg, key: to})
	}
	return nil, false
}

// me answers with the signed-in user and session as JSON.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.gate(w, r)
	if !ok {
		return
	}
	u, ss := cur.user, cur.sess
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"user": meUser{ID: u.ID, Tenant: cur.c.tenant.Slug, UserName: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName,
			Country: u.Country, Department: u.Department, Team: u.Team, ExternalID: u.ExternalID, Source: string(u.Source)},
		"session": meSession{CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt, ExpiresAt: ss.ExpiresAt, Pending: ss.Pending, Mobile: ss.Mobile},
	})
}

// Session lifetimes by the spec when a tenant stored none.
const (
	defaultHardTimeout = 14 * 24 * time.Hour
	defaultSoftTimeout = 8 * time.Hour
)

// hardTimeout is the tenant's idle limit for a session, the mobile one for mobile sessions.
func hardTimeout(set *store.SSOSettings, mobile bool) time.Duration {
	if mobile && set.MobileHardTimeout > 0 {
		return set.MobileHardTimeout
	}
	if set.HardTimeout > 0 {
		return set.HardTimeout
	}
	return defaultHardTimeout
}

// softTimeout is the idle time after which the IdP is asked again.
func softTimeout(set *store.SSOSettings) time.Duration {
	if set.SoftTimeout > 0 {
		return set.SoftTimeout
	}
	return defaultSoftTimeout
}

// excluded reports whether email is on the tenant's exclusion list (stored lower case).
func excluded(set *store.SSOSettings, email string) bool {
	k := store.Key(email)
	for _, e := range set.Exclude {
		if e == k {
			return true
		}
	}
	return false
}

// logout ends the session server-side (a copied cookie stops working at once) and clears the cookie.
// A form post must carry the CSRF field; a JSON client (no form) must not be cross-site.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if !s.acceptForm(w, r, "Cannot sign out") {
			return
		}
	} else if !s.sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request"})
		return
	}
	if v := secretCookie(r, s.sessionCookie()); v != "" {
		if err := s.st.DeleteSession(r.Context(), hashSecret(v)); err != nil {
			s.internal(w, r, "logout", err)
			return
		}
	}
	s.clearCookie(w, s.sessionCookie(), "/", http.SameSiteLaxMode, s.secure)
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
		return
	}
	render(w, http.StatusOK, "message", messageView{view: view{Title: "Signed out"}, Message: "You are signed out.", Link: "/login", LinkText: "Sign in again"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// internal answers a store or configuration failure: a plain page with the reference, the cause in the
// log. An unreachable database is a 503 (the server's middleware adds Retry-After): nothing is wrong
// with the request, and the same one will work once the database is back.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	failed(w, s.log, requestRef(r), what, err)
}

func failed(w http.ResponseWriter, log *zap.Logger, ref, what string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		metrics.StoreError(metrics.StoreUnavailable)
		log.Warn(what+": store unavailable", zap.String("request_id", ref), zap.Error(err))
		page(w, http.StatusServiceUnavailable, "Sign-in is unavailable for a moment", "Please try again in a minute.", ref)
		return
	}
	metrics.StoreError(metrics.StoreInternal)
	log.Error(what+" failed", zap.String("request_id", ref), zap.Error(err))
	page(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.", ref)
}

// maxReturnTo bounds a return path. It is stored with every outstanding AuthnRequest, which anyone can
// start, so it bounds what each of them makes the store hold; a longer path is not kept (the sign-in
// lands on defaultReturnTo, or a direct /saml/{tenant}/login is refused).
const maxReturnTo = 512

// safeReturnTo reports whether v is a path on this server that is safe to redirect to: it starts with
// one '/', has no backslash, control character or space, is at most maxReturnTo bytes, and parses with
// no scheme, host or user.
// Browsers strip tabs and newlines and read '\' as '/', so "/\evil.com" or "/%09/evil.com" would leave.
func safeReturnTo(v string) bool {
	if v == "" || len(v) > maxReturnTo || v[0] != '/' || strings.HasPrefix(v, "//") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return false
		}
	}
	dec, err := url.PathUnescape(v)
	if err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\t\r\n") {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}
