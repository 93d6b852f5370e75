// Package people is the people's web: their sessions and its cookie, the email-first sign-in page,
// passwords for the users a tenant excludes from SSO, the first sign-in form (/welcome), /me and
// /logout. An identity provider's sign-in is verified elsewhere (package samlsp) and handed to
// Sessions.Start; a person who must sign in at their IdP is handed to the SSO the caller passes.
package people

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/csrf"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

// touchInterval: a session's last use is written at most this often.
const touchInterval = time.Minute

// SSO is how the people's web sends a person to their organisation's identity provider. cmd passes the
// SAML service provider (samlsp.Server); this package never imports it.
type SSO interface {
	// StartSignIn answers r by starting a sign-in at the IdP of the tenant with that slug (a redirect
	// there, the request bound to this browser) that lands on returnTo; purpose is store.PurposeSignIn
	// or store.PurposeMobile. It answers with a page of its own when the tenant's SSO cannot start.
	StartSignIn(w http.ResponseWriter, r *http.Request, slug, returnTo string, purpose store.Purpose)
	// ReauthURL is the local URL that starts the silent re-authentication (IsPassive) of the browser's
	// session at the tenant's IdP, landing on returnTo: where a session idle beyond its soft timeout
	// is sent.
	ReauthURL(slug, returnTo string) string
}

// Config holds what the people's web needs, ready to use.
type Config struct {
	Store    store.Store
	Logger   *zap.Logger
	BaseURL  string           // public base URL; a form post's Origin must be its origin
	Now      func() time.Time // nil: time.Now
	Sessions *Sessions        // the session starter, shared with whoever verifies sign-ins
	SSO      SSO
	// ForwardAuthHosts are the hosts (host, or host:port) of the applications behind forward
	// authentication that a person may be sent back to after signing in; see ParseForwardAuthHosts.
	ForwardAuthHosts []string
	Metrics          *metrics.Metrics // where store failures are counted; nil counts nothing
	// Refusals counts refusals past the sign-in log's cap in memory (store.SignInMeter); its owner
	// runs and flushes it, and one meter may serve several servers. nil: one of its own, which writes a
	// minute's counts only when a later refusal comes.
	Refusals *store.SignInMeter
}

// Server serves the people's pages. Everything a request needs lives in the store, so replicas share
// it. It is safe for concurrent use.
type Server struct {
	st       store.Store
	log      *zap.Logger
	metrics  *metrics.Metrics
	sessions *Sessions
	sso      SSO
	origin   string // BASE's origin, which a form post's Origin header must equal
	csrf     *csrf.Guard
	base     string // BASE without a trailing slash

	forwardHosts []forwardHost
	now          func() time.Time
	refusals     *store.SignInMeter // counts refusals past the log's cap in memory

	passwordChecks chan struct{} // a slot per password check running (argon2id takes 19 MiB each)

	mu    sync.Mutex
	cache map[string]*tenant // by tenant ID
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("people: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("people: Logger is required")
	case cfg.Sessions == nil:
		return nil, errors.New("people: Sessions is required")
	case cfg.SSO == nil:
		return nil, errors.New("people: SSO is required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("people: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	var hosts []forwardHost
	for _, e := range cfg.ForwardAuthHosts {
		h, err := parseForwardHost(e, cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("people: ForwardAuthHosts: %w", err)
		}
		hosts = append(hosts, h)
	}
	guard, err := csrf.New(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("people: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Server{st: cfg.Store, log: cfg.Logger, sessions: cfg.Sessions, metrics: cfg.Metrics, sso: cfg.SSO, origin: u.Scheme + "://" + u.Host, csrf: guard,
		base: strings.TrimRight(cfg.BaseURL, "/"), forwardHosts: hosts, now: now,
		passwordChecks: make(chan struct{}, maxPasswordChecks), cache: map[string]*tenant{},
		refusals: cmp.Or(cfg.Refusals, store.NewSignInMeter(cfg.Store, now))}, nil
}

// Routes mounts the people's pages on r.
func (s *Server) Routes(r *mux.Router) {
	r.HandleFunc("/login", s.loginPage).Methods(http.MethodGet)
	r.HandleFunc("/login", s.loginSubmit).Methods(http.MethodPost)
	r.HandleFunc("/welcome", s.welcome).Methods(http.MethodGet)
	r.HandleFunc("/welcome", s.welcomeSubmit).Methods(http.MethodPost)
	r.HandleFunc("/me", s.me).Methods(http.MethodGet)
	r.HandleFunc("/logout", s.logout).Methods(http.MethodPost)
	r.HandleFunc("/auth/verify", s.verify).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/auth/continue", s.continueTo).Methods(http.MethodGet)
}

// tenant is a tenant with the SSO settings its people's pages follow.
type tenant struct {
	*store.Tenant
	set *store.SSOSettings
}

// errNoTenant means no tenant has that slug or ID.
var errNoTenant = errors.New("no such tenant")

// tenantBySlug returns the tenant and its settings. One indexed lookup reads the tenant (with its
// domains) and its settings' version; the settings are read again only when that version changed, so
// an edit made through any replica applies at the next request. A tenant without stored settings has
// SSO off.
func (s *Server) tenantBySlug(ctx context.Context, slug string) (*tenant, error) {
	t, version, err := s.st.TenantSSOVersion(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoTenant
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c := s.cache[t.ID]
	s.mu.Unlock()
	if c == nil || c.set.Version != version {
		set, err := s.st.SSOSettings(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			set, err = &store.SSOSettings{TenantID: t.ID, State: store.SSOOff}, nil
		}
		if err != nil {
			return nil, err
		}
		c = &tenant{set: set}
	}
	c = &tenant{Tenant: t, set: c.set}
	s.mu.Lock()
	s.cache[t.ID] = c
	s.mu.Unlock()
	return c, nil
}

// tenantByID is tenantBySlug for a session's tenant. Its slug is almost always cached, so this is the
// same one lookup; only a cold cache reads the tenant first.
func (s *Server) tenantByID(ctx context.Context, id string) (*tenant, error) {
	s.mu.Lock()
	c := s.cache[id]
	s.mu.Unlock()
	var slug string
	if c != nil {
		slug = c.Slug
	} else {
		t, err := s.st.TenantByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoTenant
		}
		if err != nil {
			return nil, err
		}
		slug = t.Slug
	}
	c, err := s.tenantBySlug(ctx, slug)
	if err == nil && c.ID != id {
		return nil, errNoTenant
	}
	return c, err
}

// internal answers a store failure: a plain page with the reference, the cause in the log (503 when
// the store is unreachable, else 500). It is the one place this package turns an error into a page.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	page.Failed(w, s.log, s.metrics, page.Ref(r), what, err)
}
