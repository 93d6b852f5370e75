package samlsp

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
)

// Config holds what the SAML service provider needs, ready to use.
type Config struct {
	Store   store.Store
	Logger  *zap.Logger
	BaseURL string // public base URL without trailing slash; entity IDs and the ACS URL are built from it
}

// Server is the per-tenant SAML service provider. So far it publishes each tenant's SP metadata; sign-in
// (login, ACS, sessions) is the next step. It is safe for concurrent use.
type Server struct {
	st      store.Store
	log     *zap.Logger
	baseURL string
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
	}
	return &Server{st: cfg.Store, log: cfg.Logger, baseURL: strings.TrimRight(cfg.BaseURL, "/")}, nil
}

// Routes mounts the SAML endpoints on r.
func (s *Server) Routes(r *mux.Router) {
	r.HandleFunc("/saml/{tenant}/metadata", s.metadata).Methods(http.MethodGet, http.MethodHead)
}

// serviceProvider builds the tenant's crewjam ServiceProvider from the stored key pair.
func (s *Server) serviceProvider(t *store.Tenant) (*saml.ServiceProvider, error) {
	block, _ := pem.Decode(t.SPKeyPEM)
	if block == nil {
		return nil, fmt.Errorf("samlsp: tenant %s: SP key is not PEM", t.Slug)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("samlsp: tenant %s: SP key: %w", t.Slug, err)
	}
	block, _ = pem.Decode(t.SPCertPEM)
	if block == nil {
		return nil, fmt.Errorf("samlsp: tenant %s: SP certificate is not PEM", t.Slug)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("samlsp: tenant %s: SP certificate: %w", t.Slug, err)
	}
	if !cert.PublicKey.(*rsa.PublicKey).Equal(&key.PublicKey) {
		return nil, fmt.Errorf("samlsp: tenant %s: SP certificate does not match its key", t.Slug)
	}
	meta, err := url.Parse(s.MetadataURL(t.Slug))
	if err != nil {
		return nil, err
	}
	acs, err := url.Parse(s.ACSURL(t.Slug))
	if err != nil {
		return nil, err
	}
	return &saml.ServiceProvider{
		EntityID:              meta.String(),
		Key:                   key,
		Certificate:           cert,
		MetadataURL:           *meta,
		AcsURL:                *acs,
		MetadataValidDuration: 7 * 24 * time.Hour,
		AuthnNameIDFormat:     saml.UnspecifiedNameIDFormat,
	}, nil
}

// MetadataURL is the tenant's SP metadata URL, which is also its SP entity ID.
func (s *Server) MetadataURL(slug string) string { return s.baseURL + "/saml/" + slug + "/metadata" }

// ACSURL is the tenant's Assertion Consumer Service URL.
func (s *Server) ACSURL(slug string) string { return s.baseURL + "/saml/" + slug + "/acs" }

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	t, err := s.st.TenantBySlug(r.Context(), mux.Vars(r)["tenant"])
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no such tenant", http.StatusNotFound)
		return
	}
	var sp *saml.ServiceProvider
	if err == nil {
		sp, err = s.serviceProvider(t)
	}
	var body []byte
	if err == nil {
		body, err = xml.MarshalIndent(sp.Metadata(), "", "  ")
	}
	if err != nil {
		ref := r.Header.Get("X-Request-Id")
		s.log.Error("metadata failed", zap.String("request_id", ref), zap.Error(err))
		http.Error(w, "internal error; reference "+ref, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write([]byte(xml.Header))
	w.Write(body)
}
