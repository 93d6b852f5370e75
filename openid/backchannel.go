package openid

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/scimsso/scimsso/store"
)

// OpenID Connect Back-Channel Logout 1.0: when a session ends, each client that holds tokens of it
// and registered a back-channel logout URI is POSTed a logout token. The delivery (asynchronous,
// retried) is not this package's: it gets LogoutToken from cmd and calls it for each attempt.

// EventBackchannelLogout is the member of a logout token's events claim that makes it one (§2.4).
const EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenType is the typ header of a logout token (§2.4, §4.1): a JWT of another kind (an ID
// token, above all) is never mistaken for one, nor one for an ID token.
const LogoutTokenType = "logout+jwt"

// logoutTokenTTL is how long a logout token is good for: it travels from here to the client at once,
// and a retried delivery gets a new token, so two minutes (the spec's example) is plenty and leaves a
// captured token little use.
const logoutTokenTTL = 2 * time.Minute

// LogoutToken returns a logout token for client c: the session sid (store.SessionID, the sid of the ID
// tokens issued in it) of user sub has ended. Its claims are iss, aud (c's id), iat, exp, a random jti,
// sub, sid and events, and never nonce (§2.4); it is signed as c's ID tokens are (c.IDTokenAlg, the
// current key of that algorithm), with typ logout+jwt. Each call makes a new token, with its own jti
// and times: a delivery makes one for each attempt. Safe for concurrent use; the error is a failure to
// read or use the signing keys.
func (s *Server) LogoutToken(ctx context.Context, c *store.OIDCClient, sub, sid string) (string, error) {
	if c == nil || c.ID == "" || sub == "" || sid == "" {
		return "", errors.New("openid: a logout token needs a client, a subject and a session id")
	}
	alg := idTokenAlg(c)
	k, err := s.keys.signing(ctx, alg)
	if err != nil {
		return "", err
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := s.now()
	claims := &oidc.LogoutTokenClaims{
		Issuer:     s.issuer,
		Subject:    sub,
		Audience:   oidc.Audience{c.ID},
		IssuedAt:   oidc.FromTime(now),
		Expiration: oidc.FromTime(now.Add(logoutTokenTTL)),
		JWTID:      base64.RawURLEncoding.EncodeToString(jti[:]),
		Events:     map[string]any{EventBackchannelLogout: struct{}{}},
		SessionID:  sid,
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: &jose.JSONWebKey{Key: k.priv, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType(LogoutTokenType))
	if err != nil {
		return "", fmt.Errorf("openid: logout token signer: %w", err)
	}
	payload, err := claims.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("openid: logout token: %w", err)
	}
	jws, err := sg.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("openid: sign logout token: %w", err)
	}
	return jws.CompactSerialize()
}
