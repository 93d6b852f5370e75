package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Secrets are what scimsso hands out and later recognises: SCIM bearer tokens, session and
// browser-binding cookies, test links. Each is 256 bits from crypto/rand, and the store keeps only its
// SHA-256 (Token.Hash, Session.IDHash, AuthnRequest.BindingHash, TestLink.Hash), so a copy of the
// database signs nobody in. A fast hash is right here: the secret has full entropy, so there is nothing
// for a slow, salted hash to protect, and every request looks one up.

// TokenPrefix starts every SCIM bearer token, so secret scanners and people recognise a leaked one.
const TokenPrefix = "scimsso_"

// secretLen is the length of the random part of a secret: 32 bytes in unpadded base64url.
const secretLen = 43

// NewSecret returns a new secret, prefix followed by 256 bits from crypto/rand in unpadded base64url
// (URL- and cookie-safe), and HashSecret of it, the only form to store. It fails only if crypto/rand
// does.
func NewSecret(prefix string) (secret string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("store: new secret: %w", err)
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret), nil
}

// HashSecret returns the SHA-256 of secret, the form the store keeps and looks secrets up by. Compare
// a presented secret's hash with a stored one in constant time.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// IsSecret reports whether v has the shape NewSecret(prefix) gives. Anything else was never issued
// and needs no lookup; this is not a check that v was issued.
func IsSecret(prefix, v string) bool {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok || len(rest) != secretLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}
