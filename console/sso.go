package console

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
)

// The SSO page: the values to give the IdP, guides for the common IdPs, the IdP's metadata (by file or
// URL, shown before it is stored; given by URL, the state of its refresh and a "Refresh now", in
// refresh.go), every setting of store.SSOSettingTable, a test sign-in and the switch between off,
// testing and active. Settings are parsed by SSOSettings.Set and checked by Validate, the CLI's and
// the management API's rules, and stored against the version the form was rendered with, so an edit
// made meanwhile elsewhere is never overwritten.

// maxMetadataUpload caps an uploaded metadata file (Entra's is about 20 KiB).
const maxMetadataUpload = 1 << 20

func (s *Server) ssoRoutes(r *mux.Router) {
	s.handle(r, http.MethodGet, "/sso", store.AdminScopeSSO, s.ssoPage)
	s.handle(r, http.MethodPost, "/sso", store.AdminScopeSSO, s.ssoSave)
	s.handle(r, http.MethodPost, "/sso/state", store.AdminScopeSSO, s.ssoState)
	s.handle(r, http.MethodPost, "/sso/test", store.AdminScopeSSO, s.ssoTest)
	s.handleMultipart(r, "/sso/metadata/file", store.AdminScopeSSO, maxMetadataUpload, s.metadataFile)
	s.handle(r, http.MethodPost, "/sso/metadata/url", store.AdminScopeSSO, s.metadataURL)
	s.handle(r, http.MethodPost, "/sso/metadata", store.AdminScopeSSO, s.metadataStore)
	s.handle(r, http.MethodPost, "/sso/metadata/refresh", store.AdminScopeSSO, s.metadataRefresh)
}

// field is one setting of the settings form.
type field struct {
	Name, Help, Value, Error string
	Bool                     bool
	Options                  []string // a select's choices; nil: a text input
}

// certView is a certificate as the page shows it.
type certView struct {
	Subject, Expires string
	Expired, Soon    bool
}

// ssoView is the SSO page's data.
type ssoView struct {
	view
	EntityID, ACSURL, MetadataURL string
	State                         string
	IdPEntityID, IdPSSOURL        string
	IdPMetadataURL                string
	Certs                         []certView
	Fields                        []field
	Version                       int64
	Warnings                      []string
	FormError, MetadataError      string
	MetadataURLValue              string
	NextStates                    []string
	certHealth
	// Refresh is the state of the refresh of the metadata from IdPMetadataURL (renderSSO reads it);
	// nil when the metadata was not given by URL.
	Refresh *refreshView
}

// ssoView builds the page for set (as stored, or as the admin submitted it).
func (s *Server) ssoView(r *http.Request, c *request, set *store.SSOSettings, errs map[string]string) ssoView {
	v := ssoView{view: s.view(r, c, "Single sign-on", "sso"),
		EntityID: s.cfg.MetadataURL(c.Tenant.Slug), MetadataURL: s.cfg.MetadataURL(c.Tenant.Slug), ACSURL: s.cfg.ACSURL(c.Tenant.Slug),
		State: string(set.State), IdPEntityID: set.IdPEntityID, IdPSSOURL: set.IdPSSOURL, IdPMetadataURL: set.IdPMetadataURL,
		Version: set.Version, Warnings: set.Warnings(), FormError: errs[""]}
	v.Certs = s.certViews(set.IdPCertificatesPEM)
	v.certHealth = newCertHealth(v.Certs, set.IdPMetadataURL != "")
	for _, st := range store.SSOSettingTable {
		f := field{Name: st.Name, Help: st.Help, Value: set.Get(st.Name), Error: errs[st.Name], Bool: st.Bool}
		switch st.Name {
		case "state":
			f.Options = []string{string(store.SSOOff), string(store.SSOTesting), string(store.SSOActive)}
		case "country-format":
			f.Options = []string{string(store.CountryISO), string(store.CountryName)}
		case "signature-algorithm":
			f.Options = []string{string(store.SignatureSHA256), string(store.SignatureSHA1)}
		case "signed-element":
			f.Options = []string{string(store.SignedAssertion), string(store.SignedResponse), string(store.SignedBoth)}
		case "idp-initiated":
			f.Options = []string{"on", "off"}
		}
		v.Fields = append(v.Fields, f)
	}
	switch set.State {
	case store.SSOOff:
		v.NextStates = []string{string(store.SSOTesting)}
	case store.SSOTesting:
		v.NextStates = []string{string(store.SSOActive), string(store.SSOOff)}
	case store.SSOActive:
		v.NextStates = []string{string(store.SSOTesting), string(store.SSOOff)}
	}
	return v
}

