package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// The sign-in log (SPEC.md "Admins": "a sign-in log of recent sign-ins and refusals with their codes
// and reasons") is what a tenant's IT admin reads in the console to debug their IdP without calling
// anyone: every accepted sign-in, written in the sign-in's own transaction, and every refusal with
// the precise reason the ACS logs and the reference id the person was shown. It is kept
// SignInRetention and swept in batches.
//
// Anyone can post garbage to a tenant's ACS, so refusals are capped: at most MaxRefusalsPerMinute of
// a tenant are recorded one by one within a minute of the store's clock, for each class
// (SignInClass: verified responses of the tenant's IdP, responses naming it unverified, password
// refusals, all others).
// Past the cap, one record of the minute, Code SignInCodeMore, counts the rest (Count). The cap is
// per class so that a stranger's unsigned garbage can never hide the refusals of what the tenant's
// own IdP sent. Nothing is ever evicted to make room: old entries leave only by age.

// SignInOutcome says whether a sign-in was accepted.
type SignInOutcome string

// Outcomes of a sign-in.
const (
	SignInAccepted SignInOutcome = "accepted"
	SignInRefused  SignInOutcome = "refused"
)

// SignInMethod says how a person signed in.
type SignInMethod string

// Methods of a sign-in.
const (
	SignInSAML     SignInMethod = "saml"     // an answer of the tenant's IdP at the ACS
	SignInPassword SignInMethod = "password" // an excluded user's password
	SignInTest     SignInMethod = "test"     // an admin's test sign-in (writes no user, no session)
)

// SignInCodeMore is the code of the record that stands for the refusals of one minute past
// MaxRefusalsPerMinute; its Count says how many.
const SignInCodeMore = "more"

// Bounds of the sign-in log.
const (
	// SignInRetention is how long a record is kept.
	SignInRetention = 30 * 24 * time.Hour
	// MaxRefusalsPerMinute is how many refusals of one tenant, of one class (Verified or not), are
	// recorded one by one within a minute.
	MaxRefusalsPerMinute = 30
	// MaxSignInReason bounds the stored reason, in bytes; a longer one is cut at a character boundary
	// and ends with "…".
	MaxSignInReason = 600
	// maxSignInField bounds every other text of a record (email, issuer, code, reference, address).
	maxSignInField = 320
)

// SignInRecord is one entry of a tenant's sign-in log.
type SignInRecord struct {
	Seq      int64 // increases with every record; the cursor of ListSignIns. Set by RecordSignIn.
	Time     time.Time
	TenantID string
	Outcome  SignInOutcome
	Method   SignInMethod
	UserID   string // "" when nobody was matched
	// Email is the person's address when known: read from an assertion whose signature was verified,
	// or typed on the password form. Never taken from an unverified assertion.
	Email string
	// Code is the refusal's short code ("audience", "replay", "signature"…), SignInCodeMore for the
	// record of refusals past the cap, "" for an accepted sign-in.
	Code string
	// Reason is the precise reason, as the server's log has it: never a secret or the assertion itself.
	Reason string
	// Ref is the reference id the person was shown (and the server's log line carries).
	Ref string
	// Issuer is the IdP's issuer as the response named it; whether it is the tenant's IdP's is what
	// Verified says.
	Issuer string
	// Verified reports that the response carried a signature verified against one of the tenant's IdP
	// certificates: the tenant's own IdP sent it (or it is a replay of what it sent).
	Verified bool
	// FromIdP reports that the response named the tenant's IdP as its issuer (unverified: what the
	// IdP sends after a key rollover scimsso missed looks like this). Not stored: it only picks the
	// record's class (Class) for the cap.
	FromIdP    bool
	ClientAddr string
	// Count is how many refusals the record stands for: 1, or more for a SignInCodeMore record.
	Count int
}

// SignInQuery selects a page of a tenant's sign-in log, newest first.
type SignInQuery struct {
	TenantID string
	Outcome  SignInOutcome // "": both
	Email    string        // "": any; else records of that email (compared case-insensitively)
	Ref      string        // "": any; else the record with that reference id (exactly as shown to the person)
	Before   int64         // only records with Seq < Before; 0: from the newest
	Limit    int           // at most this many (1..500; 0: 100)
}

// SignInLogStore is the sign-in log's part of the Store. An accepted SAML or password sign-in is
// recorded by SignIn or PasswordSignIn in its own transaction (their Log field); the rest here.
type SignInLogStore interface {
	// RecordSignIn appends r (its Time the store's, its Count 1, Seq set) to the tenant's log, its texts
	// cut to their bounds by Bound. A refusal or test sign-in (Capped) past MaxRefusalsPerMinute of its tenant and class in the
	// current minute is not stored itself: the minute's SignInCodeMore record of that class counts it
	// instead. The count and the write are one transaction, exact across replicas. ErrNotFound for an
	// unknown tenant.
	RecordSignIn(ctx context.Context, r *SignInRecord) error
	// AddRefusals adds n to the count of the SignInCodeMore record of the tenant's minute of at and
	// class (refusals a SignInMeter counted in memory). No record: nothing to add to.
	AddRefusals(ctx context.Context, tenantID string, at time.Time, class SignInClass, n int) error
	// ListSignIns returns a page of the tenant's sign-in log matching q, newest first. An unknown
	// tenant has none.
	ListSignIns(ctx context.Context, q SignInQuery) ([]SignInRecord, error)
}

// SignInClass is a class of refusals, capped apart from the others so that a flood of one never
// hides another: a stranger's garbage cannot take the room of what the tenant's IdP sent, nor of
// password refusals an admin needs to see.
type SignInClass int

// The classes of SignInRecord.Class.
const (
	ClassOther    SignInClass = iota // anything else: garbage with a tenant's settings read
	ClassVerified                    // a response carrying a verified signature of the tenant's IdP
	ClassFromIdP                     // a response naming the tenant's IdP as issuer, not verified
	ClassPassword                    // a password sign-in
	signInClasses
)

// Class is the class whose cap r counts against.
func (r *SignInRecord) Class() SignInClass {
	switch {
	case r.Verified:
		return ClassVerified
	case r.Method == SignInPassword:
		return ClassPassword
	case r.FromIdP:
		return ClassFromIdP
	}
	return ClassOther
}

// SignInBucket numbers the minute of at and class c (the cap's counter); the minute's
// SignInCodeMore record of that class is stored under SignInBucket+1, so every bucket is > 0.
func SignInBucket(at time.Time, c SignInClass) int64 {
	return at.Unix()/60*int64(signInClasses) + int64(c)
}

// Capped says whether r counts against the minute's cap of its tenant and class: every refusal, and
// every test sign-in, accepted ones too (an IdP-initiated response posted while the tenant is testing
// is never marked used, so one signed response could otherwise be posted to fill the log).
func (r *SignInRecord) Capped() bool {
	return r.Outcome == SignInRefused || r.Method == SignInTest
}

// Bound cuts r's texts to the log's bounds and makes them storable (valid UTF-8, no NUL), so that a
// record of any client's input fits; the store calls it on every record it writes.
func (r *SignInRecord) Bound() {
	r.Reason = Clip(r.Reason, MaxSignInReason)
	for _, f := range []*string{&r.Email, &r.Code, &r.Ref, &r.Issuer, &r.ClientAddr, &r.UserID} {
		*f = Clip(*f, maxSignInField)
	}
	r.Email = Key(r.Email)
}

// Clip returns s as valid UTF-8 without NUL bytes, at most n (> 3) bytes long, cut at a character
// boundary and ended with "…" when it was longer: text of outside origin made fit to store.
func Clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n-len("…")]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
