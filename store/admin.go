package store

import (
	"context"
	"errors"
	"time"
)

// Admins (SPEC.md "Admins: console, setup links, management API") come in two kinds: the platform's
// operator (the CLI, or the management API with a manage key) and each customer's IT admin, who sets
// up their own tenant in the console, either as a tenant admin (a user marked with `user set-admin`,
// signed in normally) or through a one-time setup link. Every change any of them makes is recorded
// in the admin audit log, in the same transaction as the change, with the Actor the request's context
// carries (WithActor).

// Kinds of Actor.
const (
	// ActorCLI is the operator at the server's shell: what ActorOf returns when the context names no
	// one, because every other path that changes settings (management API, console, background
	// refresh) names its actor.
	ActorCLI = "cli"
	// ActorAPIKey is the management API; ID and Name are the API key's.
	ActorAPIKey = "api_key"
	// ActorAdmin is a tenant admin signed in to the console; ID is the user's id, Name their email.
	ActorAdmin = "admin"
	// ActorSetupLink is a console session opened by a setup link; ID is the link's id.
	ActorSetupLink = "setup_link"
	// ActorSystem is scimsso itself (the periodic refresh of IdP metadata given by URL).
	ActorSystem = "system"
)

// Actor is who made an administrative change.
type Actor struct {
	Kind string // ActorCLI, ActorAPIKey, ActorAdmin, ActorSetupLink or ActorSystem
	ID   string // the API key's, user's or setup link's id; "" for the CLI and the system
	Name string // what a person reads: the key's label, the admin's email; may be ""
}

type actorKey struct{}

// WithActor returns ctx carrying a, for the store to record with every change made under ctx.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf returns the actor ctx carries, or the CLI when it carries none.
func ActorOf(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: ActorCLI}
}

// AdminAction is one entry of the admin audit log: who changed what, the object before and after.
type AdminAction struct {
	ID       string
	Seq      int64 // increases with every entry; the cursor of ListAdminActions
	Time     time.Time
	TenantID string // "" for what belongs to no tenant (API keys, OIDC clients, webhooks)
	Actor    Actor
	// Action names the change, as "object.verb": "tenant.created", "domain.added", "domain.removed",
	// "scim_token.issued", "scim_token.revoked", "sso.settings_changed", "team.created",
	// "department_map.replaced", "admin.added", "admin.removed", "setup_link.created",
	// "setup_link.used", "user.password_set", "oidc_client.added", "oidc_client.removed",
	// "webhook.added", "webhook.removed", "api_key.created", "api_key.revoked".
	Action string
	Target string // what it acted on: a token's or team's id, a domain, a user's id; "" for the tenant's settings
	// Before and After are the object as JSON before and after the change ("" when there was none),
	// never with a secret or a hash in it.
	Before, After string
}

// AdminActionQuery selects a page of the admin audit log, newest first.
type AdminActionQuery struct {
	TenantID string // "": every tenant's and the platform's entries (the management API); else that tenant's only
	Before   int64  // only entries with Seq < Before; 0: from the newest
	Limit    int    // at most this many (1..500)
}

// Scopes of a console session: the parts of a tenant's console it may use. A setup link grants SSO,
// SCIM or both; a tenant admin gets every scope.
const (
	AdminScopeSSO  = "sso"  // the SSO page, teams and the department map, the sign-in log
	AdminScopeSCIM = "scim" // the SCIM page: tokens and recent SCIM requests
	// AdminScopeAdmins is managing the tenant's admins and users' passwords: tenant admins only.
	AdminScopeAdmins = "admins"
)

// DefaultSetupLinkLifetime is how long a setup link waits to be opened unless told otherwise.
const DefaultSetupLinkLifetime = 24 * time.Hour

// SetupLinkPrefix starts the secret of every setup link, so that a leaked one is recognised.
const SetupLinkPrefix = "scimsso_setup_"

// SetupLink is a one-time link (BASE/setup/SECRET) that opens a console session for its tenant,
// limited to its scopes. Only the SHA-256 of its secret is stored.
type SetupLink struct {
	ID        string
	TenantID  string
	Scopes    []string // AdminScopeSSO and/or AdminScopeSCIM
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: not used yet
	RevokedAt time.Time // zero: not revoked
	CreatedBy Actor
}

// SetupLinkHistory is how long a used, revoked or expired setup link stays listed before Sweep deletes
// it: lists show what became of the links sent out.
const SetupLinkHistory = 30 * 24 * time.Hour

// MaxAdminSessionsPerUser caps a tenant admin's console sessions: a browser that does not send the
// SameSite=Strict console cookie (arriving from another site) opens a new one on every visit.
const MaxAdminSessionsPerUser = 5

