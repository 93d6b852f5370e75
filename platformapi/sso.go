package platformapi

import (
	"bytes"
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
}

type certObject struct {
	Subject  string     `json:"subject"`
	NotAfter *time.Time `json:"not_after"`
	SHA256   string     `json:"sha256"` // of the DER, hex
	PEM      string     `json:"pem"`
}

func newSSOObject(slug string, set *store.SSOSettings) ssoObject {
	o := ssoObject{Tenant: slug, Version: set.Version, Settings: map[string]any{}, Warnings: set.Warnings(),
		IdP: idpObject{EntityID: set.IdPEntityID, SSOURL: set.IdPSSOURL, MetadataURL: set.IdPMetadataURL, Certificates: []certObject{}}}
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

// writeSSO writes set with its version as the ETag.
func writeSSO(w http.ResponseWriter, slug string, set *store.SSOSettings) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(set.Version, 10)+`"`)
	writeJSON(w, http.StatusOK, newSSOObject(slug, set))
}

// showSSO answers GET /api/v1/tenants/{slug}/sso.
func (s *Server) showSSO(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		set, err := store.SSOSettingsOf(r.Context(), s.st, t.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeSSO(w, t.Slug, set)
	})(w, r)
}

// ssoPatch is a PATCH body read: the settings to change, in the body's order of names, the IdP's
// metadata when given, and the version the client read (-1: none given).
type ssoPatch struct {
	changes  []store.SSOChange
	values   map[string]string
	metadata []byte
	version  int64
}

// parseSSOPatch reads a PATCH body: a JSON object of setting names (store.SSOSettingTable's) to
// values — a string, or true/false for a switch — and optionally "metadata_xml" (the IdP's metadata
// document) and "version". An unknown name or a value of the wrong type is refused naming it.
func parseSSOPatch(b []byte) (*ssoPatch, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(b, &raw); err != nil {
		return nil, err
	}
	p := &ssoPatch{values: map[string]string{}, version: -1}
	for name, v := range raw {
		// JSON null would unmarshal as the zero value: a switch turned off, version 0. A field
		// means to change something, so null names no value and is refused.
		if _, ok := store.SSOSettingNamed(name); (ok || name == "version" || name == "metadata_xml") && string(bytes.TrimSpace(v)) == "null" {
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
	if len(p.values) == 0 && p.metadata == nil {
		// Nothing to change: storing it anyway would make a new version, an event and an audit
		// entry saying nothing.
		return nil, invalid("Give at least one SSO setting or metadata_xml to change; the settings are %s.", settingNames())
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
	return strings.Join(names, ", ") + ", metadata_xml and version"
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
		var idp *store.SSOIdP
		if p.metadata != nil {
			md, err := s.cfg.ParseIdPMetadata(p.metadata)
			if err != nil {
				s.writeError(w, r, invalid("metadata_xml: %s", err))
				return
			}
			idp = &store.SSOIdP{EntityID: md.EntityID, SSOURL: md.SSOURL, CertificatesPEM: md.CertificatesPEM}
		}
		if err := set.Apply(idp, p.changes); err != nil {
			var se *store.SettingError
			if errors.As(err, &se) {
				msg := se.Setting + ": " + se.Reason
				if errors.Is(err, store.ErrNoIdP) {
					msg += ": give metadata_xml"
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
		writeSSO(w, t.Slug, set)
	})(w, r)
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
