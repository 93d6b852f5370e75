package store

import (
	"errors"
	"fmt"
	"time"
)

// The rules of a tenant's SSO settings (the spec's "scimsso sso set" table) live here, next to the
// type, so that every place that changes settings (the CLI today, the management API and the console
// later) applies the same defaults and limits, and every reader compares typed constants rather than
// string literals.

// SSOState says whether a tenant signs people in with SAML.
type SSOState string

// The states of a tenant's SSO.
const (
	// SSOOff: nobody signs in with SAML; an answer from the IdP is refused.
	SSOOff SSOState = "off"
	// SSOTesting: only an admin's test sign-in (started from a one-time test link) runs; people do not
	// sign in with SAML yet, and the IdP's answers write nothing.
	SSOTesting SSOState = "testing"
	// SSOActive: people sign in with SAML.
	SSOActive SSOState = "active"
)

// CountryFormat says how the IdP sends a user's country.
type CountryFormat string

// The country formats.
const (
	// CountryISO: an ISO 3166-1 alpha-2 (or alpha-3, or numeric) code.
	CountryISO CountryFormat = "iso"
	// CountryName: the country's English name, mapped to its code; a code is still accepted.
	CountryName CountryFormat = "name"
)

// SignatureAlgorithm says which signature and digest algorithms are accepted from the IdP.
type SignatureAlgorithm string

// The signature algorithm settings.
const (
	// SignatureSHA256 accepts the SHA-2 family only (RSA-SHA256, -SHA384, -SHA512).
	SignatureSHA256 SignatureAlgorithm = "sha256"
	// SignatureSHA1 also accepts RSA-SHA1 and SHA-1 digests, which some older IdPs still use and which
	// are forgeable in practice: a setting that warns.
	SignatureSHA1 SignatureAlgorithm = "sha1"
)

// AllowsSHA1 reports whether SHA-1 signatures and digests are accepted.
func (a SignatureAlgorithm) AllowsSHA1() bool { return a == SignatureSHA1 }

// SignedElement says what the IdP must sign.
type SignedElement string

// The signed element settings.
const (
	// SignedAssertion: the assertion must be signed (the Response may be too).
	SignedAssertion SignedElement = "assertion"
	// SignedResponse: the Response must be signed (the assertion may be too).
	SignedResponse SignedElement = "response"
	// SignedBoth: the Response and the assertion must both be signed.
	SignedBoth SignedElement = "both"
)

// AssertionSigned reports whether the assertion must carry a signature of its own.
func (e SignedElement) AssertionSigned() bool { return e == SignedAssertion || e == SignedBoth }

// ResponseSigned reports whether the Response must carry a signature of its own.
func (e SignedElement) ResponseSigned() bool { return e == SignedResponse || e == SignedBoth }

// Limits of the SSO settings (the spec's table).
const (
	MaxHardTimeout       = 14 * 24 * time.Hour
	MaxSoftTimeout       = 24 * time.Hour
	MaxMobileHardTimeout = 90 * 24 * time.Hour
	// MaxTestLinkLifetime bounds how long a test link may wait to be opened.
	MaxTestLinkLifetime = 7 * 24 * time.Hour
)

// Default attribute names: each setting is a comma-separated list of names accepted for it, Entra's
// claim URIs first, then the plain names other IdPs use.
const (
	claimsNS              = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	defaultAttrFirstName  = claimsNS + "givenname,FirstName"
	defaultAttrLastName   = claimsNS + "surname,LastName"
	defaultAttrEmail      = claimsNS + "emailaddress,Email"
	defaultAttrCountry    = claimsNS + "country,Country"
	defaultAttrDepartment = "http://schemas.microsoft.com/ws/2008/06/identity/claims/department,Department"
)

// DefaultSSOSettings returns the spec's defaults, the settings of a tenant none were stored for: SSO
// off, the safe choice of every setting (SHA-2 signatures, a signed assertion, IdP-initiated sign-in
// as the spec allows it), Version 0. Each call returns a new value the caller may change.
func DefaultSSOSettings() *SSOSettings {
	return &SSOSettings{
		State: SSOOff, HardTimeout: MaxHardTimeout, SoftTimeout: 8 * time.Hour,
		CountryFormat: CountryISO, SignatureAlgorithm: SignatureSHA256, SignedElement: SignedAssertion,
		AttrFirstName: defaultAttrFirstName, AttrLastName: defaultAttrLastName, AttrEmail: defaultAttrEmail,
		AttrCountry: defaultAttrCountry, AttrDepartment: defaultAttrDepartment,
	}
}

