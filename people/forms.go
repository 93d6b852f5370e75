package people

import (
	"crypto/subtle"
	"embed"
	"net/http"
	"strings"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/internal/secret"
	"github.com/scimsso/scimsso/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the people's pages, inside the common frame.
var pages = page.Parse(templateFS, "templates/*.html")

// CSRF: every form carries the value of the __Host-scimsso_csrf cookie (double submit). The __Host-
// prefix stops a sibling subdomain from planting its own value, SameSite=Strict keeps it off every
// cross-site request, and a cross-site Origin or Sec-Fetch-Site is refused before the token is read.
const csrfCookie = "__Host-scimsso_csrf"

// csrfToken returns the browser's CSRF value, making one (and its cookie) when it has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if v := secret.FromCookie(r, csrfCookie); v != "" {
		return v, nil
	}
	v, _, err := store.NewSecret("")
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	return v, nil
}

// sameOrigin reports whether a state-changing request comes from this site's own pages: no cross-site
// Sec-Fetch-Site, and an Origin, when the browser sends one, equal to BASE's.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	return o == "" || o == s.origin
}

// checkForm refuses a form post that is cross-site or whose CSRF field does not match the cookie.
// r.ParseForm must have run.
func (s *Server) checkForm(r *http.Request) bool {
	c := secret.FromCookie(r, csrfCookie)
	f := r.PostForm.Get("csrf")
	return s.sameOrigin(r) && c != "" && subtle.ConstantTimeCompare([]byte(c), []byte(f)) == 1
}

// acceptForm reads a people's form post and answers a refusal itself: 400 for an unreadable form,
// 403 for a cross-site post or a missing or wrong CSRF field. title heads the refusal page.
func (s *Server) acceptForm(w http.ResponseWriter, r *http.Request, title string) bool {
	ref := page.Ref(r)
	if !parseForm(w, r) {
		page.Message(w, http.StatusBadRequest, title, "The form could not be read. Please start again.", ref)
		return false
	}
	if !s.checkForm(r) {
		page.Message(w, http.StatusForbidden, title, "This form has expired or did not come from this site. Please start again.", ref)
		return false
	}
	return true
}

// parseForm reads a small urlencoded form (at most 16 KiB): the people's forms are a few fields.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	return r.ParseForm() == nil
}

// wantsHTML reports whether the client is a browser navigating (it gets redirects and pages); anything
// else gets JSON with the URL to go to.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
