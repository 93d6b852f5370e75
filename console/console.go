// Package console is the tenant admin console (SPEC "Admins: console, setup links, management API"):
// the server-rendered pages at /admin/{tenant}/ where a customer's IT admin sets their tenant up, and
// the one-time setup links (/setup/{token}) that open it. A console session lives in its own cookie,
// limited to one tenant and to the scopes it was given; every change goes through the store with the
// admin as its actor (store.WithActor), so the admin audit log records who did it.
//
// What the console needs of the people's web and the SAML service provider (who is signed in, a test
// sign-in link, the SP's URLs, the IdP metadata parser) is a function of its Config, wired by cmd:
// this package imports neither.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/csrf"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/internal/secret"
	"github.com/scimsso/scimsso/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the console's pages, inside the common frame.
var pages = page.Parse(templateFS, "templates/*.html")

// The console cookie names a console session. With an https BASE it is __Host-: browsers then take it
// only when Secure, for Path=/ and without Domain, so a sibling subdomain or a page on plain http
// cannot plant a session of its choosing. Over plain http (local use) a __Host- cookie would need
// Secure, which browsers grant only to localhost, so the plain name is kept there (as the people's
// session cookie does).
const (
	cookieHost  = "__Host-scimsso_admin"
	cookiePlain = "scimsso_admin"
)

// SessionLifetime is how long a console session lasts from when it was opened, used or not: an admin
// sets up SSO in one sitting, and a session that cannot outlive a working day bounds what a stolen
// cookie is worth. A tenant admin who is still signed in gets a new one by opening the console again.
const SessionLifetime = 8 * time.Hour

// IdP is what the console shows and stores of an identity provider's metadata.
type IdP struct {
	EntityID        string
	SSOURL          string
	CertificatesPEM []string
}

// Config holds what the console needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	BaseURL string           // public base URL: https makes the cookie __Host- and Secure; form posts' Origin must be its origin
	Now     func() time.Time // nil: time.Now
	Metrics *metrics.Metrics // where store failures are counted; nil counts nothing

	// SignedIn returns the browser's live people session (nil when there is none, it ended or passed
	// its hard timeout, or its user is gone or deactivated) and whether it is stale: idle beyond the
	// tenant's soft timeout, so the IdP must vouch again before it is used (the people pages' rule).
	// cmd passes people.Server.SessionOf. A tenant admin enters the console with it.
	SignedIn func(*http.Request) (sess *store.Session, stale bool, err error)
	// ReauthURL is where a stale session is sent to be renewed silently at the tenant's IdP, landing
	// back on returnTo (samlsp.Server.ReauthURL).
	ReauthURL func(slug, returnTo string) string
	// TestLink makes a one-time link that starts a test sign-in of the tenant (samlsp.NewTestLink).
	TestLink func(ctx context.Context, t *store.Tenant) (string, error)
	// MetadataURL and ACSURL are the tenant's SP metadata URL (also its entity ID) and ACS URL, as the
	// SAML service provider builds them.
	MetadataURL, ACSURL func(slug string) string
	// ParseMetadata reads IdP metadata (samlsp.ParseIdPMetadata); its error is shown to the admin.
	ParseMetadata func([]byte) (*IdP, error)
	// FetchMetadata downloads IdP metadata from a URL the admin gave.
	FetchMetadata func(ctx context.Context, url string) ([]byte, error)
	// Refresher is the SSO page's "Refresh now" of metadata given by URL (samlsp.Refresher, the one
	// the periodic refresh runs); the context it is given carries the admin as the actor.
	Refresher store.MetadataRefresher
	// RefreshInterval is how often metadata given by URL is fetched again by itself (serve
	// --metadata-refresh), as the SSO page tells; 0: never, only with Refresh now.
	RefreshInterval time.Duration
}

// Server serves the console. Everything a request needs lives in the store, so replicas share it. It
// is safe for concurrent use.
type Server struct {
	cfg    Config
	st     store.Store
	log    *zap.Logger
	csrf   *csrf.Guard
	secure bool
	now    func() time.Time
	// nav lists the console's pages in the order the nav shows them; a page appears to a session
	// whose scopes allow it.
	nav []navPage
}

