// Package platformapi serves the platform API (/api/v1): plain JSON for the platform's own
// application, authenticated by an API key (scimsso apikey create) — the directory of tenants and
// their users, and the event log to keep a copy in sync.
package platformapi

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/store"
)

// Config holds what the platform API needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	Metrics *metrics.Metrics // where store failures are counted; nil counts nothing
}

// Server serves /api/v1/…. It keeps nothing between requests (a key revoked on any replica stops
// working at once), so it is safe for concurrent use and replicas need not share anything but the store.
type Server struct {
	st      store.Store
	log     *zap.Logger
	metrics *metrics.Metrics
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("platformapi: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("platformapi: Logger is required")
	}
	return &Server{st: cfg.Store, log: cfg.Logger, metrics: cfg.Metrics}, nil
}

// Routes mounts the platform API on r. Every path under /api/v1/ asks for a key first, so an unknown
// path tells a caller without one nothing.
func (s *Server) Routes(r *mux.Router) {
	api := r.PathPrefix("/api/v1").Subrouter()
	api.Handle("/tenants", s.get(store.ScopeDirectoryRead, s.listTenants))
	api.Handle("/tenants/{slug}/users", s.get(store.ScopeDirectoryRead, s.listUsers))
	api.Handle("/tenants/{slug}/users/{id}", s.get(store.ScopeDirectoryRead, s.getUser))
	api.Handle("/events", s.get(store.ScopeEventsRead, s.listEvents))
	api.PathPrefix("/").Handler(s.authenticated("", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "There is no %s in the platform API.", r.URL.Path))
	}))
}

// get serves a read-only endpoint that needs scope: GET (and HEAD) after authentication, 405 for
// any other method.
func (s *Server) get(scope string, h http.HandlerFunc) http.Handler {
	return s.authenticated(scope, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "Only GET is served here."))
			return
		}
		h(w, r)
	})
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
		h(w, r)
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
