// Package platformapi serves the platform API (/api/v1): plain JSON for the platform's own
// application, authenticated by an API key (scimsso apikey create) — the directory of tenants and
// their users, and the event log to keep a copy in sync.
package platformapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/store"
)

// Config holds what the platform API needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	Metrics *metrics.Metrics // where store failures are counted; nil counts nothing
	// BaseURL is the server's public URL, which setup links (BASE/setup/TOKEN) start with.
	BaseURL string
	// Now is the clock of tokens' expiry; nil: time.Now.
	Now func() time.Time

	// What the management API needs of packages it may not import (HTTP packages never import each
	// other), wired by cmd the way the CLI uses them, so both apply one rule.

	// NewSPKeyPair makes a new tenant's SAML service provider key pair (samlsp.GenerateKeyPair).
	NewSPKeyPair func(slug string) (keyPEM, certPEM []byte, err error)
	// NewOIDCClient checks a client and makes it with its secret (openid.NewClient, with the webhook
	// URL rule of AllowHTTPLoopback for a back-channel logout URI).
	NewOIDCClient func(store.OIDCClientSpec) (*store.OIDCClient, string, error)
	// ParseIdPMetadata reads an IdP's metadata document (samlsp.ParseIdPMetadata).
	ParseIdPMetadata func([]byte) (IdPMetadata, error)
	// AllowHTTPLoopback is serve's --allow-http-loopback-webhooks: webhooks may be added for loopback
	// receivers over http, as with `webhook add` given the same flag.
	AllowHTTPLoopback bool
	// MetadataPolicy is where IdP metadata given by URL (the SSO PATCH's metadata_url) may be fetched
	// from: serve's --allow-http-loopback-metadata, the rule of the periodic refresh and of `sso set
	// --metadata-url` given the same flag. The zero Policy allows https to public addresses only.
	MetadataPolicy safefetch.Policy
	// RefreshMetadata fetches a tenant's IdP metadata from its URL now (samlsp's Refresher, built with
	// MetadataPolicy, as `sso refresh-metadata` builds it).
	RefreshMetadata store.MetadataRefresher
	// Resend enqueues one more delivery of event eventID to the webhook (or back-channel logout
	// destination) id, as `webhook deliveries --resend` does (webhooks.Service.Resend): ErrNotFound
	// (wrapped) when the event was never sent there.
	Resend func(ctx context.Context, id, eventID string) error
	// NewTestLink makes a one-time link, valid until expires, that starts a test sign-in of the tenant
	// (samlsp.NewTestLink at BaseURL, as `sso test-link`).
	NewTestLink func(ctx context.Context, t *store.Tenant, expires time.Time) (string, error)
	// RotateOIDCKeys makes new ID token signing keys sign from now on (openid.RotateKeys, as `oidc
	// rotate-key`) and returns them.
	RotateOIDCKeys func(ctx context.Context) ([]store.OIDCKey, error)
	// HashPassword makes the stored hash of a password (people.HashPassword, as `user set-password`).
	HashPassword func(password string) (string, error)
}

// IdPMetadata is what ParseIdPMetadata read of an IdP's metadata.
type IdPMetadata struct {
	EntityID        string
	SSOURL          string
	CertificatesPEM []string
}

// Server serves /api/v1/…. It keeps nothing between requests (a key revoked on any replica stops
// working at once), so it is safe for concurrent use and replicas need not share anything but the store.
type Server struct {
	st      store.Store
	log     *zap.Logger
	metrics *metrics.Metrics
	cfg     Config
	fetch   *safefetch.Fetcher // of IdP metadata given by URL
	// hashing has a slot per password being hashed (argon2id takes 19 MiB each): a flood of password
	// sets waits for slots instead of taking the server's memory.
	hashing chan struct{}
}