// AdminSession is a browser's session of a tenant's console, in its own cookie (not the people's
// session). Only the SHA-256 of its id is stored.
type AdminSession struct {
	IDHash      []byte
	TenantID    string
	UserID      string // the tenant admin's id; "" for a session opened by a setup link
	SetupLinkID string // the setup link that opened it; "" for a tenant admin's
	// PeopleSession is the IDHash of the people session a tenant admin's was opened from (nil for a
	// setup link's): ending that session, however it ends, ends this one in the same transaction.
	PeopleSession []byte
	Scopes        []string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Allows reports whether the session may use the part of the console that scope names.
func (s *AdminSession) Allows(scope string) bool {
	for _, x := range s.Scopes {
		if x == scope {
			return true
		}
	}
	return false
}

// Errors of SetAdmin.
var (
	// ErrLastAdmin: the change would leave the tenant without an admin.
	ErrLastAdmin = errors.New("the tenant's last admin cannot be removed")
	// ErrNotAdmin: the acting tenant admin's admin role was taken away meanwhile.
	ErrNotAdmin = errors.New("the acting admin is no longer an admin of the tenant")
)

// AdminStore is the admins' part of the Store. Every method that changes something records an
// AdminAction with ActorOf(ctx) in the same transaction.
type AdminStore interface {
	// SetAdmin marks the tenant's user as a tenant admin, or not. ErrNotFound for a user that is not
	// the tenant's. Setting what is already set changes and records nothing. In the same transaction,
	// one tenant's changes at a time: ErrNotAdmin when ctx's actor is a tenant admin (ActorAdmin) who
	// no longer is one; ErrLastAdmin when removing the tenant's last admin, unless the actor is the
	// CLI (the operator, who can always make another).
	SetAdmin(ctx context.Context, tenantID, userID string, admin bool) error
	// IsAdmin reports whether the tenant's user is a tenant admin (false for an unknown user).
	IsAdmin(ctx context.Context, tenantID, userID string) (bool, error)
	// ListAdmins returns the tenant's admins ordered by userName.
	ListAdmins(ctx context.Context, tenantID string) ([]User, error)

	// CreateSetupLink stores l with a new ID and the store's time as its creation time. ErrNotFound
	// for an unknown tenant.
	CreateSetupLink(ctx context.Context, l *SetupLink) error
	// ListSetupLinks returns the tenant's setup links, newest first, without their hashes; used,
	// revoked and expired ones stay listed for SetupLinkHistory.
	ListSetupLinks(ctx context.Context, tenantID string) ([]SetupLink, error)
	// RevokeSetupLink makes the tenant's link unusable and ends the console sessions it opened, in one
	// transaction. ErrNotFound for an id that is not one of the tenant's links. Revoking a revoked
	// link changes and records nothing.
	RevokeSetupLink(ctx context.Context, tenantID, id string) error
	// UseSetupLink uses up the link whose secret hashes to hash and stores s (IDHash and ExpiresAt
	// set by the caller) as a console session of the link's tenant with the link's scopes, in one
	// transaction, and returns the link. ErrNotFound if there is no such link, or it has expired or
	// was used or revoked; of concurrent calls for one link exactly one succeeds. A setup-link actor without an
	// ID in ctx is recorded as the link used.
	UseSetupLink(ctx context.Context, hash []byte, s *AdminSession) (*SetupLink, error)

	// CreateAdminSession stores s (a tenant admin's) with the store's time as its creation time, and
	// ends the user's oldest console sessions beyond MaxAdminSessionsPerUser. In the same transaction,
	// ordered against SetAdmin and the end of the people session: ErrNotAdmin when s.UserID is not (or
	// no longer) an admin of s.TenantID, ErrNotFound when s.PeopleSession (if set) is not that user's
	// live session; either way nothing is stored.
	CreateAdminSession(ctx context.Context, s *AdminSession) error
	// AdminSessionByHash returns the unexpired console session, or ErrNotFound.
	AdminSessionByHash(ctx context.Context, idHash []byte) (*AdminSession, error)
	// EndAdminSession deletes the console session; ending an unknown one is not an error.
	EndAdminSession(ctx context.Context, idHash []byte) error

	// RecordSSOTestPassed records that a test sign-in of the tenant succeeded with its SSO settings at
	// version (the last one counts).
	RecordSSOTestPassed(ctx context.Context, tenantID string, version int64) error
	// SSOTestPassedVersion returns the SSO settings' version of the tenant's last successful test
	// sign-in; ErrNotFound when there was none.
	SSOTestPassedVersion(ctx context.Context, tenantID string) (int64, error)

	// ListAdminActions returns a page of the admin audit log, newest first.
	ListAdminActions(ctx context.Context, q AdminActionQuery) ([]AdminAction, error)
}