// ErrNoIdP is wrapped by the SettingError of settings that turn SSO on without the IdP's entity ID, SSO
// URL and a signing certificate (which come from its metadata).
var ErrNoIdP = errors.New("needs the IdP's metadata")

// SettingError is the error of SSOSettings.Validate: which setting breaks which rule.
type SettingError struct {
	// Setting is the setting's name in the spec's table, which is also the CLI's flag
	// ("soft-timeout", "attr-email").
	Setting string
	// Reason says what the setting must be, in words that follow its name ("must be at most 24h").
	Reason string
	// Err is a sentinel the error wraps (ErrNoIdP), or nil.
	Err error
}

func (e *SettingError) Error() string { return e.Setting + " " + e.Reason }

// Unwrap returns Err.
func (e *SettingError) Unwrap() error { return e.Err }

// CanTest reports whether a test sign-in of the tenant may start: its SSO is testing or active (off
// refuses every answer of the IdP, a test's too). `sso test-link` and the management API ask it.
func (s *SSOSettings) CanTest() bool { return s.State == SSOTesting || s.State == SSOActive }

// Validate reports the first rule of the spec's table s breaks, as a *SettingError, or nil: every
// enumerated setting is one of its constants; a state other than off has the IdP's entity ID, SSO URL
// and a certificate; at most MaxIdPCertificates certificates; 0 < soft timeout < hard timeout, each within its maximum; a mobile hard timeout
// is 0 or more than the soft timeout and at most MaxMobileHardTimeout; the first-name, last-name and
// email attribute names are set; every excluded address passes ParseEmail in lower case. It changes
// nothing and reads only s.
func (s *SSOSettings) Validate() error {
	bad := func(setting, reason string) error { return &SettingError{Setting: setting, Reason: reason} }
	switch s.State {
	case SSOOff, SSOTesting, SSOActive:
	default:
		return bad("state", "must be off, testing or active")
	}
	if s.State != SSOOff && (s.IdPEntityID == "" || s.IdPSSOURL == "" || len(s.IdPCertificatesPEM) == 0) {
		return &SettingError{Setting: "state", Reason: string(s.State) + " " + ErrNoIdP.Error(), Err: ErrNoIdP}
	}
	if len(s.IdPCertificatesPEM) > MaxIdPCertificates {
		return bad("idp-certificates", fmt.Sprintf("must be at most %d", MaxIdPCertificates))
	}
	switch {
	case s.HardTimeout <= 0 || s.HardTimeout > MaxHardTimeout:
		return bad("hard-timeout", "must be positive and at most 14d")
	case s.SoftTimeout <= 0 || s.SoftTimeout > MaxSoftTimeout:
		return bad("soft-timeout", "must be positive and at most 24h")
	case s.SoftTimeout >= s.HardTimeout:
		return bad("soft-timeout", "must be less than hard-timeout")
	case s.MobileHardTimeout != 0 && (s.MobileHardTimeout <= s.SoftTimeout || s.MobileHardTimeout > MaxMobileHardTimeout):
		return bad("mobile-hard-timeout", "must be more than soft-timeout and at most 90d (0: the hard timeout)")
	}
	switch s.CountryFormat {
	case CountryISO, CountryName:
	default:
		return bad("country-format", "must be iso or name")
	}
	switch s.SignatureAlgorithm {
	case SignatureSHA256, SignatureSHA1:
	default:
		return bad("signature-algorithm", "must be sha256 or sha1")
	}
	switch s.SignedElement {
	case SignedAssertion, SignedResponse, SignedBoth:
	default:
		return bad("signed-element", "must be assertion, response or both")
	}
	for _, a := range []struct{ setting, v string }{
		{"attr-first-name", s.AttrFirstName}, {"attr-last-name", s.AttrLastName}, {"attr-email", s.AttrEmail},
	} {
		if a.v == "" {
			return bad(a.setting, "may not be empty")
		}
	}
	for _, e := range s.Exclude {
		if _, err := ParseEmail(e); err != nil {
			return bad("exclude", fmt.Sprintf("%q is %v", clipValue(e), err))
		}
		if e != Key(e) {
			return bad("exclude", fmt.Sprintf("%q is not in lower case", clipValue(e)))
		}
	}
	return nil
}

// Warnings names the settings of s that trade safety for convenience, for every place that shows or
// changes them to repeat.
func (s *SSOSettings) Warnings() []string {
	var w []string
	if s.SkipDestinationValidation {
		w = append(w, "skip-destination-validation is on: Destination and Recipient are not checked (testing only)")
	}
	if s.SignatureAlgorithm.AllowsSHA1() {
		w = append(w, "signature-algorithm sha1 accepts RSA-SHA1 signatures, which are forgeable in practice")
	}
	return w
}
