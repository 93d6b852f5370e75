package platformapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/store"
)

// A tenant's SSO settings over the management API: the settings by the names of
// store.SSOSettingTable (the CLI's `sso set` flags), changed by store's one parser (SSOSettings.Set)
// and checked by its one rule (Validate), so the API stores exactly what the CLI would.

// ssoObject is GET and PATCH's answer.
type ssoObject struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"` // 0 until first stored; what If-Match or "version" names
	// Settings holds every setting of store.SSOSettingTable by name: a switch as true or false, any
	// other as the string `sso set` takes.
	Settings map[string]any `json:"settings"`
	IdP      idpObject      `json:"idp"`
	Warnings []string       `json:"warnings"`
}

type idpObject struct {
	EntityID     string       `json:"entity_id"`
	SSOURL       string       `json:"sso_url"`
	MetadataURL  string       `json:"metadata_url"`
	Certificates []certObject `json:"certificates"`
	// MetadataRefresh is the state of the periodic fetch (store.MetadataFetch), null until one ran.
	MetadataRefresh *fetchObject `json:"metadata_refresh"`
}

// fetchObject is store.MetadataFetch as the API shows it: url is "" for metadata given as a
// document (its certificates are still watched for expiry on the refresh's schedule).
type fetchObject struct {
	URL       string     `json:"url"`
	NextAt    *time.Time `json:"next_at"`
	LastAt    *time.Time `json:"last_at"`    // the last try; null: never
	LastOKAt  *time.Time `json:"last_ok_at"` // the last success; null: never
	LastError string     `json:"last_error"` // why the last try failed; "" when it succeeded
}

type certObject struct {
	Subject  string     `json:"subject"`
	NotAfter *time.Time `json:"not_after"`
	SHA256   string     `json:"sha256"` // of the DER, hex
	PEM      string     `json:"pem"`
}

func newSSOObject(slug string, set *store.SSOSettings, f *store.MetadataFetch) ssoObject {
	o := ssoObject{Tenant: slug, Version: set.Version, Settings: map[string]any{}, Warnings: set.Warnings(),
		IdP: idpObject{EntityID: set.IdPEntityID, SSOURL: set.IdPSSOURL, MetadataURL: set.IdPMetadataURL, Certificates: []certObject{}}}
	if f != nil {
		o.IdP.MetadataRefresh = &fetchObject{URL: f.URL, NextAt: timeOrNil(f.NextAt), LastAt: timeOrNil(f.LastAt), LastOKAt: timeOrNil(f.LastOKAt),
			LastError: f.LastError}
	}
	if o.Warnings == nil {
		o.Warnings = []string{}
	}
	for _, st := range store.SSOSettingTable {
		v := set.Get(st.Name)
		if st.Bool {
			o.Settings[st.Name] = v == "true"
		} else {
			o.Settings[st.Name] = v
		}
	}
	for _, p := range set.IdPCertificatesPEM {
		c := certObject{PEM: p}
		if b, _ := pem.Decode([]byte(p)); b != nil {
			sum := sha256.Sum256(b.Bytes)
			c.SHA256 = hex.EncodeToString(sum[:])
			if x, err := x509.ParseCertificate(b.Bytes); err == nil {
				c.Subject, c.NotAfter = x.Subject.String(), timeOrNil(x.NotAfter)
			}
		}
		o.IdP.Certificates = append(o.IdP.Certificates, c)
	}
	return o
}

// ssoOf returns the tenant's settings (set, or as stored when nil) as GET shows them, with the state
// of their metadata's refresh.
func (s *Server) ssoOf(ctx context.Context, t *store.Tenant, set *store.SSOSettings) (ssoObject, error) {
	if set == nil {
		var err error
		if set, err = store.SSOSettingsOf(ctx, s.st, t.ID); err != nil {
			return ssoObject{}, err
		}
	}
	f, err := s.st.MetadataFetch(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		f, err = nil, nil
	}
	if err != nil {
		return ssoObject{}, err
	}
	return newSSOObject(t.Slug, set, f), nil
}

