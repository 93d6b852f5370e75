// Package scimserver serves SCIM 2.0 (RFC 7643/7644) Users per tenant, the way Okta and Entra drive it.
package scimserver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

const (
	contentType = "application/scim+json"
	// maxBody is the largest request body accepted; larger ones get 413.
	maxBody = 1 << 20
	// maxFilter bounds the filter expression: the library's parser costs about 1 µs per byte.
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
}

// Server serves /scim/v2/{tenant}/…. It is safe for concurrent use.
type Server struct {
	st      store.Store
	log     *zap.Logger
	baseURL string
	now     func() time.Time
	lib     scim.Server
	guard   *throttle // answers repeated bad tokens; see throttle.go
}

// New checks cfg and builds the server. The SCIM schemas are built once here: building them per request
// would cost about 100 µs each.
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
	// Entra sends booleans as "True"/"False". This switch is elimity's own and process-wide; scimsso
	// has one SCIM server, so setting it here is the one place it is set.
	schema.SetAllowStringValues(true)
	s := &Server{st: cfg.Store, log: cfg.Logger, baseURL: strings.TrimRight(cfg.BaseURL, "/"), now: cfg.Now,
		guard: newThrottle(authFailLimit, authFailWindow, authFailKeys)}
	lib, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			SupportFiltering: true,
			SupportPatch:     true,
			MaxResults:       maxResults,
		},
		ResourceTypes: []scim.ResourceType{{
			ID:          optional.NewString("User"),
			Name:        "User",
			Description: optional.NewString("User Account"),
			Endpoint:    "/Users",
			Schema:      schemas.User(),
			SchemaExtensions: []scim.SchemaExtension{
				{Schema: schemas.EnterpriseUser()},
			},
			Handler: users{s},
		}},
	})
	if err != nil {
		return nil, err
	}
	s.lib = lib
	return s, nil
}

// Routes mounts the SCIM endpoints on r.
func (s *Server) Routes(r *mux.Router) {
	r.PathPrefix("/scim/v2/{tenant}").Handler(s.authenticate(http.HandlerFunc(s.serve)))
}

type ctxKey int

const reqKey ctxKey = 0

// reqState is what the router learns about a SCIM request and hands to the resource handler.
type reqState struct {
	tenant  *store.Tenant
	tokenID string
	userID  string // the user the request addresses or created
	body    []byte
	audited bool // the store already recorded the audit entry in the write's transaction
	op      string
	libErr  *Error // the error our handler, called by the library, failed with
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
	metrics.SCIMOperation(op, sw.status)
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

// route routes a SCIM request. It answers itself what the library gets wrong (DELETE, lists and filters,
// reads, discovery of what is supported, body limits) and hands writes to the library for validation.
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
		s.callLibrary(w, r, rest)
	case rest == "/Users":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			st.op = "list"
			s.listUsers(w, r)
		case http.MethodPost:
			st.op = "create"
			s.write(w, r, rest)
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
			s.write(w, r, rest)
		case http.MethodPatch:
			st.op = "patch"
			s.write(w, r, rest)
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
	s.audit(r, http.StatusMethodNotAllowed, errNoDelete.Detail)
	w.Header().Set("Allow", "GET, PUT, PATCH")
	s.writeError(w, r, errNoDelete)
}

// audit records a write attempt that the store did not already record in its own transaction.
func (s *Server) audit(r *http.Request, status int, detail string) {
	st := stateOf(r)
	if st.audited {
		return
	}
	st.audited = true
	a := store.Audit{TenantID: st.tenant.ID, TokenID: st.tokenID, Operation: st.op, UserID: st.userID, Outcome: strconv.Itoa(status), Detail: detail}
	// A refused write must still be audited even if the client has gone away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.st.RecordAudit(ctx, a); err != nil {
		s.log.Error("audit write failed", zap.String("request_id", r.Header.Get("X-Request-Id")), zap.Error(err))
	}
}

// storeAudit is the entry the store writes inside the transaction of an accepted write.
func (s *Server) storeAudit(r *http.Request, status int) store.Audit {
	st := stateOf(r)
	st.audited = true
	return store.Audit{TokenID: st.tokenID, Operation: st.op, Outcome: strconv.Itoa(status)}
}

