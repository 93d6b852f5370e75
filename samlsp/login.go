package samlsp

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/crewjam/saml"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/internal/secret"
	"github.com/scimsso/scimsso/store"
)

// Caps on outstanding AuthnRequests (started, not yet answered, at most requestTTL old), which anyone
// can make the store hold by starting sign-ins. A row takes ~1 KB with its index entries when its
// return_to has the longest length kept, page.MaxReturnTo (0.94 KB measured by TestSignInFlood), so a
// tenant's cap is ~10 MB and an address's ~300 KB.
//
// Per client address: an office of 2,000 people behind one NAT address, all arriving within the same
// 15 minutes and each a minute at the IdP (MFA), has ~135 sign-ins in flight, plus the starts given up
// (a tab closed at the IdP) that wait out their 15 minutes: 300 leaves twice that room. Per tenant:
// 50,000 people arriving within 15 minutes have ~3,300 in flight; 10,000 leaves room for as many again
// given up. Requests answered or expired free their place at once (they are not counted, swept or not).
const (
	DefaultMaxPendingPerClient = 300
	DefaultMaxPendingPerTenant = 10000
	// pendingRetryAfter is the Retry-After of a refused start: a place frees as soon as any outstanding
	// request is answered, so a person is told to try again soon, not in 15 minutes.
	pendingRetryAfter = time.Minute
)

// login starts an SP-initiated sign-in at /saml/{tenant}/login. client=mobile makes it a mobile
// session; reauth=1 with a live session of the tenant makes it the silent re-authentication of that
// session (IsPassive) that the soft timeout asks for.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ref := page.Ref(r)
	q := r.URL.Query()
	returnTo := q.Get("return_to")
	if returnTo == "" {
		returnTo = page.DefaultReturnTo
	}
	if !page.SafeReturnTo(returnTo) {
		page.Message(w, http.StatusBadRequest, "Cannot sign in", "The page to return to must be a path on this site.", ref)
		return
	}
	c, ok := s.ssoTenant(w, r, mux.Vars(r)["tenant"], false)
	if !ok {
		return
	}
	req := &store.AuthnRequest{ReturnTo: returnTo}
	if q.Get("client") == "mobile" {
		req.Purpose = store.PurposeMobile
	}
	if q.Get("reauth") == "1" {
		ss, err := s.sessions.Current(r)
		if err != nil {
			s.internal(w, r, "session lookup", err)
			return
		}
		if ss != nil && ss.TenantID == c.tenant.ID {
			req.Purpose, req.SessionHash = store.PurposeReauth, ss.IDHash
		}
	}
	s.startSignIn(w, r, c, req)
}

// testStartView is the page a test link opens: a button that posts the link back.
type testStartView struct {
	page.View
	Tenant, Action, Token string
}

// testStart answers GET of a test link with a page whose button starts the test sign-in. Opening a
// link uses nothing up: mail and chat scanners open links before the person does, and a link used up
// by one would be dead on arrival. The link is used by the POST (test).
func (s *Server) testStart(w http.ResponseWriter, r *http.Request) {
	ref := page.Ref(r)
	c, ok := s.ssoTenant(w, r, mux.Vars(r)["tenant"], true)
	if !ok {
		return
	}
	tok := r.URL.Query().Get("token")
	err := store.ErrNotFound
	if store.IsSecret("", tok) {
		err = s.st.TestLinkValid(r.Context(), c.tenant.ID, store.HashSecret(tok))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, "test link", err)
		return
	}
	if err != nil {
		page.Message(w, http.StatusNotFound, "Test link not valid", "This test sign-in link is unknown, has expired or was already used. Ask for a new one.", ref)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in this page's URL
	page.Render(w, reportPage, http.StatusOK, "teststart", testStartView{View: page.View{Title: "Test sign-in", Ref: ref},
		Tenant: c.tenant.Name, Action: "/saml/" + c.tenant.Slug + "/test", Token: tok})
}

// test starts an admin's test sign-in at /saml/{tenant}/test?token=…: the IdP's answer is reported,
// not used. Only a one-time test link starts one (NewTestLink; `scimsso sso test-link` until the admin
// console exists): a report tells why an answer is refused, which nobody else may ask. Without a
// valid link the answer is a plain 404 and nothing is stored. A link works while the tenant is testing
// (before going live) and while it is active (checking a change on the IdP's side), and is used up
// when it is opened, even if the sign-in goes no further.
func (s *Server) test(w http.ResponseWriter, r *http.Request) {
	ref := page.Ref(r)
	// A test link is posted from its own page (testStart), never from another site.
	if site := r.Header.Get("Sec-Fetch-Site"); (site != "" && site != "same-origin") || (r.Header.Get("Origin") != "" && r.Header.Get("Origin") != s.origin) {
		page.Message(w, http.StatusForbidden, "Not allowed", "This form must be sent from scimsso's own page.", ref)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		page.Message(w, http.StatusBadRequest, "Bad request", "The form could not be read.", ref)
		return
	}
	c, ok := s.ssoTenant(w, r, mux.Vars(r)["tenant"], true)
	if !ok {
		return
	}
	err := store.ErrNotFound
	if tok := r.PostForm.Get("token"); store.IsSecret("", tok) {
		err = s.st.UseTestLink(r.Context(), c.tenant.ID, store.HashSecret(tok))
	}
	if errors.Is(err, store.ErrNotFound) {
		s.log.Info("test sign-in refused: no valid test link", zap.String("request_id", ref), zap.String("tenant", c.tenant.Slug))
		page.Message(w, http.StatusNotFound, "Test link not valid", "This test sign-in link is unknown, has expired or was already used. Ask for a new one.", ref)
		return
	}
	if err != nil {
		s.internal(w, r, "test link", err)
		return
	}
	s.startSignIn(w, r, c, &store.AuthnRequest{ReturnTo: page.DefaultReturnTo, Purpose: store.PurposeTest})
}

