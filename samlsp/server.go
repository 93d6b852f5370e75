package samlsp

import (
	"cmp"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/gorilla/mux"
	dsig "github.com/russellhaering/goxmldsig"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

// Clock allowances. crewjam's are package globals, set once by useCrewjam (crewjam.go). issueDelay is
// how old an IssueInstant may be: crewjam's 90 s refuses an IdP whose clock is two minutes slow
// although the skew allowance is three, so it is the skew plus a minute of latency.
const (
	clockSkew   = 3 * time.Minute
	issueDelay  = clockSkew + time.Minute
	maxValidity = 24 * time.Hour   // an assertion valid for longer than this is refused
	requestTTL  = 15 * time.Minute // how long an SP-initiated sign-in may take at the IdP (MFA included)
)

// Config holds what the SAML service provider needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	BaseURL string           // public base URL without trailing slash; entity IDs and the ACS URL are built from it
	Now     func() time.Time // nil: time.Now
	// MaxPendingPerClient and MaxPendingPerTenant cap the outstanding AuthnRequests of one client
	// address (across tenants) and of one tenant; 0: DefaultMaxPendingPerClient and
	// DefaultMaxPendingPerTenant. Beyond a cap a sign-in start is answered 429 and nothing is stored.
	MaxPendingPerClient, MaxPendingPerTenant int
	// Sessions starts, finds and ends people's sessions; cmd passes the people's web
	// (people.Sessions). Required.
	Sessions Sessions
	// Metrics is where sign-ins and store failures are counted; nil counts nothing.
	Metrics *metrics.Metrics
	// Refusals counts refusals past the sign-in log's cap in memory (store.SignInMeter); its owner
	// runs and flushes it, and one meter may serve several servers. nil: one of its own, which writes a
	// minute's counts only when a later refusal comes.
	Refusals *store.SignInMeter
}