// navPage is a page of the console's nav.
type navPage struct {
	path  string // below /admin/{tenant}/: "" for the overview, "sso"
	title string
	scope string // the scope it needs; "" for every console session
}

// New checks cfg and builds the console.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("console: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("console: Logger is required")
	case cfg.SignedIn == nil:
		return nil, errors.New("console: SignedIn is required")
	case cfg.ReauthURL == nil:
		return nil, errors.New("console: ReauthURL is required")
	case cfg.TestLink == nil:
		return nil, errors.New("console: TestLink is required")
	case cfg.MetadataURL == nil || cfg.ACSURL == nil:
		return nil, errors.New("console: MetadataURL and ACSURL are required")
	case cfg.ParseMetadata == nil:
		return nil, errors.New("console: ParseMetadata is required")
	case cfg.FetchMetadata == nil:
		return nil, errors.New("console: FetchMetadata is required")
	case cfg.Refresher == nil:
		return nil, errors.New("console: Refresher is required")
	}
	guard, err := csrf.New(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	u, _ := url.Parse(cfg.BaseURL)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Server{cfg: cfg, st: cfg.Store, log: cfg.Logger, csrf: guard, secure: u.Scheme == "https", now: now,
		nav: []navPage{{"", "Overview", ""}, {"sso", "SSO", store.AdminScopeSSO}, {"scim", "SCIM", store.AdminScopeSCIM},
			{"people", "People", ""}, {"teams", "Teams", store.AdminScopeSSO}, {"signins", "Sign-in log", store.AdminScopeSSO},
			{"audit", "Audit", ""}}}, nil
}

// Routes mounts the console on r.
func (s *Server) Routes(r *mux.Router) {
	r.HandleFunc("/setup/{token}", s.setupPage).Methods(http.MethodGet)
	r.HandleFunc("/setup/{token}", s.setupUse).Methods(http.MethodPost)
	r.HandleFunc("/admin/{tenant}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/"+url.PathEscape(mux.Vars(r)["tenant"])+"/", http.StatusMovedPermanently)
	}).Methods(http.MethodGet)
	s.handle(r, http.MethodGet, "/", "", s.overview)
	s.handle(r, http.MethodPost, "/signout", "", s.signOut)
	s.ssoRoutes(r)
	s.scimRoutes(r)
	s.peopleRoutes(r)
	s.teamsRoutes(r)
	s.signInRoutes(r)
	s.auditRoutes(r)
}

// request is one console request that passed the checks: the tenant of the route, the console
// session (of that tenant, allowed the route's scope) and the actor its changes are recorded with.
type request struct {
	Tenant  *store.Tenant
	Session *store.AdminSession
	// Ctx is the request's context carrying the actor: pass it to every store write.
	Ctx   context.Context
	Actor store.Actor
	CSRF  string
}

// handlerFunc is the shape of a console page's handler: it runs only for a console session of the
// route's tenant that its scope allows, and, for a POST, after the form (urlencoded, or multipart for
// handleMultipart) passed the CSRF checks.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *request)

// handle mounts fn at /admin/{tenant}{path} for method, for sessions allowed scope ("": every
// session).
func (s *Server) handle(r *mux.Router, method, path, scope string, fn handlerFunc) {
	r.HandleFunc("/admin/{tenant}"+path, s.guard(method, scope, 0, fn)).Methods(method)
}

// handleMultipart is handle for a POST of a multipart form (a file upload) of at most limit bytes.
func (s *Server) handleMultipart(r *mux.Router, path, scope string, limit int64, fn handlerFunc) {
	r.HandleFunc("/admin/{tenant}"+path, s.guard(http.MethodPost, scope, limit, fn)).Methods(http.MethodPost)
}

