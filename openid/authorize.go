package openid

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/store"
)

// maxFormBody bounds the body of a form POST to the authorize, token and logout endpoints.
const maxFormBody = 16 << 10

// Browser binding: the cookie that ties an authorization request to the browser that brought it, so
// that the resume step completes a request only in that browser (a link to another person's pending
// request signs nobody in there). SameSite=Lax: the person comes back to the resume step by top-level
// navigation (from the IdP, through the ACS), which Lax allows. __Host- when BASE is https, as for
// the session cookie.
const (
	bindingCookieHost  = "__Host-scimsso_oidc"
	bindingCookiePlain = "scimsso_oidc"
)

func (s *Server) bindingCookie() string {
	if s.secure {
		return bindingCookieHost
	}
	return bindingCookiePlain
}

// bind returns the hash of the browser's binding, setting the cookie (a new one, or the one it has
// again with a fresh expiry, so that several requests of one browser share it).
func (s *Server) bind(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	v := ""
	if c, err := r.Cookie(s.bindingCookie()); err == nil && isSecret(c.Value) {
		v = c.Value
	}
	if v == "" {
		var err error
		if v, _, err = newSecret(); err != nil {
			return nil, err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.bindingCookie(), Value: v, Path: "/", MaxAge: int(requestTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return hashSecret(v), nil
}

// bound reports whether the request comes from the browser whose binding hashes to want.
func (s *Server) bound(r *http.Request, want []byte) bool {
	c, err := r.Cookie(s.bindingCookie())
	return err == nil && isSecret(c.Value) && len(want) > 0 && slices.Equal(hashSecret(c.Value), want)
}

// clientKey carries the client the authorize handler read to the op package's calls of
// GetClientByClientID in the same request, which would otherwise read it again.
type clientKey struct{}

// authorize is GET or POST /oidc/authorize. Until the client and its redirect URI are known to go
// together, every error is a page: sending it to an unverified redirect URI would make this an open
// redirector. After that, errors go to the client at its redirect URI, as RFC 6749 §4.1.2.1 says.
//
// A person signed in already is answered here, in this one request: the request is stored with its
// code in one write and the browser goes straight back to the client. Anyone else's request is stored
// (under the cap of outstanding requests per client address) and the browser goes to the resume step,
// which sends the person to sign in and answers once they have.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	}
	if err := r.ParseForm(); err != nil {
		page(w, r, http.StatusBadRequest, "Cannot sign in", "The application's sign-in request could not be read.")
		return
	}
	clientID, ok1 := single(r.Form, "client_id")
	redirect, ok2 := single(r.Form, "redirect_uri")
	if !ok1 || !ok2 || clientID == "" || redirect == "" || len(redirect) > maxRedirectURI {
		page(w, r, http.StatusBadRequest, "Cannot sign in", "The sign-in request does not name a registered application and its return address.")
		return
	}
	cl, err := (&storage{s}).GetClientByClientID(r.Context(), clientID)
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
		page(w, r, http.StatusBadRequest, "Cannot sign in", "The sign-in request comes from an application that is not registered here.")
		return
	}
	if err != nil {
		s.internal(w, r, "authorize: client", err)
		return
	}
	if !slices.Contains(cl.RedirectURIs(), redirect) {
		s.log.Info("authorize refused: redirect URI not registered", zap.String("request_id", requestRef(r)),
			zap.String("client_id", clientID), zap.String("redirect_uri", redirect))
		page(w, r, http.StatusBadRequest, "Cannot sign in", "The application asked to return to an address it has not registered.")
		return
	}
	if err := checkAuthorizeParams(r.Form); err != nil {
		back := &oidc.AuthRequest{RedirectURI: redirect, ResponseType: oidc.ResponseTypeCode}
		if st, ok := single(r.Form, "state"); ok && len(st) <= authorizeParams["state"] {
			back.State = st
		}
		op.AuthRequestError(w, r, back, err, s.auth)
		return
	}
	ctx := context.WithValue(r.Context(), clientKey{}, cl)
	r = r.WithContext(ctx)
	authReq, err := op.ParseAuthorizeRequest(r, s.op.Decoder())
	if err != nil {
		op.AuthRequestError(w, r, &oidc.AuthRequest{RedirectURI: redirect, ResponseType: oidc.ResponseTypeCode, State: r.Form.Get("state")}, err, s.auth)
		return
	}
	hintSub, err := s.auth.ValidateAuthRequest(ctx, authReq, &storage{s}, s.op.IDTokenHintVerifier(ctx))
	if err != nil {
		op.AuthRequestError(w, r, authReq, err, s.auth)
		return
	}
	binding, err := s.bind(w, r)
	if err != nil {
		s.internal(w, r, "authorize: binding", err)
		return
	}
	req, err := s.newRequest(authReq, hintSub, r.Form.Get("organization"), binding, clientaddr.Key(r))
	if err != nil {
		s.internal(w, r, "authorize: request id", err)
		return
	}
	sess, u, stale, err := s.session(r)
	if err != nil {
		s.internal(w, r, "authorize: session", err)
		return
	}
	switch next, refusal := s.next(req, sess, u, stale); {
	case next == nextIssue:
		code, err := s.complete(ctx, req, sess, u)
		if err != nil {
			s.internal(w, r, "authorize: issue code", err)
			return
		}
		if err := s.st.CreateOIDCAuthRequest(ctx, req, 0); err != nil {
			s.internal(w, r, "authorize: store request", err)
			return
		}
		s.answer(w, r, req, code)
		return
	case refusal != nil:
		// prompt=none, and the person cannot be signed in without interaction: nothing to store.
		op.AuthRequestError(w, r, authReq, refusal, s.auth)
		return
	}
	err = s.st.CreateOIDCAuthRequest(ctx, req, s.maxPending)
	var le *store.LimitError
	if errors.As(err, &le) {
		// Anyone may send a browser here, and the request is stored until someone signs in or it expires:
		// the cap bounds what one address can make the store hold. Nothing was stored.
		s.log.Warn("authorize refused: too many outstanding requests", zap.String("request_id", requestRef(r)),
			zap.String("client_id", clientID), zap.String("limit", le.Key))
		op.AuthRequestError(w, r, authReq, &oidc.Error{ErrorType: "temporarily_unavailable",
			Description: "too many sign-ins were started from this network; try again in a minute"}, s.auth)
		return
	}
	if err != nil {
		s.internal(w, r, "authorize: store request", err)
		return
	}
	seeOther(w, r, pathResume+"?id="+url.QueryEscape(req.ID))
}

// newRequest is the authorization request to store, made from what the op package parsed and checked.
// hintSub is the subject of its verified id_token_hint, if any.
func (s *Server) newRequest(req *oidc.AuthRequest, hintSub, organization string, binding []byte, clientKey string) (*store.OIDCAuthRequest, error) {
	id, _, err := newSecret()
	if err != nil {
		return nil, err
	}
	maxAge := int64(-1)
	if req.MaxAge != nil {
		maxAge = int64(*req.MaxAge)
	}
	now := s.now()
	return &store.OIDCAuthRequest{ID: id, ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes, State: req.State,
		Nonce: req.Nonce, ResponseMode: string(req.ResponseMode), CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt, MaxAge: maxAge, LoginHint: req.LoginHint,
		Organization: organization, BindingHash: binding, HintSubject: hintSub, ClientKey: clientKey, CreatedAt: now,
		ExpiresAt: now.Add(requestTTL)}, nil
}

// single returns the form's only value of name; false when it is given more than once.
func single(form url.Values, name string) (string, bool) {
	vs := form[name]
	if len(vs) > 1 {
		return "", false
	}
	if len(vs) == 0 {
		return "", true
	}
	return vs[0], true
}

// authorizer is the op package's Authorizer with scimsso's rules added to its validation.
type authorizer struct {
	*op.Provider
	s *Server
}

// ValidateAuthRequest runs the op package's checks (redirect URI, prompt, scopes, PKCE method,
// id_token_hint) and scimsso's: response_type=code only, openid in the scopes, PKCE with S256 only
// and required of public clients.
func (a *authorizer) ValidateAuthRequest(ctx context.Context, req *oidc.AuthRequest, st op.Storage, v *op.IDTokenHintVerifier) (string, error) {
	cl, err := st.GetClientByClientID(ctx, req.ClientID)
	if err != nil {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client").WithParent(err)
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return "", &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is offered"}
	}
	sub, err := op.ValidateAuthRequestClient(ctx, req, cl, v)
	if err != nil {
		return "", err
	}
	if !hasScope(req.Scopes, oidc.ScopeOpenID) {
		return "", oidc.ErrInvalidScope().WithDescription("the scope must include openid")
	}
	switch {
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return "", oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case req.CodeChallenge == "" && req.CodeChallengeMethod != "":
		return "", oidc.ErrInvalidRequest().WithDescription("code_challenge_method without code_challenge")
	case req.CodeChallenge == "" && cl.AuthMethod() == oidc.AuthMethodNone:
		return "", oidc.ErrInvalidRequest().WithDescription("a public client must use PKCE (code_challenge with S256)")
	}
	switch req.ResponseMode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFragment, oidc.ResponseModeFormPost:
	default:
		return "", oidc.ErrInvalidRequest().WithDescription("response_mode must be query, fragment or form_post")
	}
	return sub, nil
}

