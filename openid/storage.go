package openid

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/scimsso/scimsso/store"
)

// storage is the op package's Storage over scimsso's store. Its errors are oidc errors where the
// package passes them to the client: anything a client sent that is wrong is the OAuth error the RFCs
// name, and only a failure of the store is a server_error.
type storage struct{ s *Server }

var _ op.Storage = (*storage)(nil)

// failed wraps a store failure for the op package: a server_error, its cause logged by the package.
func failed(err error) error {
	return oidc.ErrServerError().WithParent(err)
}

// client is a registered client as the op package sees it.
type client struct{ c *store.OIDCClient }

func (c client) GetID() string                    { return c.c.ID }
func (c client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

// ApplicationType: a public client is a user agent application (a single-page app), never "native":
// the op package matches a native client's loopback redirect URIs on any port, and the spec wants
// exact redirect URIs.
func (c client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // client_secret_post is accepted too (op.Config.AuthMethodPost)
}

func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is where the op package sends the browser once the request is stored: the provider's own
// resume step, which signs the person in (or finds them signed in) and answers the client.
func (c client) LoginURL(id string) string           { return pathResume + "?id=" + id }
func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration      { return idTokenTTL }

// DevMode lets a registered http://localhost redirect URI through the op package's scheme policy.
// Redirect URIs are still compared exactly, and CheckRedirectURI allows plain http only for loopback
// hosts when the client is registered.
func (c client) DevMode() bool { return true }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion: the ID token carries the spec's claims whatever the scopes.
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }

// maxClientID bounds a client_id looked up; the store's are UUIDs.
const maxClientID = 64

func (st *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := st.getClient(ctx, id)
	if err == nil {
		if sf, ok := ctx.Value(signingForKey{}).(*signingFor); ok {
			sf.set(c.c)
		}
	}
	return c, err
}

func (st *storage) getClient(ctx context.Context, id string) (client, error) {
	if c, ok := ctx.Value(clientKey{}).(client); ok && c.GetID() == id {
		return c, nil
	}
	if id == "" || len(id) > maxClientID {
		return client{}, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	c, err := st.s.st.OIDCClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return client{}, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		return client{}, failed(err)
	}
	return client{c}, nil
}

// signingForKey carries a token request's signingFor.
type signingForKey struct{}

// signingFor records, for SigningKey, the client of a token request: the op package asks for the
// signing key without saying for whom, and the client's registered id_token_signed_response_alg picks
// the key. The op package loads the client it authenticated before it signs; a request that names
// two clients is refused before anything is signed.
type signingFor struct {
	mu  sync.Mutex
	alg jose.SignatureAlgorithm
	id  string
}

func (sf *signingFor) set(c *store.OIDCClient) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sf.id, sf.alg = c.ID, idTokenAlg(c)
}

// idTokenAlg is the algorithm that signs c's ID tokens, and so its logout tokens: its registered
// id_token_signed_response_alg, RS256 when it registered none.
func idTokenAlg(c *store.OIDCClient) jose.SignatureAlgorithm {
	if c.IDTokenAlg == store.AlgES256 {
		return jose.ES256
	}
	return jose.RS256
}

func (sf *signingFor) get() jose.SignatureAlgorithm {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.alg == "" {
		return jose.RS256
	}
	return sf.alg
}

// AuthorizeClientIDSecret compares the SHA-256 of the secret sent with the stored one in constant
// time. A public client has no secret to present.
func (st *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	cl, err := st.GetClientByClientID(ctx, id)
	if err != nil {
		return err
	}
	c := cl.(client).c
	if c.Public || len(c.SecretHash) == 0 || subtle.ConstantTimeCompare(hashSecret(secret), c.SecretHash) != 1 {
		return errors.New("wrong client secret")
	}
	return nil
}

// authRequest is a stored authorization request as the op package sees it. user is the signed-in
// user, read when the code is redeemed.
type authRequest struct {
	r    *store.OIDCAuthRequest
	user *store.User
}

func (a *authRequest) GetID() string          { return a.r.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return amrOf(a.r.SignIn.AMR) }
func (a *authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.r.SignIn.AuthTime }
func (a *authRequest) GetClientID() string    { return a.r.ClientID }
func (a *authRequest) GetNonce() string       { return a.r.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.r.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.r.Scopes }
func (a *authRequest) GetState() string       { return a.r.State }
func (a *authRequest) GetSubject() string     { return a.r.SignIn.UserID }
func (a *authRequest) Done() bool             { return a.r.CodeHash != nil }
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.r.ResponseMode)
}
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: oidc.CodeChallengeMethod(a.r.CodeChallengeMethod)}
}

func amrOf(m string) []string {
	if m == "" {
		return nil
	}
	return []string{m}
}

// CreateAuthRequest is not used: the authorize handler stores requests itself, with the code when the
// person is signed in already, in one write.
func (st *storage) CreateAuthRequest(context.Context, *oidc.AuthRequest, string) (op.AuthRequest, error) {
	return nil, oidc.ErrServerError().WithDescription("requests are stored by the authorize handler")
}