// certViews describes each of the PEM certificates pems.
func (s *Server) certViews(pems []string) []certView {
	out := make([]certView, 0, len(pems))
	for _, p := range pems {
		out = append(out, s.certView(p))
	}
	return out
}

// certView describes a PEM certificate by subject and expiry.
func (s *Server) certView(p string) certView {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return certView{Subject: "(unreadable)"}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return certView{Subject: "(unreadable)"}
	}
	now := s.now()
	subject := cert.Subject.CommonName
	if subject == "" {
		subject = cert.Subject.String()
	}
	return certView{Subject: subject, Expires: cert.NotAfter.UTC().Format("2006-01-02"),
		Expired: !now.Before(cert.NotAfter), Soon: now.Add(store.CertificateWarning).After(cert.NotAfter)}
}

func (s *Server) ssoPage(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console sso", err)
		return
	}
	s.renderSSO(w, r, c, http.StatusOK, s.ssoView(r, c, set, nil))
}

// formVersion reads the version the form was rendered with.
func formVersion(r *http.Request) (int64, bool) {
	v, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	return v, err == nil && v >= 0
}

// ssoSave stores every setting of the form: each parsed by Set, then the whole checked by Validate;
// on any error nothing is stored and the form comes back with the values given and each error next
// to its field.
func (s *Server) ssoSave(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console sso save", err)
		return
	}
	version, ok := formVersion(r)
	if !ok {
		s.renderSSO(w, r, c, http.StatusBadRequest, s.ssoView(r, c, set, map[string]string{"": "The form could not be read. Please reload the page."}))
		return
	}
	errs := map[string]string{}
	for _, st := range store.SSOSettingTable {
		if err := set.Set(st.Name, r.PostForm.Get(st.Name)); err != nil {
			errs[st.Name] = err.Error()
		}
	}
	if len(errs) == 0 {
		if err := set.Validate(); err != nil {
			var se *store.SettingError
			if errors.As(err, &se) {
				msg := se.Setting + " " + se.Reason
				if errors.Is(err, store.ErrNoIdP) {
					msg += ": upload the IdP's metadata first"
				}
				errs[se.Setting] = msg
			} else {
				errs[""] = err.Error()
			}
		}
	}
	if len(errs) > 0 {
		errs[""] = "Nothing was saved: correct the settings marked below."
		v := s.ssoViewAt(r, c, set, version, errs)
		// The values as given, to be corrected, not as stored.
		for i := range v.Fields {
			f := &v.Fields[i]
			f.Value = strings.TrimSpace(r.PostForm.Get(f.Name))
			if f.Bool {
				f.Value = strconv.FormatBool(f.Value != "")
			}
			if f.Options != nil && !slices.Contains(f.Options, f.Value) {
				f.Options = append([]string{f.Value}, f.Options...)
			}
		}
		s.renderSSO(w, r, c, http.StatusBadRequest, v)
		return
	}
	s.put(w, r, c, set, version, "saved")
}

// ssoViewAt is ssoView for a form given back with the version it was rendered with.
func (s *Server) ssoViewAt(r *http.Request, c *request, set *store.SSOSettings, version int64, errs map[string]string) ssoView {
	v := s.ssoView(r, c, set, errs)
	v.Version = version
	return v
}

// put stores set against version and sends the browser back to the SSO page with done, or answers
// the version conflict.
func (s *Server) put(w http.ResponseWriter, r *http.Request, c *request, set *store.SSOSettings, version int64, done string) {
	set.Version = version
	err := s.st.PutSSOSettings(c.Ctx, c.Tenant.ID, set)
	if errors.Is(err, store.ErrVersionMismatch) {
		cur, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
		if err != nil {
			s.failed(w, r, "console sso", err)
			return
		}
		s.renderSSO(w, r, c, http.StatusConflict, s.ssoView(r, c, cur, map[string]string{
			"": "The settings were changed meanwhile (by someone else, or in another window), and nothing was saved. This page now shows them as stored: make your change again."}))
		return
	}
	if err != nil {
		s.failed(w, r, "console sso save", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "sso")+"?done="+done, http.StatusSeeOther)
}

