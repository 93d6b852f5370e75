package people

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/internal/secret"
	"github.com/scimsso/scimsso/store"
)

// The session cookie is the signed-in browser. It is named with the __Host- prefix when BASE is https:
// browsers then accept it only when Secure, for Path=/ and without Domain, so a sibling subdomain (or a
// page on plain http) cannot plant a session of its choosing in a victim's browser, and the server
// reads no cookie of that name set any other way. Over plain http (local use) a __Host- cookie would
// need Secure, which browsers grant only to localhost, so the plain name is kept there.
const (
	sessionCookieHost  = "__Host-scimsso_session"
	sessionCookiePlain = "scimsso_session"
)

// SessionsConfig holds what the session starter needs.
type SessionsConfig struct {
	Store   store.Store
	BaseURL string           // public base URL: https makes the cookie Secure and __Host-
	Now     func() time.Time // nil: time.Now
}

// Sessions is the session starter, the one owner of the session cookie. A sign-in verified elsewhere
// (the SAML ACS) starts its session here, and so does a password sign-in; the people's pages read it.
// Only the SHA-256 of a session's cookie value is stored. It is safe for concurrent use.
type Sessions struct {
	st     store.Store
	secure bool
	now    func() time.Time
}

// NewSessions checks cfg and builds the session starter.
func NewSessions(cfg SessionsConfig) (*Sessions, error) {
	if cfg.Store == nil {
		return nil, errors.New("people: Store is required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("people: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Sessions{st: cfg.Store, secure: u.Scheme == "https", now: now}, nil
}

// cookie is the session cookie's name for this server's BASE.
func (s *Sessions) cookie() string {
	if s.secure {
		return sessionCookieHost
	}
	return sessionCookiePlain
}

// Start starts a session for a sign-in that was verified, and answers the request. write must store
// the sign-in together with a new session whose IDHash it is given, in one store transaction, and
// report whether first sign-in is still pending. If write fails, Start returns its error unchanged
// and has written nothing to w: the caller answers. Otherwise the browser gets the session cookie
// and is sent to returnTo (anything that is not page.SafeReturnTo lands on page.DefaultReturnTo),
// through /welcome first while first sign-in is pending.
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, returnTo string, write func(idHash []byte) (pending bool, err error)) error {
	v, hash, err := store.NewSecret("")
	if err != nil {
		return err
	}
	pending, err := write(hash)
	if err != nil {
		return err
	}
	if !page.SafeReturnTo(returnTo) {
		returnTo = page.DefaultReturnTo
	}
	if pending {
		returnTo = page.WithReturn("/welcome", returnTo)
	}
	// HttpOnly, SameSite=Lax (sent on top-level navigation, never on a cross-site POST), Secure when
	// BASE is https. No Max-Age: the server decides when a session is over.
	http.SetCookie(w, &http.Cookie{Name: s.cookie(), Value: v, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
	return nil
}

// Current returns the request's live session; nil, nil when the browser has no session cookie, or one
// naming an unknown, ended or expired session. It does not look at the user: the pages do.
func (s *Sessions) Current(r *http.Request) (*store.Session, error) {
	v := secret.FromCookie(r, s.cookie())
	if v == "" {
		return nil, nil
	}
	ss, err := s.st.SessionByHash(r.Context(), store.HashSecret(v))
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

// End ends the session idHash in the store, so that a copy of its cookie stops working too, clears the
// browser's session cookie, and sends the person to sign in again, back to returnTo afterwards. On a
// store failure it returns the error and has written nothing to w. Its one use is a failed silent
// re-authentication: the session's idle time ran out and the IdP did not renew it, so it ends as
// timed out (store.EndTimeout), not logged out.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request, idHash []byte, returnTo string) error {
	if err := s.st.EndSession(r.Context(), idHash, store.EndTimeout); err != nil {
		return err
	}
	s.clearCookie(w)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, page.WithReturn("/login", returnTo), http.StatusSeeOther)
	return nil
}

// hashOf returns the hash of the request's session cookie, nil without one.
func (s *Sessions) hashOf(r *http.Request) []byte {
	if v := secret.FromCookie(r, s.cookie()); v != "" {
		return store.HashSecret(v)
	}
	return nil
}

// Forget clears the session cookie in the answer w, for a session ended elsewhere (the OpenID
// provider's logout).
func (s *Sessions) Forget(w http.ResponseWriter) { s.clearCookie(w) }

func (s *Sessions) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}