func (st *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	if !isSecret(id) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown authorization request")
	}
	r, err := st.s.st.OIDCAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request")
	}
	if err != nil {
		return nil, failed(err)
	}
	return &authRequest{r: r}, nil
}

// AuthRequestByCode finds the request of a code. A code used before is refused here, and what its
// first use issued is revoked (RFC 6749 §4.1.2): someone else may have it. A code of a session that
// has ended, or of a user deactivated since, gets nothing either.
func (st *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if !isSecret(code) {
		return nil, errors.New("malformed code")
	}
	r, err := st.s.st.OIDCAuthRequestByCode(ctx, hashSecret(code))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("unknown code")
	}
	if err != nil {
		return nil, failed(err)
	}
	if !r.CodeUsedAt.IsZero() {
		if err := st.s.st.RevokeOIDCFamily(ctx, r.ID); err != nil {
			return nil, failed(err)
		}
		return nil, errors.New("code used before: what it issued is revoked")
	}
	if !st.s.now().Before(r.CodeExpiresAt) {
		return nil, errors.New("code expired")
	}
	_, u, err := st.s.live(ctx, r.SignIn)
	if err != nil {
		return nil, err
	}
	return &authRequest{r: r, user: u}, nil
}

// live returns the user of a sign-in while its session lives and the user is active; otherwise an
// invalid_grant: whatever came of the session ends with it.
func (s *Server) live(ctx context.Context, in store.OIDCSignIn) (*store.Session, *store.User, error) {
	sess, err := s.st.SessionByHash(ctx, in.SessionHash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.now().Before(sess.ExpiresAt)) {
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("the sign-in has ended")
	}
	if err != nil {
		return nil, nil, failed(err)
	}
	u, err := s.st.UserByID(ctx, in.TenantID, in.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Active) {
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("the user is deactivated")
	}
	if err != nil {
		return nil, nil, failed(err)
	}
	return sess, u, nil
}

// touchInterval is how often a refresh records the use of its session, as the people's web does for
// the pages: at most once a minute, so that a busy client does not write the session at every refresh.
const touchInterval = time.Minute

