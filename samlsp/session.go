package samlsp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
)

// Cookie names. The session cookie is the signed-in browser; the binding cookie ties outstanding
// AuthnRequests to the browser that started them and must reach the ACS on the IdP's cross-site POST.
const (
	sessionCookie = "scimsso_session"
	bindingCookie = "__Host-scimsso_binding"
)

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
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return ""
	}
	return c.Value
}

func hashSecret(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// setSessionCookie: HttpOnly, SameSite=Lax (sent on top-level navigation, never on a cross-site
// POST), Secure when BASE is https. No Max-Age: the server decides when a session is over.
func (s *Server) setSessionCookie(w http.ResponseWriter, v string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
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
	v := secretCookie(r, sessionCookie)
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
}

// me answers with the signed-in user and session as JSON, or 401 JSON without a (live) session. Each
// use moves the session's idle expiry, written at most once a minute.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ss, err := s.sessionOf(r)
	if err != nil {
		s.internal(w, r, "session lookup", err)
		return
	}
	var u *store.User
	var t *store.Tenant
	if ss != nil {
		if u, err = s.st.UserByID(r.Context(), ss.TenantID, ss.UserID); err == nil {
			t, err = s.st.TenantByID(r.Context(), ss.TenantID)
		}
		if errors.Is(err, store.ErrNotFound) {
			ss, err = nil, nil
		}
		if err != nil {
			s.internal(w, r, "session user", err)
			return
		}
	}
	if ss == nil || !u.Active {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in", "login": "/login"})
		return
	}
	now := s.now()
	if now.Sub(ss.LastSeenAt) >= touchInterval {
		if c, err := s.tenantSP(r.Context(), t.Slug); err == nil {
			exp := now.Add(hardTimeout(c.set))
			if err := s.st.TouchSession(r.Context(), ss.IDHash, exp); err == nil {
				ss.LastSeenAt, ss.ExpiresAt = now, exp
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user": meUser{ID: u.ID, Tenant: t.Slug, UserName: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName,
			Country: u.Country, Department: u.Department, Team: u.Team, ExternalID: u.ExternalID, Source: string(u.Source)},
		"session": meSession{CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt, ExpiresAt: ss.ExpiresAt, Pending: ss.Pending},
	})
}

// hardTimeout is the tenant's idle limit, the spec's default when none is stored.
func hardTimeout(set *store.SSOSettings) time.Duration {
	if set.HardTimeout > 0 {
		return set.HardTimeout
	}
	return 14 * 24 * time.Hour
}

// logout ends the session server-side (a copied cookie stops working at once) and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if v := secretCookie(r, sessionCookie); v != "" {
		if err := s.st.DeleteSession(r.Context(), hashSecret(v)); err != nil {
			s.internal(w, r, "logout", err)
			return
		}
	}
	s.clearCookie(w, sessionCookie, "/", http.SameSiteLaxMode, s.secure)
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
		return
	}
	page(w, http.StatusOK, "Signed out", "You are signed out.", "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// internal answers a store or configuration failure: a plain page with the reference, the cause in the log.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	ref := requestRef(r)
	s.log.Error(what+" failed", zap.String("request_id", ref), zap.Error(err))
	page(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.", ref)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body><main><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Ref}}<p>If you contact support, give them this reference: <code>{{.Ref}}</code></p>{{end}}</main></body></html>
`))

// page writes a plain HTML page. Nothing in it comes from the request except the reference id.
func page(w http.ResponseWriter, status int, title, message, ref string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	pageTmpl.Execute(w, struct{ Title, Message, Ref string }{title, message, ref})
}

// safeReturnTo reports whether v is a path on this server that is safe to redirect to: it starts with
// one '/', has no backslash, control character or space, and parses with no scheme, host or user.
// Browsers strip tabs and newlines and read '\' as '/', so "/\evil.com" or "/%09/evil.com" would leave.
func safeReturnTo(v string) bool {
	if v == "" || len(v) > 2048 || v[0] != '/' || strings.HasPrefix(v, "//") {
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
