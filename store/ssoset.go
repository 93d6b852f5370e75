package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SSOSetting describes one setting of the spec's table that a person changes by name: the CLI's flag
// (`sso set --NAME`), the management API's JSON field and the console's form field all use Name, and
// show Help.
type SSOSetting struct {
	Name string
	// Bool settings are switches: on the CLI a flag without a value, in a form a checkbox.
	Bool bool
	Help string
}

// SSOSettingTable lists, in the order people read them, every setting Set changes. The IdP's own
// values (entity ID, SSO URL, certificates) are not among them: they come from its metadata.
var SSOSettingTable = []SSOSetting{
	{Name: "state", Help: "off, testing or active: testing runs only an admin's test sign-in, which stores nothing; active signs people in"},
	{Name: "exclude", Help: "comma-separated emails that sign in with a password instead of SSO (replaces the list)"},
	{Name: "hard-timeout", Help: "idle time after which a session ends (at most 14d)"},
	{Name: "soft-timeout", Help: "idle time after which the IdP is asked again silently; if it does not answer, the person is signed out (at most 24h, less than hard-timeout)"},
	{Name: "mobile-hard-timeout", Help: "hard timeout of sessions signed in from the mobile app (at most 90d; 0: hard-timeout)"},
	{Name: "country-format", Help: "how the IdP sends the country: iso (a code such as DE) or name (the English name, such as Germany)"},
	{Name: "signature-algorithm", Help: "sha256 accepts RSA-SHA256/384/512 signatures only; sha1 also accepts RSA-SHA1, which is forgeable in practice"},
	{Name: "signed-element", Help: "what the IdP's signature must cover: assertion (Entra, Okta, ADFS), response (Google, PingFederate) or both"},
	{Name: "principal-id-attr", Help: "attribute carrying the IdP's immutable user id; when set it is required in every sign-in and matched first (empty: off)"},
	{Name: "secondary-email-attr", Help: "attribute carrying a second email, used to find the user when the main email matches nobody (empty: off)"},
	{Name: "attr-first-name", Help: "attribute names of the first name, comma-separated, first match wins"},
	{Name: "attr-last-name", Help: "attribute names of the last name"},
	{Name: "attr-email", Help: "attribute names of the email (else the NameID)"},
	{Name: "attr-country", Help: "attribute names of the country"},
	{Name: "attr-department", Help: "attribute names of the department (mapped to a team by the department map)"},
	{Name: "force-country", Bool: true, Help: "ask for the country at first sign-in even when the IdP sends it"},
	{Name: "force-department", Bool: true, Help: "ask for the team at first sign-in even when the department maps to one"},
	{Name: "skip-destination-validation", Bool: true, Help: "TESTING ONLY: do not check the response's Destination and Recipient"},
	{Name: "sign-requests", Bool: true, Help: "sign AuthnRequests with the tenant's SP key (published in the SP metadata)"},
	{Name: "idp-initiated", Help: "on or off: accept sign-ins started at the IdP (a tile in its portal) without a request from here"},
}

// ErrUnknownSetting is wrapped by Set's error for a name SSOSettingTable does not list.
var ErrUnknownSetting = errors.New("is not an SSO setting")

