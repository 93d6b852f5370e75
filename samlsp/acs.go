package samlsp

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/internal/secret"
	"github.com/scimsso/scimsso/store"
)

// maxFormBytes bounds the ACS form: the base64 of a maxResponseBytes response plus a RelayState.
const maxFormBytes = maxResponseBytes*4/3 + 8<<10

// httpError is a refusal of the request itself (not of the sign-in), with its status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// accepted is a validated response, ready to be written as a sign-in.
type accepted struct {
	c         *tenantSP
	assertion *saml.Assertion
	claims    *claims
	verifier  *verifier
	request   *store.AuthnRequest // nil for IdP-initiated
	relay     string
	info      guardInfo
}

// acs is the Assertion Consumer Service (HTTP-POST binding). Every refusal shows a plain page with the
// reference id and logs the precise reason under it; nothing is written for a refused response. What
// an answer to one of scimsso's own requests does depends on the request's purpose: a test sign-in is
// reported, a silent re-authentication continues (or ends) the session it was made for.
func (s *Server) acs(w http.ResponseWriter, r *http.Request) {
	ref := page.Ref(r)
	slug := mux.Vars(r)["tenant"]
	log := s.log.With(zap.String("request_id", ref), zap.String("tenant", slug))
	a, err := s.validate(r, slug)
	var purpose store.Purpose
	if a != nil && a.request != nil {
		purpose = a.request.Purpose
	}
	switch {
	case purpose == store.PurposeTest || (err == nil && a.c.set.State == store.SSOTesting):
		s.testReport(w, r, log, a, err)
		return
	case purpose == store.PurposeReauth:
		s.reauthenticated(w, r, log, a, err)
		return
	}
	var u *store.User
	var d *decision
	if err == nil {
		// A response to one of scimsso's requests returns where that request asked; an unsolicited one
		// may name a page in RelayState, which the session starter takes only when it is a safe path.
		returnTo := a.relay
		if a.request != nil {
			returnTo = a.request.ReturnTo
		}
		err = s.sessions.Start(w, r, returnTo, func(idHash []byte) (bool, error) {
			var err error
			u, d, err = s.signIn(r, a, idHash)
			return err == nil && d.pending, err
		})
	}
	if err != nil {
		s.logRefusal(r, log, a, store.SignInSAML, err)
		s.refused(w, log, ref, err)
		return
	}
	s.metrics.SignIn("ok")
	log.Info("signed in", zap.String("user_id", u.ID), zap.String("matched", d.matched), zap.Bool("pending", d.pending),
		zap.String("assertion_id", a.assertion.ID), zap.Bool("idp_initiated", a.request == nil), zap.Bool("mobile", purpose == store.PurposeMobile),
		zap.Strings("verified", a.verifier.verified))
}

// reauthenticated answers a silent re-authentication: the session goes on (same cookie, its idle
// clock reset) when the IdP vouches for the same user; otherwise (the IdP answered NoPassive, a
// refusal, another user, a deactivated user) the session ends and the person signs in interactively.
func (s *Server) reauthenticated(w http.ResponseWriter, r *http.Request, log *zap.Logger, a *accepted, err error) {
	req := a.request
	if err == nil {
		var ss *store.Session
		if ss, err = s.st.SessionByHash(r.Context(), req.SessionHash); err == nil {
			_, _, err = s.signInAs(r, a, ss.IDHash, ss)
		} else if errors.Is(err, store.ErrNotFound) {
			err = refuse("reauth", "the session to re-authenticate has ended")
		}
	}
	if err == nil {
		log.Info("re-authenticated", zap.String("assertion_id", a.assertion.ID))
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, req.ReturnTo, http.StatusSeeOther)
		return
	}
	s.logRefusal(r, log, a, store.SignInSAML, err)
	var rf *refusal
	var he *httpError
	if !errors.As(err, &rf) && !errors.As(err, &he) {
		s.refused(w, log, page.Ref(r), err)
		return
	}
	if derr := s.sessions.End(w, r, req.SessionHash, req.ReturnTo); derr != nil {
		s.internal(w, r, "end session", derr)
		return
	}
	log.Info("re-authentication failed; session ended", zap.Error(err))
}

