package samlsp

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

// The ACS writes the tenant's sign-in log (store.SignInLogStore), which the console shows the tenant's
// IT admin: an accepted sign-in in its own transaction (signInAs sets SignIn.Log), a refusal here,
// with the code and the precise reason the server's log has under the same reference id the person was
// shown. The store caps refusals per tenant and minute, so garbage posted to an ACS cannot flood it,
// and past the cap the server's SignInMeter counts them in memory, so it cannot queue writes either.

// reasonInternal is the reason recorded for a failure that is not the response's fault: the log line
// under the reference has the cause, which is the operator's to read, not the tenant's.
const reasonInternal = "scimsso could not complete the sign-in (a store or configuration failure); the operator's log has the cause under the reference"

// signInRecord is what every record of r, answering a, starts with: how, the reference id, the client
// and, when the response got as far, its issuer and whether the IdP's signature was verified. The
// email is taken only from claims read after verification, never from what anyone may post.
func signInRecord(r *http.Request, a *accepted, method store.SignInMethod) store.SignInRecord {
	rec := store.SignInRecord{Method: method, Ref: page.Ref(r), ClientAddr: clientaddr.String(r)}
	if a == nil {
		return rec
	}
	if as := a.assertion; as != nil && as.Issuer.Value != "" {
		rec.Issuer = as.Issuer.Value
	} else {
		rec.Issuer = a.info.Issuer // what the response named before it was refused, unverified
	}
	rec.Verified = a.verifier != nil && len(a.verifier.verified) > 0
	// Naming the tenant's IdP puts an unverified refusal in its own class (store.SignInClass), so
	// that the IdP's responses after a missed key rollover are not lost among strangers' garbage.
	rec.FromIdP = a.c.set != nil && rec.Issuer != "" && rec.Issuer == a.c.set.IdPEntityID
	if a.claims != nil && rec.Verified {
		rec.Email = a.claims.Email
	}
	return rec
}

// logRefusal records the refused answer a to its tenant's ACS, with err's code and reason. A post
// refused before its tenant's settings were read (a nil: not a form, not SAML, SSO off, an unknown
// request) records nothing: nothing in it can be verified, anyone can send it, and writing it would
// make every stranger's post a store write; the server's log has it under the reference. A record
// that cannot be written is a warning: the person's page and the log line are what matter then.
func (s *Server) logRefusal(r *http.Request, log *zap.Logger, a *accepted, method store.SignInMethod, err error) {
	if a == nil {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	rec := signInRecord(r, a, method)
	rec.TenantID = a.c.tenant.ID
	rec.Outcome = store.SignInRefused
	var he *httpError
	var rf *refusal
	switch {
	case errors.As(err, &rf):
		rec.Code, rec.Reason = rf.code, rf.reason
	case errors.As(err, &he):
		rec.Code, rec.Reason = "request", he.msg
	default:
		rec.Code, rec.Reason = "error", reasonInternal
	}
	if err := s.refusals.Record(ctx, &rec); err != nil {
		log.Warn("could not record the refusal in the sign-in log", zap.Error(err))
	}
}

// logTest records a test sign-in: accepted when scimsso would have signed the person in, with outcome
// (what it would do) as the reason and the user it would sign in (userID, "" for a new one); refused with the refusal's code and reason.
func (s *Server) logTest(r *http.Request, log *zap.Logger, a *accepted, outcome, userID string, rf *refusal) {
	rec := signInRecord(r, a, store.SignInTest)
	rec.TenantID, rec.Outcome, rec.Reason, rec.UserID = a.c.tenant.ID, store.SignInAccepted, outcome, userID
	if rf != nil {
		rec.Outcome, rec.Code, rec.Reason = store.SignInRefused, rf.code, rf.reason
	}
	if err := s.refusals.Record(context.WithoutCancel(r.Context()), &rec); err != nil {
		log.Warn("could not record the test sign-in in the sign-in log", zap.Error(err))
	}
}