// ssoState is the switch: off, testing or active, with every other setting as stored.
func (s *Server) ssoState(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console sso state", err)
		return
	}
	version, ok := formVersion(r)
	was := set.State
	errs := map[string]string{}
	if !ok {
		errs[""] = "The form could not be read. Please reload the page."
	} else if err := set.Set("state", r.PostForm.Get("state")); err != nil {
		errs["state"] = err.Error()
	} else if err := set.Validate(); err != nil {
		errs["state"] = err.Error()
		if errors.Is(err, store.ErrNoIdP) {
			errs["state"] += ": upload the IdP's metadata first"
		}
	} else if set.State == store.SSOActive && was != store.SSOActive {
		// Going active changes how every person of the tenant signs in: only after a test sign-in that
		// succeeded with the settings as they are now (any change since needs a new test).
		tested, err := s.st.SSOTestPassedVersion(r.Context(), c.Tenant.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.failed(w, r, "console sso state", err)
			return
		}
		if err != nil || tested != set.Version || version != set.Version {
			errs["state"] = "a test sign-in must succeed with the current settings first: press Test sign-in, sign in at your IdP, check the report, then switch to active"
		}
	}
	if len(errs) > 0 {
		if errs[""] == "" {
			errs[""] = "The state was not changed: " + errs["state"] + "."
		}
		s.renderSSO(w, r, c, http.StatusBadRequest, s.ssoViewAt(r, c, set, version, errs))
		return
	}
	s.put(w, r, c, set, version, "state")
}

// ssoTest makes a test link of the tenant and sends the browser to it: the test sign-in starts only
// from a console session of the tenant (this route's guard), and stores nothing.
func (s *Server) ssoTest(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console sso test", err)
		return
	}
	if !set.CanTest() {
		s.renderSSO(w, r, c, http.StatusBadRequest, s.ssoView(r, c, set, map[string]string{"": "A test sign-in needs the IdP's metadata and the state testing or active."}))
		return
	}
	link, err := s.cfg.TestLink(c.Ctx, c.Tenant)
	if err != nil {
		s.failed(w, r, "console test link", err)
		return
	}
	http.Redirect(w, r, link, http.StatusSeeOther)
}

// metadataView is the page that shows what was read from the IdP's metadata before it is stored.
type metadataView struct {
	view
	IdP         IdP
	Certs       []certView
	CertsDER    []string // base64 DER, carried by the confirming form
	SourceURL   string
	Version     int64
	ReplaceNote bool
}

// metadataFile reads an uploaded metadata file and shows what it holds.
func (s *Server) metadataFile(w http.ResponseWriter, r *http.Request, c *request) {
	f, _, err := r.FormFile("metadata")
	if err != nil {
		s.metadataError(w, r, c, "Choose the metadata file (XML) your IdP gave you.")
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadataUpload+1))
	if err != nil || len(b) > maxMetadataUpload {
		s.metadataError(w, r, c, "The file is larger than 1 MiB; IdP metadata is a few KiB.")
		return
	}
	s.metadataRead(w, r, c, b, "")
}

// metadataURL fetches metadata from the URL given and shows what it holds.
func (s *Server) metadataURL(w http.ResponseWriter, r *http.Request, c *request) {
	raw := strings.TrimSpace(r.PostForm.Get("url"))
	if !validMetadataURL(raw) {
		s.metadataError(w, r, c, "The metadata URL must be an absolute https:// address.")
		return
	}
	idp, ok := s.fetchIdP(r, c, raw)
	if !ok {
		s.metadataError(w, r, c, fetchFailed)
		return
	}
	s.metadataShow(w, r, c, idp, raw)
}

// fetchFailed is the one answer to a metadata URL that did not give usable metadata, whatever the
// reason: an admin must not learn which internal hosts answer, or what, by the difference between
// "no answer", "not 200" and "200 but not metadata".
const fetchFailed = "The metadata could not be fetched from that URL: it did not answer, or not with metadata. Check the address, or upload the file instead."

// validMetadataURL is the console's rule for a metadata URL, checked before any fetch and again
// before one is stored; the fetcher (Config.FetchMetadata) applies its own network rules on top.
func validMetadataURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && len(raw) <= 2048
}

// fetchIdP fetches and parses the metadata at raw; false when either fails, the reason in the log only.
func (s *Server) fetchIdP(r *http.Request, c *request, raw string) (*IdP, bool) {
	b, err := s.cfg.FetchMetadata(r.Context(), raw)
	if err == nil {
		var idp *IdP
		if idp, err = s.cfg.ParseMetadata(b); err == nil {
			return idp, true
		}
		err = fmt.Errorf("not usable metadata: %w", err)
	}
	s.log.Info("console: metadata fetch failed", zap.String("tenant", c.Tenant.Slug), zap.Error(err))
	return nil, false
}