// refused answers a refused request or sign-in and logs why.
func (s *Server) refused(w http.ResponseWriter, log *zap.Logger, ref string, err error) {
	var he *httpError
	var rf *refusal
	switch {
	case errors.As(err, &he):
		s.metrics.SignIn("bad-request")
		log.Warn("sign-in refused", zap.Int("status", he.status), zap.String("reason", he.msg))
		page.Message(w, he.status, "Sign-in failed", he.msg, ref)
	case errors.As(err, &rf):
		s.metrics.SignIn(rf.code)
		log.Warn("sign-in refused", zap.String("code", rf.code), zap.String("reason", rf.reason))
		page.Message(w, http.StatusForbidden, "Sign-in failed", "Your sign-in could not be accepted. Please try again from the start, or contact your administrator.", ref)
	default:
		outcome := "error"
		if errors.Is(err, store.ErrUnavailable) {
			outcome = "unavailable"
		}
		s.metrics.SignIn(outcome)
		page.Failed(w, log, s.metrics, ref, "sign-in", err)
	}
}

// internal answers a store or configuration failure outside a sign-in's refusal: a plain page with the
// reference, the cause in the log.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	page.Failed(w, s.log, s.metrics, page.Ref(r), what, err)
}

// validate runs every check of the spec on the posted response: form, guard, tenant, request binding,
// signature policy, crewjam's conditions, and scimsso's post-checks.
// Once the answered request is known, the returned accepted is not nil even with an error, so the
// caller can tell what the refused answer was for.
func (s *Server) validate(r *http.Request, slug string) (*accepted, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, &httpError{http.StatusUnsupportedMediaType, "The sign-in response must be a form post."}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "The sign-in response is too large."}
		}
		return nil, &httpError{http.StatusBadRequest, "The sign-in response is not a valid form."}
	}
	if r.Form.Has("SAMLart") {
		return nil, &httpError{http.StatusBadRequest, "Artifact responses are not accepted."}
	}
	raw := strings.Join(strings.Fields(r.PostForm.Get("SAMLResponse")), "")
	if raw == "" {
		return nil, &httpError{http.StatusBadRequest, "The form has no SAMLResponse."}
	}
	if base64.StdEncoding.DecodedLen(len(raw)) > maxResponseBytes+2 {
		return nil, &httpError{http.StatusRequestEntityTooLarge, "The sign-in response is too large."}
	}
	doc, err := base64.StdEncoding.Strict().DecodeString(raw)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "The SAMLResponse is not valid base64."}
	}
	info, err := guard(doc)
	if err != nil {
		return nil, refuse("guard", "%v", err)
	}
	c, err := s.tenantSP(r.Context(), slug)
	if errors.Is(err, errNoTenant) {
		return nil, &httpError{http.StatusNotFound, "There is no organisation at this address."}
	}
	if err != nil {
		return nil, err
	}
	set := c.set
	if set.State == store.SSOOff || c.sp.IDPMetadata == nil {
		return nil, refuse("sso-off", "single sign-on is off for this tenant")
	}
	a := &accepted{c: c, relay: r.PostForm.Get("RelayState")}
	if info.InResponseTo != "" {
		bind := secret.FromCookie(r, bindingCookie)
		if bind == "" {
			return nil, refuse("in-response-to", "the response answers request %q but the browser has no binding cookie (another browser, or a cookie blocked on the IdP's cross-site POST)", info.InResponseTo)
		}
		a.request, err = s.st.AuthnRequest(r.Context(), c.tenant.ID, info.InResponseTo, store.HashSecret(bind))
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse("in-response-to", "request %q is unknown, expired, already answered, of another tenant, or was started in another browser", info.InResponseTo)
		}
		if err != nil {
			return nil, err
		}
		if a.request.Purpose == store.PurposeTest {
			// A test request is used up by its first answer, whatever that answer is, before anything
			// is decrypted: the report tells why an answer is refused, so each test sign-in an admin
			// starts may buy one such answer, never a stream of them.
			err := s.st.ConsumeAuthnRequest(r.Context(), c.tenant.ID, a.request.ID, a.request.BindingHash)
			if errors.Is(err, store.ErrNotFound) {
				return nil, refuse("in-response-to", "test request %q was answered meanwhile", a.request.ID)
			}
			if err != nil {
				return nil, err
			}
		}
	} else if set.NoIdPInitiated {
		return nil, refuse("unsolicited", "an unsolicited (IdP-initiated) response, and the tenant accepts only responses to its own requests")
	}

	a.info = info
	return a, s.verify(a, doc)
}

