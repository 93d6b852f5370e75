package openid

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"

	"github.com/scimsso/scimsso/store"
)

// scopes are the scopes offered: openid is required; the ID token carries the same claims whatever the
// others; offline_access asks for a refresh token (granted without a consent screen).
var scopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}

// claimNames are the claims of the ID token and userinfo (spec, "Applications"), and the protocol's.
var claimNames = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "c_hash", "amr", "sid",
	"email", "email_verified", "name", "given_name", "family_name", "org", "org_id", "country", "team"}

// setClaims puts the person's claims in info: sub is the scimsso user id (stable when the email
// changes), org the tenant's slug and org_id its id, sid the session. A claim with no value is left out.
func (s *Server) setClaims(ctx context.Context, info *oidc.UserInfo, u *store.User, in store.OIDCSignIn) error {
	slug, err := s.slug(ctx, in.TenantID)
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	info.Subject = u.ID
	info.Email = u.UserName
	// The address is the one the tenant's IdP (or its SCIM provisioning) vouches for, in a domain the
	// tenant owns exclusively.
	info.EmailVerified = oidc.Bool(true)
	info.Name, info.GivenName, info.FamilyName = name(u), u.GivenName, u.FamilyName
	info.AppendClaims("org", slug)
	info.AppendClaims("org_id", in.TenantID)
	if u.Country != "" {
		info.AppendClaims("country", u.Country)
	}
	if u.Team != "" {
		info.AppendClaims("team", u.Team)
	}
	info.AppendClaims("sid", sidOf(in.SessionHash))
	return nil
}

// sidOf is the session's id as clients see it (store.SessionID): the one events name it by too.
func sidOf(sessionHash []byte) string { return store.SessionID(sessionHash) }

// discovery is GET /.well-known/openid-configuration: the op package's document, made truthful about
// what this provider serves (no implicit flow, introspection, revocation or device flow).
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	cfg := op.CreateDiscoveryConfig(r.Context(), s.op, &storage{s})
	cfg.IntrospectionEndpoint, cfg.RevocationEndpoint, cfg.DeviceAuthorizationEndpoint, cfg.CheckSessionIframe = "", "", "", ""
	cfg.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	cfg.ResponseModesSupported = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFragment), string(oidc.ResponseModeFormPost)}
	cfg.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	cfg.SubjectTypesSupported = []string{"public"}
	cfg.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	cfg.TokenEndpointAuthSigningAlgValuesSupported = nil
	cfg.IntrospectionEndpointAuthMethodsSupported, cfg.IntrospectionEndpointAuthSigningAlgValuesSupported = nil, nil
	cfg.RevocationEndpointAuthMethodsSupported, cfg.RevocationEndpointAuthSigningAlgValuesSupported = nil, nil
	cfg.RequestObjectSigningAlgValuesSupported = nil
	cfg.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	cfg.RequestParameterSupported, cfg.RequestURIParameterSupported = false, false
	w.Header().Set("Cache-Control", "public, max-age=3600")
	httphelper.MarshalJSON(w, cfg)
}

// jwks is GET /oidc/jwks: every key not yet retired, so that tokens signed before a rotation verify.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if _, err := s.keys.current(r.Context()); err != nil {
		s.log.Error("jwks failed", zap.String("request_id", requestRef(r)), zap.Error(err))
		httphelper.MarshalJSONWithStatus(w, oidc.ErrServerError(), http.StatusInternalServerError)
		return
	}
	// Short enough that a rotation is seen soon by clients that honour it; clients that meet an
	// unknown key id fetch the set again anyway.
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Keys(w, r, &storage{s})
}