// Server is the per-tenant SAML service provider: metadata, SP- and IdP-initiated sign-in, the ACS and
// test sign-ins. A verified sign-in is handed to Sessions.
// Everything a request needs lives in the store, so replicas share it. It is safe for concurrent use.
type Server struct {
	st       store.Store
	log      *zap.Logger
	metrics  *metrics.Metrics
	sessions Sessions
	baseURL  string
	origin   string // scheme://host of baseURL, what a browser sends as Origin from our own pages
	now      func() time.Time
	pending  store.RequestLimits
	refusals *store.SignInMeter // counts refusals past the log's cap in memory

	mu    sync.Mutex
	cache map[string]*tenantSP // by tenant ID
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("samlsp: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("samlsp: Logger is required")
	case cfg.BaseURL == "":
		return nil, errors.New("samlsp: BaseURL is required")
	case cfg.Sessions == nil:
		return nil, errors.New("samlsp: Sessions is required")
	}
	if err := useCrewjam(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("samlsp: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	pending := store.RequestLimits{PerClient: cfg.MaxPendingPerClient, PerTenant: cfg.MaxPendingPerTenant}
	if pending.PerClient <= 0 {
		pending.PerClient = DefaultMaxPendingPerClient
	}
	if pending.PerTenant <= 0 {
		pending.PerTenant = DefaultMaxPendingPerTenant
	}
	u, perr := url.Parse(base)
	if perr != nil || u.Host == "" {
		return nil, fmt.Errorf("samlsp: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	return &Server{st: cfg.Store, log: cfg.Logger, metrics: cfg.Metrics, sessions: cfg.Sessions, baseURL: base, origin: u.Scheme + "://" + u.Host,
		now: now, cache: map[string]*tenantSP{}, pending: pending,
		refusals: cmp.Or(cfg.Refusals, store.NewSignInMeter(cfg.Store, now))}, nil
}

// Routes mounts the SAML endpoints on r.
func (s *Server) Routes(r *mux.Router) {
	r.HandleFunc("/saml/{tenant}/metadata", s.metadata).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/saml/{tenant}/login", s.login).Methods(http.MethodGet)
	r.HandleFunc("/saml/{tenant}/acs", s.acs).Methods(http.MethodPost)
	r.HandleFunc("/saml/{tenant}/test", s.testStart).Methods(http.MethodGet)
	r.HandleFunc("/saml/{tenant}/test", s.test).Methods(http.MethodPost)
}

// MetadataURL is the tenant's SP metadata URL, which is also its SP entity ID.
func (s *Server) MetadataURL(slug string) string { return s.baseURL + "/saml/" + slug + "/metadata" }

// ACSURL is the tenant's Assertion Consumer Service URL.
func (s *Server) ACSURL(slug string) string { return s.baseURL + "/saml/" + slug + "/acs" }

// tenantSP is what one tenant's sign-ins need, built from the store and reused until the tenant's SSO
// settings change version. sp is never used directly: each request takes a copy and sets its own
// verifier on it.
type tenantSP struct {
	tenant  *store.Tenant
	set     *store.SSOSettings
	sp      saml.ServiceProvider
	idpCert []*x509.Certificate
	attrs   attrNames
}

// errNoTenant means the slug names no tenant.
var errNoTenant = errors.New("no such tenant")

// tenantSP returns the tenant's sign-in configuration. One indexed lookup reads the tenant (with its
// domains) and its settings' version; what is built from the settings (keys, certificates, the crewjam
// ServiceProvider) is reused while that version stands, so a change made through any replica applies
// at the next request. A tenant without stored settings gets the defaults (state off).
func (s *Server) tenantSP(ctx context.Context, slug string) (*tenantSP, error) {
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
	if c == nil || c.set.Version != version || c.tenant.Slug != t.Slug {
		full, err := s.st.TenantByID(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		set, err := s.st.SSOSettings(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			set, err = &store.SSOSettings{TenantID: t.ID, State: store.SSOOff}, nil
		}
		if err != nil {
			return nil, err
		}
		keyPEM, err := s.st.SPKey(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		if c, err = s.build(full, keyPEM, set); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.cache[t.ID] = c
		s.mu.Unlock()
	}
	// The tenant itself (its domains) is always the one just read.
	n := *c
	n.tenant = t
	return &n, nil
}

// tenantOfSession is tenantSP for a tenant known by ID. A session's tenant is almost always cached,
// and its slug with it, so this is the same one lookup as by slug; only a cold cache reads the tenant.
func (s *Server) tenantOfSession(ctx context.Context, tenantID string) (*tenantSP, error) {
	s.mu.Lock()
	c := s.cache[tenantID]
	s.mu.Unlock()
	var slug string
	if c != nil {
		slug = c.tenant.Slug
	} else {
		t, err := s.st.TenantByID(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		slug = t.Slug
	}
	c, err := s.tenantSP(ctx, slug)
	if err == nil && c.tenant.ID != tenantID {
		return nil, errNoTenant
	}
	return c, err
}

// build makes the tenant's crewjam ServiceProvider from the stored key pair and settings.
func (s *Server) build(t *store.Tenant, keyPEM []byte, set *store.SSOSettings) (*tenantSP, error) {
	key, cert, err := ParseKeyPair(keyPEM, t.SPCertPEM)
	if err != nil {
		return nil, fmt.Errorf("samlsp: tenant %s: SP %w", t.Slug, err)
	}
	meta, err := url.Parse(s.MetadataURL(t.Slug))
	if err != nil {
		return nil, err
	}
	acs, err := url.Parse(s.ACSURL(t.Slug))
	if err != nil {
		return nil, err
	}
	c := &tenantSP{tenant: t, set: set, attrs: attrNamesOf(set)}
	c.sp = saml.ServiceProvider{
		EntityID:              meta.String(),
		Key:                   key,
		Certificate:           cert,
		MetadataURL:           *meta,
		AcsURL:                *acs,
		MetadataValidDuration: 7 * 24 * time.Hour,
		// Unspecified lets every IdP send its usual NameID (transient trips ADFS), and no
		// RequestedAuthnContext is sent (Entra answers a mismatch with AADSTS75011).
		AuthnNameIDFormat: saml.UnspecifiedNameIDFormat,
	}
	c.sp.ValidateAudienceRestriction = audienceCheck(meta.String())
	if set.SignRequests {
		c.sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	if set.IdPEntityID != "" {
		ed := &saml.EntityDescriptor{EntityID: set.IdPEntityID}
		ed.IDPSSODescriptors = []saml.IDPSSODescriptor{{
			SingleSignOnServices: []saml.Endpoint{{Binding: saml.HTTPRedirectBinding, Location: set.IdPSSOURL}},
		}}
		c.sp.IDPMetadata = ed
		for _, p := range set.IdPCertificatesPEM {
			block, _ := pem.Decode([]byte(p))
			if block == nil {
				return nil, fmt.Errorf("samlsp: tenant %s: an IdP certificate is not PEM", t.Slug)
			}
			x, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("samlsp: tenant %s: IdP certificate: %w", t.Slug, err)
			}
			c.idpCert = append(c.idpCert, x)
			// crewjam looks for at least one before it hands over to the verifier, which uses c.idpCert.
			ed.IDPSSODescriptors[0].KeyDescriptors = append(ed.IDPSSODescriptors[0].KeyDescriptors, saml.KeyDescriptor{Use: "signing",
				KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(x.Raw)}}}}})
		}
	}
	return c, nil
}

// ParseKeyPair reads a PEM key pair as GenerateKeyPair makes it and checks that the two belong together.
func ParseKeyPair(keyPEM, certPEM []byte) (*rsa.PrivateKey, *x509.Certificate, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, errors.New("key is not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	block, _ = pem.Decode(certPEM)
	if block == nil {
		return nil, nil, errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("certificate does not match the key")
	}
	return key, cert, nil
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	c, err := s.tenantSP(r.Context(), mux.Vars(r)["tenant"])
	if errors.Is(err, errNoTenant) {
		http.Error(w, "no such tenant", http.StatusNotFound)
		return
	}
	var body []byte
	if err == nil {
		md := c.sp.Metadata()
		// crewjam also advertises an HTTP-Artifact ACS; scimsso never resolves artifacts (that would
		// make it send requests wherever a tenant's metadata points).
		for i := range md.SPSSODescriptors {
			var acs []saml.IndexedEndpoint
			for _, e := range md.SPSSODescriptors[i].AssertionConsumerServices {
				if e.Binding == saml.HTTPPostBinding {
					acs = append(acs, e)
				}
			}
			md.SPSSODescriptors[i].AssertionConsumerServices = acs
			for k := range md.SPSSODescriptors[i].KeyDescriptors {
				if kd := &md.SPSSODescriptors[i].KeyDescriptors[k]; kd.Use == "encryption" {
					kd.EncryptionMethods = offeredEncryption()
				}
			}
		}
		body, err = xml.MarshalIndent(md, "", "  ")
	}
	if err != nil {
		ref := page.Ref(r)
		s.log.Error("metadata failed", zap.String("request_id", ref), zap.Error(err))
		http.Error(w, "internal error; reference "+ref, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write([]byte(xml.Header))
	w.Write(body)
}
