// Package scimserver serves SCIM 2.0 (RFC 7643/7644) Users per tenant, the way Okta and Entra drive it.
package scimserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/store"
)

const (
	contentType = "application/scim+json"
	// maxBody is the largest request body accepted; larger ones get 413.
	maxBody = 1 << 20
	// maxFilter bounds the filter expression: filter-parser's grammar costs about 1 µs per byte.
	maxFilter = 1024
	// maxResults is the largest page served, advertised in /ServiceProviderConfig.
	maxResults = 200
)

// Config holds what the SCIM server needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	BaseURL string // public base URL, without trailing slash; Location headers are built from it
	Now     func() time.Time
	Metrics *metrics.Metrics // where operations and store failures are counted; nil counts nothing
}

// Server serves /scim/v2/{tenant}/…. It is safe for concurrent use.
type Server struct {
	st        store.Store
	log       *zap.Logger
	metrics   *metrics.Metrics
	baseURL   string
	now       func() time.Time
	schemas   schemaSet // what write bodies are read against; see decode.go
	discovery discovery // the /Schemas and /ResourceTypes documents
	guard     *throttle // answers repeated bad tokens; see throttle.go
}

// New checks cfg and builds the server. The SCIM schemas are compiled once here: building them per
// request would cost about 100 µs each.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("scimserver: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("scimserver: Logger is required")
	case cfg.BaseURL == "":
		return nil, errors.New("scimserver: BaseURL is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	us := newSchemaSet()
	disc, err := newDiscovery()
	if err != nil {
		return nil, err
	}
	return &Server{st: cfg.Store, log: cfg.Logger, metrics: cfg.Metrics, baseURL: strings.TrimRight(cfg.BaseURL, "/"), now: cfg.Now,
		schemas: us, discovery: disc, guard: newThrottle(authFailLimit, authFailWindow, authFailKeys)}, nil
}

// Routes mounts the SCIM endpoints on r.
func (s *Server) Routes(r *mux.Router) {
	r.PathPrefix("/scim/v2/{tenant}").Handler(s.authenticate(http.HandlerFunc(s.serve)))
}

type ctxKey int

const reqKey ctxKey = 0

// reqState is what authentication and the router learn about a SCIM request.
type reqState struct {
	tenant  *store.Tenant
	tokenID string
	userID  string // the user the request addresses, "" for a create
	op      string // create, replace, patch, delete, get, list; the audit's and the metrics' operation
}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(reqKey).(*reqState)
	return st
}

func userIDOf(r *http.Request) string {
	if st := stateOf(r); st != nil {
		return st.userID
	}
	return ""
}

// authenticate resolves {tenant} and the bearer token in one indexed lookup of the token's SHA-256 joined
// to the slug. Every request is looked up, so a valid token is served whatever others sent from the same
// address. Every failure gets the same 401 after the same single query, so neither the answer nor its
// timing says whether a tenant exists; a client that keeps failing for one tenant gets 429 instead
// (throttle.go), which too is the same for every slug.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := mux.Vars(r)["tenant"]
		tok := bearerToken(r.Header.Get("Authorization"))
		sum := store.HashSecret(tok)
		tenant, token, err := s.st.TenantToken(r.Context(), slug, sum)
		ok := tok != "" && err == nil &&
			subtle.ConstantTimeCompare(token.Hash, sum) == 1 && token.Live(s.now())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, err) // the store failed: a logged 500, not a misleading 401
			return
		}
		if ok {
			st := &reqState{tenant: tenant, tokenID: token.ID}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqKey, st)))
			return
		}
		if tok == "" {
			s.writeError(w, r, errUnauthorized)
			return
		}
		addr := clientaddr.Key(r)
		v := s.guard.fail(throttleKey(addr, slug), s.now())
		if v.reached {
			s.log.Warn("scim: repeated invalid bearer tokens; answering 429 to this address for this tenant for a while",
				zap.String("addr", addr), zap.String("tenant", cutSlug(slug)), zap.Int("failures", authFailLimit), zap.Duration("for", authFailWindow))
		}
		if v.refuse {
			secs := int((v.wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.writeError(w, r, errorf(http.StatusTooManyRequests, "", "Too many requests with an invalid bearer token for this tenant from this address; retry after %d seconds.", secs))
			return
		}
		s.writeError(w, r, errUnauthorized)
	})
}

// bearerToken returns the credentials of an "Authorization: Bearer …" header (scheme in any case).
func bearerToken(h string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// serve answers an authenticated SCIM request and counts it by operation and status.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	sw := &statusRecorder{ResponseWriter: w}
	s.route(sw, r)
	op := stateOf(r).op
	if op == "" {
		op = "other"
	}
	s.metrics.SCIMOperation(op, sw.status)
}

// statusRecorder remembers the status written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// route routes a SCIM request to its handler.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	rest := strings.TrimPrefix(r.URL.Path, "/scim/v2/"+st.tenant.Slug)
	if len(rest) > 1 {
		rest = strings.TrimSuffix(rest, "/")
	}
	seg := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "/ServiceProviderConfig":
		if r.Method != http.MethodGet {
			s.methodNotAllowed(w, r, "GET")
			return
		}
		s.serviceProviderConfig(w, r)
	case rest == "/Schemas" || rest == "/ResourceTypes" || strings.HasPrefix(rest, "/Schemas/") || strings.HasPrefix(rest, "/ResourceTypes/"):
		if r.Method != http.MethodGet {
			s.methodNotAllowed(w, r, "GET")
			return
		}
		s.discovery.serve(w, r, s, rest)
	case rest == "/Users":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			st.op = "list"
			s.listUsers(w, r)
		case http.MethodPost:
			st.op = "create"
			s.write(w, r, http.StatusCreated, s.createUser)
		case http.MethodDelete:
			st.op = "delete"
			s.refuseDelete(w, r)
		default:
			s.methodNotAllowed(w, r, "GET, POST")
		}
	case strings.HasSuffix(rest, "/.search"):
		// Before /Users/{id}: ".search" is never a user id (RFC 7644 §3.4.3).
		s.writeError(w, r, errorf(http.StatusNotImplemented, "", "POST .search is not supported; use GET /Users?filter=."))
	case len(seg) == 2 && seg[0] == "Users" && seg[1] != "":
		st.userID = seg[1]
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			st.op = "get"
			s.getUser(w, r, seg[1])
		case http.MethodPut:
			st.op = "replace"
			s.write(w, r, http.StatusOK, s.replaceUser)
		case http.MethodPatch:
			st.op = "patch"
			s.write(w, r, http.StatusOK, s.patchUser)
		case http.MethodDelete:
			st.op = "delete"
			s.refuseDelete(w, r)
		default:
			s.methodNotAllowed(w, r, "GET, PUT, PATCH")
		}
	case rest == "/Bulk":
		s.writeError(w, r, errorf(http.StatusNotImplemented, "", "Bulk operations are not supported; see /ServiceProviderConfig."))
	case rest == "/Me":
		s.writeError(w, r, errorf(http.StatusNotImplemented, "", "/Me is not supported."))
	default:
		s.writeError(w, r, errorf(http.StatusNotFound, "", "No SCIM endpoint %s; scimsso serves /Users, /ServiceProviderConfig, /ResourceTypes and /Schemas.", rest))
	}
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "", "Method %s is not allowed here; allowed: %s.", r.Method, allow))
}

// refuseDelete answers every DELETE with 405: scimsso de-provisions, it never deletes.
func (s *Server) refuseDelete(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, PUT, PATCH")
	s.refuse(w, r, errNoDelete)
}