// metadataRead parses an uploaded file and shows it with the form that stores it. The parser's
// reason is shown: the admin gave the file, so it tells them nothing they did not have.
func (s *Server) metadataRead(w http.ResponseWriter, r *http.Request, c *request, b []byte, source string) {
	idp, err := s.cfg.ParseMetadata(b)
	if err != nil {
		s.metadataError(w, r, c, "This is not IdP metadata scimsso can use: "+err.Error())
		return
	}
	s.metadataShow(w, r, c, idp, source)
}

// metadataShow shows idp with the form that stores it.
func (s *Server) metadataShow(w http.ResponseWriter, r *http.Request, c *request, idp *IdP, source string) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console metadata", err)
		return
	}
	v := metadataView{view: s.view(r, c, "Check the IdP's metadata", "sso"), IdP: *idp, SourceURL: source, Version: set.Version,
		ReplaceNote: set.IdPEntityID != ""}
	for _, p := range idp.CertificatesPEM {
		v.Certs = append(v.Certs, s.certView(p))
		if block, _ := pem.Decode([]byte(p)); block != nil {
			v.CertsDER = append(v.CertsDER, base64.StdEncoding.EncodeToString(block.Bytes))
		}
	}
	s.render(w, http.StatusOK, "metadata", v)
}

// metadataError shows the SSO page with msg next to the metadata forms; nothing is stored.
func (s *Server) metadataError(w http.ResponseWriter, r *http.Request, c *request, msg string) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console metadata", err)
		return
	}
	v := s.ssoView(r, c, set, nil)
	v.MetadataError = msg
	v.MetadataURLValue = r.PostForm.Get("url")
	s.renderSSO(w, r, c, http.StatusBadRequest, v)
}

// metadataStore stores the IdP's values the admin saw and confirmed, with every other setting as
// stored. The certificates come back as DER and must each parse.
func (s *Server) metadataStore(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console metadata store", err)
		return
	}
	version, ok := formVersion(r)
	entity, sso, source := strings.TrimSpace(r.PostForm.Get("entity_id")), strings.TrimSpace(r.PostForm.Get("sso_url")), strings.TrimSpace(r.PostForm.Get("source_url"))
	var certs []string
	for _, d := range r.PostForm["cert"] {
		der, err := base64.StdEncoding.DecodeString(d)
		if err == nil {
			_, err = x509.ParseCertificate(der)
		}
		if err != nil {
			ok = false
			break
		}
		certs = append(certs, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	ssoURL, err := url.Parse(sso)
	if !ok || entity == "" || len(certs) == 0 || err != nil || (ssoURL.Scheme != "https" && ssoURL.Scheme != "http") || ssoURL.Host == "" {
		s.metadataError(w, r, c, "The metadata form could not be read. Please upload the metadata again.")
		return
	}
	if source != "" {
		// The URL comes back from the browser: it is stored only if it passes the rule again and, fetched
		// again now, gives the very values the admin confirmed. So no URL is stored that the fetcher
		// did not accept, and the stored URL is where the stored values came from.
		if !validMetadataURL(source) {
			s.metadataError(w, r, c, "The metadata form could not be read. Please upload the metadata again.")
			return
		}
		idp, ok := s.fetchIdP(r, c, source)
		if !ok {
			s.metadataError(w, r, c, fetchFailed)
			return
		}
		if idp.EntityID != entity || idp.SSOURL != sso || !sameCertificates(idp.CertificatesPEM, certs) {
			s.metadataError(w, r, c, "The metadata at that URL is not what was shown: fetch it again and check it.")
			return
		}
	}
	set.IdPEntityID, set.IdPSSOURL, set.IdPCertificatesPEM, set.IdPMetadataURL = entity, sso, certs, source
	if err := set.Validate(); err != nil {
		s.metadataError(w, r, c, fmt.Sprintf("Nothing was stored: %v.", err))
		return
	}
	s.put(w, r, c, set, version, "metadata")
}

// sameCertificates reports whether a and b hold the same certificates (PEM, compared by their DER),
// in the same order.
func sameCertificates(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, _ := pem.Decode([]byte(a[i]))
		y, _ := pem.Decode([]byte(b[i]))
		if x == nil || y == nil || !bytes.Equal(x.Bytes, y.Bytes) {
			return false
		}
	}
	return true
}
