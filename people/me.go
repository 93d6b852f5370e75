package people

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/scimsso/scimsso/internal/httpjson"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

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

// signedIn is a request's live session with its user and tenant.
type signedIn struct {
	sess *store.Session
	user *store.User
	t    *tenant
	// soft: idle beyond the soft timeout, so the IdP must vouch again (silently) before the session
	// goes on. Users on the exclusion list sign in with a password and have no IdP to ask.
	soft bool
}

// current returns the request's live session, or nil when there is none: no cookie, an unknown or
// ended session, past its hard timeout, or a user that is gone or deactivated.
func (s *Server) current(r *http.Request) (*signedIn, error) {
	ss, err := s.sessions.Current(r)
	if ss == nil || err != nil {
		return nil, err
	}
	u, err := s.st.UserByID(r.Context(), ss.TenantID, ss.UserID)
	var t *tenant
	if err == nil {
		t, err = s.tenantByID(r.Context(), ss.TenantID)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errNoTenant) || (err == nil && !u.Active) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cur := &signedIn{sess: ss, user: u, t: t}
	cur.soft = s.now().Sub(ss.LastSeenAt) >= t.set.ReauthAfter() && !t.set.Excludes(u.UserName)
	return cur, nil
}

// SessionOf returns the request's live session and its user, for the packages that let a signed-in
// person through without owning the cookie (the OpenID provider): nil when there is none, it ended or
// passed its hard timeout, or its user is gone or deactivated. stale reports that it is past the
// tenant's soft timeout: the IdP must vouch again (the SSO's ReauthURL) before it is used. A Pending
// session must complete /welcome first. A session used while not stale counts as used.
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
	exp := now.Add(cur.t.set.SessionTimeout(cur.sess.Mobile))
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
	if !page.SafeReturnTo(here) {
		here = page.DefaultReturnTo
	}
	var status int
	var msg, key, to string
	switch {
	case cur == nil:
		status, msg, key, to = http.StatusUnauthorized, "not signed in", "login", page.WithReturn("/login", here)
	case cur.soft:
		status, msg, key, to = http.StatusUnauthorized, "re-authentication required", "login", s.sso.ReauthURL(cur.t.Slug, here)
	case cur.sess.Pending:
		status, msg, key, to = http.StatusForbidden, "first sign-in incomplete", "welcome", page.WithReturn("/welcome", here)
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
		"user": meUser{ID: u.ID, Tenant: cur.t.Slug, UserName: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName,
			Country: u.Country, Department: u.Department, Team: u.Team, ExternalID: u.ExternalID, Source: string(u.Source)},
		"session": meSession{CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt, ExpiresAt: ss.ExpiresAt, Pending: ss.Pending, Mobile: ss.Mobile},
	})
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
	if h := s.sessions.hashOf(r); h != nil {
		if err := s.st.DeleteSession(r.Context(), h); err != nil {
			s.internal(w, r, "logout", err)
			return
		}
	}
	s.sessions.clearCookie(w)
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
		return
	}
	page.Show(w, http.StatusOK, page.MessageView{View: page.View{Title: "Signed out"}, Message: "You are signed out.", Link: "/login", LinkText: "Sign in again"})
}

// writeJSON writes v as a JSON answer; what this package sends always encodes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	httpjson.Write(w, status, "application/json", v)
}
