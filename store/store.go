// Package store holds scimsso's domain types and the Store interface every persistence backend implements.
package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Sentinel errors returned by Store methods. Compare with errors.Is; backends wrap them with context.
var (
	// ErrNotFound means the addressed row does not exist in the given tenant.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a uniqueness rule refused the write (slug, domain, userName, externalId, assertion id).
	ErrAlreadyExists = errors.New("already exists")
	// ErrVersionMismatch means an update was made against a version that is no longer current.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrReplayed means a sign-in presented an assertion id that was already used.
	ErrReplayed = errors.New("assertion already used")
	// ErrUnavailable means the database could not be reached (down, restarting, out of connections).
	// A write refused this way was not applied, or, when the connection broke during its commit, was
	// applied whole; never in part. The same request may succeed later: HTTP answers 503 with
	// Retry-After.
	ErrUnavailable = errors.New("store unavailable")
	// ErrLimited means a limit on what clients may make the store hold or do was reached: nothing was
	// written. HTTP answers 429 with Retry-After. The error is a *LimitError naming the limit.
	ErrLimited = errors.New("limit reached")
)

// LimitError is the error of a write refused by a limit; errors.Is(err, ErrLimited) holds for it.
type LimitError struct {
	// Key is the key of the limit reached (a Limit's Key, or "client" or "tenant" for AuthnRequests).
	// It may hold an email address or a client address: log its kind, not the whole of it.
	Key string
}

func (e *LimitError) Error() string { return "limit reached: " + e.Key }

// Is makes errors.Is(err, ErrLimited) hold.
func (e *LimitError) Is(target error) bool { return target == ErrLimited }

// Limit caps the attempts recorded under Key (an account, a client address) within a window.
type Limit struct {
	Key string
	Max int
}

// RequestLimits cap how many outstanding (unanswered, unexpired) AuthnRequests CreateAuthnRequest keeps,
// so that anonymous clients cannot make the store hold without bound. 0 leaves a cap off.
type RequestLimits struct {
	PerClient int // requests with the new request's ClientKey, of every tenant
	PerTenant int // requests of the new request's tenant
}

// Source says where a user was created.
type Source string

// The sources of a user.
const (
	SourceSCIM Source = "scim"
	SourceSSO  Source = "sso"
)

// Tenant is a customer company. Slug is its URL name; Domains are its exclusive email domains.
type Tenant struct {
	ID        string
	Slug      string
	Name      string
	Domains   []string // lower case, sorted
	CreatedAt time.Time
	// SPKeyPEM and SPCertPEM are the tenant's SAML service provider key pair, made once at creation.
	// SPKeyPEM is given to CreateTenant; tenant reads leave it empty, so the private key travels only
	// where it is used (SPKey), and a key that cannot be decrypted breaks only what needs it.
	SPKeyPEM  []byte
	SPCertPEM []byte
}

// OwnsDomain reports whether domain (any case) is one of t's domains.
func (t *Tenant) OwnsDomain(domain string) bool {
	return slices.Contains(t.Domains, strings.ToLower(domain))
}

// Token is a SCIM bearer token. Only the SHA-256 of the secret is ever stored.
type Token struct {
	ID        string
	TenantID  string
	Name      string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: live
}