// token is POST /oidc/token: authorization_code and refresh_token grants, run by the op package.
// Parameters come in the form body only (never the query: secrets do not belong in URLs), each once.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	ww := challenge{w}
	r = r.WithContext(context.WithValue(r.Context(), signingForKey{}, &signingFor{}))
	fail := func(e *oidc.Error) { op.RequestError(ww, r, e, nil) }
	if r.URL.RawQuery != "" {
		fail(oidc.ErrInvalidRequest().WithDescription("token request parameters go in the form body, not the URL"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		fail(oidc.ErrInvalidRequest().WithDescription("the body must be application/x-www-form-urlencoded"))
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(oidc.ErrInvalidRequest().WithDescription("the form body could not be read"))
		return
	}
	if err := checkTokenParams(r.PostForm); err != nil {
		fail(err)
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case string(oidc.GrantTypeCode):
		op.CodeExchange(ww, r, s.op)
	case string(oidc.GrantTypeRefreshToken):
		op.RefreshTokenExchange(ww, r, s.op)
	case "":
		fail(oidc.ErrInvalidRequest().WithDescription("grant_type is missing"))
	default:
		fail(oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token are offered"))
	}
}

// challenge adds the WWW-Authenticate header RFC 6749 §5.2 asks for when a client that authenticated
// with HTTP Basic is refused (401 invalid_client).
type challenge struct{ http.ResponseWriter }

func (c challenge) WriteHeader(status int) {
	if status == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", `Basic realm="scimsso"`)
	}
	c.ResponseWriter.WriteHeader(status)
}

// bearerError answers a userinfo request whose access token is missing or refused, as RFC 6750 §3.1
// says: 401 with a WWW-Authenticate challenge (with no error code when no token was sent at all).
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	v := `Bearer realm="scimsso"`
	if code != "" {
		v += `, error="` + code + `", error_description="` + desc + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	body := map[string]string{}
	if code != "" {
		body["error"], body["error_description"] = code, desc
	}
	httphelper.MarshalJSONWithStatus(w, body, status)
}

// accessToken returns the request's access token: the Authorization header, or a form body
// (RFC 6750 §2.2), never the query string. More than one method is invalid_request.
func accessToken(w http.ResponseWriter, r *http.Request) (tok string, ok bool) {
	h := r.Header.Get("Authorization")
	var fromHeader string
	if h != "" {
		scheme, v, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			bearerError(w, http.StatusUnauthorized, "invalid_token", "the Authorization header is not a Bearer token")
			return "", false
		}
		fromHeader = strings.TrimSpace(v)
	}
	var fromForm string
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
			if err := r.ParseForm(); err != nil {
				bearerError(w, http.StatusBadRequest, "invalid_request", "the form body could not be read")
				return "", false
			}
			if vs := r.PostForm["access_token"]; len(vs) > 1 {
				bearerError(w, http.StatusBadRequest, "invalid_request", "access_token given more than once")
				return "", false
			} else if len(vs) == 1 {
				fromForm = vs[0]
			}
		}
	}
	switch {
	case fromHeader != "" && fromForm != "":
		bearerError(w, http.StatusBadRequest, "invalid_request", "the access token was sent in more than one way")
		return "", false
	case fromHeader == "" && fromForm == "":
		bearerError(w, http.StatusUnauthorized, "", "")
		return "", false
	}
	return fromHeader + fromForm, true
}

// userinfo is GET or POST /oidc/userinfo: the ID token's claims (and amr) for a live access token. The
// token's session must still live and its user be active, so a sign-out, a hard timeout or a SCIM
// deactivation ends every token of the session at once.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok, ok := accessToken(w, r)
	if !ok {
		return
	}
	refuse := func() { bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is not valid") }
	if !isSecret(tok) {
		refuse()
		return
	}
	ctx := r.Context()
	t, err := s.st.OIDCToken(ctx, hashSecret(tok))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (t.Refresh || !t.Live(s.now()))) {
		refuse()
		return
	}
	var u *store.User
	if err == nil {
		_, u, err = s.live(ctx, t.OIDCSignIn)
	}
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidGrant {
		refuse()
		return
	}
	info := new(oidc.UserInfo)
	if err == nil {
		err = s.setClaims(ctx, info, u, t.OIDCSignIn)
	}
	if err != nil {
		s.log.Error("userinfo failed", zap.String("request_id", requestRef(r)), zap.Error(err))
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		httphelper.MarshalJSONWithStatus(w, oidc.ErrServerError(), status)
		return
	}
	info.AppendClaims("amr", amrOf(t.AMR))
	httphelper.MarshalJSON(w, info)
}

