package schemas

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/biter777/countries"
)

// maxNameLen bounds the input handed to the country-name lookup. The longest
// English name in the table ("South Georgia and the South Sandwich Islands")
// is 44 bytes; the library's name normaliser is quadratic in its input, so a
// megabyte of "country" from a request body must never reach it.
const maxNameLen = 64

// maxQuotedLen bounds how much of a rejected value a CountryError repeats, so
// a huge value from a request body does not come back whole in an error.
const maxQuotedLen = 64

// alpha2Table is the set of assigned ISO 3166-1 alpha-2 codes, indexed by
// alpha2Index and holding the canonical upper-case code (or "" when the code
// is not a country). It is built once, on first use, and only read after that;
// holding the codes as strings lets NormalizeCountry return one without
// allocating.
var alpha2Table = sync.OnceValue(func() *[26 * 26]string {
	var t [26 * 26]string
	for _, c := range countries.All() {
		code := c.Alpha2()
		i, ok := alpha2Index(code)
		if !ok || userAssigned(code) {
			continue
		}
		t[i] = code
	}
	// github.com/biter777/countries still carries these two, but ISO 3166-1
	// withdrew them: they are transitionally reserved, not countries. (It
	// also carries XK, Kosovo, a user-assigned code that userAssigned drops.)
	for _, code := range []string{
		"AN", // Netherlands Antilles, withdrawn 2010
		"YU", // Yugoslavia, withdrawn 2003
	} {
		i, _ := alpha2Index(code)
		t[i] = ""
	}
	return &t
})

// alpha2Index maps a two-letter ASCII code in any case to its slot in
// alpha2Table. It reports false for anything else.
func alpha2Index(s string) (int, bool) {
	if len(s) != 2 {
		return 0, false
	}
	a, b := s[0]|0x20, s[1]|0x20 // ASCII lower case; non-letters fail below
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0, false
	}
	return int(a-'a')*26 + int(b-'a'), true
}

// userAssigned reports whether an upper-case alpha-2 code is in one of the
// ranges ISO 3166-1 leaves to users (AA, QM–QZ, XA–XZ, ZZ). Such codes never
// name a country.
func userAssigned(code string) bool {
	switch {
	case code == "AA", code == "ZZ":
		return true
	case code[0] == 'Q':
		return code[1] >= 'M'
	case code[0] == 'X':
		return true
	}
	return false
}

// lookupAlpha2 returns the canonical upper-case code for s when s, in any
// case, is an assigned ISO 3166-1 alpha-2 code.
func lookupAlpha2(s string) (string, bool) {
	i, ok := alpha2Index(s)
	if !ok {
		return "", false
	}
	code := alpha2Table()[i]
	return code, code != ""
}

// lookupName maps an English country name, a common alias of one, or an
// alpha-2 or alpha-3 code, case-insensitively, to an assigned alpha-2 code.
func lookupName(s string) (string, bool) {
	if s == "" || len(s) > maxNameLen {
		return "", false
	}
	c := countries.ByName(s)
	if !c.IsValid() {
		return "", false
	}
	// The library knows codes that are not countries (XK, AN, YU); only
	// answer with one that NormalizeCountry accepts.
	return lookupAlpha2(c.Alpha2())
}

// NormalizeCountry returns v as an upper-case ISO 3166-1 alpha-2 code
// ("de" → "DE", " us " → "US"). It accepts only the 249 codes currently
// assigned to a country or territory: user-assigned codes (AA, QM–QZ, XA–XZ,
// ZZ, so also XK) and reserved or withdrawn ones (UK, EU, AN, YU) are
// refused. Any other input
// gets a *CountryError, which carries the right code as Suggestion when v is
// an alpha-3 code or an English country name. It does not allocate when v is
// valid, and it is safe for concurrent use.
func NormalizeCountry(v string) (string, error) {
	s := strings.TrimSpace(v)
	if code, ok := lookupAlpha2(s); ok {
		return code, nil
	}
	e := &CountryError{Value: s}
	if code, ok := lookupName(s); ok {
		e.Suggestion = code
	}
	return "", e
}

// CountryFromName maps a country as an identity provider sends it for
// country-format "name" to an ISO 3166-1 alpha-2 code. It accepts, with
// surrounding whitespace trimmed and in any case, a full English country name
// ("Germany", "united states", "Czech Republic"), a common alias the country
// table knows ("UK", "Holland"), a valid alpha-2 code, or an alpha-3 code. It
// reports false when v maps to no assigned country. It is safe for concurrent
// use.
func CountryFromName(v string) (string, bool) {
	s := strings.TrimSpace(v)
	if code, ok := lookupAlpha2(s); ok {
		return code, true
	}
	return lookupName(s)
}

// CountryError reports a value that is not an ISO 3166-1 alpha-2 country
// code. Its message names no SCIM attribute: the caller adds the field.
type CountryError struct {
	// Value is the rejected value with surrounding whitespace removed; ""
	// means the country was missing.
	Value string
	// Suggestion is the alpha-2 code Value most likely meant (for "USA" or
	// "United States", "US"), or "" when there is none. When set it is
	// always a code NormalizeCountry accepts.
	Suggestion string
}

// Error returns a one-line message for a person, such as
// `"USA" is not an ISO 3166-1 alpha-2 country code; use "US"`, or
// `country is missing` when Value is empty. A long Value is shortened.
func (e *CountryError) Error() string {
	if e.Value == "" {
		return "country is missing"
	}
	v := e.Value
	if len(v) > maxQuotedLen {
		v = strings.ToValidUTF8(v[:maxQuotedLen], "") + "…"
	}
	if e.Suggestion == "" {
		return fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", v)
	}
	return fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code; use %q", v, e.Suggestion)
}

// Country is an assigned ISO 3166-1 country with its English name, for a person to choose from.
type Country struct {
	Code string // alpha-2, upper case
	Name string
}

// Countries returns every country NormalizeCountry accepts, ordered by name. The slice is shared:
// callers must not change it.
func Countries() []Country { return countryList() }

var countryList = sync.OnceValue(func() []Country {
	var out []Country
	for _, code := range alpha2Table() {
		if code == "" {
			continue
		}
		out = append(out, Country{Code: code, Name: countries.ByName(code).String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
})
