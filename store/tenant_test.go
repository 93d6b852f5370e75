package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

func TestParseSlug(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"acme", true}, {"ac", true}, {"acme-2", true}, {strings.Repeat("a", 63), true}, {"-", false},
		{"a", false}, {"", false}, {strings.Repeat("a", 64), false}, {"Acme", false}, {"bad_slug", false},
		{"ac me", false}, {"acmé", false}, {"acme/x", false}, {"acme.com", false},
	} {
		got, err := store.ParseSlug(tc.in)
		if tc.ok != (err == nil) || (tc.ok && got != tc.in) || (!tc.ok && !errors.Is(err, store.ErrInvalidSlug)) {
			t.Errorf("ParseSlug(%q) = %q, %v; want ok %v", tc.in, got, err, tc.ok)
		}
	}
}