// logout is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at /oidc/logout: it ends the
// browser's scimsso session, and with it every token of that session; then it sends the browser to the
// client's post_logout_redirect_uri when an id_token_hint proves which client asks and the URI is one
// it registered, else shows a signed-out page.
//
// A logout any site can cause is a nuisance attack (a top-level navigation carries the Lax cookie), so
// the session ends at once only when the id_token_hint was issued for this very session (its sid and
// sub); otherwise the person is asked, and the answer is a form posted from this page (§2: "the OP
// MUST ask" without a matching hint).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		r.ParseForm() // a bad form is the parser's below to refuse
	}
	ctx := r.Context()
	to, hintSID, hintSub := "", "", ""
	req, err := op.ParseEndSessionRequest(r, s.op.Decoder())
	if err == nil && req.IdTokenHint != "" {
		es, verr := op.ValidateEndSessionRequest(ctx, req, s.op)
		if verr == nil && req.PostLogoutRedirectURI != "" {
			to = es.RedirectURI
		}
		if verr != nil && req.PostLogoutRedirectURI != "" {
			// A valid hint with an unregistered post-logout URI still says whose session this is; it
			// only goes nowhere afterwards.
			s.log.Info("logout: no redirect", zap.String("request_id", requestRef(r)), zap.Error(verr))
			bare := *req
			bare.PostLogoutRedirectURI, bare.State = "", ""
			es, verr = op.ValidateEndSessionRequest(ctx, &bare, s.op)
		}
		if verr != nil {
			s.log.Info("logout: id_token_hint refused", zap.String("request_id", requestRef(r)), zap.Error(verr))
		} else if es.IDTokenHintClaims != nil {
			hintSID, hintSub = es.IDTokenHintClaims.SessionID, es.IDTokenHintClaims.Subject
		}
	}
	sess, u, _, err := s.session(r)
	if err != nil {
		s.internal(w, r, "logout", err)
		return
	}
	if sess != nil {
		confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "1" && s.sameOrigin(r)
		if !confirmed && (hintSID == "" || hintSID != sidOf(sess.IDHash) || hintSub != u.ID) {
			s.confirmLogout(w, r, req)
			return
		}
		if err := s.st.DeleteSession(ctx, sess.IDHash); err != nil {
			s.internal(w, r, "logout", err)
			return
		}
		if s.forget != nil {
			s.forget(w)
		}
	}
	if to != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	page(w, r, http.StatusOK, "Signed out", "You are signed out.")
}

// sameOrigin reports whether a form post comes from a page of this server: a browser sends Origin
// with every POST, and Sec-Fetch-Site says who made the request.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin":
	default:
		return false
	}
	return r.Header.Get("Origin") == s.origin
}

// confirmLogout asks the person whether to sign out, with the request's parameters in a form that
// posts back to /oidc/logout.
func (s *Server) confirmLogout(w http.ResponseWriter, r *http.Request, req *oidc.EndSessionRequest) {
	type field struct{ Name, Value string }
	var fields []field
	if req != nil {
		for _, f := range []field{{"id_token_hint", req.IdTokenHint}, {"post_logout_redirect_uri", req.PostLogoutRedirectURI},
			{"state", req.State}, {"client_id", req.ClientID}} {
			if f.Value != "" {
				fields = append(fields, f)
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(http.StatusOK)
	confirmTmpl.Execute(w, struct {
		Action string
		Fields []field
	}{s.issuer + pathLogout, fields})
}
