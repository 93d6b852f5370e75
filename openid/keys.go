package openid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/scimsso/scimsso/store"
)

// KeyOverlap is how long a replaced signing key stays in the published key set after a rotation:
// longer than any token it signed lives, so relying parties that cached the set keep verifying them.
const KeyOverlap = 24 * time.Hour

// keyTTL is how long a replica uses the keys it read before it reads them again: a rotation reaches
// every replica within it, and ID tokens still verify meanwhile (the old key stays published).
const keyTTL = 5 * time.Second

// NewSigningKeys makes a new set of signing keys: an RSA-2048 key for RS256 (which OpenID Connect
// requires) and a P-256 key for ES256. Each key's id is its RFC 7638 thumbprint.
func NewSigningKeys() ([]store.OIDCKey, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var out []store.OIDCKey
	for _, k := range []struct {
		alg  string
		priv crypto.Signer
	}{{store.AlgRS256, rk}, {store.AlgES256, ek}} {
		privDER, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return nil, err
		}
		pubDER, err := x509.MarshalPKIXPublicKey(k.priv.Public())
		if err != nil {
			return nil, err
		}
		tp, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		out = append(out, store.OIDCKey{
			ID:            base64.RawURLEncoding.EncodeToString(tp),
			Algorithm:     k.alg,
			PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
			PublicKeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		})
	}
	return out, nil
}

// RotateKeys makes new signing keys the ones that sign from now on; the keys they replace stay
// published for KeyOverlap. It returns the new keys (their private halves included).
func RotateKeys(ctx context.Context, st store.Store) ([]store.OIDCKey, error) {
	keys, err := NewSigningKeys()
	if err != nil {
		return nil, fmt.Errorf("openid: new signing keys: %w", err)
	}
	if _, err := st.AddOIDCKeys(ctx, keys, KeyOverlap, false); err != nil {
		return nil, err
	}
	return keys, nil
}

// signingKey is a parsed key: op.SigningKey with its private half, op.Key with its public one.
type signingKey struct {
	id   string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer // nil for a retiring key whose private half is not readable
	pub  crypto.PublicKey
}

func (k *signingKey) ID() string                                  { return k.id }
func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Algorithm() jose.SignatureAlgorithm          { return k.alg }
func (k *signingKey) Use() string                                 { return "sig" }

// Key is the private key as op.SigningKey, the public key as op.Key: the op package asks each
// interface for its own, and one type serves both only because signer and key set are kept apart.
func (k *signingKey) Key() any { return k.pub }

// signer is k as an op.SigningKey.
type signer struct{ *signingKey }

func (s signer) Key() any { return s.priv }

// keyCache holds the parsed keys of the store, read again after keyTTL; keys already parsed are
// reused by id.
type keyCache struct {
	st  store.Store
	now func() time.Time

	mu     sync.Mutex
	read   time.Time
	keys   []*signingKey // newest first
	parsed map[string]*signingKey
}

// current returns the keys, newest first, reading the store when the cached ones are older than
// keyTTL. With no keys in the store, the first replica to ask makes them.
func (c *keyCache) current(ctx context.Context) ([]*signingKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != nil && c.now().Sub(c.read) < keyTTL {
		return c.keys, nil
	}
	rows, err := c.st.OIDCKeys(ctx)
	if err == nil && len(rows) == 0 {
		var keys []store.OIDCKey
		if keys, err = NewSigningKeys(); err == nil {
			if _, err = c.st.AddOIDCKeys(ctx, keys, KeyOverlap, true); err == nil {
				rows, err = c.st.OIDCKeys(ctx)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("openid: signing keys: %w", err)
	}
	if c.parsed == nil {
		c.parsed = map[string]*signingKey{}
	}
	keys := make([]*signingKey, 0, len(rows))
	seen := map[string]*signingKey{}
	for _, row := range rows {
		k := c.parsed[row.ID]
		if k == nil || (k.priv == nil && row.PrivateKeyPEM != nil) {
			if k, err = parseKey(row); err != nil {
				return nil, fmt.Errorf("openid: signing key %s: %w", row.ID, err)
			}
		}
		seen[row.ID] = k
		keys = append(keys, k)
	}
	c.parsed, c.keys, c.read = seen, keys, c.now()
	return keys, nil
}

// signing returns the newest key of alg that can sign.
func (c *keyCache) signing(ctx context.Context, alg jose.SignatureAlgorithm) (*signingKey, error) {
	keys, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.alg == alg && k.priv != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("openid: no %s signing key", alg)
}

func parseKey(row store.OIDCKey) (*signingKey, error) {
	k := &signingKey{id: row.ID, alg: jose.SignatureAlgorithm(row.Algorithm)}
	if k.alg != jose.RS256 && k.alg != jose.ES256 {
		return nil, fmt.Errorf("algorithm %q", row.Algorithm)
	}
	block, _ := pem.Decode(row.PublicKeyPEM)
	if block == nil {
		return nil, errors.New("public key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	k.pub = pub
	if row.PrivateKeyPEM == nil {
		return k, nil
	}
	if block, _ = pem.Decode(row.PrivateKeyPEM); block == nil {
		return nil, errors.New("private key is not PEM")
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	sg, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	switch p := sg.Public().(type) {
	case *rsa.PublicKey:
		if k.alg != jose.RS256 || !p.Equal(pub) {
			return nil, errors.New("private key does not match")
		}
	case *ecdsa.PublicKey:
		if k.alg != jose.ES256 || !p.Equal(pub) {
			return nil, errors.New("private key does not match")
		}
	default:
		return nil, errors.New("private key of an unknown type")
	}
	k.priv = sg
	return k, nil
}

// publicKeys is the key set the provider publishes: every key not yet retired.
func (c *keyCache) publicKeys(ctx context.Context) ([]op.Key, error) {
	keys, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out, nil
}
