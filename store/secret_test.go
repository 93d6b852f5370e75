package store_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

func TestNewSecret(t *testing.T) {
	for _, prefix := range []string{"", store.TokenPrefix} {
		seen := map[string]bool{}
		for range 100 {
			s, h, err := store.NewSecret(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+43 || !store.IsSecret(prefix, s) {
				t.Fatalf("NewSecret(%q) = %q, not the shape IsSecret accepts", prefix, s)
			}
			if strings.ContainsAny(s[len(prefix):], "+/=") {
				t.Fatalf("NewSecret(%q) = %q is not URL-safe", prefix, s)
			}
			want := sha256.Sum256([]byte(s))
			if !bytes.Equal(h, want[:]) || !bytes.Equal(store.HashSecret(s), want[:]) {
				t.Fatalf("hash of %q is not its SHA-256", s)
			}
			if seen[s] {
				t.Fatalf("NewSecret repeated %q", s)
			}
			seen[s] = true
		}
	}
}

func TestIsSecret(t *testing.T) {
	good, _, _ := store.NewSecret(store.TokenPrefix)
	for _, tc := range []struct {
		prefix, v string
		want      bool
	}{
		{store.TokenPrefix, good, true},
		{"", good[len(store.TokenPrefix):], true},
		{"", good, false},                                         // a prefix where none is expected
		{store.TokenPrefix, good[len(store.TokenPrefix):], false}, // no prefix
		{store.TokenPrefix, good[:len(good)-1], false},
		{store.TokenPrefix, good + "A", false},
		{"", strings.Repeat("A", 42) + "+", false},
		{"", strings.Repeat("A", 42) + "=", false},
		{"", "", false},
	} {
		if got := store.IsSecret(tc.prefix, tc.v); got != tc.want {
			t.Errorf("IsSecret(%q, %q) = %v, want %v", tc.prefix, tc.v, got, tc.want)
		}
	}
}
