// Package secret makes the random values scimsso hands to browsers (session, CSRF and binding cookies,
// test links) and the SHA-256 that is all the store keeps of them.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// New returns 256 random bits, URL-safe (43 characters of base64url), and their Hash.
func New() (value string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	v := base64.RawURLEncoding.EncodeToString(b[:])
	return v, Hash(v), nil
}

// Hash is the SHA-256 of v: the only form in which a secret is stored or looked up.
func Hash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// Valid reports whether v has the shape New gives. Anything else was never issued here and needs no
// lookup.
func Valid(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

// FromCookie returns the value of the request's named cookie when it is Valid, else "".
func FromCookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || !Valid(c.Value) {
		return ""
	}
	return c.Value
}
