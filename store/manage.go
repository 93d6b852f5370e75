package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The operator's changes that the CLI and the management API (and, for a tenant, the console) both
// make: each is one function here with its rules, so that every door refuses the same things with
// the same words.

// ErrInvalid is wrapped by a Refusal of a value that breaks a rule.
var ErrInvalid = errors.New("invalid")

// Refusal is a change refused by a rule, with a message fit for the person who asked: the CLI prints
// it, the management API and the console show it. Err says which kind of refusal it is: ErrInvalid
// (the request is wrong), ErrAlreadyExists (it conflicts with what is stored) or ErrNotFound (it
// names something that does not exist). Field names the request's field at fault as the management
// API spells it ("slug", "domains", "expires"), "" when no one field is.
type Refusal struct {
	Field string
	Err   error
	Msg   string
}

func (r *Refusal) Error() string { return r.Msg }

// Unwrap returns Err.
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(field string, kind error, format string, args ...any) *Refusal {
	return &Refusal{Field: field, Err: kind, Msg: fmt.Sprintf(format, args...)}
}

// MaxNewTenantDomains caps the domains of one tenant creation: a request's body alone would let a
// megabyte of names cost seconds of checking.
const MaxNewTenantDomains = 100

// CheckNewTenant applies the rules of a new tenant to t and normalises it: a slug (ParseSlug), a
// name (trimmed, not empty, at most MaxName), one or more domains (ParseDomain; lower case, repeats
// dropped). The error is a *Refusal naming the field: "slug", "name" or "domains".
func CheckNewTenant(t *Tenant) error {
	if _, err := ParseSlug(t.Slug); err != nil {
		return refuse("slug", ErrInvalid, "invalid tenant slug %q: use 2-63 characters of a-z, 0-9 and -", clipValue(t.Slug))
	}
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" {
		return refuse("name", ErrInvalid, "a tenant needs a name of 1 to %d characters", MaxName)
	}
	if err := CheckName("tenant name", t.Name); err != nil {
		return &Refusal{Field: "name", Err: ErrInvalid, Msg: err.Error()}
	}
	if len(t.Domains) == 0 {
		return refuse("domains", ErrInvalid, "a tenant needs at least one domain")
	}
	if len(t.Domains) > MaxNewTenantDomains {
		return refuse("domains", ErrInvalid, "a new tenant takes at most %d domains; add more one at a time", MaxNewTenantDomains)
	}
	norm := make([]string, 0, len(t.Domains))
	for _, d := range t.Domains {
		n, err := checkDomain("domains", d)
		if err != nil {
			return err
		}
		norm = append(norm, n)
	}
	t.Domains = Dedupe(norm)
	return nil
}