// verify runs the signature policy, crewjam's checks and scimsso's post-checks, and reads the claims.
func (s *Server) verify(a *accepted, doc []byte) error {
	c, set, info, ids := a.c, a.c.set, a.info, []string{""}
	if a.request != nil {
		ids = []string{a.request.ID}
	}
	var err error
	now := s.now()
	v := &verifier{certs: c.idpCert, allowSHA1: set.SignatureAlgorithm.AllowsSHA1(), checkResp: set.SignedElement.AssertionSigned(), now: now}
	sp := c.sp
	sp.SignatureVerifier = v
	current := sp.AcsURL
	if set.SkipDestinationValidation {
		// Testing only (sso set warns): the response's own Destination and Recipient are taken as ours.
		if u, err := url.Parse(info.Destination); err == nil && info.Destination != "" {
			current = *u
		}
		if u, err := url.Parse(info.Recipient); err == nil && info.Recipient != "" {
			sp.AcsURL = *u
		}
	}
	a.verifier = v
	if a.assertion, err = parseSafely(&sp, doc, ids, current, info.Encrypted, v); err != nil {
		return err
	}
	if err := postCheck(a.assertion, v, info, set, now); err != nil {
		return err
	}
	a.claims, err = claimsOf(a.assertion, c.attrs)
	return err
}

// errUnreadable is the one reason given for an EncryptedAssertion that could not be decrypted, passed
// the guard or parsed. Anyone can encrypt to a tenant's published certificate and reuse a captured
// wrapped key; telling apart bad AES-CBC padding, a bad byte, invalid UTF-8 or a parse failure (in the
// test report or in a log line) made the ACS a decryption oracle that read a whole assertion in
// ~20,000 requests. Nothing of what went wrong inside is said, anywhere.
var errUnreadable = refuse("decrypt", "the assertion could not be decrypted or read")

// parseSafely calls crewjam's ParseXMLResponse (never ParseResponse, which would resolve artifacts)
// and turns a panic inside it, which crafted input can cause in v0.5.1, into a refusal. For an
// encrypted response, a failure to decrypt or read the assertion, and any panic, is errUnreadable.
func parseSafely(sp *saml.ServiceProvider, doc []byte, ids []string, current url.URL, encrypted bool, v *verifier) (a *saml.Assertion, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, refuse("malformed", "the SAML library panicked on this response: %v", p)
			// Until a signature of the IdP's was verified, an encrypted response may be anyone's probe of
			// the decryption: one reason. Once one was, the content is the IdP's own, and the real reason
			// (a missing Conditions, say) is what the admin reading a test report needs.
			if encrypted && len(v.verified) == 0 {
				err = errUnreadable
			}
		}
	}()
	a, err = sp.ParseXMLResponse(doc, ids, current)
	if err != nil {
		var ire *saml.InvalidResponseError
		var bs saml.ErrBadStatus
		switch {
		case encrypted && isDecryptFailure(err):
			return nil, errUnreadable
		case errors.As(err, &ire) && errors.As(ire.PrivateErr, &bs):
			return nil, refuse("status", "the IdP answered with status %s", bs.Status)
		case errors.As(err, &ire):
			return nil, refuse("invalid", "%v", ire.PrivateErr)
		}
		return nil, refuse("invalid", "%v", err)
	}
	return a, nil
}

// postCheck closes what crewjam v0.5.1 lets through: which elements the signature covers, a future
// IssueInstant, an overlong validity, no AuthnStatement, no bearer confirmation, a signed Response
// without Destination.
func postCheck(a *saml.Assertion, v *verifier, info guardInfo, set *store.SSOSettings, now time.Time) error {
	if set.SignedElement.AssertionSigned() && !v.has("Assertion", a.ID) {
		return refuse("signature", "signed-element is %s but the assertion is not signed (the IdP signed %v)", set.SignedElement, v.verified)
	}
	if set.SignedElement.ResponseSigned() && !v.has("Response", info.ResponseID) {
		return refuse("signature", "signed-element is %s but the Response is not signed (the IdP signed %v)", set.SignedElement, v.verified)
	}
	if info.ResponseSigned && info.Destination == "" {
		return refuse("destination", "a signed Response without Destination")
	}
	if a.IssueInstant.After(now.Add(clockSkew)) {
		return refuse("time", "IssueInstant %s is in the future", a.IssueInstant.Format(time.RFC3339))
	}
	if a.Conditions == nil || a.Conditions.NotOnOrAfter.IsZero() {
		return refuse("conditions", "the assertion has no Conditions NotOnOrAfter")
	}
	if a.Conditions.NotOnOrAfter.After(now.Add(maxValidity)) {
		return refuse("time", "the assertion is valid until %s, longer than %s", a.Conditions.NotOnOrAfter.Format(time.RFC3339), maxValidity)
	}
	if len(a.AuthnStatements) == 0 {
		return refuse("authn-statement", "the assertion has no AuthnStatement")
	}
	bearer := false
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			bearer = bearer || (sc.Method == "urn:oasis:names:tc:SAML:2.0:cm:bearer" && sc.SubjectConfirmationData != nil)
		}
	}
	if !bearer {
		return refuse("subject-confirmation", "the assertion has no bearer SubjectConfirmation")
	}
	return nil
}