// sessionUse is the new expiry of sess when a refresh now keeps it alive: only while the session is
// within its soft timeout, counted from the person's last use (past it the IdP must vouch again,
// which only a browser can get), and the last use is not moved, so a client refreshing for ever keeps
// the session no longer than the soft timeout plus the hard timeout after the person was last seen
// (found in review: moving it made such a session immortal). Zero: no change.
func (s *Server) sessionUse(ctx context.Context, sess *store.Session, u *store.User) (time.Time, error) {
	now := s.now()
	if now.Sub(sess.LastSeenAt) < touchInterval {
		return time.Time{}, nil
	}
	set, err := s.st.SSOSettings(ctx, sess.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		set, err = &store.SSOSettings{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if now.Sub(sess.LastSeenAt) >= set.ReauthAfter() && !set.Excludes(u.UserName) {
		return time.Time{}, nil
	}
	return now.Add(set.SessionTimeout(sess.Mobile)), nil
}

// SaveAuthCode is not used: the resume step issues codes itself, with the sign-in, in one write.
func (st *storage) SaveAuthCode(context.Context, string, string) error {
	return oidc.ErrServerError().WithDescription("codes are issued by the resume step")
}

// DeleteAuthRequest keeps the request: its code is marked used, so that a second use is recognised
// until the sweep removes it.
func (st *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// tokensFor makes the tokens a grant issues: an access token, and a refresh token when refresh is
// set. It returns the secrets and the rows to store.
func (s *Server) tokensFor(clientID string, in store.OIDCSignIn, family string, scopes []string, refresh bool) (access, refreshTok string, rows []store.OIDCToken, err error) {
	now := s.now()
	access, ah, err := newSecret()
	if err != nil {
		return "", "", nil, err
	}
	rows = []store.OIDCToken{{Hash: ah, ClientID: clientID, OIDCSignIn: in, Family: family, Scopes: scopes, ExpiresAt: now.Add(accessTTL)}}
	if refresh {
		var rh []byte
		if refreshTok, rh, err = newSecret(); err != nil {
			return "", "", nil, err
		}
		rows = append(rows, store.OIDCToken{Hash: rh, Refresh: true, ClientID: clientID, OIDCSignIn: in, Family: family, Scopes: scopes,
			ExpiresAt: now.Add(refreshTTL)})
	}
	return access, refreshTok, rows, nil
}

// grantError is the error of a redemption or rotation the store refused.
func grantError(err error) error {
	switch {
	case errors.Is(err, store.ErrReplayed):
		return oidc.ErrInvalidGrant().WithDescription("already used: what it issued is revoked")
	case errors.Is(err, store.ErrNotFound):
		return oidc.ErrInvalidGrant().WithDescription("expired")
	}
	return failed(err)
}

func (st *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	access, _, rows, err := st.s.tokensFor(a.r.ClientID, a.r.SignIn, a.r.ID, a.r.Scopes, false)
	if err != nil {
		return "", time.Time{}, failed(err)
	}
	if err := st.s.st.RedeemOIDCCode(ctx, a.r.ID, rows); err != nil {
		return "", time.Time{}, grantError(err)
	}
	return access, rows[0].ExpiresAt, nil
}

func (st *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	switch a := req.(type) {
	case *authRequest:
		access, refresh, rows, err := st.s.tokensFor(a.r.ClientID, a.r.SignIn, a.r.ID, a.r.Scopes, true)
		if err != nil {
			return "", "", time.Time{}, failed(err)
		}
		if err := st.s.st.RedeemOIDCCode(ctx, a.r.ID, rows); err != nil {
			return "", "", time.Time{}, grantError(err)
		}
		return access, refresh, rows[0].ExpiresAt, nil
	case *refreshRequest:
		access, refresh, rows, err := st.s.tokensFor(a.t.ClientID, a.t.OIDCSignIn, a.t.Family, a.scopes, true)
		if err != nil {
			return "", "", time.Time{}, failed(err)
		}
		// A refresh is a use of the session: recorded in the rotation's own write.
		touch, err := st.s.sessionUse(ctx, a.sess, a.user)
		if err != nil {
			return "", "", time.Time{}, failed(err)
		}
		if err := st.s.st.RotateOIDCRefresh(ctx, hashSecret(current), rows, touch); err != nil {
			return "", "", time.Time{}, grantError(err)
		}
		return access, refresh, rows[0].ExpiresAt, nil
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

// refreshRequest is a stored refresh token as the op package sees it.
type refreshRequest struct {
	t      *store.OIDCToken
	sess   *store.Session
	user   *store.User
	scopes []string
}

func (r *refreshRequest) GetAMR() []string            { return amrOf(r.t.AMR) }
func (r *refreshRequest) GetAudience() []string       { return []string{r.t.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.t.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.t.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.t.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// TokenRequestByRefreshToken finds a live refresh token. One used or revoked before is a reuse: its
// whole family is revoked (OAuth 2.0 Security BCP §4.14.2).
func (st *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	if !isSecret(token) {
		return nil, errors.New("malformed refresh token")
	}
	t, err := st.s.st.OIDCToken(ctx, hashSecret(token))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Refresh) {
		return nil, errors.New("unknown refresh token")
	}
	if err != nil {
		return nil, failed(err)
	}
	if !t.UsedAt.IsZero() || !t.RevokedAt.IsZero() {
		if err := st.s.st.RevokeOIDCFamily(ctx, t.Family); err != nil {
			return nil, failed(err)
		}
		return nil, errors.New("refresh token used before: its family is revoked")
	}
	if !st.s.now().Before(t.ExpiresAt) {
		return nil, errors.New("refresh token expired")
	}
	sess, u, err := st.s.live(ctx, t.OIDCSignIn)
	if err != nil {
		return nil, err
	}
	return &refreshRequest{t: t, sess: sess, user: u, scopes: t.Scopes}, nil
}

func (st *storage) TerminateSession(context.Context, string, string) error {
	return oidc.ErrServerError().WithDescription("logout is served by the provider itself")
}

func (st *storage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrRequestNotSupported().WithDescription("token revocation is not offered")
}

func (st *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// SigningKey is the key that signs the ID token of the request in ctx: the newest ES256 key for a
// client registered with id_token_signed_response_alg ES256, else the newest RS256 key.
func (st *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := jose.RS256
	if sf, ok := ctx.Value(signingForKey{}).(*signingFor); ok {
		alg = sf.get()
	}
	k, err := st.s.keys.signing(ctx, alg)
	if err != nil {
		return nil, failed(err)
	}
	return signer{k}, nil
}

// SignatureAlgorithms are the ID token signing algorithms offered (discovery's
// id_token_signing_alg_values_supported): RS256, which OpenID Connect requires and clients get by
// default, and ES256 for clients registered with it.
func (st *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return idTokenAlgs, nil
}

var idTokenAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

func (st *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := st.s.keys.publicKeys(ctx)
	if err != nil {
		return nil, failed(err)
	}
	return keys, nil
}

// SetUserinfoFromScopes is deprecated in the op package; SetUserinfoFromRequest does the work.
func (st *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the spec's claims in the ID token, whatever the scopes.
func (st *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	var u *store.User
	var in store.OIDCSignIn
	switch r := req.(type) {
	case *authRequest:
		u, in = r.user, r.r.SignIn
	case *refreshRequest:
		u, in = r.user, r.t.OIDCSignIn
	}
	if u == nil {
		return oidc.ErrServerError().WithDescription("no user for the ID token")
	}
	return st.s.setClaims(ctx, info, u, in)
}

func (st *storage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return oidc.ErrServerError().WithDescription("userinfo is served by the provider itself")
}

func (st *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return oidc.ErrRequestNotSupported().WithDescription("introspection is not offered")
}

func (st *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (st *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrInvalidClient().WithDescription("private_key_jwt is not offered")
}

func (st *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (st *storage) Health(ctx context.Context) error { return st.s.st.Ping(ctx) }

// hasScope reports whether scopes holds s.
func hasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }

// name is the person's display name: given and family names.
func name(u *store.User) string { return strings.TrimSpace(u.GivenName + " " + u.FamilyName) }