// Dedupe returns v without its repeats, in the order of their first appearance (nil for none).
func Dedupe(v []string) []string {
	var out []string
	seen := make(map[string]bool, len(v))
	for _, x := range v {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// CheckDomain is ParseDomain with its refusal worded for a person, naming the field "domain".
func CheckDomain(d string) (string, error) { return checkDomain("domain", d) }

func checkDomain(field, d string) (string, error) {
	n, err := ParseDomain(d)
	if err != nil {
		return "", refuse(field, ErrInvalid, "invalid domain %q: want a DNS name such as acme.com", clipValue(d))
	}
	return n, nil
}

// CreateNewTenant is the one way a tenant is made (tenant create, demo, the management API): t is
// checked (CheckNewTenant), its slug and domains must be free (each conflict named in a *Refusal of
// ErrAlreadyExists), then keyPair makes its SAML SP key pair (only now: it costs an RSA key) and the
// tenant is stored.
func CreateNewTenant(ctx context.Context, st Store, t *Tenant, keyPair func(slug string) (key, cert []byte, err error)) error {
	if err := CheckNewTenant(t); err != nil {
		return err
	}
	if _, err := st.TenantBySlug(ctx, t.Slug); err == nil {
		return refuse("slug", ErrAlreadyExists, "tenant %q already exists", t.Slug)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, dom := range t.Domains {
		if o, err := st.TenantByDomain(ctx, dom); err == nil {
			return refuse("domains", ErrAlreadyExists, "domain %s already belongs to tenant %q", dom, o.Slug)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	var err error
	if t.SPKeyPEM, t.SPCertPEM, err = keyPair(t.Slug); err != nil {
		return err
	}
	if err := st.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, ErrAlreadyExists) { // made by someone else since the checks above
			return refuse("slug", ErrAlreadyExists, "tenant %q or one of its domains already exists", t.Slug)
		}
		return err
	}
	return nil
}

// AddTenantDomain gives the domain d (checked with CheckDomain) to t and returns it normalised. A
// domain of any tenant, t's own included, is a *Refusal of ErrAlreadyExists; another tenant's is not
// named, since whoever manages one tenant need not learn which tenant owns a domain.
func AddTenantDomain(ctx context.Context, st Store, t *Tenant, d string) (string, error) {
	dom, err := CheckDomain(d)
	if err != nil {
		return "", err
	}
	if t.OwnsDomain(dom) {
		return "", refuse("domain", ErrAlreadyExists, "domain %s already belongs to tenant %q", dom, t.Slug)
	}
	if err := st.AddDomain(ctx, t.ID, dom); err != nil {
		if errors.Is(err, ErrAlreadyExists) {
			return "", refuse("domain", ErrAlreadyExists, "domain %s belongs to another tenant", dom)
		}
		return "", err
	}
	return dom, nil
}

// RemoveTenantDomain takes the domain d from t and returns it normalised. A domain t does not have is
// a *Refusal of ErrNotFound; t's last domain is one of ErrInvalid, since a tenant has at least one.
func RemoveTenantDomain(ctx context.Context, st Store, t *Tenant, d string) (string, error) {
	dom, err := CheckDomain(d)
	if err != nil {
		return "", err
	}
	if !t.OwnsDomain(dom) {
		return "", refuse("domain", ErrNotFound, "tenant %q has no domain %s", t.Slug, dom)
	}
	if len(t.Domains) == 1 {
		return "", refuse("domain", ErrInvalid, "domain %s is tenant %q's last domain; add another first", dom, t.Slug)
	}
	if err := st.RemoveDomain(ctx, t.ID, dom); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", refuse("domain", ErrNotFound, "tenant %q has no domain %s", t.Slug, dom)
		}
		return "", err
	}
	return dom, nil
}

// ParseLifetime reads how long something issued lives (a SCIM token's --expires, a setup link's): ""
// is def; else a positive ParseDuration of at most most (0: no bound). The error is a *Refusal of
// field "expires".
func ParseLifetime(s string, def, most time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		return 0, refuse("expires", ErrInvalid, "expires: %v", err)
	case d <= 0:
		return 0, refuse("expires", ErrInvalid, "expires: must be positive, got %q", clipValue(s))
	case most > 0 && d > most:
		return 0, refuse("expires", ErrInvalid, "expires: must be at most %s, got %q", FormatDuration(most), clipValue(s))
	}
	return d, nil
}

// Bounds of a password the operator sets (PasswordUser's): long enough to stand without a second
// factor, short enough that hashing it (argon2id) stays cheap; the sign-in refuses a longer one too.
const (
	MinPassword = 12   // characters
	MaxPassword = 1024 // bytes
)

// PasswordUser returns the user of tenant t that email names, when a password may be set for it (`user
// set-password`, the management API): email is an address (ParseEmail) on t's exclusion list, since
// only excluded users sign in with a password, and names one of t's users. Its refusals are
// *Refusal of field "email": ErrInvalid, or ErrNotFound for an address of no user of t.
func PasswordUser(ctx context.Context, st Store, t *Tenant, email string) (*User, error) {
	e, err := ParseEmail(email)
	if err != nil {
		return nil, refuse("email", ErrInvalid, "%q is %v", clipValue(email), err)
	}
	set, err := SSOSettingsOf(ctx, st, t.ID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(set.Exclude, Key(e)) {
		return nil, refuse("email", ErrInvalid, "%s is not on tenant %q's exclusion list (the SSO setting exclude); only excluded users sign in with a password", e, t.Slug)
	}
	var u *User
	err = st.Lookup(ctx, t.ID, func(f UserFinder) (err error) { u, err = f.ByEmail(e); return err })
	if errors.Is(err, ErrNotFound) {
		return nil, refuse("email", ErrNotFound, "tenant %q has no user %s; provision it (SCIM) first", t.Slug, e)
	}
	return u, err
}

// CheckPassword applies the bounds of a password the operator sets: at least MinPassword characters,
// at most MaxPassword bytes. Its refusal is a *Refusal of field "password" that never quotes it.
func CheckPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPassword || len(password) > MaxPassword {
		return refuse("password", ErrInvalid, "the password must be at least %d characters (and at most %d bytes)", MinPassword, MaxPassword)
	}
	return nil
}