// signIn reconciles the user and writes the whole sign-in, with the new session idHash, in one store
// transaction.
func (s *Server) signIn(r *http.Request, a *accepted, idHash []byte) (*store.User, *decision, error) {
	return s.signInAs(r, a, idHash, nil)
}

// signInAs is signIn, or with cont set the silent re-authentication that continues that session
// (idHash is its hash): the store refuses (ErrNotFound) unless the IdP's user is the session's.
func (s *Server) signInAs(r *http.Request, a *accepted, idHash []byte, cont *store.Session) (*store.User, *decision, error) {
	now := s.now()
	mobile := a.request != nil && a.request.Purpose == store.PurposeMobile
	rec := signInRecord(r, a, store.SignInSAML)
	in := &store.SignIn{
		AssertionID: a.assertion.ID, AssertionExpires: replayUntil(a.assertion).Add(clockSkew),
		Audit: store.Audit{Operation: "sso-signin", Outcome: "ok"},
		Log:   &rec,
	}
	if cont != nil {
		mobile = cont.Mobile
		in.Continue = true
	}
	in.Session.IDHash = idHash
	in.Session.Mobile = mobile
	in.Session.ExpiresAt = now.Add(a.c.set.SessionTimeout(mobile))
	if e := a.claims.SessionEnd; !e.IsZero() && e.Before(in.Session.ExpiresAt) {
		in.Session.ExpiresAt = e
	}
	if a.request != nil {
		in.RequestID, in.BindingHash = a.request.ID, a.request.BindingHash
	}
	var d *decision
	u, err := s.st.SignIn(r.Context(), a.c.tenant.ID, in, func(f store.UserFinder) (*store.User, error) {
		var err error
		if d, err = reconcile(f, a.c.tenant, a.c.set, a.c.attrs, a.claims); err != nil {
			return nil, err
		}
		in.Session.Pending = d.pending
		if d.matched == "created" {
			in.Audit.Operation = "sso-create"
		} else {
			in.Audit.Operation = "sso-update"
		}
		in.Audit.Detail = "matched by " + d.matched
		rec.Reason = in.Audit.Detail
		switch {
		case cont != nil:
			rec.Reason = "silent re-authentication, " + rec.Reason
		case d.pending:
			rec.Reason += "; /welcome asks for " + strings.Join(d.ask, ", ")
		}
		return d.user, nil
	})
	switch {
	case errors.Is(err, store.ErrReplayed):
		return nil, nil, refuse("replay", "assertion %s was already used", a.assertion.ID)
	case errors.Is(err, store.ErrNotFound) && cont != nil:
		return nil, nil, refuse("reauth", "the IdP vouched for another user than the session's, or the session or request ended meanwhile")
	case errors.Is(err, store.ErrNotFound) && a.request != nil:
		return nil, nil, refuse("in-response-to", "request %s was answered meanwhile", a.request.ID)
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, nil, refuse("conflict", "the user the assertion describes conflicts with another user (userName or externalId taken)")
	case err != nil:
		return nil, nil, err
	}
	return u, d, nil
}

// replayUntil is the last moment the assertion could be accepted: its replay-cache entry must outlive it.
func replayUntil(a *saml.Assertion) time.Time {
	t := a.Conditions.NotOnOrAfter
	for _, sc := range a.Subject.SubjectConfirmations {
		if d := sc.SubjectConfirmationData; d != nil && d.NotOnOrAfter.After(t) {
			t = d.NotOnOrAfter
		}
	}
	return t
}
