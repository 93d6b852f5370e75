package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event types: every change the platform's applications may need to follow is recorded as one of
// these, in the same transaction as the change itself (SPEC.md "Platform API: directory and events").
const (
	EventUserCreated        = "user.created"
	EventUserUpdated        = "user.updated"
	EventUserEmailChanged   = "user.email_changed"
	EventUserDeactivated    = "user.deactivated"
	EventUserReactivated    = "user.reactivated"
	EventSessionStarted     = "session.started"
	EventSessionEnded       = "session.ended"
	EventSSOSettingsChanged = "sso.settings_changed"
	EventSCIMTokenIssued    = "scim_token.issued"
	EventSCIMTokenRevoked   = "scim_token.revoked"
	// EventSSOCertificateExpiring is in metadatafetch.go, with the refresh that records it.
)

// EventTypes lists every event type, in the order the README documents them.
var EventTypes = []string{
	EventUserCreated, EventUserUpdated, EventUserEmailChanged, EventUserDeactivated, EventUserReactivated,
	EventSessionStarted, EventSessionEnded, EventSSOSettingsChanged, EventSCIMTokenIssued, EventSCIMTokenRevoked,
	EventSSOCertificateExpiring,
}

// ErrUnknownEventType is what ParseEventTypes' refusal wraps.
var ErrUnknownEventType = errors.New("unknown event type")

