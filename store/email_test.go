package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

func TestParseEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	long := local64 + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com" // 254
	cases := []struct {
		in, want, whyHas string
	}{
		{"alice@acme.com", "alice@acme.com", ""},
		{"  Alice.Smith@ACME.com ", "Alice.Smith@ACME.com", ""},
		{"carol_50%+x@acme.com", "carol_50%+x@acme.com", ""},
		{"o'brien@sub.acme.co.uk", "o'brien@sub.acme.co.uk", ""},
		{local64 + "@acme.com", local64 + "@acme.com", ""},
		{long, long, ""},
		{"", "", "empty"},
		{"alice", "", "no @"},
		{"@acme.com", "", "before the @"},
		{"alice@", "", "after the @"},
		{"alice@acme", "", "after the @"},
		{"alice@-acme.com", "", "after the @"},
		{"alice@acme.123", "", "after the @"},
		{"alice@acme..com", "", "after the @"},
		{"a@b@acme.com", "", "before the @"},
		{"a..b@acme.com", "", "before the @"},
		{".a@acme.com", "", "before the @"},
		{`"a"@acme.com`, "", "before the @"},
		{"a,b@acme.com", "", "before the @"},
		{"Alice <alice@acme.com>", "", "spaces"},
		{"jösé@acme.com", "", "look-alike"},
		{"аlice@acme.com", "", "look-alike"}, // Cyrillic а
		{"alice\u200b@acme.com", "", "look-alike"},
		{"ali ce@acme.com", "", "spaces"},
		{"alice@acme.com\x00", "", "look-alike"},
		{"a" + local64 + "@acme.com", "", "65 characters"},
		{"a" + long, "", "255 characters"},
		{strings.Repeat("x", 5000) + "@acme.com", "", "5009 characters"},
	}
	for _, c := range cases {
		got, err := store.ParseEmail(c.in)
		if c.whyHas == "" {
			if err != nil || got != c.want {
				t.Errorf("ParseEmail(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil || !errors.Is(err, store.ErrInvalidEmail) || !strings.Contains(err.Error(), c.whyHas) || got != "" {
			t.Errorf("ParseEmail(%.80q) = %q, %v; want an ErrInvalidEmail saying %q", c.in, got, err, c.whyHas)
		}
	}
}

func TestParseDomain(t *testing.T) {
	for in, want := range map[string]string{
		"acme.com": "acme.com", " ACME.Com ": "acme.com", "a-b.c9.io": "a-b.c9.io", "xn--bcher-kva.example": "xn--bcher-kva.example",
		"": "", "acme": "", "acme.": "", ".acme.com": "", "ac_me.com": "", "acme.1com": "", "-a.com": "", "a-.com": "",
		strings.Repeat("a", 64) + ".com": "", "bücher.de": "", strings.Repeat("a.", 127) + "com": "",
	} {
		got, err := store.ParseDomain(in)
		if got != want || (want == "") != errors.Is(err, store.ErrInvalidDomain) {
			t.Errorf("ParseDomain(%.40q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParseEmail: whatever comes in, an accepted address is short enough for every filter, printable
// ASCII with one @, and accepted again unchanged.
func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{"alice@acme.com", "jösé@acme.com", "a@b@c.com", " x@y.io ", "a..b@c.de", `"q"@x.com`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := store.ParseEmail(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidEmail) {
				t.Fatalf("error %v does not wrap ErrInvalidEmail", err)
			}
			return
		}
		at := strings.IndexByte(got, '@')
		if len(got) > store.MaxEmailLen || at < 1 || at > store.MaxLocalPartLen || strings.Count(got, "@") != 1 {
			t.Fatalf("accepted %q", got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] > '~' {
				t.Fatalf("accepted %q with byte %#x", got, got[i])
			}
		}
		if again, err := store.ParseEmail(got); err != nil || again != got {
			t.Fatalf("ParseEmail(%q) = %q, %v on the second pass", got, again, err)
		}
		if store.EmailDomain(got) == "" {
			t.Fatalf("accepted %q has no domain", got)
		}
	})
}
