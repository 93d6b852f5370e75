package samlsp

import (
	"crypto/subtle"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the server-rendered pages people see. They need no JavaScript: every step is a link or a
// form, so they work with scripts blocked, on a phone and with a screen reader.
var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// contentPolicy forbids scripts, plugins, framing and foreign resources. form-action is left out on
// purpose: Chromium applies it to the redirect that follows a form post, and the email-first form
// redirects to the tenant's IdP, whose origin is known only per tenant.
const contentPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// htmlHeaders are set on every page: never framed, never sniffed, never cached, no referrer leaves
// the site.
func htmlHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null" with the page's own
	// form posts, which the origin check must refuse. Redirects to an IdP set no-referrer themselves.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// view is what every page shows besides its own fields.
type view struct {
	Title string
	Ref   string // the request id, shown so support can find the log lines
}

// render writes one of pages. A template error is a bug, not the client's doing; it is the last
// thing that can go wrong after the status is written, so the page is simply cut short.
func render(w http.ResponseWriter, status int, name string, data any) {
	htmlHeaders(w)
	w.WriteHeader(status)
	pages.ExecuteTemplate(w, name, data)
}

type messageView struct {
	view
	Message        string
	Error          bool
	Link, LinkText string
}

// page writes a plain message page. Nothing in it comes from the request except the reference id.
func page(w http.ResponseWriter, status int, title, message, ref string) {
	render(w, status, "message", messageView{view: view{Title: title, Ref: ref}, Message: message, Error: status >= 400})
}

// CSRF: every form carries the value of the __Host-scimsso_csrf cookie (double submit). The __Host-
// prefix stops a sibling subdomain from planting its own value, SameSite=Strict keeps it off every
// cross-site request, and a cross-site Origin or Sec-Fetch-Site is refused before the token is read.
const csrfCookie = "__Host-scimsso_csrf"

// csrfToken returns the browser's CSRF value, making one (and its cookie) when it has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if v := secretCookie(r, csrfCookie); v != "" {
		return v, nil
	}
	v, _, err := newSecret()
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
	c := secretCookie(r, csrfCookie)
	f := r.PostForm.Get("csrf")
	return s.sameOrigin(r) && c != "" && subtle.ConstantTimeCompare([]byte(c), []byte(f)) == 1
}

// acceptForm reads a people's form post and answers a refusal itself: 400 for an unreadable form,
// 403 for a cross-site post or a missing or wrong CSRF field. title heads the refusal page.
func (s *Server) acceptForm(w http.ResponseWriter, r *http.Request, title string) bool {
	ref := requestRef(r)
	if !parseForm(w, r) {
		page(w, http.StatusBadRequest, title, "The form could not be read. Please start again.", ref)
		return false
	}
	if !s.checkForm(r) {
		page(w, http.StatusForbidden, title, "This form has expired or did not come from this site. Please start again.", ref)
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

// withReturn adds return_to to a local URL when it is not the default.
func withReturn(path, returnTo string) string {
	if returnTo == "" || returnTo == defaultReturnTo {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "return_to=" + url.QueryEscape(returnTo)
}