// writeSSO writes the tenant's settings (set, or as stored when nil) with their version as the ETag.
func (s *Server) writeSSO(w http.ResponseWriter, r *http.Request, t *store.Tenant, set *store.SSOSettings) {
	o, err := s.ssoOf(r.Context(), t, set)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+strconv.FormatInt(o.Version, 10)+`"`)
	writeJSON(w, http.StatusOK, o)
}

// showSSO answers GET /api/v1/tenants/{slug}/sso.
func (s *Server) showSSO(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		s.writeSSO(w, r, t, nil)
	})(w, r)
}

// ssoPatch is a PATCH body read: the settings to change, in the body's order of names, the IdP's
// metadata or its URL when given, and the version the client read (-1: none given).
type ssoPatch struct {
	changes     []store.SSOChange
	values      map[string]string
	metadata    []byte
	metadataURL string
	version     int64
}

// parseSSOPatch reads a PATCH body: a JSON object of setting names (store.SSOSettingTable's) to
// values — a string, or true/false for a switch — and optionally "metadata_xml" (the IdP's metadata
// document) or "metadata_url" (where to fetch it, as `sso set --metadata-url`), and "version". An
// unknown name or a value of the wrong type is refused naming it.
func parseSSOPatch(b []byte) (*ssoPatch, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(b, &raw); err != nil {
		return nil, err
	}
	p := &ssoPatch{values: map[string]string{}, version: -1}
	for name, v := range raw {
		// JSON null would unmarshal as the zero value: a switch turned off, version 0. A field
		// means to change something, so null names no value and is refused.
		if _, ok := store.SSOSettingNamed(name); (ok || name == "version" || name == "metadata_xml" || name == "metadata_url") && string(bytes.TrimSpace(v)) == "null" {
			return nil, invalid("%s must not be null: give a value, or leave %s out.", name, name)
		}
		switch name {
		case "version":
			var n int64
			if err := json.Unmarshal(v, &n); err != nil || n < 0 {
				return nil, invalid("version must be a whole number, 0 or more (GET's version).")
			}
			p.version = n
			continue
		case "metadata_xml":
			var x string
			if err := json.Unmarshal(v, &x); err != nil || strings.TrimSpace(x) == "" {
				return nil, invalid("metadata_xml must be a string holding the IdP's metadata XML.")
			}
			p.metadata = []byte(x)
			continue
		case "metadata_url":
			var u string
			if err := json.Unmarshal(v, &u); err != nil || strings.TrimSpace(u) == "" {
				return nil, invalid("metadata_url must be a string holding the URL of the IdP's metadata.")
			}
			p.metadataURL = u
			continue
		}
		st, ok := store.SSOSettingNamed(name)
		if !ok {
			return nil, invalid("%q is not an SSO setting; the settings are %s.", clip(name), settingNames())
		}
		if st.Bool {
			var on bool
			if err := json.Unmarshal(v, &on); err != nil {
				return nil, invalid("%s must be true or false.", name)
			}
			p.values[name] = strconv.FormatBool(on)
		} else {
			var str string
			if err := json.Unmarshal(v, &str); err != nil {
				return nil, invalid("%s must be a string.", name)
			}
			p.values[name] = str
		}
	}
	if p.metadata != nil && p.metadataURL != "" {
		return nil, invalid("Give metadata_xml or metadata_url, not both.") // as sso set's flags
	}
	if len(p.values) == 0 && p.metadata == nil && p.metadataURL == "" {
		// Nothing to change: storing it anyway would make a new version, an event and an audit
		// entry saying nothing.
		return nil, invalid("Give at least one SSO setting, metadata_xml or metadata_url to change; the settings are %s.", settingNames())
	}
	// Set in the table's order: the outcome never depends on the order of the body's fields.
	for _, st := range store.SSOSettingTable {
		if v, ok := p.values[st.Name]; ok {
			p.changes = append(p.changes, store.SSOChange{Name: st.Name, Value: v})
		}
	}
	return p, nil
}

func settingNames() string {
	names := make([]string, 0, len(store.SSOSettingTable))
	for _, st := range store.SSOSettingTable {
		names = append(names, st.Name)
	}
	return strings.Join(names, ", ") + ", metadata_xml, metadata_url and version"
}

