// Package csrf guards the forms of scimsso's pages (the people's and the admin console's) against
// cross-site requests: a double-submit token in a cookie and a form field, and a check of the
// request's Origin and Sec-Fetch-Site.
package csrf

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/scimsso/scimsso/internal/secret"
	"github.com/scimsso/scimsso/store"
)

// Cookie holds the browser's CSRF value; every form carries the same value in its Field (double
// submit). The __Host- prefix stops a sibling subdomain from planting its own value, SameSite=Strict
// keeps it off every cross-site request, and a cross-site Origin or Sec-Fetch-Site is refused before
// the token is read. It is Secure on http too: browsers keep Secure cookies of localhost, the one
// place scimsso runs on plain http.
const Cookie = "__Host-scimsso_csrf"

// Field is the form field that carries the value.
const Field = "csrf"

// Guard checks form posts against one site's origin. It is safe for concurrent use.
type Guard struct {
	origin string // BASE's origin, which a form post's Origin header must equal
}

// New returns the guard of the site at baseURL (its scheme and host are the origin forms come from).
func New(baseURL string) (*Guard, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("csrf: base URL %q is not an absolute http(s) URL", baseURL)
	}
	return &Guard{origin: u.Scheme + "://" + u.Host}, nil
}

// Origin is the site's origin ("https://sso.example.com").
func (g *Guard) Origin() string { return g.origin }

// Token returns the browser's CSRF value, making one (and its cookie) when it has none. It fails only
// if crypto/rand does.
func (g *Guard) Token(w http.ResponseWriter, r *http.Request) (string, error) {
	if v := secret.FromCookie(r, Cookie); v != "" {
		return v, nil
	}
	v, _, err := store.NewSecret("")
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: v, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	return v, nil
}

// SameOrigin reports whether a state-changing request comes from this site's own pages: no cross-site
// Sec-Fetch-Site, and an Origin, when the browser sends one, equal to the site's.
func (g *Guard) SameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	return o == "" || o == g.origin
}

// Check refuses a form post that is cross-site or whose Field does not match the cookie (compared in
// constant time). The form must have been parsed (ParseForm, or r.ParseMultipartForm).
func (g *Guard) Check(r *http.Request) bool {
	c := secret.FromCookie(r, Cookie)
	f := r.PostForm.Get(Field)
	return g.SameOrigin(r) && c != "" && subtle.ConstantTimeCompare([]byte(c), []byte(f)) == 1
}

// ParseForm reads a small urlencoded form (at most 16 KiB: the pages' forms are a few fields) and
// reports whether it could.
func ParseForm(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	return r.ParseForm() == nil
}
