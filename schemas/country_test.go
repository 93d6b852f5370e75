package schemas_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/biter777/countries"

	"github.com/scimsso/scimsso/schemas"
)

func TestNormalizeCountry(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"US", "US"},
		{"de", "DE"},
		{" us ", "US"},
		{"\tGb\n", "GB"},
		{"gB", "GB"},
		{"NA", "NA"}, // Namibia: a real code that looks like "not applicable"
		{"AQ", "AQ"},
		{"BQ", "BQ"},
		{"SS", "SS"},
		{"CW", "CW"},
		{"SX", "SX"},
		{"UM", "UM"},
		{"TL", "TL"},
		{"ME", "ME"},
		{"RS", "RS"},
		{"AX", "AX"},
	}
	for _, tt := range tests {
		got, err := schemas.NormalizeCountry(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeCountry(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeCountryRefuses(t *testing.T) {
	tests := []struct {
		in         string
		suggestion string
		msg        string
	}{
		{"", "", `country is missing`},
		{"   ", "", `country is missing`},
		{"USA", "US", `"USA" is not an ISO 3166-1 alpha-2 country code; use "US"`},
		{"usa", "US", `"usa" is not an ISO 3166-1 alpha-2 country code; use "US"`},
		{" DEU ", "DE", `"DEU" is not an ISO 3166-1 alpha-2 country code; use "DE"`},
		{"gbr", "GB", `"gbr" is not an ISO 3166-1 alpha-2 country code; use "GB"`},
		{"United States", "US", `"United States" is not an ISO 3166-1 alpha-2 country code; use "US"`},
		{"united states", "US", `"united states" is not an ISO 3166-1 alpha-2 country code; use "US"`},
		{"Namibia", "NA", `"Namibia" is not an ISO 3166-1 alpha-2 country code; use "NA"`},
		{"Germany", "DE", `"Germany" is not an ISO 3166-1 alpha-2 country code; use "DE"`},
		{"Czech Republic", "CZ", `"Czech Republic" is not an ISO 3166-1 alpha-2 country code; use "CZ"`},
		{"United Kingdom", "GB", `"United Kingdom" is not an ISO 3166-1 alpha-2 country code; use "GB"`},
		{"UK", "GB", `"UK" is not an ISO 3166-1 alpha-2 country code; use "GB"`},
		{"XX", "", `"XX" is not an ISO 3166-1 alpha-2 country code`},
		// User-assigned codes.
		{"AA", "", `"AA" is not an ISO 3166-1 alpha-2 country code`},
		{"ZZ", "", `"ZZ" is not an ISO 3166-1 alpha-2 country code`},
		{"QM", "", `"QM" is not an ISO 3166-1 alpha-2 country code`},
		{"qz", "", `"qz" is not an ISO 3166-1 alpha-2 country code`},
		{"XA", "", `"XA" is not an ISO 3166-1 alpha-2 country code`},
		{"XK", "", `"XK" is not an ISO 3166-1 alpha-2 country code`}, // Kosovo: user-assigned
		{"Kosovo", "", `"Kosovo" is not an ISO 3166-1 alpha-2 country code`},
		{"XZ", "", `"XZ" is not an ISO 3166-1 alpha-2 country code`},
		// Reserved or withdrawn codes.
		{"EU", "", `"EU" is not an ISO 3166-1 alpha-2 country code`},
		{"UN", "", `"UN" is not an ISO 3166-1 alpha-2 country code`},
		{"AN", "", `"AN" is not an ISO 3166-1 alpha-2 country code`},
		{"YU", "", `"YU" is not an ISO 3166-1 alpha-2 country code`},
		{"SU", "", `"SU" is not an ISO 3166-1 alpha-2 country code`},
		// Not codes at all.
		{"U", "", `"U" is not an ISO 3166-1 alpha-2 country code`},
		{"U S", "US", `"U S" is not an ISO 3166-1 alpha-2 country code; use "US"`},
		{"1A", "", `"1A" is not an ISO 3166-1 alpha-2 country code`},
		{"Ü", "", `"Ü" is not an ISO 3166-1 alpha-2 country code`},
		{"Atlantis", "", `"Atlantis" is not an ISO 3166-1 alpha-2 country code`},
		{"US\x00", "US", `"US\x00" is not an ISO 3166-1 alpha-2 country code; use "US"`},
	}
	for _, tt := range tests {
		got, err := schemas.NormalizeCountry(tt.in)
		var ce *schemas.CountryError
		if !errors.As(err, &ce) {
			t.Errorf("NormalizeCountry(%q) = %q, %v; want a *CountryError", tt.in, got, err)
			continue
		}
		if got != "" {
			t.Errorf("NormalizeCountry(%q) returned %q with an error", tt.in, got)
		}
		if ce.Suggestion != tt.suggestion {
			t.Errorf("NormalizeCountry(%q).Suggestion = %q; want %q", tt.in, ce.Suggestion, tt.suggestion)
		}
		if ce.Value != strings.TrimSpace(tt.in) {
			t.Errorf("NormalizeCountry(%q).Value = %q; want the trimmed input", tt.in, ce.Value)
		}
		if msg := err.Error(); msg != tt.msg {
			t.Errorf("NormalizeCountry(%q) error = %s; want %s", tt.in, msg, tt.msg)
		}
	}
}

func TestCountryErrorShortensLongValues(t *testing.T) {
	long := strings.Repeat("ä", 1<<20)
	start := time.Now()
	_, err := schemas.NormalizeCountry(long)
	if d := time.Since(start); d > time.Second {
		t.Errorf("NormalizeCountry on 2 MB took %v", d)
	}
	if err == nil {
		t.Fatal("NormalizeCountry accepted 2 MB of text")
	}
	if msg := err.Error(); len(msg) > 200 || !strings.Contains(msg, "…") {
		t.Errorf("message not shortened: %d bytes", len(msg))
	}
}

// TestCountryTable pins what the country library gives us, so that an upgrade
// that adds or drops codes shows up here.
func TestCountryTable(t *testing.T) {
	var n int
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			got, err := schemas.NormalizeCountry(code)
			if err != nil {
				continue
			}
			n++
			if got != code {
				t.Errorf("NormalizeCountry(%q) = %q", code, got)
			}
			// Every country's English name and alpha-3 code map back to it.
			c := countries.ByName(code)
			if name, ok := schemas.CountryFromName(c.String()); !ok || name != code {
				t.Errorf("CountryFromName(%q) = %q, %v; want %q", c.String(), name, ok, code)
			}
			if _, err := schemas.NormalizeCountry(c.Alpha3()); err == nil ||
				err.(*schemas.CountryError).Suggestion != code {
				t.Errorf("NormalizeCountry(%q) = %v; want a suggestion of %q", c.Alpha3(), err, code)
			}
		}
	}
	// ISO 3166-1 assigns 249 alpha-2 codes.
	if n != 249 {
		t.Errorf("%d codes accepted; want 249", n)
	}
}

func TestCountryFromName(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"Germany", "DE", true},
		{"  germany ", "DE", true},
		{"GERMANY", "DE", true},
		{"United States", "US", true},
		{"united states of america", "US", true},
		{"United Kingdom", "GB", true},
		{"Czech Republic", "CZ", true},
		{"Czechia", "CZ", true},
		{"Namibia", "NA", true},
		{"Côte d'Ivoire", "CI", true},
		{"Viet Nam", "VN", true},
		{"de", "DE", true},
		{"US", "US", true},
		{"USA", "US", true},
		{"", "", false},
		{"  ", "", false},
		{"XX", "", false},
		{"XK", "", false},
		{"Kosovo", "", false},
		{"Yugoslavia", "", false},
		{"Atlantis", "", false},
		{"Europe", "", false},
		{strings.Repeat("Germany", 100), "", false},
	}
	for _, tt := range tests {
		got, ok := schemas.CountryFromName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CountryFromName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNormalizeCountryDoesNotAllocate(t *testing.T) {
	for _, in := range []string{"DE", "de", " us "} {
		schemas.NormalizeCountry(in) // build the table outside the measurement
		if n := testing.AllocsPerRun(100, func() { schemas.NormalizeCountry(in) }); n != 0 {
			t.Errorf("NormalizeCountry(%q) allocates %v times", in, n)
		}
	}
}

func FuzzNormalizeCountry(f *testing.F) {
	for _, s := range []string{"US", "de", " us ", "", "USA", "United States", "Namibia", "XX", "XK", "UK", "Ü", "(DE)", "D.E."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := schemas.NormalizeCountry(in)
		if err != nil {
			var ce *schemas.CountryError
			if !errors.As(err, &ce) {
				t.Fatalf("NormalizeCountry(%q) error %T, want *CountryError", in, err)
			}
			if got != "" {
				t.Fatalf("NormalizeCountry(%q) = %q with an error", in, got)
			}
			if ce.Suggestion != "" {
				if s, err := schemas.NormalizeCountry(ce.Suggestion); err != nil || s != ce.Suggestion {
					t.Fatalf("NormalizeCountry(%q) suggests %q, which is not valid", in, ce.Suggestion)
				}
			}
			if err.Error() == "" {
				t.Fatalf("NormalizeCountry(%q): empty message", in)
			}
			return
		}
		if len(got) != 2 || got[0] < 'A' || got[0] > 'Z' || got[1] < 'A' || got[1] > 'Z' {
			t.Fatalf("NormalizeCountry(%q) = %q, not two upper-case letters", in, got)
		}
		if again, err := schemas.NormalizeCountry(got); err != nil || again != got {
			t.Fatalf("NormalizeCountry(%q) = %q, %v; not idempotent", got, again, err)
		}
		if name, ok := schemas.CountryFromName(in); !ok || name != got {
			t.Fatalf("CountryFromName(%q) = %q, %v; NormalizeCountry said %q", in, name, ok, got)
		}
	})
}

func BenchmarkNormalizeCountry(b *testing.B) {
	schemas.NormalizeCountry("DE")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schemas.NormalizeCountry("de"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCountriesAreTheAcceptedCodesByName(t *testing.T) {
	cs := schemas.Countries()
	if len(cs) != 249 {
		t.Fatalf("%d countries, want the 249 assigned codes", len(cs))
	}
	for i, c := range cs {
		if got, err := schemas.NormalizeCountry(c.Code); err != nil || got != c.Code || c.Name == "" {
			t.Errorf("country %+v: NormalizeCountry = %q, %v", c, got, err)
		}
		if i > 0 && cs[i-1].Name > c.Name {
			t.Errorf("%s before %s: not ordered by name", cs[i-1].Name, c.Name)
		}
	}
}