// ifMatchVersion reads an If-Match header that names a version as the ETag gives it ("3", W/"3");
// -1 when there is none.
func ifMatchVersion(h string) (int64, error) {
	if h == "" {
		return -1, nil
	}
	v := strings.TrimPrefix(strings.TrimSpace(h), "W/")
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n < 0 || len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, invalid("If-Match must be one ETag of GET's answer, such as \"3\".")
	}
	return n, nil
}

// patchSSO answers PATCH /api/v1/tenants/{slug}/sso: the named settings changed, the rest as stored,
// checked whole (Validate), stored as one new version; 200 and the settings as GET shows them. With
// If-Match or "version", a version other than the stored one is a 409 and nothing changes; without,
// the change applies to whatever is stored, as `sso set` does. An invalid value is a 400 naming its
// setting, and nothing is stored.
func (s *Server) patchSSO(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		b, _, err := readBody(r, "application/json", "application/merge-patch+json")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		p, err := parseSSOPatch(b)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		want, err := ifMatchVersion(r.Header.Get("If-Match"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if want >= 0 && p.version >= 0 && want != p.version {
			s.writeError(w, r, invalid("If-Match names version %d and the body version %d; give one.", want, p.version))
			return
		}
		if want < 0 {
			want = p.version
		}
		set, err := store.SSOSettingsOf(r.Context(), s.st, t.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if want >= 0 && want != set.Version {
			s.writeError(w, r, errVersion(set.Version))
			return
		}
		idp, err := s.idpOf(r.Context(), p)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := set.Apply(idp, p.changes); err != nil {
			var se *store.SettingError
			if errors.As(err, &se) {
				msg := se.Setting + ": " + se.Reason
				if errors.Is(err, store.ErrNoIdP) {
					msg += ": give metadata_xml or metadata_url"
				}
				err = invalid("%s", msg)
			} else {
				err = invalid("%s", err) // Set's, naming the setting
			}
			s.writeError(w, r, err)
			return
		}
		if err := s.st.PutSSOSettings(r.Context(), t.ID, set); err != nil {
			if errors.Is(err, store.ErrVersionMismatch) {
				err = errVersion(-1)
			}
			s.writeError(w, r, err)
			return
		}
		s.writeSSO(w, r, t, set)
	})(w, r)
}

// idpOf reads the IdP a PATCH installs: its metadata_xml, or the document at its metadata_url, fetched
// now through safefetch under the server's MetadataPolicy, as `sso set --metadata-url` fetches it (the
// URL is kept, for the periodic refresh). nil when the PATCH gives neither. A URL the policy refuses
// or a document that is not IdP metadata is a 400, an IdP that does not answer with one a 502
// metadata_fetch_failed; each names its field, and nothing is stored.
func (s *Server) idpOf(ctx context.Context, p *ssoPatch) (*store.SSOIdP, error) {
	field, doc := "metadata_xml", p.metadata
	if p.metadataURL != "" {
		field = "metadata_url"
		// Checked apart from the fetch, so that a URL no fetch may reach is the client's error (400).
		if err := safefetch.CheckURL(p.metadataURL, s.cfg.MetadataPolicy); err != nil {
			return nil, invalid("metadata_url: %s", err)
		}
		b, err := s.fetch.Get(ctx, p.metadataURL)
		if err != nil {
			// safefetch's words hold nothing the remote sent: the operator's, as the CLI shows them.
			return nil, errorf(http.StatusBadGateway, codeFetchFailed, "metadata_url: %s; nothing changed.", err)
		}
		doc = b
	}
	if doc == nil {
		return nil, nil
	}
	md, err := s.cfg.ParseIdPMetadata(doc)
	if err != nil {
		return nil, invalid("%s: %s", field, err)
	}
	return &store.SSOIdP{EntityID: md.EntityID, SSOURL: md.SSOURL, CertificatesPEM: md.CertificatesPEM, MetadataURL: p.metadataURL}, nil
}

// refreshObject is what POST …/sso/refresh-metadata answers: what the refresh did (certificates by
// SHA-256 fingerprint), and the settings after it as GET shows them.
type refreshObject struct {
	Changed   bool      `json:"changed"`   // the settings were changed and stored
	Added     []string  `json:"added"`     // certificates added
	Removed   []string  `json:"removed"`   // certificates removed
	Kept      []string  `json:"kept"`      // no longer listed, kept: the metadata lists no valid one
	Announced []string  `json:"announced"` // announced as expiring within 30 days (sso.certificate_expiring)
	SSO       ssoObject `json:"sso"`
}

// refreshMetadata answers POST /api/v1/tenants/{slug}/sso/refresh-metadata: the tenant's IdP metadata
// fetched from its URL now and applied as the periodic refresh applies it (store.MetadataRefresher,
// the code of `sso refresh-metadata`); 200 and what it did. 409 when the metadata was not given by
// URL; 502 metadata_fetch_failed, with the reason the refresh recorded (what GET's metadata_refresh
// shows), when it could not be fetched or read, and nothing changed.
func (s *Server) refreshMetadata(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		res, err := s.cfg.RefreshMetadata.RefreshMetadata(r.Context(), t.ID)
		switch {
		case errors.Is(err, store.ErrNoMetadataURL):
			err = errorf(http.StatusConflict, codeConflict, "The IdP metadata of tenant %s was not given by URL; PATCH its sso with metadata_url first.", t.Slug)
		case errors.Is(err, store.ErrMetadataURLChanged):
			err = errorf(http.StatusConflict, codeConflict, "The metadata URL of tenant %s changed during the fetch; nothing changed, and the new URL is fetched next.", t.Slug)
		case err != nil:
			err = s.refreshFailure(t, err)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		o, err := s.ssoOf(r.Context(), t, nil)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		nonNil := func(l []string) []string {
			if l == nil {
				return []string{}
			}
			return l
		}
		writeJSON(w, http.StatusOK, refreshObject{Changed: res.Changed, Added: nonNil(res.Added), Removed: nonNil(res.Removed), Kept: nonNil(res.Kept),
			Announced: nonNil(res.Announced), SSO: o})
	})(w, r)
}