// StartSignIn answers r by starting an interactive sign-in at the IdP of the tenant with that slug,
// landing on returnTo (a path; anything else lands on the default page); purpose is
// store.PurposeSignIn or store.PurposeMobile. The people's web hands its email-first sign-in over to
// it. When the tenant's SSO cannot start it answers with a page saying why.
func (s *Server) StartSignIn(w http.ResponseWriter, r *http.Request, slug, returnTo string, purpose store.Purpose) {
	if purpose != store.PurposeMobile {
		purpose = store.PurposeSignIn
	}
	if !page.SafeReturnTo(returnTo) {
		returnTo = page.DefaultReturnTo
	}
	c, ok := s.ssoTenant(w, r, slug, false)
	if !ok {
		return
	}
	s.startSignIn(w, r, c, &store.AuthnRequest{ReturnTo: returnTo, Purpose: purpose})
}

// ReauthURL is the local URL that starts the silent re-authentication (IsPassive) of the browser's
// session at the tenant's IdP, landing on returnTo: where the people's web sends a session idle
// beyond its soft timeout.
func (s *Server) ReauthURL(slug, returnTo string) string {
	return "/saml/" + slug + "/login?reauth=1&return_to=" + url.QueryEscape(returnTo)
}

// ssoTenant returns the tenant's sign-in configuration when SSO can start, else answers with a page.
// A test sign-in may start while the state is testing; others need active.
func (s *Server) ssoTenant(w http.ResponseWriter, r *http.Request, slug string, test bool) (*tenantSP, bool) {
	ref := page.Ref(r)
	c, err := s.tenantSP(r.Context(), slug)
	if errors.Is(err, errNoTenant) {
		page.Message(w, http.StatusNotFound, "Unknown organisation", "There is no organisation at this address.", ref)
		return nil, false
	}
	if err != nil {
		s.internal(w, r, "login", err)
		return nil, false
	}
	if c.sp.IDPMetadata == nil || !(c.set.State == store.SSOActive || (test && c.set.State == store.SSOTesting)) {
		page.Message(w, http.StatusForbidden, "Single sign-on is off", "Single sign-on is not switched on for this organisation. Contact your administrator.", ref)
		return nil, false
	}
	return c, true
}

// startSignIn stores the AuthnRequest, bound to this browser, and redirects to the IdP (HTTP-Redirect
// binding). RelayState is not used: the response's InResponseTo finds the stored request, so nothing
// the IdP echoes back is ever a URL.
func (s *Server) startSignIn(w http.ResponseWriter, r *http.Request, c *tenantSP, ar *store.AuthnRequest) {
	req, err := c.sp.MakeAuthenticationRequest(c.set.IdPSSOURL, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		s.internal(w, r, "authn request", err)
		return
	}
	if ar.Purpose == store.PurposeReauth {
		passive := true
		req.IsPassive = &passive
	}
	// One binding value per browser: a second tab's sign-in must not orphan the first's request.
	bind := secret.FromCookie(r, bindingCookie)
	if bind == "" {
		if bind, _, err = store.NewSecret(""); err != nil {
			s.internal(w, r, "binding", err)
			return
		}
	}
	ar.ID, ar.TenantID, ar.BindingHash, ar.ExpiresAt = req.ID, c.tenant.ID, store.HashSecret(bind), s.now().Add(requestTTL)
	ar.ClientKey = clientaddr.Key(r)
	err = s.st.CreateAuthnRequest(r.Context(), ar, s.pending)
	var le *store.LimitError
	if errors.As(err, &le) {
		// Anyone may start a sign-in, and each start is stored until it is answered or expires: the
		// caps bound what a flood can make the store hold. Nothing was stored.
		s.log.Warn("sign-in start refused: too many outstanding", zap.String("request_id", page.Ref(r)),
			zap.String("tenant", c.tenant.Slug), zap.String("limit", le.Key))
		w.Header().Set("Retry-After", strconv.Itoa(int(pendingRetryAfter/time.Second)))
		page.Message(w, http.StatusTooManyRequests, "Too many sign-ins", "Too many sign-ins were started from your network or for your organisation. Wait a minute and try again.", page.Ref(r))
		return
	}
	if err != nil {
		s.internal(w, r, "store authn request", err)
		return
	}
	u, err := req.Redirect("", &c.sp)
	if err != nil {
		s.internal(w, r, "redirect", err)
		return
	}
	setBindingCookie(w, bind)
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	s.log.Info("sign-in started", zap.String("request_id", page.Ref(r)), zap.String("tenant", c.tenant.Slug),
		zap.String("authn_request", req.ID), zap.String("purpose", string(ar.Purpose)))
	http.Redirect(w, r, u.String(), http.StatusFound)
}
