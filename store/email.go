package store

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of an address (RFC 5321 §4.5.3.1): a path is at most 256 octets with its angle brackets, so an
// address is at most 254; a local part is at most 64 octets, a domain at most 253.
const (
	MaxEmailLen     = 254
	MaxLocalPartLen = 64
	MaxDomainLen    = 253
)

// ErrInvalidEmail is wrapped by the errors of ParseEmail, which say why.
var ErrInvalidEmail = errors.New("not a valid email address")

// ErrInvalidDomain is wrapped by the errors of ParseDomain, which say why.
var ErrInvalidDomain = errors.New("not a valid domain")

// ParseEmail is scimsso's one rule for an email address, applied wherever one comes in (SCIM,
// sign-in, the command line): users are found and created by email, so an address one path accepts
// and another refuses is a user who can never sign in. It returns s without surrounding space, or an
// error wrapping ErrInvalidEmail that says why.
//
// An address is printable ASCII without spaces: look-alikes (Cyrillic 'а' for 'a'), invisible
// characters and embedded spaces are refused rather than becoming a second account. It is a dot-atom
// local part of at most 64 characters, '@', and a domain ParseDomain accepts (any case), at most 254
// characters in all (RFC 5321), so every filter can name it.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrInvalidEmail, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("it is empty")
	}
	if len(s) > MaxEmailLen {
		return bad("it is %d characters long; at most %d are allowed (RFC 5321)", len(s), MaxEmailLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return bad("it may hold only letters a-z, digits and ASCII punctuation, without spaces (look-alike letters such as Cyrillic 'а' are refused)")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return bad("it has no @")
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return bad("nothing comes before the @")
	case len(local) > MaxLocalPartLen:
		return bad("the part before the @ is %d characters long; at most %d are allowed (RFC 5321)", len(local), MaxLocalPartLen)
	case !dotAtom(local):
		return bad("the part before the @ may hold letters, digits, dots (not first, last or two in a row) and !#$%%&'*+-/=?^_`{|}~")
	}
	if _, err := ParseDomain(domain); err != nil {
		return bad("the part after the @ is %s", strings.TrimPrefix(err.Error(), ErrInvalidDomain.Error()+": "))
	}
	return s, nil
}

// dotAtom reports whether s is an RFC 5322 dot-atom: atext characters in dot-separated, non-empty runs.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}

// ParseDomain is the rule for a tenant's email domain and the domain of every email address: a DNS
// name of at least two labels (letters, digits and inner hyphens, at most 63 each), the last starting
// with a letter, at most 253 characters. It returns the domain in lower case without surrounding
// space, or an error wrapping ErrInvalidDomain that says why.
func ParseDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(s))
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: %s", ErrInvalidDomain, why) }
	if d == "" {
		return bad("empty")
	}
	if len(d) > MaxDomainLen {
		return bad(fmt.Sprintf("%d characters long; a DNS name has at most %d", len(d), MaxDomainLen))
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return bad("not a DNS name such as acme.com")
	}
	for i, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad("not a DNS name such as acme.com")
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return bad("not a DNS name such as acme.com")
			}
		}
		if i == len(labels)-1 && !('a' <= l[0] && l[0] <= 'z') {
			return bad("not a DNS name such as acme.com")
		}
	}
	return d, nil
}