// refreshFailure words a failed refresh: when the refresh recorded err as the tenant's last failure
// (a fetch or a document that failed, in words the console shows too), a 502 with it; anything else
// (the store failed) is not the client's to read, and is returned for writeError to log.
func (s *Server) refreshFailure(t *store.Tenant, err error) error {
	var f *store.MetadataRefreshFailure
	if errors.As(err, &f) {
		return errorf(http.StatusBadGateway, codeFetchFailed, "Refreshing the IdP metadata of tenant %s failed: %s; nothing changed.", t.Slug, f.Reason)
	}
	return err
}

// errVersion is the answer to a change made against a version that is not the stored one (cur, or
// -1 when another change came between the read and the write).
func errVersion(cur int64) error {
	if cur < 0 {
		return errorf(http.StatusConflict, codeVersionMismatch, "The SSO settings changed while this request ran; GET them and try again.")
	}
	return errorf(http.StatusConflict, codeVersionMismatch, "The SSO settings are at version %d; GET them and try again.", cur)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// defaultTestLinkLifetime is how long a test link waits to be opened unless told otherwise, as `sso
// test-link`'s --expires default.
const defaultTestLinkLifetime = time.Hour

// createTestLink answers POST /api/v1/tenants/{slug}/sso/test-links {expires}: 201 with a one-time
// link (BASE/saml/SLUG/test?token=…, shown this once) that starts a test sign-in of the tenant, whose
// report shows what the IdP sent and what scimsso would do, storing nothing; as `sso test-link`.
// expires defaults to 1h, at most 7d. 409 unless the tenant's SSO is testing or active.
func (s *Server) createTestLink(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		var req struct {
			Expires string `json:"expires"`
		}
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		dur, err := store.ParseLifetime(req.Expires, defaultTestLinkLifetime, store.MaxTestLinkLifetime)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		set, err := store.SSOSettingsOf(r.Context(), s.st, t.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !set.CanTest() {
			s.writeError(w, r, errorf(http.StatusConflict, codeConflict,
				"The SSO state of tenant %s is %s; a test sign-in needs testing or active (PATCH its sso with state testing).", t.Slug, set.State))
			return
		}
		exp := s.cfg.Now().Add(dur)
		link, err := s.cfg.NewTestLink(r.Context(), t, exp)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, struct {
			URL       string    `json:"url"`
			ExpiresAt time.Time `json:"expires_at"`
		}{link, exp.UTC()})
	})(w, r)
}