// guard is every console route's check, in this order: the browser's console session (or, failing
// that, a tenant admin's people session, which opens one); the route's tenant must be the session's,
// else the same 404 as for a tenant that does not exist, so no refusal tells which tenants exist; the
// route's scope; for a POST, the form and its CSRF token.
func (s *Server) guard(method, scope string, multipart int64, fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ses, t, ok := s.session(w, r, method)
		if !ok {
			return
		}
		if scope != "" && !ses.Allows(scope) {
			scopeRefused(w, r)
			return
		}
		c := &request{Tenant: t, Session: ses}
		actor, err := s.actor(r.Context(), ses)
		if err != nil {
			s.failed(w, r, "console actor", err)
			return
		}
		if actor == nil { // a tenant admin's session whose user was deactivated or is gone: refused
			s.notFound(w, r)
			return
		}
		c.Actor = *actor
		c.Ctx = store.WithActor(r.Context(), *actor)
		if method == http.MethodPost {
			if !s.acceptForm(w, r, multipart) {
				return
			}
		}
		if c.CSRF, err = s.csrf.Token(w, r); err != nil {
			s.failed(w, r, "console csrf", err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fn(w, r, c)
	}
}

// session finds the console session for the route's tenant, or answers the request itself: a 404
// for another tenant's session, a signed-in person who is not an admin of the tenant, or a tenant
// that does not exist; with no session at all, a GET goes to sign in and comes back.
func (s *Server) session(w http.ResponseWriter, r *http.Request, method string) (*store.AdminSession, *store.Tenant, bool) {
	ctx := r.Context()
	slug := mux.Vars(r)["tenant"]
	ses, err := s.consoleSession(r)
	if err != nil {
		s.failed(w, r, "console session", err)
		return nil, nil, false
	}
	if ses != nil {
		t, err := s.st.TenantByID(ctx, ses.TenantID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.failed(w, r, "console tenant", err)
			return nil, nil, false
		}
		if err == nil && t.Slug == slug {
			return ses, t, true
		}
		// Another tenant's console session: maybe the person is also signed in as an admin of this one.
	}
	ps, stale, err := s.cfg.SignedIn(r)
	if err != nil {
		s.failed(w, r, "console people session", err)
		return nil, nil, false
	}
	if ps == nil {
		if ses == nil && method == http.MethodGet {
			http.Redirect(w, r, "/login?return_to="+url.QueryEscape("/admin/"+url.PathEscape(slug)+"/"), http.StatusSeeOther)
			return nil, nil, false
		}
		s.notFound(w, r)
		return nil, nil, false
	}
	t, err := s.st.TenantBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (t.ID != ps.TenantID || ps.Pending)) {
		s.notFound(w, r)
		return nil, nil, false
	}
	if err != nil {
		s.failed(w, r, "console tenant", err)
		return nil, nil, false
	}
	admin, err := s.st.IsAdmin(ctx, t.ID, ps.UserID)
	if err != nil {
		s.failed(w, r, "console admin", err)
		return nil, nil, false
	}
	if !admin {
		s.notFound(w, r)
		return nil, nil, false
	}
	if method != http.MethodGet {
		// A POST needs the console session its form was rendered with.
		s.notFound(w, r)
		return nil, nil, false
	}
	if stale {
		// Idle past the soft timeout: the IdP vouches again (silently) before the console opens, as
		// before the people's pages; a failed renewal ends the session and sends the person to sign in.
		here := r.URL.RequestURI()
		if !page.SafeReturnTo(here) {
			here = "/admin/" + url.PathEscape(t.Slug) + "/"
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.cfg.ReauthURL(t.Slug, here), http.StatusSeeOther)
		return nil, nil, false
	}
	// The console session ends with the people session it is opened from (store.AdminSession).
	ses, err = s.open(w, r, &store.AdminSession{TenantID: t.ID, UserID: ps.UserID, PeopleSession: ps.IDHash,
		Scopes: []string{store.AdminScopeSSO, store.AdminScopeSCIM, store.AdminScopeAdmins}}, nil)
	if errors.Is(err, store.ErrNotAdmin) || errors.Is(err, store.ErrNotFound) {
		// The admin right or the people session went as the session was being opened.
		s.notFound(w, r)
		return nil, nil, false
	}
	if err != nil {
		s.failed(w, r, "console open session", err)
		return nil, nil, false
	}
	return ses, t, true
}