// resume is GET /oidc/authorize/resume?id=…: where authorize sends a person who is not signed in
// (or must sign in again), and where sign-in sends them back. With a usable session it issues the code
// and answers the client; otherwise it sends the person to sign in (or, with prompt=none, tells the
// client login_required).
func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	var req *store.OIDCAuthRequest
	err := store.ErrNotFound
	if isSecret(id) {
		req, err = s.st.OIDCAuthRequest(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && req.CodeHash != nil) {
		page(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in has expired or was already used. Go back to the application and sign in again.")
		return
	}
	if err != nil {
		s.internal(w, r, "resume: request", err)
		return
	}
	if !s.bound(r, req.BindingHash) {
		page(w, r, http.StatusBadRequest, "Cannot sign in", "This sign-in was started in another browser. Go back to the application and sign in again.")
		return
	}
	ar := &authRequest{r: req}
	sess, u, stale, err := s.session(r)
	if err != nil {
		s.internal(w, r, "resume: session", err)
		return
	}
	back := pathResume + "?id=" + url.QueryEscape(req.ID)
	next, refusal := s.next(req, sess, u, stale)
	if refusal != nil {
		op.AuthRequestError(w, r, ar, refusal, s.auth)
		return
	}
	switch next {
	case nextSignIn:
		to, err := s.signInURL(ctx, req, back)
		if err != nil {
			s.internal(w, r, "resume: sign-in route", err)
			return
		}
		seeOther(w, r, to)
		return
	case nextReauth:
		slug, err := s.slug(ctx, sess.TenantID)
		if err != nil {
			s.internal(w, r, "resume: tenant", err)
			return
		}
		seeOther(w, r, "/saml/"+slug+"/login?reauth=1&return_to="+url.QueryEscape(back))
		return
	case nextWelcome:
		seeOther(w, r, "/welcome?return_to="+url.QueryEscape(back))
		return
	}
	code, err := s.complete(ctx, req, sess, u)
	if err != nil {
		s.internal(w, r, "resume: code", err)
		return
	}
	err = s.st.IssueOIDCCode(ctx, req.ID, req.SignIn, req.CodeHash, req.CodeExpiresAt, req.ExpiresAt)
	if errors.Is(err, store.ErrNotFound) {
		page(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in has expired or was already used. Go back to the application and sign in again.")
		return
	}
	if err != nil {
		s.internal(w, r, "resume: issue code", err)
		return
	}
	s.answer(w, r, req, code)
}

// nextStep is what a request needs before its code can be issued.
type nextStep int

const (
	nextIssue   nextStep = iota // the browser's session signs the person in: issue the code
	nextSignIn                  // nobody usable is signed in: sign in (again)
	nextReauth                  // the session is past its soft timeout: the IdP must vouch again
	nextWelcome                 // the first sign-in is not complete: /welcome
)

// next decides what req needs, given the browser's session (nil: none) and its user. With prompt=none
// anything but nextIssue is refused: the refusal is the OAuth error for the client.
func (s *Server) next(req *store.OIDCAuthRequest, sess *store.Session, u *store.User, stale bool) (nextStep, *oidc.Error) {
	none := slices.Contains(req.Prompt, oidc.PromptNone)
	// A session made after the request came is the sign-in made for it; one older than the request is
	// too old when max_age says so (prompt=login is max_age=0), and is the wrong one when the client's
	// id_token_hint names someone else.
	older := sess != nil && sess.CreatedAt.Before(req.CreatedAt)
	tooOld := older && req.MaxAge >= 0 && s.now().Sub(sess.CreatedAt) > time.Duration(req.MaxAge)*time.Second
	other := sess != nil && req.HintSubject != "" && u.ID != req.HintSubject
	switch {
	case sess == nil || tooOld || (other && older):
		if none {
			if other {
				return nextSignIn, oidc.ErrLoginRequired().WithDescription("the signed-in person is not the one the id_token_hint names")
			}
			return nextSignIn, oidc.ErrLoginRequired().WithDescription("nobody is signed in")
		}
		return nextSignIn, nil
	case other:
		// Signed in for this request, as someone other than the hint names: the client must not get them.
		return nextSignIn, oidc.ErrLoginRequired().WithDescription("the person who signed in is not the one the id_token_hint names")
	case stale:
		if none {
			return nextReauth, oidc.ErrLoginRequired().WithDescription("the sign-in must be renewed")
		}
		return nextReauth, nil
	case sess.Pending:
		if none {
			return nextWelcome, oidc.ErrInteractionRequired().WithDescription("the first sign-in is not complete")
		}
		return nextWelcome, nil
	}
	return nextIssue, nil
}

// complete fills in req's sign-in by sess and a new code, which it returns; the caller stores them.
func (s *Server) complete(ctx context.Context, req *store.OIDCAuthRequest, sess *store.Session, u *store.User) (string, error) {
	amr, err := s.amr(ctx, sess.TenantID, u)
	if err != nil {
		return "", err
	}
	code, hash, err := newSecret()
	if err != nil {
		return "", err
	}
	now := s.now()
	req.SignIn = store.OIDCSignIn{TenantID: sess.TenantID, UserID: u.ID, SessionHash: sess.IDHash, AuthTime: sess.CreatedAt, AMR: amr}
	req.CodeHash, req.CodeExpiresAt, req.ExpiresAt = hash, now.Add(codeTTL), now.Add(keepRedeemed)
	return code, nil
}

// answer sends the browser back to the client with the code of req.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, req *store.OIDCAuthRequest, code string) {
	s.log.Info("authorization code issued", zap.String("request_id", requestRef(r)), zap.String("client_id", req.ClientID),
		zap.String("user_id", req.SignIn.UserID), zap.String("tenant_id", req.SignIn.TenantID))
	w.Header().Set("Cache-Control", "no-store")
	resp := &op.CodeResponseType{Code: code, State: req.State}
	if req.ResponseMode == string(oidc.ResponseModeFormPost) {
		if err := op.AuthResponseFormPost(w, req.RedirectURI, resp, s.op.Encoder()); err != nil {
			s.internal(w, r, "authorize: form post", err)
		}
		return
	}
	to, err := op.AuthResponseURL(req.RedirectURI, oidc.ResponseTypeCode, oidc.ResponseMode(req.ResponseMode), resp, s.op.Encoder())
	if err != nil {
		s.internal(w, r, "authorize: response", err)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// seeOther sends the browser on within scimsso (a 302, as the op package answers).
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

// signInURL is where a person without a usable session signs in before coming back: straight to the
// tenant's IdP when organization (a tenant slug) or login_hint (an email, whose domain names the
// tenant) names a tenant whose single sign-on is on and the hinted person is not on its exclusion
// list (a password user); email-first /login otherwise.
func (s *Server) signInURL(ctx context.Context, req *store.OIDCAuthRequest, back string) (string, error) {
	login := "/login?return_to=" + url.QueryEscape(back)
	var t *store.Tenant
	var err error
	switch {
	case req.Organization != "":
		t, _, err = s.st.TenantSSOVersion(ctx, req.Organization)
	case req.LoginHint != "":
		email, perr := store.ParseEmail(req.LoginHint)
		if perr != nil {
			return login, nil
		}
		t, err = s.st.TenantByDomain(ctx, store.EmailDomain(email))
	default:
		return login, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return login, nil
	}
	if err != nil {
		return "", err
	}
	set, err := s.st.SSOSettings(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return login, nil
	}
	if err != nil {
		return "", err
	}
	if set.State != "active" || set.IdPEntityID == "" || (req.LoginHint != "" && excluded(set, req.LoginHint)) {
		return login, nil
	}
	return "/saml/" + t.Slug + "/login?return_to=" + url.QueryEscape(back), nil
}

// excluded reports whether email is on the tenant's exclusion list (stored lower case): such people
// sign in with a password, never through the IdP.
func excluded(set *store.SSOSettings, email string) bool {
	return slices.Contains(set.Exclude, store.Key(email))
}

// amr is how the person of a session signed in: the tenant's exclusion list is who signs in with a
// password ("pwd"); everyone else signs in through the tenant's IdP ("saml").
func (s *Server) amr(ctx context.Context, tenantID string, u *store.User) (string, error) {
	set, err := s.st.SSOSettings(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return "saml", nil
	}
	if err != nil {
		return "", err
	}
	if excluded(set, u.UserName) {
		return "pwd", nil
	}
	return "saml", nil
}
