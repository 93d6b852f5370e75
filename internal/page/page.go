// Package page is the frame of every HTML page scimsso shows people (layout, security headers, the
// plain message and refusal pages) and the rule for where a browser may be sent back to. The SAML
// service provider and the people's web each render their own pages inside it.
package page

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/store"
)

//go:embed layout.html
var layoutFS embed.FS

// frame is the layout alone: the message page.
var frame = Parse(nil)

// Parse returns the layout ("top", "bottom" and "message") with the templates of fsys matching
// patterns defined beside it. Pages need no JavaScript: every step is a link or a form, so they work
// with scripts blocked, on a phone and with a screen reader. It panics on a template error (a bug,
// found when the package loads).
func Parse(fsys fs.FS, patterns ...string) *template.Template {
	t := template.Must(template.ParseFS(layoutFS, "layout.html"))
	if fsys != nil {
		t = template.Must(t.ParseFS(fsys, patterns...))
	}
	return t
}

// contentPolicy forbids scripts, plugins, framing and foreign resources. form-action is left out on
// purpose: Chromium applies it to the redirect that follows a form post, and the email-first form
// redirects to the tenant's IdP, whose origin is known only per tenant.
const contentPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// Headers sets what every page carries: never framed, never sniffed, never cached, no referrer leaves
// the site.
func Headers(w http.ResponseWriter) {
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

// View is what every page shows besides its own fields.
type View struct {
	Title string
	Ref   string // the request id, shown so support can find the log lines
}

// Render writes the page name of t with data. A template error is a bug, not the client's doing; it
// is the last thing that can go wrong after the status is written, so the page is simply cut short.
func Render(w http.ResponseWriter, t *template.Template, status int, name string, data any) {
	Headers(w)
	w.WriteHeader(status)
	t.ExecuteTemplate(w, name, data)
}

// MessageView is the message page's data.
type MessageView struct {
	View
	Message        string
	Error          bool
	Link, LinkText string
}

// Show writes the message page with v.
func Show(w http.ResponseWriter, status int, v MessageView) { Render(w, frame, status, "message", v) }

// Message writes a plain message page, an error for a status of 400 or more. Nothing in it comes from
// the request except the reference id.
func Message(w http.ResponseWriter, status int, title, message, ref string) {
	Show(w, status, MessageView{View: View{Title: title, Ref: ref}, Message: message, Error: status >= 400})
}

// Failed answers a store or configuration failure: a plain page with the reference, the cause in the
// log, counted in m (nil counts nothing). An unreachable database is a 503 (cmd's middleware adds
// Retry-After): nothing is wrong with the request, and the same one will work once the database is back.
func Failed(w http.ResponseWriter, log *zap.Logger, m *metrics.Metrics, ref, what string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		m.StoreError(metrics.StoreUnavailable)
		log.Warn(what+": store unavailable", zap.String("request_id", ref), zap.Error(err))
		Message(w, http.StatusServiceUnavailable, "Sign-in is unavailable for a moment", "Please try again in a minute.", ref)
		return
	}
	m.StoreError(metrics.StoreInternal)
	log.Error(what+" failed", zap.String("request_id", ref), zap.Error(err))
	Message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.", ref)
}

// Ref is the request's id, set by cmd's middleware, shown to people as a reference; "-" when there is
// none (a handler tested on its own).
func Ref(r *http.Request) string {
	if id := requestid.From(r.Context()); id != "" {
		return id
	}
	return "-"
}

// DefaultReturnTo is where a sign-in lands when nobody asked for a page.
const DefaultReturnTo = "/me"

// MaxReturnTo bounds a return path. It is stored with every outstanding AuthnRequest, which anyone can
// start, so it bounds what each of them makes the store hold; a longer path is not kept (the sign-in
// lands on DefaultReturnTo, or a direct /saml/{tenant}/login is refused).
const MaxReturnTo = 512

// SafeReturnTo reports whether v is a path on this server that is safe to redirect to: it starts with
// one '/', has no backslash, control character or space, is at most MaxReturnTo bytes, and parses with
// no scheme, host or user.
// Browsers strip tabs and newlines and read '\' as '/', so "/\evil.com" or "/%09/evil.com" would leave.
func SafeReturnTo(v string) bool {
	if v == "" || len(v) > MaxReturnTo || v[0] != '/' || strings.HasPrefix(v, "//") {
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

// WithReturn adds return_to to a local URL when it is not DefaultReturnTo.
func WithReturn(path, returnTo string) string {
	if returnTo == "" || returnTo == DefaultReturnTo {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "return_to=" + url.QueryEscape(returnTo)
}