// IssueToken makes a SCIM bearer token of the tenant (token issue, demo, the management API, the
// console) named name, expiring at expires (zero: never), and stores its hash; the token itself is
// returned once, to be shown once.
func IssueToken(ctx context.Context, st Store, tenantID, name string, expires time.Time) (string, *Token, error) {
	if name != "" {
		if err := CheckName("token name", name); err != nil {
			return "", nil, &Refusal{Field: "name", Err: ErrInvalid, Msg: err.Error()}
		}
	}
	tok, hash, err := NewSecret(TokenPrefix)
	if err != nil {
		return "", nil, err
	}
	rec := &Token{TenantID: tenantID, Name: name, Hash: hash, ExpiresAt: expires}
	if err := st.CreateToken(ctx, rec); err != nil {
		return "", nil, err
	}
	return tok, rec, nil
}

// AddTeam adds the team name (CheckName) to t; a name t has already is a *Refusal of ErrAlreadyExists.
func AddTeam(ctx context.Context, st Store, t *Tenant, name string, hidden bool) (*Team, error) {
	if err := CheckName("team name", name); err != nil {
		return nil, &Refusal{Field: "name", Err: ErrInvalid, Msg: err.Error()}
	}
	tm := &Team{Name: name, Hidden: hidden}
	if err := st.CreateTeam(ctx, t.ID, tm); err != nil {
		if errors.Is(err, ErrAlreadyExists) {
			return nil, refuse("name", ErrAlreadyExists, "tenant %q already has a team %q", t.Slug, name)
		}
		return nil, err
	}
	return tm, nil
}

// ImportDepartmentMap makes rows (ParseDepartmentMap's) t's whole department map, or, when a row
// names a team t does not have, changes nothing and returns a *Refusal of ErrInvalid naming every
// such row.
func ImportDepartmentMap(ctx context.Context, st Store, t *Tenant, rows []DepartmentMapping) error {
	teams, err := st.ListTeams(ctx, t.ID)
	if err != nil {
		return err
	}
	if err := CheckDepartmentTeams(rows, teams); err != nil {
		return &Refusal{Err: ErrInvalid, Msg: err.Error()}
	}
	if err := st.ReplaceDepartmentMap(ctx, t.ID, rows); err != nil {
		if errors.Is(err, ErrNotFound) { // a team removed since it was read
			return refuse("", ErrInvalid, "a team of the map is no longer the tenant's")
		}
		return err
	}
	return nil
}

// OIDCClientSpec is what an OpenID Connect client is registered from (client add, the management
// API); openid.NewClient checks it and makes the client.
type OIDCClientSpec struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	IDTokenAlg             string // AlgRS256 (also ""), or AlgES256
	BackchannelLogoutURI   string // "" for none
}

// MaxSetupLinkLifetime bounds how long a setup link may wait to be opened: a link is a credential
// sent by mail or chat, so it should not outlive the week its setup takes.
const MaxSetupLinkLifetime = 7 * 24 * time.Hour

// SetupLinkScopes is the rule of a setup link's scopes (setup-link --sso --scim, the management
// API): the parts named, or both when neither is.
func SetupLinkScopes(sso, scim bool) []string {
	switch {
	case sso && !scim:
		return []string{AdminScopeSSO}
	case scim && !sso:
		return []string{AdminScopeSCIM}
	}
	return []string{AdminScopeSSO, AdminScopeSCIM}
}