// maxHashing is how many passwords the API hashes at once.
const maxHashing = 2

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("platformapi: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("platformapi: Logger is required")
	case cfg.BaseURL == "":
		return nil, errors.New("platformapi: BaseURL is required")
	case cfg.NewSPKeyPair == nil || cfg.NewOIDCClient == nil || cfg.ParseIdPMetadata == nil:
		return nil, errors.New("platformapi: NewSPKeyPair, NewOIDCClient and ParseIdPMetadata are required")
	case cfg.RefreshMetadata == nil || cfg.Resend == nil || cfg.NewTestLink == nil || cfg.RotateOIDCKeys == nil || cfg.HashPassword == nil:
		return nil, errors.New("platformapi: RefreshMetadata, Resend, NewTestLink, RotateOIDCKeys and HashPassword are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	// One Fetcher for the server: its Transport pools connections.
	return &Server{st: cfg.Store, log: cfg.Logger, metrics: cfg.Metrics, cfg: cfg, fetch: safefetch.NewFetcher(cfg.MetadataPolicy),
		hashing: make(chan struct{}, maxHashing)}, nil
}

// Routes mounts the platform API on r. Every path under /api/v1/ asks for a key first, so an unknown
// path tells a caller without one nothing.
func (s *Server) Routes(r *mux.Router) {
	api := r.PathPrefix("/api/v1").Subrouter()
	api.Handle("/tenants", s.methods(
		// Listing tenants is a directory read and also `tenant list`, which a manage key does.
		method{http.MethodGet, store.ScopeDirectoryRead, s.listTenants, store.ScopeManage},
		method{http.MethodPost, store.ScopeManage, s.createTenant, ""}))
	api.Handle("/tenants/{slug}/users", s.get(store.ScopeDirectoryRead, s.listUsers))
	api.Handle("/tenants/{slug}/users/{id}", s.get(store.ScopeDirectoryRead, s.getUser))
	api.Handle("/events", s.get(store.ScopeEventsRead, s.listEvents))
	s.manageRoutes(api)
	api.PathPrefix("/").Handler(s.authenticated("", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "There is no %s in the platform API.", r.URL.Path))
	}))
}

// get serves a read-only endpoint that needs scope.
func (s *Server) get(scope string, h http.HandlerFunc) http.Handler {
	return s.methods(method{http.MethodGet, scope, h, ""})
}

// method is what one HTTP method of a path does, and the scope it needs (or, when orScope is not
// empty, that one instead).
type method struct {
	name    string
	scope   string
	h       http.HandlerFunc
	orScope string
}

// methods serves a path by its methods: a live key first (401), then a method it serves (405 with
// Allow; GET also serves HEAD), then that method's scope (403), so a caller without a key learns
// nothing, and one with a key learns what the path offers before what its key lacks.
func (s *Server) methods(ms ...method) http.Handler {
	var allow []string
	for _, m := range ms {
		allow = append(allow, m.name)
		if m.name == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	return s.authenticated("", func(w http.ResponseWriter, r *http.Request) {
		for _, m := range ms {
			if r.Method == m.name || (r.Method == http.MethodHead && m.name == http.MethodGet) {
				if k := keyOf(r); !k.Allows(m.scope) && (m.orScope == "" || !k.Allows(m.orScope)) {
					need := m.scope
					if m.orScope != "" {
						need += " or " + m.orScope
					}
					s.writeError(w, r, errorf(http.StatusForbidden, codeForbidden, "This API key lacks the scope %s (it has %s).", need, strings.Join(k.Scopes, ", ")))
					return
				}
				m.h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "This path serves %s only.", strings.Join(allow, ", ")))
	})
}

type keyCtx struct{}

// keyOf returns the API key authenticated reads for r.
func keyOf(r *http.Request) *store.APIKey {
	k, _ := r.Context().Value(keyCtx{}).(*store.APIKey)
	return k
}

// authenticated answers 401 unless r carries a live API key, and 403 unless that key grants scope
// ("" asks for none), before h runs. A missing, malformed, unknown and revoked key get the same
// answer: it says what to send, never which of these it was. The key is looked up by its SHA-256,
// so its comparison takes the same time whatever the key (the index finds a hash or not; the bytes
// found are compared again in constant time). Keys have full entropy, so guessing one is hopeless
// and needs no throttle.
func (s *Server) authenticated(scope string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := bearerToken(r.Header.Get("Authorization"))
		if !store.IsSecret(store.APIKeyPrefix, key) {
			s.writeError(w, r, errUnauthorized) // never issued: no lookup needed
			return
		}
		sum := store.HashSecret(key)
		k, err := s.st.APIKeyByHash(r.Context(), sum)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.writeError(w, r, errUnauthorized)
			return
		case err != nil:
			s.writeError(w, r, err) // the store failed: 503 or a logged 500, not a misleading 401
			return
		case subtle.ConstantTimeCompare(k.Hash, sum) != 1 || !k.Live():
			s.writeError(w, r, errUnauthorized)
			return
		case scope != "" && !k.Allows(scope):
			s.writeError(w, r, errorf(http.StatusForbidden, codeForbidden, "This API key lacks the scope %s (it has %s).", scope, strings.Join(k.Scopes, ", ")))
			return
		}
		// The store records every change with who made it (the admin audit log), in the change's own
		// transaction: here, this key.
		ctx := store.WithActor(context.WithValue(r.Context(), keyCtx{}, k), store.Actor{Kind: store.ActorAPIKey, ID: k.ID, Name: k.Name})
		h(w, r.WithContext(ctx))
	})
}

// bearerToken returns the credentials of an "Authorization: Bearer …" header (scheme in any case,
// RFC 7235), "" for any other header.
func bearerToken(h string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}
