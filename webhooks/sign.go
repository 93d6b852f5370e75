package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signatures follow Standard Webhooks (standardwebhooks.com): the headers webhook-id (the event id,
// the same on every attempt), webhook-timestamp (Unix seconds, fresh on every attempt) and
// webhook-signature, "v1," and the base64 of HMAC-SHA256 over "id.timestamp.body" under the secret's
// key. The secret is "whsec_" and the base64 of the key, as the receiver's libraries read it.

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every webhook secret.
const SecretPrefix = "whsec_"

// secretBytes is the length of a new secret's key: 32 random bytes (Standard Webhooks asks for 24 to 64).
const secretBytes = 32

// NewSecret returns a new webhook secret: SecretPrefix and the base64 of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhooks: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey is the HMAC key of a secret: the base64 after SecretPrefix (the prefix is optional, as
// in the reference libraries).
func secretKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, errors.New("webhooks: malformed secret (want whsec_ and base64)")
	}
	return k, nil
}

// Sign returns the webhook-signature value of body sent as event id at ts: "v1," and the base64 of
// HMAC-SHA256(key, id + "." + unix seconds + "." + body).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	k, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(k, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// signedHeader returns the headers of one attempt to send body as event id at now.
func signedHeader(secret, id string, now time.Time, body []byte) (http.Header, error) {
	sig, err := Sign(secret, id, now, body)
	if err != nil {
		return nil, err
	}
	// The keys as http.Header.Set would write them (canonical), without its work per attempt; room
	// for the User-Agent the sender adds.
	return http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
		"Webhook-Signature": {sig},
	}, nil
}

// Tolerance is how far a webhook-timestamp may be from the receiver's clock for Verify.
const Tolerance = 5 * time.Minute

// ErrSignature is Verify's error for a request that does not carry a valid signature.
var ErrSignature = errors.New("webhooks: no valid signature")

// Verify checks a received webhook as a receiver would: the headers are present, the timestamp is
// within Tolerance of now, and one of the space-separated v1 signatures is body's under secret
// (compared in constant time). It returns ErrSignature otherwise.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	k, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || sigs == "" {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return ErrSignature
	}
	want := mac(k, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