// acceptedType reports whether a request body's Content-Type is JSON; an absent one is accepted.
func acceptedType(h string) bool {
	if h == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(h)
	return err == nil && (mt == "application/scim+json" || mt == "application/json")
}

// write reads the body under the size limit and hands the request to the library, which validates it
// and calls the users handler; the response is captured to add Location and an absolute meta.location,
// and to audit what the library refused on its own.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rest string) {
	st := stateOf(r)
	if !acceptedType(r.Header.Get("Content-Type")) {
		s.audit(r, http.StatusUnsupportedMediaType, "unsupported content type")
		s.writeError(w, r, errorf(http.StatusUnsupportedMediaType, "", "Send the body as application/scim+json or application/json."))
		return
	}
	if r.ContentLength > maxBody {
		s.audit(r, http.StatusRequestEntityTooLarge, errTooLarge.Detail)
		s.writeError(w, r, errTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		e := s.toSCIM(r, err)
		if !errors.As(err, new(*http.MaxBytesError)) {
			e = errorf(http.StatusBadRequest, "invalidSyntax", "The request body could not be read.")
		}
		s.audit(r, e.Status, e.Detail)
		s.writeError(w, r, e)
		return
	}
	// The body must be one JSON value in UTF-8 (RFC 8259). The library's decoder reads the first value
	// and ignores what follows it, and turns invalid UTF-8 into U+FFFD, which would then be stored.
	var bad *Error
	switch {
	case !utf8.Valid(body):
		bad = errorf(http.StatusBadRequest, "invalidSyntax", "The request body is not valid UTF-8.")
	case !json.Valid(body):
		bad = errorf(http.StatusBadRequest, "invalidSyntax", "The request body is not one valid JSON document.")
	case hasNULEscape(body):
		// PostgreSQL cannot store U+0000 in text, and no attribute needs it: refused on every backend alike.
		bad = invalidValue("A value may not contain the NUL character (\\u0000).")
	}
	if bad != nil {
		s.audit(r, bad.Status, bad.Detail)
		s.writeError(w, r, bad)
		return
	}
	st.body = body
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &capture{header: http.Header{}}
	s.callLibraryTo(rec, r, rest)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if e := st.libErr; e != nil {
		// Our handler failed: answer its error ourselves. The library renders only the statuses
		// RFC 7644 lists for the method, and any other (a 503 when the database is unreachable) as
		// a 500 (TestUnavailableStoreIs503).
		s.audit(r, e.Status, e.Detail)
		s.writeError(w, r, e)
		return
	}
	if rec.status >= 400 {
		s.audit(r, rec.status, errorDetail(rec.body.Bytes()))
	}
	out := rec.body.Bytes()
	if rec.status == http.StatusCreated && st.userID != "" {
		w.Header().Set("Location", s.userURL(st.tenant.Slug, st.userID))
	}
	if rec.status < 300 {
		out = bytes.Replace(out, []byte(`"location":"Users/`), []byte(`"location":"`+s.baseURL+"/scim/v2/"+st.tenant.Slug+"/Users/"), 1)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(rec.status)
	w.Write(out)
}

func (s *Server) userURL(slug, id string) string {
	return s.baseURL + "/scim/v2/" + slug + "/Users/" + id
}

// callLibrary hands r to elimity with the path it expects (the tenant prefix removed).
func (s *Server) callLibrary(w http.ResponseWriter, r *http.Request, rest string) {
	s.callLibraryTo(w, r, rest)
}

func (s *Server) callLibraryTo(w http.ResponseWriter, r *http.Request, rest string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = rest, ""
	r2.Body = r.Body
	s.lib.ServeHTTP(w, r2)
}

func errorDetail(body []byte) string {
	var e struct {
		Detail string `json:"detail"`
	}
	if jsonUnmarshal(body, &e) == nil {
		return e.Detail
	}
	return ""
}

// capture is a ResponseWriter that keeps the response to be finished by write.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// hasNULEscape reports whether a valid JSON document holds a \u0000 escape in a string: the only way
// it can carry U+0000. An escaped backslash before "u0000" is text, not the escape.
func hasNULEscape(body []byte) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		k := i + j
		n := 0
		for p := k - 1; p >= 0 && body[p] == '\\'; p-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = k + 5
	}
}
