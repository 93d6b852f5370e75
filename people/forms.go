package people

import (
	"embed"
	"net/http"
	"strings"

	"github.com/scimsso/scimsso/internal/csrf"
	"github.com/scimsso/scimsso/internal/page"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the people's pages, inside the common frame.
var pages = page.Parse(templateFS, "templates/*.html")

// csrfToken returns the browser's CSRF value (csrf.Cookie), making one when it has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	return s.csrf.Token(w, r)
}

// sameOrigin reports whether a state-changing request comes from this site's own pages.
func (s *Server) sameOrigin(r *http.Request) bool { return s.csrf.SameOrigin(r) }

// acceptForm reads a people's form post and answers a refusal itself: 400 for an unreadable form,
// 403 for a cross-site post or a missing or wrong CSRF field. title heads the refusal page.
func (s *Server) acceptForm(w http.ResponseWriter, r *http.Request, title string) bool {
	ref := page.Ref(r)
	if !csrf.ParseForm(w, r) {
		page.Message(w, http.StatusBadRequest, title, "The form could not be read. Please start again.", ref)
		return false
	}
	if !s.csrf.Check(r) {
		page.Message(w, http.StatusForbidden, title, "This form has expired or did not come from this site. Please start again.", ref)
		return false
	}
	return true
}

// wantsHTML reports whether the client is a browser navigating (it gets redirects and pages); anything
// else gets JSON with the URL to go to.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