// ParseEventTypes is the one rule for a list of event types, wherever it comes from (the events
// list's ?types=, webhook add --types, webhooks.Add): vals are comma-separated lists, each entry
// trimmed and one of EventTypes (an empty entry is not); repeats are dropped, the first kept, in the
// order given. No vals: nil, meaning every type. A refusal wraps ErrUnknownEventType and names the
// entry (clipped, as it may come from a client) and the types there are.
func ParseEventTypes(vals ...string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if !slices.Contains(EventTypes, t) {
				if len(t) > 64 {
					t = t[:64] + "…"
				}
				return nil, fmt.Errorf("%w %q; the types are %s", ErrUnknownEventType, t, strings.Join(EventTypes, ", "))
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// Reasons a session ended, the "reason" of a session.ended event.
const (
	EndLogout      = "logout"
	EndTimeout     = "timeout"
	EndDeactivated = "deactivated"
)

// Event is one recorded change. Seq increases store-wide in the order the changes became visible: a
// reader that has seen every event up to Seq never sees a smaller one appear later.
type Event struct {
	ID         string // random, stable: the webhook-id of every delivery of this event
	Seq        int64
	Type       string
	TenantID   string
	Tenant     string // the tenant's slug
	Subject    string // the user the event is about, for ordering per user; "" for tenant events
	OccurredAt time.Time
	// Data is the JSON of the object after the change: a UserObject, SessionObject, SSOSettingsObject
	// or TokenObject.
	Data []byte
}

// EventQuery selects events in seq order.
type EventQuery struct {
	After int64    // only events with a greater Seq
	Limit int      // at most this many; 0 or less: 100
	Types []string // only these types; empty: every type
	// Lazy reads only what is readable already: events committed an instant ago may be missing until
	// a later read (on PostgreSQL, until they are numbered, within about 20 ms, after which
	// EventsWritten wakes its reader), and the read writes nothing. Without it a read first makes
	// every committed event readable, so a client reads its own writes, at the cost of a write
	// (PostgreSQL's numbering, a commit) per read when events are pending. Delivery, woken by
	// EventsWritten, reads lazily.
	Lazy bool
}

// EventStore is the event log's part of the Store. Events are written by the Store's own write
// methods, in the transaction of the change, so a write that fails records nothing and no event
// exists without its change; nothing else writes them:
//
//   - user.created: CreateUser (source scim), SignIn creating the user (source sso).
//   - user.updated, user.email_changed, user.deactivated, user.reactivated: UpdateUser, SignIn and
//     PasswordSignIn when they change the user, one event per kind of change, none without one.
//     email_changed is a change of userName (other than in case), the emails changing with it
//     included; deactivated and reactivated are active flipping; updated is any other change.
//     Data: the UserObject after the change.
//   - session.started: CreateSession, SignIn (not when it continues a session), PasswordSignIn.
//   - session.ended: DeleteSession, EndSession, DeleteUserSessions (each ended session), Sweep
//     (timeout), UpdateUser deactivating the user (deactivated). Data: the SessionObject with its
//     reason and the OpenID clients that held tokens of it.
//   - sso.settings_changed: PutSSOSettings (an SSOSettingsObject); scim_token.issued: CreateToken;
//     scim_token.revoked: RevokeToken (a TokenObject).
//   - sso.certificate_expiring: AnnounceCertificateExpiring, once per certificate (a
//     CertificateObject).
//
// Sweep deletes events older than 30 days, but the newest.
type EventStore interface {
	// ListEvents returns the events after q.After in seq order, at most q.Limit (100 when it is 0
	// or less), of q.Types only when it names any. Every event committed before the call is there.
	ListEvents(ctx context.Context, q EventQuery) ([]Event, error)
	// LastEventSeq returns the greatest Seq a reader can see now (0 when there is no event): with lazy,
	// what is readable already, as EventQuery.Lazy reads; without, after numbering what was committed
	// (on PostgreSQL a write transaction), so a client counts its own writes.
	LastEventSeq(ctx context.Context, lazy bool) (int64, error)
}

// SessionID is a session's public id, as events and ID tokens (sid) name it: derived from the stored
// hash, never the hash itself, which looks a session up.
func SessionID(idHash []byte) string {
	h := sha256.Sum256(append([]byte("scimsso sid\x00"), idHash...))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// UserObject is a user as the platform API and events show it: plain JSON, not SCIM.
type UserObject struct {
	ID           string        `json:"id"`
	Tenant       string        `json:"tenant"`
	UserName     string        `json:"user_name"`
	Emails       []EmailObject `json:"emails"`
	GivenName    string        `json:"given_name"`
	FamilyName   string        `json:"family_name"`
	Country      string        `json:"country"`
	Department   string        `json:"department"`
	Team         string        `json:"team"`
	ExternalID   string        `json:"external_id"`
	Active       bool          `json:"active"`
	Source       Source        `json:"source"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	LastSignInAt *time.Time    `json:"last_sign_in_at"`
}

// EmailObject is one of a UserObject's emails.
type EmailObject struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary"`
}

// NewUserObject is u as the platform sees it; tenant is its tenant's slug.
func NewUserObject(u *User, tenant string) UserObject {
	o := UserObject{
		ID: u.ID, Tenant: tenant, UserName: u.UserName, Emails: make([]EmailObject, 0, len(u.Emails)),
		GivenName: u.GivenName, FamilyName: u.FamilyName, Country: u.Country, Department: u.Department,
		Team: u.Team, ExternalID: u.ExternalID, Active: u.Active, Source: u.Source,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
	for _, e := range u.Emails {
		o.Emails = append(o.Emails, EmailObject{Value: e.Value, Type: e.Type, Primary: e.Primary})
	}
	if !u.LastSignInAt.IsZero() {
		t := u.LastSignInAt.UTC()
		o.LastSignInAt = &t
	}
	return o
}

// SessionObject is a session as events show it.
type SessionObject struct {
	ID        string    `json:"id"` // SessionID: the sid of the ID tokens issued in it
	Tenant    string    `json:"tenant"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Mobile    bool      `json:"mobile"`
	Reason    string    `json:"reason,omitempty"` // session.ended: EndLogout, EndTimeout or EndDeactivated
	// Clients are, in a session.ended event, the OpenID Connect clients (client ids, sorted) that
	// signed in with the session (redeemed a code of it), whether or not their tokens have expired
	// since: the ones a back-channel logout goes to.
	Clients []string `json:"clients,omitempty"`
}

// NewSessionObject is ss as events show it; tenant is its tenant's slug.
func NewSessionObject(ss *Session, tenant string) SessionObject {
	return SessionObject{
		ID: SessionID(ss.IDHash), Tenant: tenant, UserID: ss.UserID,
		CreatedAt: ss.CreatedAt.UTC(), ExpiresAt: ss.ExpiresAt.UTC(), Mobile: ss.Mobile,
	}
}

// TokenObject is a SCIM token as events show it: never its secret or hash.
type TokenObject struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// NewTokenObject is t as events show it; tenant is its tenant's slug.
func NewTokenObject(t *Token, tenant string) TokenObject {
	return TokenObject{
		ID: t.ID, Tenant: tenant, Name: t.Name, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: timeOrNil(t.ExpiresAt), RevokedAt: timeOrNil(t.RevokedAt),
	}
}

// SSOSettingsObject is a tenant's SSO settings as events show them: every setting of SSOSettings,
// durations in whole seconds, the IdP's certificates as PEM. The settings hold no secret.
type SSOSettingsObject struct {
	Tenant                    string    `json:"tenant"`
	Version                   int64     `json:"version"`
	UpdatedAt                 time.Time `json:"updated_at"`
	State                     SSOState  `json:"state"`
	IdPEntityID               string    `json:"idp_entity_id"`
	IdPSSOURL                 string    `json:"idp_sso_url"`
	IdPCertificates           []string  `json:"idp_certificates"`
	IdPMetadataURL            string    `json:"idp_metadata_url"`
	Exclude                   []string  `json:"exclude"`
	HardTimeoutSeconds        int64     `json:"hard_timeout_seconds"`
	SoftTimeoutSeconds        int64     `json:"soft_timeout_seconds"`
	MobileHardTimeoutSeconds  int64     `json:"mobile_hard_timeout_seconds"` // 0: the hard timeout
	CountryFormat             string    `json:"country_format"`
	SignatureAlgorithm        string    `json:"signature_algorithm"`
	SignedElement             string    `json:"signed_element"`
	ForceCountry              bool      `json:"force_country"`
	ForceDepartment           bool      `json:"force_department"`
	SkipDestinationValidation bool      `json:"skip_destination_validation"`
	SignRequests              bool      `json:"sign_requests"`
	IdPInitiated              bool      `json:"idp_initiated"`
	PrincipalIDAttr           string    `json:"principal_id_attr"`
	SecondaryEmailAttr        string    `json:"secondary_email_attr"`
	AttrFirstName             string    `json:"attr_first_name"`
	AttrLastName              string    `json:"attr_last_name"`
	AttrEmail                 string    `json:"attr_email"`
	AttrCountry               string    `json:"attr_country"`
	AttrDepartment            string    `json:"attr_department"`
}

// NewSSOSettingsObject is s as events show it; tenant is its tenant's slug.
func NewSSOSettingsObject(s *SSOSettings, tenant string) SSOSettingsObject {
	return SSOSettingsObject{
		Tenant: tenant, Version: s.Version, UpdatedAt: s.UpdatedAt.UTC(), State: s.State,
		IdPEntityID: s.IdPEntityID, IdPSSOURL: s.IdPSSOURL, IdPMetadataURL: s.IdPMetadataURL,
		IdPCertificates:    append(make([]string, 0, len(s.IdPCertificatesPEM)), s.IdPCertificatesPEM...),
		Exclude:            append(make([]string, 0, len(s.Exclude)), s.Exclude...),
		HardTimeoutSeconds: int64(s.HardTimeout / time.Second), SoftTimeoutSeconds: int64(s.SoftTimeout / time.Second),
		MobileHardTimeoutSeconds: int64(s.MobileHardTimeout / time.Second),
		CountryFormat:            string(s.CountryFormat), SignatureAlgorithm: string(s.SignatureAlgorithm),
		SignedElement: string(s.SignedElement), ForceCountry: s.ForceCountry, ForceDepartment: s.ForceDepartment,
		SkipDestinationValidation: s.SkipDestinationValidation, SignRequests: s.SignRequests,
		IdPInitiated: !s.NoIdPInitiated, PrincipalIDAttr: s.PrincipalIDAttr, SecondaryEmailAttr: s.SecondaryEmailAttr,
		AttrFirstName: s.AttrFirstName, AttrLastName: s.AttrLastName, AttrEmail: s.AttrEmail,
		AttrCountry: s.AttrCountry, AttrDepartment: s.AttrDepartment,
	}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