// consoleSession returns the browser's live console session, or nil.
func (s *Server) consoleSession(r *http.Request) (*store.AdminSession, error) {
	v := secret.FromCookie(r, s.cookie())
	if v == "" {
		return nil, nil
	}
	ses, err := s.st.AdminSessionByHash(r.Context(), store.HashSecret(v))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return ses, err
}

// open stores a new console session (a tenant admin's by CreateAdminSession, or through use, which
// stores it with the setup link it uses) and gives the browser its cookie.
func (s *Server) open(w http.ResponseWriter, r *http.Request, ses *store.AdminSession, use func(*store.AdminSession) error) (*store.AdminSession, error) {
	v, hash, err := store.NewSecret("")
	if err != nil {
		return nil, err
	}
	ses.IDHash, ses.ExpiresAt = hash, s.now().Add(SessionLifetime)
	if use != nil {
		err = use(ses)
	} else {
		err = s.st.CreateAdminSession(r.Context(), ses)
	}
	if err != nil {
		return nil, err
	}
	// HttpOnly; SameSite=Strict: the console is reached from its own pages, a bookmark or a typed
	// address, never from another site, so a cross-site request (a link, a form, an image on a
	// hostile page) carries no console session at all; a tenant admin who follows a link from
	// elsewhere is let in again by their people session (SameSite=Lax). No Max-Age: the server decides
	// when the session is over (SessionLifetime).
	http.SetCookie(w, &http.Cookie{Name: s.cookie(), Value: v, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	return ses, nil
}

// cookie is the console cookie's name for this server's BASE.
func (s *Server) cookie() string {
	if s.secure {
		return cookieHost
	}
	return cookiePlain
}

// actor is who a console session's changes are recorded as: the tenant admin (nil when that user no
// longer exists or was deactivated) or the setup link.
func (s *Server) actor(ctx context.Context, ses *store.AdminSession) (*store.Actor, error) {
	if ses.UserID == "" {
		return &store.Actor{Kind: store.ActorSetupLink, ID: ses.SetupLinkID}, nil
	}
	u, err := s.st.UserByID(ctx, ses.TenantID, ses.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, nil
	}
	return &store.Actor{Kind: store.ActorAdmin, ID: u.ID, Name: u.UserName}, nil
}

// acceptForm reads a form post and checks its CSRF token, answering a refusal itself: 400 for an
// unreadable form, 403 for a cross-site post or a missing or wrong token.
func (s *Server) acceptForm(w http.ResponseWriter, r *http.Request, multipart int64) bool {
	ok := false
	if multipart > 0 {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			// The whole body is capped; the form's fields and file are held in memory up to it.
			r.Body = http.MaxBytesReader(w, r.Body, multipart+64<<10)
			ok = r.ParseMultipartForm(multipart+64<<10) == nil
		}
	} else {
		ok = csrf.ParseForm(w, r)
	}
	if !ok {
		page.Message(w, http.StatusBadRequest, "Cannot save", "The form could not be read. Please go back and try again.", page.Ref(r))
		return false
	}
	if !s.csrf.Check(r) {
		page.Message(w, http.StatusForbidden, "Cannot save", "This form has expired or did not come from this site. Please reload the page and try again.", page.Ref(r))
		return false
	}
	return true
}

// scopeRefused is the refusal of a page the console session's scopes do not include.
func scopeRefused(w http.ResponseWriter, r *http.Request) {
	page.Message(w, http.StatusForbidden, "Not allowed", "This console session does not include this page. Ask for a setup link that does.", page.Ref(r))
}

// notFound is the one refusal of a tenant the session may not see, whether or not it exists.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	page.Message(w, http.StatusNotFound, "Not found", "There is no such page.", page.Ref(r))
}

