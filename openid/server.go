// Package openid is scimsso's OpenID Connect provider: the platform's applications sign people in
// through it (authorization code flow with PKCE), and learn who signed in from an ID token signed with
// keys kept in the store, or from userinfo. The protocol is zitadel/oidc's op package; this package
// gives it scimsso's store, sessions and rules.
package openid

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/store"
)

// Lifetimes, by the spec: codes at most 60 s, access tokens at most 10 minutes. A refresh token lives
// at most as long as the longest session (90 days, mobile), and dies with its session before that.
const (
	requestTTL = 15 * time.Minute // how long a person has to sign in after the application sent them
	codeTTL    = 60 * time.Second
	accessTTL  = 10 * time.Minute
	idTokenTTL = 10 * time.Minute
	refreshTTL = 90 * 24 * time.Hour
	// keepRedeemed is how long a request stays after its code was issued: long enough that a second use
	// of the code, within the life of what the first use issued, is recognised and revokes it.
	keepRedeemed = codeTTL + accessTTL
)

// Paths the provider serves, relative to the issuer (BASE).
const (
	pathDiscovery = "/.well-known/openid-configuration"
	pathJWKS      = "/oidc/jwks"
	pathAuthorize = "/oidc/authorize"
	pathResume    = "/oidc/authorize/resume"
	pathToken     = "/oidc/token"
	pathUserinfo  = "/oidc/userinfo"
	pathLogout    = "/oidc/logout"
)

// Config holds what the provider needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	BaseURL string           // the issuer: public base URL without trailing slash
	Now     func() time.Time // nil: time.Now
	// Session returns the request's scimsso session and its user, read from the sign-in cookie by the
	// package that owns it: a nil session when nobody is signed in (or the session ended, or its user
	// was deactivated). A Pending session must complete /welcome first. stale means the session is past
	// its tenant's soft timeout: the IdP must vouch again (silently) before it signs anyone in.
	Session func(r *http.Request) (sess *store.Session, u *store.User, stale bool, err error)
	// ForgetSession clears the sign-in cookie in the answer w, after logout deleted its session;
	// optional (the session is ended in the store either way).
	ForgetSession func(w http.ResponseWriter)
	// MaxPendingPerClient caps the outstanding authorization requests (stored, nobody signed in yet)
	// of one client address; 0: DefaultMaxPendingPerClient.
	MaxPendingPerClient int
}

// DefaultMaxPendingPerClient is the default cap on outstanding authorization requests per client
// address: as for SAML sign-in starts (samlsp.DefaultMaxPendingPerClient), an office of 2,000 people
// behind one NAT address, arriving within 15 minutes and each a minute at the IdP, has ~135 in flight;
// 300 leaves twice that room. A person signed in already takes no place: the request is answered at
// once.
const DefaultMaxPendingPerClient = 300

// Server is the OpenID provider. Everything a request needs lives in the store, so replicas share it
// (keys included). It is safe for concurrent use.
type Server struct {
	st      store.Store
	log     *zap.Logger
	issuer  string
	secure  bool
	now     func() time.Time
	session func(*http.Request) (*store.Session, *store.User, bool, error)
	forget  func(http.ResponseWriter)
	origin  string // scheme://host of the issuer: what a browser sends as Origin from our own pages
	// maxPending caps the outstanding requests of a client address.
	maxPending int

	op   *op.Provider
	auth *authorizer
	keys *keyCache

	mu    sync.Mutex
	slugs map[string]string // tenant id → slug; a slug never changes
}

// New checks cfg and builds the provider.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("openid: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("openid: Logger is required")
	case cfg.Session == nil:
		return nil, errors.New("openid: Session is required")
	}
	issuer := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("openid: BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{st: cfg.Store, log: cfg.Logger, issuer: issuer, secure: u.Scheme == "https", now: now, session: cfg.Session,
		forget: cfg.ForgetSession, origin: u.Scheme + "://" + u.Host,
		maxPending: cfg.MaxPendingPerClient, slugs: map[string]string{}}
	if s.maxPending <= 0 {
		s.maxPending = DefaultMaxPendingPerClient
	}
	s.keys = &keyCache{st: cfg.Store, now: now}
	opts := []op.Option{op.WithCrypto(opaque{}),
		// id_token_hint (authorize, logout) is one of the ID tokens issued here, of either algorithm.
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(string(jose.RS256), string(jose.ES256))),
		op.WithCustomEndpoints(op.NewEndpoint(pathAuthorize), op.NewEndpoint(pathToken),
			op.NewEndpoint(pathUserinfo), op.NewEndpoint("/oidc/revoke"), op.NewEndpoint(pathLogout), op.NewEndpoint(pathJWKS))}
	if !s.secure {
		// Plain http is for local use (the demo, tests); the operator chose it with --base-url.
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(&op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       scopes,
		SupportedClaims:       claimNames,
		// Logout tokens (LogoutToken), with sid, go to clients that registered a back-channel
		// logout URI, when a session of theirs ends.
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}, &storage{s}, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("openid: %w", err)
	}
	s.op = p
	s.auth = &authorizer{Provider: p, s: s}
	return s, nil
}

