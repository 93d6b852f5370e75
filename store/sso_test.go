package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// withIdP is the defaults with an IdP, so SSO may be turned on.
func withIdP() *store.SSOSettings {
	s := store.DefaultSSOSettings()
	s.IdPEntityID, s.IdPSSOURL, s.IdPCertificatesPEM = "https://idp.example/", "https://idp.example/sso", []string{"cert"}
	return s
}

func TestDefaultSSOSettings(t *testing.T) {
	d := store.DefaultSSOSettings()
	if err := d.Validate(); err != nil {
		t.Fatalf("the defaults break a rule: %v", err)
	}
	if d.State != store.SSOOff || d.HardTimeout != 14*24*time.Hour || d.SoftTimeout != 8*time.Hour || d.MobileHardTimeout != 0 ||
		d.CountryFormat != store.CountryISO || d.SignatureAlgorithm != store.SignatureSHA256 || d.SignedElement != store.SignedAssertion ||
		d.NoIdPInitiated || d.SkipDestinationValidation || d.Version != 0 {
		t.Fatalf("defaults are not the spec's: %+v", d)
	}
	if w := d.Warnings(); len(w) != 0 {
		t.Fatalf("the defaults warn: %v", w)
	}
	d.Exclude = append(d.Exclude, "x@acme.com")
	if e := store.DefaultSSOSettings().Exclude; len(e) != 0 {
		t.Fatal("DefaultSSOSettings shares its values between calls")
	}
}

func TestSSOSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*store.SSOSettings)
		setting string // "" when valid
	}{
		{"defaults with an IdP", func(*store.SSOSettings) {}, ""},
		{"active", func(s *store.SSOSettings) { s.State = store.SSOActive }, ""},
		{"testing", func(s *store.SSOSettings) { s.State = store.SSOTesting }, ""},
		{"unknown state", func(s *store.SSOSettings) { s.State = "on" }, "state"},
		{"empty state", func(s *store.SSOSettings) { s.State = "" }, "state"},
		{"active without IdP", func(s *store.SSOSettings) { s.State, s.IdPCertificatesPEM = store.SSOActive, nil }, "state"},
		{"testing without SSO URL", func(s *store.SSOSettings) { s.State, s.IdPSSOURL = store.SSOTesting, "" }, "state"},
		{"off without IdP", func(s *store.SSOSettings) { s.IdPEntityID = "" }, ""},
		{"certificates at their maximum", func(s *store.SSOSettings) {
			s.IdPCertificatesPEM = slices.Repeat(s.IdPCertificatesPEM[:1], store.MaxIdPCertificates)
		}, ""},
		{"too many certificates", func(s *store.SSOSettings) {
			s.IdPCertificatesPEM = slices.Repeat(s.IdPCertificatesPEM[:1], store.MaxIdPCertificates+1)
		}, "idp-certificates"},
		{"hard at its maximum", func(s *store.SSOSettings) { s.HardTimeout = store.MaxHardTimeout }, ""},
		{"hard above its maximum", func(s *store.SSOSettings) { s.HardTimeout = 15 * 24 * time.Hour }, "hard-timeout"},
		{"hard zero", func(s *store.SSOSettings) { s.HardTimeout = 0 }, "hard-timeout"},
		{"soft at its maximum", func(s *store.SSOSettings) { s.SoftTimeout = 24 * time.Hour }, ""},
		{"soft above its maximum", func(s *store.SSOSettings) { s.SoftTimeout = 25 * time.Hour }, "soft-timeout"},
		{"soft negative", func(s *store.SSOSettings) { s.SoftTimeout = -time.Hour }, "soft-timeout"},
		{"soft equal to hard", func(s *store.SSOSettings) { s.HardTimeout, s.SoftTimeout = 2*time.Hour, 2*time.Hour }, "soft-timeout"},
		{"soft above hard", func(s *store.SSOSettings) { s.HardTimeout = time.Hour }, "soft-timeout"},
		{"mobile 0", func(s *store.SSOSettings) { s.MobileHardTimeout = 0 }, ""},
		{"mobile at its maximum", func(s *store.SSOSettings) { s.MobileHardTimeout = 90 * 24 * time.Hour }, ""},
		{"mobile above its maximum", func(s *store.SSOSettings) { s.MobileHardTimeout = 91 * 24 * time.Hour }, "mobile-hard-timeout"},
		{"mobile equal to soft", func(s *store.SSOSettings) { s.MobileHardTimeout = s.SoftTimeout }, "mobile-hard-timeout"},
		{"mobile negative", func(s *store.SSOSettings) { s.MobileHardTimeout = -time.Hour }, "mobile-hard-timeout"},
		{"country name", func(s *store.SSOSettings) { s.CountryFormat = store.CountryName }, ""},
		{"country alpha3", func(s *store.SSOSettings) { s.CountryFormat = "alpha3" }, "country-format"},
		{"sha1", func(s *store.SSOSettings) { s.SignatureAlgorithm = store.SignatureSHA1 }, ""},
		{"md5", func(s *store.SSOSettings) { s.SignatureAlgorithm = "md5" }, "signature-algorithm"},
		{"signed response", func(s *store.SSOSettings) { s.SignedElement = store.SignedResponse }, ""},
		{"signed both", func(s *store.SSOSettings) { s.SignedElement = store.SignedBoth }, ""},
		{"signed envelope", func(s *store.SSOSettings) { s.SignedElement = "envelope" }, "signed-element"},
		{"SHA256 in capitals", func(s *store.SSOSettings) { s.SignatureAlgorithm = "SHA256" }, "signature-algorithm"},
		{"no first-name attribute", func(s *store.SSOSettings) { s.AttrFirstName = "" }, "attr-first-name"},
		{"no last-name attribute", func(s *store.SSOSettings) { s.AttrLastName = "" }, "attr-last-name"},
		{"no email attribute", func(s *store.SSOSettings) { s.AttrEmail = "" }, "attr-email"},
		{"no country attribute", func(s *store.SSOSettings) { s.AttrCountry = "" }, ""},
		{"exclude", func(s *store.SSOSettings) { s.Exclude = []string{"admin@acme.com", "ops@acme.com"} }, ""},
		{"exclude not an email", func(s *store.SSOSettings) { s.Exclude = []string{"admin@acme.com", "not-an-email"} }, "exclude"},
		{"exclude look-alike", func(s *store.SSOSettings) { s.Exclude = []string{"jösé@acme.com"} }, "exclude"},
		{"exclude in capitals", func(s *store.SSOSettings) { s.Exclude = []string{"Admin@acme.com"} }, "exclude"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := withIdP()
			tc.change(s)
			before := *s
			err := s.Validate()
			if tc.setting == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var se *store.SettingError
			if !errors.As(err, &se) || se.Setting != tc.setting || !strings.HasPrefix(err.Error(), tc.setting+" ") {
				t.Fatalf("Validate = %v, want a SettingError naming %s", err, tc.setting)
			}
			if s.State != before.State || s.SoftTimeout != before.SoftTimeout {
				t.Fatal("Validate changed the settings")
			}
		})
	}
	s := withIdP()
	s.State, s.IdPCertificatesPEM = store.SSOActive, nil
	if err := s.Validate(); !errors.Is(err, store.ErrNoIdP) {
		t.Fatalf("active without an IdP: %v, want ErrNoIdP", err)
	}
}

func TestSSOSettingsWarnings(t *testing.T) {
	s := store.DefaultSSOSettings()
	s.SignatureAlgorithm, s.SkipDestinationValidation = store.SignatureSHA1, true
	w := strings.Join(s.Warnings(), "\n")
	if !strings.Contains(w, "skip-destination-validation") || !strings.Contains(w, "sha1") {
		t.Fatalf("Warnings = %q", w)
	}
}

func TestSignedElement(t *testing.T) {
	for _, tc := range []struct {
		e                   store.SignedElement
		assertion, response bool
	}{
		{store.SignedAssertion, true, false},
		{store.SignedResponse, false, true},
		{store.SignedBoth, true, true},
	} {
		if tc.e.AssertionSigned() != tc.assertion || tc.e.ResponseSigned() != tc.response {
			t.Errorf("%s: AssertionSigned %v ResponseSigned %v", tc.e, tc.e.AssertionSigned(), tc.e.ResponseSigned())
		}
	}
}
