package store

import (
	"errors"
	"fmt"
)

// ErrInvalidSlug is wrapped by the errors of ParseSlug.
var ErrInvalidSlug = errors.New("not a valid tenant slug")

// ParseSlug is the rule for a tenant's slug, the name in its URLs (/scim/v2/{slug}, /saml/{slug}):
// 2 to 63 characters of a-z, 0-9 and '-', so it is one DNS label and needs no escaping anywhere. It
// returns s unchanged, or an error wrapping ErrInvalidSlug.
func ParseSlug(s string) (string, error) {
	ok := len(s) >= 2 && len(s) <= 63
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
	}
	if !ok {
		return "", fmt.Errorf("%w %q: use 2-63 characters of a-z, 0-9 and -", ErrInvalidSlug, s)
	}
	return s, nil
}