// Set changes the setting name (SSOSettingTable's) to value, parsed as the CLI parses its flag: a
// duration as ParseDuration, a switch as true/false (also on/off, 1/0), a list comma-separated and
// trimmed. It checks only the value's form; Validate checks the rules between settings once all are
// set. The error names the setting ("hard-timeout: invalid duration …"), or wraps ErrUnknownSetting.
func (s *SSOSettings) Set(name, value string) error {
	err := s.set(name, strings.TrimSpace(value))
	if err != nil && !errors.Is(err, ErrUnknownSetting) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

func (s *SSOSettings) set(name, v string) error {
	var err error
	switch name {
	case "state":
		s.State = SSOState(v)
	case "exclude":
		s.Exclude = nil
		for _, e := range strings.Split(v, ",") {
			if e = Key(e); e != "" {
				s.Exclude = append(s.Exclude, e)
			}
		}
	case "hard-timeout":
		s.HardTimeout, err = ParseDuration(v)
	case "soft-timeout":
		s.SoftTimeout, err = ParseDuration(v)
	case "mobile-hard-timeout":
		s.MobileHardTimeout, err = ParseDuration(v)
	case "country-format":
		s.CountryFormat = CountryFormat(v)
	case "signature-algorithm":
		s.SignatureAlgorithm = SignatureAlgorithm(v)
	case "signed-element":
		s.SignedElement = SignedElement(v)
	case "principal-id-attr":
		s.PrincipalIDAttr = v
	case "secondary-email-attr":
		s.SecondaryEmailAttr = v
	case "attr-first-name":
		s.AttrFirstName = v
	case "attr-last-name":
		s.AttrLastName = v
	case "attr-email":
		s.AttrEmail = v
	case "attr-country":
		s.AttrCountry = v
	case "attr-department":
		s.AttrDepartment = v
	case "force-country":
		s.ForceCountry, err = parseSwitch(v)
	case "force-department":
		s.ForceDepartment, err = parseSwitch(v)
	case "skip-destination-validation":
		s.SkipDestinationValidation, err = parseSwitch(v)
	case "sign-requests":
		s.SignRequests, err = parseSwitch(v)
	case "idp-initiated":
		switch v {
		case "on":
			s.NoIdPInitiated = false
		case "off":
			s.NoIdPInitiated = true
		default:
			err = errors.New("must be on or off")
		}
	default:
		return fmt.Errorf("%q %w", name, ErrUnknownSetting)
	}
	return err
}

// Get returns the setting name (SSOSettingTable's) in the form Set reads, so that what is shown can
// be given back unchanged. "" for an unknown name.
func (s *SSOSettings) Get(name string) string {
	dur := func(d time.Duration) string { return FormatDuration(d) }
	switch name {
	case "state":
		return string(s.State)
	case "exclude":
		return strings.Join(s.Exclude, ",")
	case "hard-timeout":
		return dur(s.HardTimeout)
	case "soft-timeout":
		return dur(s.SoftTimeout)
	case "mobile-hard-timeout":
		return dur(s.MobileHardTimeout)
	case "country-format":
		return string(s.CountryFormat)
	case "signature-algorithm":
		return string(s.SignatureAlgorithm)
	case "signed-element":
		return string(s.SignedElement)
	case "principal-id-attr":
		return s.PrincipalIDAttr
	case "secondary-email-attr":
		return s.SecondaryEmailAttr
	case "attr-first-name":
		return s.AttrFirstName
	case "attr-last-name":
		return s.AttrLastName
	case "attr-email":
		return s.AttrEmail
	case "attr-country":
		return s.AttrCountry
	case "attr-department":
		return s.AttrDepartment
	case "force-country":
		return strconv.FormatBool(s.ForceCountry)
	case "force-department":
		return strconv.FormatBool(s.ForceDepartment)
	case "skip-destination-validation":
		return strconv.FormatBool(s.SkipDestinationValidation)
	case "sign-requests":
		return strconv.FormatBool(s.SignRequests)
	case "idp-initiated":
		if s.NoIdPInitiated {
			return "off"
		}
		return "on"
	}
	return ""
}

func parseSwitch(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "on", "1", "yes":
		return true, nil
	case "false", "off", "0", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false, got %q", v)
}

// ParseDuration reads a duration as Go does, with whole days in front ("14d", "1d12h", "90m").
func ParseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("invalid duration %q", clipValue(s))
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use for example 90d, 12h or 30m)", clipValue(s))
	}
	return days + d, nil
}

// FormatDuration writes d as ParseDuration reads it, whole days as "Nd" ("14d", "1d12h0m0s", "8h0m0s").
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d <= 0 || d < day {
		return d.String()
	}
	days, rest := d/day, d%day
	if rest == 0 {
		return strconv.FormatInt(int64(days), 10) + "d"
	}
	return strconv.FormatInt(int64(days), 10) + "d" + rest.String()
}

// SSOSettingsOf returns the tenant's stored SSO settings, or the defaults (version 0) when none were
// stored: what sso set, sso show and the management API start a change or a display from.
func SSOSettingsOf(ctx context.Context, st Store, tenantID string) (*SSOSettings, error) {
	set, err := st.SSOSettings(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return DefaultSSOSettings(), nil
	}
	return set, err
}

// SSOSettingNamed returns the setting of SSOSettingTable named name.
func SSOSettingNamed(name string) (SSOSetting, bool) {
	for _, st := range SSOSettingTable {
		if st.Name == name {
			return st, true
		}
	}
	return SSOSetting{}, false
}

// SSOIdP is the identity provider a change of SSO settings installs, as read from its metadata.
type SSOIdP struct {
	EntityID        string
	SSOURL          string
	CertificatesPEM []string
	MetadataURL     string // where the metadata was fetched; "" for a document given
}

// SSOChange is one setting changed by name, as Set takes it.
type SSOChange struct{ Name, Value string }

// Apply is the one way sso set and the management API change SSO settings: the IdP (when not nil)
// replaces s's, then each change is Set in order, then the whole is checked (Validate). A Set error
// names its setting ("hard-timeout: …"; ErrUnknownSetting for a name not in the table); Validate's
// is a *SettingError. Each caller words them for its own names (flags, JSON fields).
func (s *SSOSettings) Apply(idp *SSOIdP, changes []SSOChange) error {
	if idp != nil {
		s.IdPEntityID, s.IdPSSOURL, s.IdPCertificatesPEM, s.IdPMetadataURL = idp.EntityID, idp.SSOURL, idp.CertificatesPEM, idp.MetadataURL
	}
	for _, c := range changes {
		if err := s.Set(c.Name, c.Value); err != nil {
			return err
		}
	}
	return s.Validate()
}