// failed answers a store or configuration failure.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, what string, err error) {
	page.Failed(w, s.log, s.cfg.Metrics, page.Ref(r), what, err)
}

// view is what every console page shows besides its own fields.
type view struct {
	page.View
	Slug, TenantName string
	Nav              []navLink
	CSRF             string
	Who              string // who is signed in: the admin's email, or "a setup link"
	Notice           string // what the last change did, shown once at the top
}

// navLink is an entry of the nav.
type navLink struct {
	Title, Href string
	Current     bool
}

// view returns the frame of a page of c titled title, whose nav marks path as the current page.
func (s *Server) view(r *http.Request, c *request, title, path string) view {
	v := view{View: page.View{Title: title, Ref: page.Ref(r)}, Slug: c.Tenant.Slug, TenantName: c.Tenant.Name, CSRF: c.CSRF}
	for _, p := range s.nav {
		if p.scope == "" || c.Session.Allows(p.scope) {
			v.Nav = append(v.Nav, navLink{Title: p.title, Href: s.pagePath(c, p.path), Current: p.path == path})
		}
	}
	v.Who = "a setup link"
	if c.Actor.Kind == store.ActorAdmin {
		v.Who = c.Actor.Name
	}
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Notice = "Saved."
	case "metadata":
		v.Notice = "The IdP's metadata is stored."
	case "state":
		v.Notice = "The SSO state is changed."
	case "revoked":
		v.Notice = "The token is revoked."
	case "exclude":
		v.Notice = "The exclusion list is saved."
	case "admin-added":
		v.Notice = "The admin is added."
	case "admin-removed":
		v.Notice = "The admin is removed."
	case "team":
		v.Notice = "The team is added."
	case "map":
		v.Notice = "The department map is replaced."
	}
	return v
}

// pagePath is the path of the tenant's console page p ("" for the overview).
func (s *Server) pagePath(c *request, p string) string {
	return "/admin/" + url.PathEscape(c.Tenant.Slug) + "/" + p
}

// render writes the page name with data.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	page.Render(w, pages, status, name, data)
}

// overviewView is the overview page's data.
type overviewView struct {
	view
	State       string
	IdPEntityID string
	SessionEnds time.Time
	Warnings    []string
	HasSSO      bool
	certHealth
	// RefreshFailure is why the last fetch of the metadata URL failed, as recorded; "" when it did not.
	RefreshFailure string
}

// overview is the console's first page: the tenant, its SSO state, and what to do next.
// The SSO state, the IdP, the settings' warnings, the IdP certificates' expiry and a failed refresh
// of its metadata are shown only to a session with the sso scope: a SCIM-only link is not told how
// the tenant's people sign in.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, c *request) {
	v := overviewView{view: s.view(r, c, "Console of "+c.Tenant.Name, ""), SessionEnds: c.Session.ExpiresAt,
		HasSSO: c.Session.Allows(store.AdminScopeSSO)}
	if v.HasSSO {
		set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
		if err != nil {
			s.failed(w, r, "console overview", err)
			return
		}
		v.State, v.IdPEntityID, v.Warnings = string(set.State), set.IdPEntityID, set.Warnings()
		v.certHealth = newCertHealth(s.certViews(set.IdPCertificatesPEM), set.IdPMetadataURL != "")
		refresh, err := s.refreshState(r.Context(), c.Tenant.ID, set.IdPMetadataURL)
		if err != nil {
			s.failed(w, r, "console overview", err)
			return
		}
		if refresh != nil {
			v.RefreshFailure = refresh.Failure
		}
	}
	s.render(w, http.StatusOK, "overview", v)
}

// signOut ends the console session and clears its cookie. A tenant admin's people session stays: it
// is the people's web that signs them out of scimsso.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, c *request) {
	if err := s.st.EndAdminSession(r.Context(), c.Session.IDHash); err != nil {
		s.failed(w, r, "console sign out", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	page.Show(w, http.StatusOK, page.MessageView{View: page.View{Title: "Signed out of the console"}, Message: "You are signed out of the console."})
}
