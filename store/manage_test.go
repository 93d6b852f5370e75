package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

func TestCheckNewTenant(t *testing.T) {
	for _, tc := range []struct {
		slug, name string
		domains    []string
		field      string // of the refusal; "" for none
		want       string // the normalised tenant
	}{
		{"acme", " Acme Inc ", []string{"Acme.com", "acme.com", "acme.io"}, "", "acme|Acme Inc|[acme.com acme.io]"},
		{"Acme", "A", []string{"acme.com"}, "slug", ""},
		{"a", "A", []string{"acme.com"}, "slug", ""},
		{"acme", "  ", []string{"acme.com"}, "name", ""},
		{"acme", "A", nil, "domains", ""},
		{"acme", "A", []string{"acme.com", "not a domain"}, "domains", ""},
		{"acme", "A\x00B", []string{"acme.com"}, "name", ""},
		{"acme", "A\tB", []string{"acme.com"}, "name", ""},
		{"acme", "A", manyDomains(store.MaxNewTenantDomains), "", "acme|A|" + fmt.Sprint(manyDomains(store.MaxNewTenantDomains))},
		{"acme", "A", manyDomains(store.MaxNewTenantDomains + 1), "domains", ""},
	} {
		tn := &store.Tenant{Slug: tc.slug, Name: tc.name, Domains: tc.domains}
		err := store.CheckNewTenant(tn)
		var r *store.Refusal
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc, err)
		case tc.field == "" && fmt.Sprintf("%s|%s|%v", tn.Slug, tn.Name, tn.Domains) != tc.want:
			t.Errorf("%+v: normalised to %+v", tc, tn)
		case tc.field != "" && (!errors.As(err, &r) || r.Field != tc.field || !errors.Is(err, store.ErrInvalid)):
			t.Errorf("%+v: %v; want a refusal of %s", tc, err, tc.field)
		}
	}
}

// manyDomains is n distinct domains.
func manyDomains(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("d%d.acme.com", i)
	}
	return out
}

func TestParseLifetime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 24 * time.Hour, true}, {"90m", 90 * time.Minute, true}, {"7d", 7 * 24 * time.Hour, true},
		{"8d", 0, false}, {"0", 0, false}, {"-1h", 0, false}, {"soon", 0, false},
	} {
		got, err := store.ParseLifetime(tc.in, 24*time.Hour, 7*24*time.Hour)
		var r *store.Refusal
		if tc.ok && (err != nil || got != tc.want) || !tc.ok && (!errors.As(err, &r) || r.Field != "expires") {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestSetupLinkScopes(t *testing.T) {
	for _, tc := range []struct {
		sso, scim bool
		want      string
	}{{false, false, "[sso scim]"}, {true, true, "[sso scim]"}, {true, false, "[sso]"}, {false, true, "[scim]"}} {
		if got := fmt.Sprint(store.SetupLinkScopes(tc.sso, tc.scim)); got != tc.want {
			t.Errorf("SetupLinkScopes(%v, %v) = %s, want %s", tc.sso, tc.scim, got, tc.want)
		}
	}
}
