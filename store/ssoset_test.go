package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSSOSettingSetGet(t *testing.T) {
	for _, c := range []struct {
		name, value, want, err string
	}{
		{"hard-timeout", "14d", "14d", ""},
		{"hard-timeout", "1d12h", "1d12h0m0s", ""},
		{"soft-timeout", " 8h ", "8h0m0s", ""},
		{"soft-timeout", "8 hours", "", "soft-timeout: invalid duration"},
		{"exclude", "A@Example.com, b@example.com,,", "a@example.com,b@example.com", ""},
		{"force-country", "on", "true", ""},
		{"force-country", "", "false", ""},
		{"force-country", "maybe", "", "force-country: must be true or false"},
		{"idp-initiated", "off", "off", ""},
		{"idp-initiated", "no", "", "idp-initiated: must be on or off"},
		{"state", "testing", "testing", ""},
		{"attr-email", "mail,Email", "mail,Email", ""},
		{"nonsense", "x", "", "is not an SSO setting"},
	} {
		s := DefaultSSOSettings()
		err := s.Set(c.name, c.value)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Set(%q, %q) = %v, want an error with %q", c.name, c.value, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Set(%q, %q): %v", c.name, c.value, err)
			continue
		}
		if got := s.Get(c.name); got != c.want {
			t.Errorf("Get(%q) after Set(%q) = %q, want %q", c.name, c.value, got, c.want)
		}
	}
	if err := DefaultSSOSettings().Set("nope", ""); !errors.Is(err, ErrUnknownSetting) {
		t.Errorf("unknown setting: %v", err)
	}
}

// Every setting of the table reads back what Get shows, so a form filled from Get and posted unchanged
// changes nothing.
func TestSSOSettingRoundTrip(t *testing.T) {
	s := DefaultSSOSettings()
	s.MobileHardTimeout = 30 * 24 * time.Hour
	s.Exclude = []string{"x@example.com"}
	s.NoIdPInitiated, s.ForceCountry = true, true
	for _, st := range SSOSettingTable {
		c := *s
		if err := c.Set(st.Name, s.Get(st.Name)); err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		if c.Get(st.Name) != s.Get(st.Name) {
			t.Errorf("%s: %q became %q", st.Name, s.Get(st.Name), c.Get(st.Name))
		}
	}
}

// TestSSOSettingsApply: the one change of sso set and the management API: IdP, then settings in
// order, then Validate; each failure says which setting.
func TestSSOSettingsApply(t *testing.T) {
	idp := &SSOIdP{EntityID: "https://idp.example", SSOURL: "https://idp.example/sso", CertificatesPEM: []string{"pem"}, MetadataURL: "https://idp.example/md"}
	for _, tc := range []struct {
		name    string
		idp     *SSOIdP
		changes []SSOChange
		setting string // of the *SettingError; "" for none
		err     string // in a Set error
		want    string // state after, when no error
	}{
		{"nothing", nil, nil, "", "", "off"},
		{"IdP and testing", idp, []SSOChange{{"state", "testing"}, {"soft-timeout", "2h"}}, "", "", "testing"},
		{"testing without an IdP", nil, []SSOChange{{"state", "testing"}}, "state", "", ""},
		{"a bad duration", idp, []SSOChange{{"soft-timeout", "soon"}}, "", "soft-timeout: invalid duration", ""},
		{"an unknown setting", nil, []SSOChange{{"hard_timeout", "1d"}}, "", "is not an SSO setting", ""},
		{"out of range", nil, []SSOChange{{"hard-timeout", "30d"}}, "hard-timeout", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSSOSettings()
			err := s.Apply(tc.idp, tc.changes)
			var se *SettingError
			switch {
			case tc.setting != "":
				if !errors.As(err, &se) || se.Setting != tc.setting {
					t.Fatalf("%v; want a SettingError of %s", err, tc.setting)
				}
			case tc.err != "":
				if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v; want a Set error with %q", err, tc.err)
				}
			default:
				if err != nil || string(s.State) != tc.want {
					t.Fatalf("%v, state %s; want %s", err, s.State, tc.want)
				}
				if tc.idp != nil && (s.IdPEntityID != idp.EntityID || s.IdPMetadataURL != idp.MetadataURL || len(s.IdPCertificatesPEM) != 1) {
					t.Fatalf("IdP not installed: %+v", s)
				}
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	if got := strings.Join(Dedupe([]string{"b", "a", "b", "", "a", ""}), ","); got != "b,a," {
		t.Fatalf("Dedupe = %q", got)
	}
	if Dedupe(nil) != nil {
		t.Fatal("Dedupe(nil) is not nil")
	}
}
