package store

import "time"

// The objects of the admin audit log (AdminAction.Before and After), as JSON. Like the events' objects
// they never hold a secret or a hash: a SCIM token, an API key or a setup link appears by its id and
// name, a password by the fact that it was set, a webhook without its signing secret.

// TenantAuditObject is a tenant as the audit log shows it: never its SP private key.
type TenantAuditObject struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Domains   []string  `json:"domains"`
	CreatedAt time.Time `json:"created_at"`
}

// NewTenantAuditObject is t as the audit log shows it.
func NewTenantAuditObject(t *Tenant) TenantAuditObject {
	return TenantAuditObject{ID: t.ID, Slug: t.Slug, Name: t.Name, Domains: append(make([]string, 0, len(t.Domains)), t.Domains...), CreatedAt: t.CreatedAt.UTC()}
}

// DomainAuditObject is one of a tenant's domains.
type DomainAuditObject struct {
	Domain string `json:"domain"`
}

// TeamAuditObject is a team.
type TeamAuditObject struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Hidden bool   `json:"hidden"`
}

// DepartmentMapAuditObject is a tenant's whole department map.
type DepartmentMapAuditObject struct {
	Rows []DepartmentMappingAuditObject `json:"rows"`
}

// DepartmentMappingAuditObject is one row of a department map.
type DepartmentMappingAuditObject struct {
	Department string `json:"department"`
	Team       string `json:"team"`
}

// NewDepartmentMapAuditObject is m as the audit log shows it.
func NewDepartmentMapAuditObject(m []DepartmentMapping) DepartmentMapAuditObject {
	o := DepartmentMapAuditObject{Rows: make([]DepartmentMappingAuditObject, 0, len(m))}
	for _, r := range m {
		o.Rows = append(o.Rows, DepartmentMappingAuditObject(r))
	}
	return o
}

// UserAuditObject names a user whose admin flag or password changed: the password itself never.
type UserAuditObject struct {
	ID          string `json:"id"`
	UserName    string `json:"user_name"`
	Admin       *bool  `json:"admin,omitempty"`
	PasswordSet bool   `json:"password_set,omitempty"`
}

// SetupLinkAuditObject is a setup link without its secret's hash.
type SetupLinkAuditObject struct {
	ID        string           `json:"id"`
	Scopes    []string         `json:"scopes"`
	CreatedAt time.Time        `json:"created_at"`
	ExpiresAt time.Time        `json:"expires_at"`
	UsedAt    *time.Time       `json:"used_at"`
	RevokedAt *time.Time       `json:"revoked_at,omitempty"`
	CreatedBy ActorAuditObject `json:"created_by"`
}

// ActorAuditObject is an Actor in an audit object.
type ActorAuditObject struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// NewSetupLinkAuditObject is l as the audit log shows it.
func NewSetupLinkAuditObject(l *SetupLink) SetupLinkAuditObject {
	return SetupLinkAuditObject{ID: l.ID, Scopes: append(make([]string, 0, len(l.Scopes)), l.Scopes...),
		CreatedAt: l.CreatedAt.UTC(), ExpiresAt: l.ExpiresAt.UTC(), UsedAt: timeOrNil(l.UsedAt), RevokedAt: timeOrNil(l.RevokedAt), CreatedBy: ActorAuditObject(l.CreatedBy)}
}

// OIDCClientAuditObject is an OpenID client without its secret's hash.
type OIDCClientAuditObject struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Public                 bool      `json:"public"`
	IDTokenAlg             string    `json:"id_token_alg"`
	BackchannelLogoutURI   string    `json:"backchannel_logout_uri"`
	CreatedAt              time.Time `json:"created_at"`
}

// NewOIDCClientAuditObject is c as the audit log shows it.
func NewOIDCClientAuditObject(c *OIDCClient) OIDCClientAuditObject {
	return OIDCClientAuditObject{ID: c.ID, Name: c.Name, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		Public: c.Public, IDTokenAlg: c.IDTokenAlg, BackchannelLogoutURI: c.BackchannelLogoutURI, CreatedAt: c.CreatedAt.UTC()}
}

// WebhookAuditObject is a webhook without its signing secret.
type WebhookAuditObject struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Types     []string  `json:"types"`
	CreatedAt time.Time `json:"created_at"`
}

// NewWebhookAuditObject is w as the audit log shows it.
func NewWebhookAuditObject(w *Webhook) WebhookAuditObject {
	return WebhookAuditObject{ID: w.ID, URL: w.URL, Types: append(make([]string, 0, len(w.Types)), w.Types...), CreatedAt: w.CreatedAt.UTC()}
}

// APIKeyAuditObject is a platform API key without its hash.
type APIKeyAuditObject struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// NewAPIKeyAuditObject is k as the audit log shows it.
func NewAPIKeyAuditObject(k *APIKey) APIKeyAuditObject {
	return APIKeyAuditObject{ID: k.ID, Name: k.Name, Scopes: append(make([]string, 0, len(k.Scopes)), k.Scopes...),
		CreatedAt: k.CreatedAt.UTC(), RevokedAt: timeOrNil(k.RevokedAt)}
}

// The actions of the admin audit log (AdminAction.Action).
const (
	ActionTenantCreated         = "tenant.created"
	ActionDomainAdded           = "domain.added"
	ActionDomainRemoved         = "domain.removed"
	ActionSCIMTokenIssued       = "scim_token.issued"
	ActionSCIMTokenRevoked      = "scim_token.revoked"
	ActionSSOSettingsChanged    = "sso.settings_changed"
	ActionTeamCreated           = "team.created"
	ActionDepartmentMapReplaced = "department_map.replaced"
	ActionAdminAdded            = "admin.added"
	ActionAdminRemoved          = "admin.removed"
	ActionSetupLinkCreated      = "setup_link.created"
	ActionSetupLinkUsed         = "setup_link.used"
	ActionSetupLinkRevoked      = "setup_link.revoked"
	ActionPasswordSet           = "user.password_set"
	ActionOIDCClientAdded       = "oidc_client.added"
	ActionOIDCClientRemoved     = "oidc_client.removed"
	ActionWebhookAdded          = "webhook.added"
	ActionWebhookRemoved        = "webhook.removed"
	ActionAPIKeyCreated         = "api_key.created"
	ActionAPIKeyRevoked         = "api_key.revoked"
	ActionSSOTestStarted        = "sso.test_started"
	ActionOIDCKeyRotated        = "oidc_key.rotated"
	ActionSecretsResealed       = "secrets.resealed"
)

// TestLinkAuditObject is a test sign-in link without its secret's hash.
type TestLinkAuditObject struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// OIDCKeyAuditObject is an OpenID signing key without its private half.
type OIDCKeyAuditObject struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm"`
}

// ResealAuditObject says how many secrets of a kind (SP keys, OIDC keys, webhook secrets) were
// re-encrypted under the key file's first key.
type ResealAuditObject struct {
	What     string `json:"what"`
	Resealed int    `json:"resealed"`
}