// Routes mounts the provider's endpoints on r. Only these: the op package's other endpoints
// (introspection, revocation, device flow, its own login callback) are not part of the contract.
func (s *Server) Routes(r *mux.Router) {
	h := func(f http.HandlerFunc) http.Handler { return s.withIssuer(f) }
	r.Handle(pathDiscovery, h(s.discovery)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(pathJWKS, h(s.jwks)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(pathAuthorize, h(s.authorize)).Methods(http.MethodGet, http.MethodPost)
	r.Handle(pathResume, h(s.resume)).Methods(http.MethodGet)
	r.Handle(pathToken, h(s.token)).Methods(http.MethodPost)
	r.Handle(pathUserinfo, h(s.userinfo)).Methods(http.MethodGet, http.MethodPost)
	r.Handle(pathLogout, h(s.logout)).Methods(http.MethodGet, http.MethodPost)
}

// withIssuer puts the issuer where the op package's functions read it.
func (s *Server) withIssuer(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next(w, r.WithContext(op.ContextWithIssuer(r.Context(), s.issuer)))
	})
}

// newSecret returns 256 random bits, base64url, and their SHA-256 (the only form stored). Codes,
// tokens, request ids, client secrets and the browser binding are all such secrets.
func newSecret() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	v := base64.RawURLEncoding.EncodeToString(b[:])
	return v, hashSecret(v), nil
}

// isSecret reports whether v has the shape newSecret gives: anything else was never issued here and
// needs no lookup.
func isSecret(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

func hashSecret(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// NewClientSecret returns a confidential client's secret (256 bits, shown once) and its SHA-256, the
// only form stored.
func NewClientSecret() (secret string, hash []byte, err error) { return newSecret() }

// opaque is the op package's Crypto: it makes the codes and access tokens the package hands out. Both
// are 256-bit random secrets of which the store keeps the hash, so there is nothing to decrypt and no
// key to share between replicas. An access token is asked for as "tokenID:subject": the token id is
// already the secret CreateAccessToken made, and the subject stays out of the token. Anything else (a
// request id, for a code) gets a fresh secret.
type opaque struct{}

func (opaque) Encrypt(s string) (string, error) {
	if id, _, ok := strings.Cut(s, ":"); ok && isSecret(id) {
		return id, nil
	}
	v, _, err := newSecret()
	return v, err
}

// Decrypt is never asked for: userinfo is this package's own, and introspection and revocation are
// not served.
func (opaque) Decrypt(string) (string, error) {
	return "", errors.New("openid: tokens are opaque")
}

// requestRef is the request's id, set by cmd's middleware, shown to people as a reference.
func requestRef(r *http.Request) string {
	if id := requestid.From(r.Context()); id != "" {
		return id
	}
	return "-"
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Ref}}<p><small>Reference: {{.Ref}}</small></p>{{end}}</main></body></html>
`))

var confirmTmpl = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign out?</title></head>
<body><main><h1>Sign out?</h1><p>An application asks to sign you out of your organisation's sign-in.</p>
<form method="post" action="{{.Action}}">{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<input type="hidden" name="confirm" value="1"><button type="submit">Sign out</button></form></main></body></html>
`))

// page answers a person's browser with a plain page: a refusal that must not go back to an
// application (its redirect URI is unknown or not to be trusted), or the end of a sign-out.
func page(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	pageTmpl.Execute(w, struct{ Title, Message, Ref string }{title, message, requestRef(r)})
}

// internal answers a failure of the store or of this server: the cause in the log with the request's
// reference, a plain page for the person (503 when the database is unreachable: the same request will
// work again).
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	ref := requestRef(r)
	if errors.Is(err, store.ErrUnavailable) {
		s.log.Warn(what+": store unavailable", zap.String("request_id", ref), zap.Error(err))
		page(w, r, http.StatusServiceUnavailable, "Sign-in is unavailable for a moment", "Please try again in a minute.")
		return
	}
	s.log.Error(what+" failed", zap.String("request_id", ref), zap.Error(err))
	page(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
}

// slug returns the tenant's slug, cached: slugs never change.
func (s *Server) slug(ctx context.Context, tenantID string) (string, error) {
	s.mu.Lock()
	v, ok := s.slugs[tenantID]
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	t, err := s.st.TenantByID(ctx, tenantID)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.slugs[tenantID] = t.Slug
	s.mu.Unlock()
	return t.Slug, nil
}