// Live reports whether the token may be used at now.
func (t *Token) Live(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Email is one of a user's email addresses.
type Email struct {
	Value   string
	Type    string
	Primary bool
	Display string // the provisioning client's human-readable name for the address, kept as sent
}

// User is a person of one tenant, provisioned by SCIM or created at sign-in.
type User struct {
	ID             string
	TenantID       string
	UserName       string // the primary email; unique per tenant, case-insensitively
	Emails         []Email
	GivenName      string
	FamilyName     string
	Country        string // ISO 3166-1 alpha-2, upper case
	Department     string
	Team           string
	ExternalID     string // the IdP's immutable id; unique per tenant when set
	SecondaryEmail string
	// Extra holds the provisioning client's other attributes as opaque JSON, kept verbatim so they are
	// returned as sent and a later change to them can be refused. Empty for users created at sign-in.
	Extra     []byte
	Active    bool
	Source    Source
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64 // starts at 1, +1 on every change
	// LastSignInAt is when the user last signed in (zero: never). A sign-in sets it without raising
	// Version or counting as a change: Equal ignores it, like the other times.
	LastSignInAt time.Time
}

// Clone returns a deep copy of u, so an updater can be handed a copy and compared with the original.
func (u *User) Clone() *User {
	c := *u
	c.Emails = append([]Email(nil), u.Emails...)
	c.Extra = append([]byte(nil), u.Extra...)
	return &c
}

// Equal reports whether u and v hold the same stored values (times and version ignored). UpdateUser
// relies on it to tell a change from none: TestUserEqualComparesEveryField fails for a field added to
// User or Email that it does not compare (or that Clone does not copy deeply).
func (u *User) Equal(v *User) bool {
	if len(u.Emails) != len(v.Emails) {
		return false
	}
	for i := range u.Emails {
		if u.Emails[i] != v.Emails[i] {
			return false
		}
	}
	return u.ID == v.ID && u.TenantID == v.TenantID && u.UserName == v.UserName &&
		u.GivenName == v.GivenName && u.FamilyName == v.FamilyName && u.Country == v.Country &&
		u.Department == v.Department && u.Team == v.Team && u.ExternalID == v.ExternalID &&
		u.SecondaryEmail == v.SecondaryEmail && u.Active == v.Active && u.Source == v.Source &&
		bytes.Equal(u.Extra, v.Extra)
}

// Session is a signed-in browser. Only the SHA-256 of the cookie value is stored, as IDHash.
type Session struct {
	IDHash     []byte
	TenantID   string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is when the session ends unless it is used again before: the tenant's hard timeout after
	// LastSeenAt, never later than what the IdP allowed (SessionNotOnOrAfter). Expired rows are swept.
	ExpiresAt time.Time
	Mobile    bool
	// Pending is true until /welcome has collected what first sign-in needs.
	Pending bool
}

// Purpose says what an outstanding AuthnRequest is for; the ACS treats the answer accordingly.
type Purpose string

// The purposes of an AuthnRequest.
const (
	PurposeSignIn Purpose = ""       // an interactive sign-in in a browser
	PurposeMobile Purpose = "mobile" // an interactive sign-in of a mobile app (longer hard timeout)
	PurposeReauth Purpose = "reauth" // a silent re-authentication (IsPassive) of SessionHash after the soft timeout
	PurposeTest   Purpose = "test"   // an admin's test sign-in: report what the IdP sent, write nothing
)

// AuthnRequest is an outstanding SP-initiated sign-in, bound to the browser that started it.
type AuthnRequest struct {
	ID          string // the AuthnRequest ID sent to the IdP
	TenantID    string
	BindingHash []byte // SHA-256 of the browser-binding cookie
	ReturnTo    string
	Purpose     Purpose
	SessionHash []byte // the session a PurposeReauth request would continue
	// ClientKey is the client address (as limits count it) that started the request; RequestLimits count by it.
	ClientKey string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TestLink is a one-time link that starts an admin's test sign-in of a tenant's SSO: until the admin
// console exists, the operator's CLI makes it. Only the SHA-256 of its secret is stored.
type TestLink struct {
	TenantID  string
	Hash      []byte // SHA-256 of the link's secret
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SignIn is an accepted SAML sign-in: everything it writes, written in one transaction.
type SignIn struct {
	RequestID        string // the outstanding AuthnRequest answered; "" for IdP-initiated
	BindingHash      []byte // SHA-256 of the browser-binding cookie that must match the request's
	AssertionID      string // recorded in the replay cache until AssertionExpires
	AssertionExpires time.Time
	Session          Session // IDHash, ExpiresAt, Mobile, Pending; tenant and user are filled in
	// Continue means Session.IDHash names an existing session of the signed-in user, which goes on
	// (its last use and expiry are moved) instead of a new one being made: a silent re-authentication.
	// ErrNotFound if that session is gone or is another user's.
	Continue bool
	Audit    Audit // recorded for the user created or changed
	// Log, when not nil, is recorded in the tenant's sign-in log in the same transaction, as accepted,
	// with the signed-in user's id and email filled in: no sign-in without its record, no record without
	// its sign-in.
	Log *SignInRecord
}

// UserFinder looks a tenant's users up inside a sign-in's transaction. Each method returns ErrNotFound
// when nobody matches; emails compare case-insensitively.
type UserFinder interface {
	// ByExternalID returns the user whose externalId (the IdP's principal id) is id.
	ByExternalID(id string) (*User, error)
	// ByEmail returns the user whose userName or one of whose emails is email.
	ByEmail(email string) (*User, error)
	// BySecondaryEmail returns the user whose userName, an email or whose secondary email is email.
	BySecondaryEmail(email string) (*User, error)
	// DepartmentTeam returns the team the tenant's department map places department in (compared
	// case-insensitively), or "" when no row matches; hasMap reports whether the tenant has a map at all.
	DepartmentTeam(department string) (team string, hasMap bool, err error)
}

// Audit is one entry of the write audit log.
type Audit struct {
	Time      time.Time
	TenantID  string
	TokenID   string
	Operation string // e.g. "create", "replace", "patch", "delete"
	UserID    string
	Outcome   string // the HTTP status, or "ok"
	Detail    string
}

// Team is a group a user can be placed in at first sign-in. Every tenant has one root team, made with
// the tenant and named after it, which is never offered.
type Team struct {
	ID       string
	TenantID string
	Name     string
	Hidden   bool // not offered at first sign-in; the department map may still place users in it
	Root     bool
}

// DepartmentMapping places users of a department (compared case-insensitively) in a team, by name.
type DepartmentMapping struct {
	Department string
	Team       string
}

// SSOSettings is a tenant's SAML configuration (the spec's "scimsso sso set" table). It is one
// versioned document, so every replica can cache what it builds from it and rebuild on a new version.
// DefaultSSOSettings holds its defaults and Validate its rules (sso.go).
type SSOSettings struct {
	TenantID  string
	Version   int64 // 0 until first stored
	UpdatedAt time.Time

	State              SSOState
	IdPEntityID        string
	IdPSSOURL          string   // HTTP-Redirect SingleSignOnService
	IdPCertificatesPEM []string // every signing certificate accepted (rollover)
	IdPMetadataURL     string   // where the metadata came from, when it came from a URL

	Exclude                   []string // emails (lower case) that bypass SSO
	HardTimeout, SoftTimeout  time.Duration
	MobileHardTimeout         time.Duration // hard timeout of mobile sessions; 0: HardTimeout
	CountryFormat             CountryFormat
	SignatureAlgorithm        SignatureAlgorithm
	SignedElement             SignedElement
	ForceCountry              bool
	ForceDepartment           bool
	SkipDestinationValidation bool
	SignRequests              bool
	// NoIdPInitiated refuses unsolicited responses (IdP-initiated sign-in, e.g. a tile in the IdP's
	// portal). The spec accepts them, so the zero value allows them.
	NoIdPInitiated     bool
	PrincipalIDAttr    string
	SecondaryEmailAttr string
	AttrFirstName      string
	AttrLastName       string
	AttrEmail          string
	AttrCountry        string
	AttrDepartment     string
}

// Op is a filter operator.
type Op int

// Filter operators. And, Or and Not combine filters; Has matches a user with an email for which Sub holds.
const (
	OpEq Op = iota + 1
	OpNe
	OpCo
	OpSw
	OpEw
	OpPr
	OpGt
	OpGe
	OpLt
	OpLe
	OpAnd
	OpOr
	OpNot
	OpHas
)

// Attribute names a filter may test. Email sub-attributes (EmailValue, EmailType, EmailPrimary) are valid
// at the top level (any email matches) and inside OpHas.
const (
	AttrID           = "id"
	AttrUserName     = "userName"
	AttrExternalID   = "externalId"
	AttrGivenName    = "name.givenName"
	AttrFamilyName   = "name.familyName"
	AttrCountry      = "country"
	AttrDepartment   = "department"
	AttrActive       = "active"
	AttrEmailValue   = "emails.value"
	AttrEmailType    = "emails.type"
	AttrEmailPrimary = "emails.primary"
	AttrCreated      = "meta.created"
	AttrModified     = "meta.lastModified"
)

// Filter is a predicate over a tenant's users, built at the edge from a SCIM filter.
// Leaf filters set Attr, Op and Value (string, bool, or time.Time for the meta attributes);
// OpAnd/OpOr set Left and Right; OpNot and OpHas set Sub.
type Filter struct {
	Op          Op
	Attr        string
	Value       any
	Left, Right *Filter
	Sub         *Filter
}

// UserQuery selects a page of a tenant's users in creation order.
type UserQuery struct {
	Filter *Filter // nil: all users
	Offset int     // rows to skip
	Limit  int     // at most this many rows; 0 returns only the total
}

// Store is scimsso's persistence. Every tenant-scoped method takes the tenant id explicitly and never
// returns another tenant's rows. Implementations are safe for concurrent use.
type Store interface {
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error

	// CreateTenant stores t with a new ID and creation time. ErrAlreadyExists if the slug or a domain is taken.
	CreateTenant(ctx context.Context, t *Tenant) error
	// TenantBySlug returns the tenant with that slug, or ErrNotFound.
	TenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	// TenantByID returns the tenant, or ErrNotFound.
	TenantByID(ctx context.Context, id string) (*Tenant, error)
	// SPKey returns the PEM of the tenant's SP private key, decrypted when the backend keeps it
	// encrypted; ErrNotFound for an unknown tenant, and an error naming the key id when the key
	// cannot be decrypted.
	SPKey(ctx context.Context, tenantID string) ([]byte, error)
	// TenantByDomain returns the tenant owning the domain (any case), or ErrNotFound.
	TenantByDomain(ctx context.Context, domain string) (*Tenant, error)
	// ListTenants returns every tenant ordered by slug.
	ListTenants(ctx context.Context) ([]Tenant, error)
	// AddDomain gives domain to the tenant. ErrNotFound for an unknown tenant; ErrAlreadyExists if any tenant owns it.
	AddDomain(ctx context.Context, tenantID, domain string) error
	// RemoveDomain takes domain from the tenant. ErrNotFound if the tenant does not own it.
	RemoveDomain(ctx context.Context, tenantID, domain string) error

	// CreateToken stores tok with a new ID and creation time. ErrNotFound for an unknown tenant.
	CreateToken(ctx context.Context, tok *Token) error
	// TokenByHash returns the token whose hash is hash, live or not, or ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// TenantToken resolves a SCIM request in one lookup: the tenant with that slug (domains loaded, SP
	// key material not) and the token with that hash, when that token belongs to that tenant, live or
	// not. Otherwise ErrNotFound, the same whether the slug or the hash is unknown.
	TenantToken(ctx context.Context, slug string, hash []byte) (*Tenant, *Token, error)
	// TenantSSOVersion resolves a sign-in in one lookup: the tenant with that slug (domains loaded, SP key
	// material not) and the version of its SSO settings (0 when none are stored), so a cache of what is
	// built from the settings can tell whether it is current. ErrNotFound for an unknown slug.
	TenantSSOVersion(ctx context.Context, slug string) (*Tenant, int64, error)
	// ListTokens returns the tenant's tokens, newest first.
	ListTokens(ctx context.Context, tenantID string) ([]Token, error)
	// RevokeToken marks the token revoked. ErrNotFound unless it is the tenant's and not yet revoked.
	RevokeToken(ctx context.Context, tenantID, id string) error

	// CreateUser stores u in the tenant with a new ID, version 1 and the store's time, and records a
	// (with the new user's id) in the same transaction. ErrAlreadyExists when userName (case-insensitively)
	// or externalId is taken in the tenant; ErrNotFound for an unknown tenant.
	CreateUser(ctx context.Context, tenantID string, u *User, a Audit) error
	// UserByID returns the tenant's user, or ErrNotFound (also for another tenant's user).
	UserByID(ctx context.Context, tenantID, id string) (*User, error)
	// ListUsers returns the page of the tenant's users matching q and the total number matching.
	ListUsers(ctx context.Context, tenantID string, q UserQuery) ([]User, int, error)
	// UsersAfter returns, in creation order, at most limit (> 0) of the tenant's users created after the
	// user at position after (0: from the first), and the position of the last one returned when more
	// users follow it (0 when none do): a keyset page, which users created or changed meanwhile never
	// shift, so a walk from 0 sees every user that existed when it began exactly once. Positions are
	// the store's, increase with creation and mean nothing outside it; one of another tenant is still
	// only a position. An unknown tenant has no users.
	UsersAfter(ctx context.Context, tenantID string, after int64, limit int) (users []User, next int64, err error)
	// UpdateUser runs fn on a copy of the stored user inside one transaction and stores the result with
	// the version raised, unless fn changed nothing (then the user is left as stored, version included).
	// Either way a is recorded in the same transaction. An error from fn aborts the whole update, records
	// nothing, and is returned unchanged.
	// If wantVersion is not 0 and differs from the stored version: ErrVersionMismatch. Deactivating a user
	// deletes its sessions in the same transaction. ErrNotFound, ErrAlreadyExists as for CreateUser.
	UpdateUser(ctx context.Context, tenantID, id string, wantVersion int64, a Audit, fn func(*User) error) (*User, error)

	// RecordAudit appends a to the audit log; used for refused writes, which have no transaction of their own.
	RecordAudit(ctx context.Context, a Audit) error
	// ListAudit returns the tenant's audit entries at or after since, oldest first.
	ListAudit(ctx context.Context, tenantID string, since time.Time) ([]Audit, error)
	// RecentAudit returns at most limit (1..500) of the tenant's newest SCIM requests' audit entries
	// (those with a TokenID; not the sign-ins'), newest first:
	// what the console shows of recent SCIM requests, bounded however busy the tenant's client is.
	RecentAudit(ctx context.Context, tenantID string, limit int) ([]Audit, error)

	// CreateSession stores s with the store's time as creation and last-seen time.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session, or ErrNotFound.
	SessionByHash(ctx context.Context, idHash []byte) (*Session, error)
	// DeleteSession ends the session as logged out: EndSession with EndLogout.
	DeleteSession(ctx context.Context, idHash []byte) error
	// EndSession ends the session, recording a session.ended event with reason (EndLogout, EndTimeout
	// or EndDeactivated; EndTimeout whatever the reason when the session had expired, unswept) in the
	// same transaction; ending an unknown session is not an error and records nothing.
	EndSession(ctx context.Context, idHash []byte, reason string) error
	// DeleteUserSessions ends every session of the tenant's user, each with a session.ended event
	// (EndLogout).
	DeleteUserSessions(ctx context.Context, tenantID, userID string) error

	// CreateAuthnRequest stores an outstanding AuthnRequest, unless lim's caps are reached: then it stores
	// nothing and returns a *LimitError (ErrLimited) whose Key is "client" or "tenant". The count and the
	// write are one transaction, serialised with the others on the same keys, so concurrent requests
	// from any replica never take the store past a cap.
	CreateAuthnRequest(ctx context.Context, r *AuthnRequest, lim RequestLimits) error
	// AuthnRequest returns the tenant's outstanding request id if it was started by the browser whose
	// binding hash is given and has not expired, without consuming it; otherwise ErrNotFound.
	AuthnRequest(ctx context.Context, tenantID, id string, bindingHash []byte) (*AuthnRequest, error)
	// ConsumeAuthnRequest uses up the tenant's outstanding request id started by the browser whose binding
	// hash is given, without a sign-in (the answer to a test sign-in). ErrNotFound unless it was
	// outstanding; of concurrent calls for one request exactly one succeeds.
	ConsumeAuthnRequest(ctx context.Context, tenantID, id string, bindingHash []byte) error
	// SignIn writes one sign-in in one transaction: it consumes the request in.RequestID (ErrNotFound if it
	// is not outstanding for this tenant and browser), records the assertion id (ErrReplayed if it was
	// used before), calls decide with a finder over the tenant's users, creates the user decide returns
	// when its ID is empty or stores its changes otherwise, sets the user's LastSignInAt (without raising
	// its version), and creates the session. An error from decide is returned unchanged. On any error
	// nothing is written.
	SignIn(ctx context.Context, tenantID string, in *SignIn, decide func(UserFinder) (*User, error)) (*User, error)
	// PasswordSignIn writes one password sign-in in one transaction: it reads the tenant's user
	// in.UserID, which must be active and still have in.PasswordHash stored (else ErrNotFound), calls
	// complete with a finder over the tenant's users and a copy of the user, stores the copy's changes
	// (version raised, in.Audit recorded) when complete made any, sets the user's LastSignInAt (without
	// raising its version), forgets in.Attempt and the failures under in.AccountKey, and creates the
	// session, Pending as complete reports. An error from complete
	// is returned unchanged. On any error nothing is written (the reserved attempt stays a failure).
	PasswordSignIn(ctx context.Context, tenantID string, in *PasswordSignIn, complete func(f UserFinder, u *User) (pending bool, err error)) (*User, error)
	// Lookup calls fn with a finder over the tenant's users that writes nothing (a test sign-in's preview).
	Lookup(ctx context.Context, tenantID string, fn func(UserFinder) error) error
	// TouchSession records that the session was used now and moves its expiry to expiresAt.
	TouchSession(ctx context.Context, idHash []byte, expiresAt time.Time) error

	// SSOSettings returns the tenant's stored SSO settings, or ErrNotFound if none were ever stored.
	SSOSettings(ctx context.Context, tenantID string) (*SSOSettings, error)
	// PutSSOSettings stores s for the tenant with the version raised by one. If s.Version differs from the
	// stored version (0 when none is stored): ErrVersionMismatch, nothing written. ErrNotFound for an
	// unknown tenant. On success s.Version and s.UpdatedAt are set. Storing settings equal to the stored
	// ones (at the stored version) writes nothing: no new version, no event, no audit entry.
	PutSSOSettings(ctx context.Context, tenantID string, s *SSOSettings) error

	// CompleteSession marks the session complete (not Pending): first sign-in has what it needs.
	// ErrNotFound for an unknown session.
	CompleteSession(ctx context.Context, idHash []byte) error

	// CreateTeam stores t in the tenant with a new ID. ErrAlreadyExists if the name is taken (exactly);
	// ErrNotFound for an unknown tenant. CreateTenant makes the root team itself.
	CreateTeam(ctx context.Context, tenantID string, t *Team) error
	// ListTeams returns the tenant's teams ordered by name, the root team included.
	ListTeams(ctx context.Context, tenantID string) ([]Team, error)
	// ReplaceDepartmentMap makes m the tenant's whole department map in one transaction. A team name
	// that is not the tenant's: ErrNotFound, nothing written. Two rows for one department
	// (case-insensitively): ErrAlreadyExists, nothing written.
	ReplaceDepartmentMap(ctx context.Context, tenantID string, m []DepartmentMapping) error
	// DepartmentMap returns the tenant's department map ordered by department.
	DepartmentMap(ctx context.Context, tenantID string) ([]DepartmentMapping, error)

	// SetPassword stores the password hash (an encoded argon2id or bcrypt string) of the tenant's user,
	// replacing any. ErrNotFound for a user that is not the tenant's.
	SetPassword(ctx context.Context, tenantID, userID, hash string) error
	// PasswordHash returns the stored hash of the tenant's user, or ErrNotFound if none is stored.
	PasswordHash(ctx context.Context, tenantID, userID string) (string, error)
	// LoginFailures counts the failed password attempts recorded under key at or after since.
	LoginFailures(ctx context.Context, key string, since time.Time) (int, error)
	// RecordLoginFailure records a failed password attempt under key at the store's time.
	RecordLoginFailure(ctx context.Context, key string) error
	// ClearLoginFailures forgets the failed attempts under key (after a successful sign-in).
	ClearLoginFailures(ctx context.Context, key string) error
	// ReserveLoginAttempt records one attempt under every limit's key, at the store's time, before the
	// attempt is made (a password checked): unless a limit already has Max attempts recorded within the
	// window before now, when it records nothing and returns a *LimitError (ErrLimited) naming the first
	// such limit. The counts and the records are one transaction, serialised with every other
	// reservation on the same keys, from any replica: concurrent reservations never record more than
	// Max attempts under a key within a window. It returns the attempt's id for ForgetLoginAttempt.
	// The attempts are the failures LoginFailures counts and ClearLoginFailures forgets.
	ReserveLoginAttempt(ctx context.Context, window time.Duration, limits ...Limit) (id string, err error)
	// ForgetLoginAttempt forgets the reserved attempt id under every key (a successful attempt, which
	// must not count against a shared client address); forgetting an unknown id is not an error.
	ForgetLoginAttempt(ctx context.Context, id string) error

	// CreateTestLink stores l with the store's time as its creation time. ErrNotFound for an unknown
	// tenant; ErrAlreadyExists if a link with that hash exists.
	CreateTestLink(ctx context.Context, l *TestLink) error
	// UseTestLink uses up the tenant's test link whose secret hashes to hash. ErrNotFound if there is
	// none, it has expired, was used, or is another tenant's; of concurrent calls for one link exactly
	// one succeeds.
	UseTestLink(ctx context.Context, tenantID string, hash []byte) error
	// TestLinkValid reports, without using it up, whether the tenant has an unexpired test link whose
	// secret hashes to hash: nil if so, else ErrNotFound.
	TestLinkValid(ctx context.Context, tenantID string, hash []byte) error

	// Sweep deletes expired AuthnRequests, test links, replay entries and sessions (each with a
	// session.ended event, reason EndTimeout), failed password attempts older than a day, events older
	// than 30 days (but the newest), sign-in log records older than SignInRetention (in batches) and
	// the refusal counts of past minutes, the OpenID provider's expired requests, tokens and retired
	// keys, webhook deliveries past what a webhook keeps (MaxDeliveries, DeliveryRetention), used and
	// expired setup links, expired console sessions and admin actions older than a year, and returns
	// how many rows went.
	Sweep(ctx context.Context) (int64, error)

	OIDCStore
	EventStore
	WebhookStore
	APIKeyStore
	SignInLogStore
	MetadataFetchStore
	AdminStore
}

// Key is the form in which case-insensitive values (userName, emails, domains) are compared and indexed.
func Key(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// EmailDomain returns the lower-case domain of an email address, or "" if it has none.
func EmailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i <= 0 || i == len(email)-1 {
		return ""
	}
	return strings.ToLower(email[i+1:])
}

// ---------------------------------------------------------------------------------------------------
// OpenID Connect provider: the platform's applications (clients), the keys that sign ID tokens, the
// authorization requests waiting for a sign-in, and the tokens issued. Tokens are tied to the scimsso
// session they came from, so they end with it.

// OIDCClient is an application registered to sign people in through scimsso.
type OIDCClient struct {
	ID   string // the client_id, made by the store
	Name string
	// RedirectURIs are compared exactly with an authorization request's redirect_uri.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the browser, compared exactly.
	PostLogoutRedirectURIs []string
	// Public clients (single-page and native apps) have no secret and must use PKCE S256.
	Public bool
	// SecretHash is the SHA-256 of a confidential client's 256-bit secret; empty for public clients.
	SecretHash []byte
	// IDTokenAlg is the algorithm that signs the client's ID tokens (its registered
	// id_token_signed_response_alg): AlgRS256 or AlgES256; empty means AlgRS256.
	IDTokenAlg string
	// BackchannelLogoutURI is where the client is sent a logout token (OpenID Connect Back-Channel
	// Logout 1.0) when a session it holds tokens of ends; empty when it registered none. Whoever
	// registers it checks it first, with the rule webhook URLs follow.
	BackchannelLogoutURI string
	CreatedAt            time.Time
}

// Signing algorithms of OIDCKey.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// OIDCKey is a key that signs ID tokens. Every replica reads the same keys from the store.
type OIDCKey struct {
	ID        string // the JWK kid
	Algorithm string // AlgRS256 or AlgES256
	// PrivateKeyPEM is the PKCS #8 private key. A backend may keep it encrypted at rest; a key it
	// cannot decrypt that is retiring is returned without it (only its public half is still needed).
	PrivateKeyPEM []byte
	PublicKeyPEM  []byte // PKIX
	CreatedAt     time.Time
	// RetiresAt is when a replaced key leaves the published key set; zero for the current keys.
	RetiresAt time.Time
}

// OIDCAuthRequest is an authorization request of a client: stored when it arrives, completed with who
// signed in and the hash of its code, and kept a while after the code is used, so that a second use
// can be told from a bad code and revoke what the first issued.
type OIDCAuthRequest struct {
	ID                  string // random, 256 bits: it names the request in the sign-in URLs
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State, Nonce        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              int64 // seconds; -1 when the client sent none
	LoginHint           string
	Organization        string
	BindingHash         []byte // SHA-256 of the cookie that ties the request to the browser that sent it
	// HintSubject is the subject of the request's verified id_token_hint: the user the client expects
	// to be signed in; empty without a hint.
	HintSubject string
	// ClientKey is the client address (as limits count it) that sent the request; the cap on
	// outstanding requests counts by it.
	ClientKey string
	CreatedAt time.Time
	ExpiresAt time.Time

	// Filled in by IssueOIDCCode, or by CreateOIDCAuthRequest for a request answered at once.
	SignIn        OIDCSignIn
	CodeHash      []byte // SHA-256 of the code
	CodeExpiresAt time.Time
	CodeUsedAt    time.Time // zero until the code is redeemed
}

// OIDCSignIn is who completed an authorization request, and how.
type OIDCSignIn struct {
	TenantID    string
	UserID      string
	SessionHash []byte // the scimsso session (Session.IDHash) the tokens live and die with
	AuthTime    time.Time
	AMR         string // "saml" or "pwd"
}

// OIDCToken is an access or refresh token. Only the SHA-256 of the token is stored.
type OIDCToken struct {
	Hash     []byte
	Refresh  bool
	ClientID string
	OIDCSignIn
	// Family names the authorization request the token descends from: every token issued from one
	// code, refreshed or not, shares it, and is revoked with it.
	Family    string
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // a refresh token that was rotated
	RevokedAt time.Time
}

// Live reports whether the token may be used at now: not expired, revoked or (a refresh token) used.
func (t *OIDCToken) Live(now time.Time) bool {
	return t.RevokedAt.IsZero() && t.UsedAt.IsZero() && now.Before(t.ExpiresAt)
}

// OIDCStore is the OpenID provider's part of the Store.
type OIDCStore interface {
	// CreateOIDCClient stores c with a new ID and the store's time as its creation time. A client with
	// a BackchannelLogoutURI gets, in the same transaction, its destination of events: a Webhook of
	// KindBackchannelLogout (Ref c.ID, URL the URI, Types session.ended) that gets the events after
	// the newest one now.
	CreateOIDCClient(ctx context.Context, c *OIDCClient) error
	// OIDCClient returns the client, or ErrNotFound.
	OIDCClient(ctx context.Context, id string) (*OIDCClient, error)
	// ListOIDCClients returns every client ordered by name, then id.
	ListOIDCClients(ctx context.Context) ([]OIDCClient, error)
	// DeleteOIDCClient removes the client with its requests and tokens (which stop working at once) and
	// its back-channel logout destination with its deliveries. ErrNotFound for an unknown client.
	DeleteOIDCClient(ctx context.Context, id string) error

	// OIDCKeys returns the signing keys that are not retired at the store's time: the current keys
	// first, then the retiring ones, the most recently replaced first.
	OIDCKeys(ctx context.Context) ([]OIDCKey, error)
	// AddOIDCKeys stores keys (with the store's time as their creation time) as the current keys, and
	// gives every older current key a RetiresAt keep after now, in one transaction. With onlyIfNone it
	// stores nothing and returns false when a current key exists: the first keys are made by whichever
	// replica asks first, and the others use them.
	AddOIDCKeys(ctx context.Context, keys []OIDCKey, keep time.Duration, onlyIfNone bool) (bool, error)

	// CreateOIDCAuthRequest stores r with the store's time as its creation time. A request with a
	// CodeHash is answered at once (its person was signed in already): it is stored with its SignIn
	// and code as IssueOIDCCode would leave it, in this one write. A request without one is
	// outstanding until IssueOIDCCode or its expiry; when maxPerClient > 0 and the unexpired
	// outstanding requests of r.ClientKey already number maxPerClient, it stores nothing and returns a
	// *LimitError (ErrLimited) whose Key is "client"; the count and the write are one transaction,
	// serialised with the others on that key from any replica. ErrNotFound for an unknown client;
	// ErrAlreadyExists for an ID in use.
	CreateOIDCAuthRequest(ctx context.Context, r *OIDCAuthRequest, maxPerClient int) error
	// OIDCAuthRequest returns the request while it has not expired, or ErrNotFound.
	OIDCAuthRequest(ctx context.Context, id string) (*OIDCAuthRequest, error)
	// IssueOIDCCode completes the request id: who signed in and the hash of its code, which may be
	// redeemed until codeExpires; the request is then kept until keepUntil, so that a second use of
	// the code is recognised. ErrNotFound unless the request is unexpired and has no code yet (of
	// concurrent calls for one request exactly one succeeds).
	IssueOIDCCode(ctx context.Context, id string, in OIDCSignIn, codeHash []byte, codeExpires, keepUntil time.Time) error
	// OIDCAuthRequestByCode returns the unexpired request whose code hashes to codeHash, its code used
	// or not (CodeUsedAt says); ErrNotFound when there is none.
	OIDCAuthRequestByCode(ctx context.Context, codeHash []byte) (*OIDCAuthRequest, error)
	// RedeemOIDCCode uses up the code of request id and stores toks, in one transaction, and remembers
	// each token's client as signed in with its session until the session ends (the Clients of its
	// session.ended event: back-channel logout). If the code was used already, it instead revokes
	// every token of the request's family and returns ErrReplayed (the revocation is kept).
	// ErrNotFound when the request has no unexpired code, or the session the tokens name has ended
	// (nothing written; the session cannot end while this runs).
	RedeemOIDCCode(ctx context.Context, id string, toks []OIDCToken) error
	// OIDCToken returns the token whose hash is hash, live or not, or ErrNotFound.
	OIDCToken(ctx context.Context, hash []byte) (*OIDCToken, error)
	// RotateOIDCRefresh uses up the live refresh token whose hash is hash and stores toks, in one
	// transaction. When sessionExpires is not zero, that transaction also moves the expiry of the
	// token's session to sessionExpires (never earlier), leaving its last use as it was: a refresh keeps
	// the session from expiring while the person's soft timeout runs, but does not restart it. If the token was used or revoked already, it instead revokes its whole family
	// and returns ErrReplayed (the revocation is kept, the session untouched). ErrNotFound for an
	// unknown or expired token.
	RotateOIDCRefresh(ctx context.Context, hash []byte, toks []OIDCToken, sessionExpires time.Time) error
	// RevokeOIDCFamily revokes every token of the family; an unknown family is not an error.
	RevokeOIDCFamily(ctx context.Context, family string) error
}
