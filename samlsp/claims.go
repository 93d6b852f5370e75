package samlsp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// attrNames are the attribute names accepted for each field, from the tenant's settings (each a
// comma-separated list, Entra's claim URIs first).
type attrNames struct {
	first, last, email, country, department []string
	principal, secondary                    string
}

func attrNamesOf(s *store.SSOSettings) attrNames {
	split := func(v string) []string {
		var out []string
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, n)
			}
		}
		return out
	}
	return attrNames{
		first: split(s.AttrFirstName), last: split(s.AttrLastName), email: split(s.AttrEmail),
		country: split(s.AttrCountry), department: split(s.AttrDepartment),
		principal: strings.TrimSpace(s.PrincipalIDAttr), secondary: strings.TrimSpace(s.SecondaryEmailAttr),
	}
}

// claims is what scimsso takes from a verified assertion.
type claims struct {
	NameID         string
	Email          string
	FirstName      string
	LastName       string
	Country        string // as sent
	Department     string
	PrincipalID    string
	SecondaryEmail string
	SessionEnd     time.Time // the earliest AuthnStatement SessionNotOnOrAfter; zero if none
}

// refusal is a sign-in refused for a reason worth logging precisely; the person sees only a reference.
type refusal struct {
	code   string // short, stable: "signature", "audience", "replay", "inactive", …
	reason string
}

func (r *refusal) Error() string { return r.code + ": " + r.reason }

func refuse(code, format string, args ...any) error {
	return &refusal{code: code, reason: fmt.Sprintf(format, args...)}
}

// claimsOf reads the mapped attributes. A mapped attribute sent more than once with different values
// is refused rather than guessed at; the email falls back to a NameID that is an email address.
func claimsOf(a *saml.Assertion, n attrNames) (*claims, error) {
	values := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				values[at.Name] = append(values[at.Name], strings.TrimSpace(v.Value))
			}
		}
	}
	one := func(field string, names []string) (string, error) {
		got := ""
		for _, name := range names {
			for _, v := range values[name] {
				if v == "" {
					continue
				}
				if got != "" && v != got {
					return "", refuse("attributes", "%s: attribute %s carries more than one value", field, name)
				}
				got = v
			}
			if got != "" {
				return got, nil
			}
		}
		return "", nil
	}
	c := &claims{}
	if a.Subject != nil && a.Subject.NameID != nil {
		c.NameID = strings.TrimSpace(a.Subject.NameID.Value)
	}
	var err error
	optional := func(name string) []string { // a setting left empty reads no attribute
		if name == "" {
			return nil
		}
		return []string{name}
	}
	fields := []struct {
		name  string
		names []string
		dst   *string
	}{
		{"email", n.email, &c.Email},
		{"first name", n.first, &c.FirstName},
		{"last name", n.last, &c.LastName},
		{"country", n.country, &c.Country},
		{"department", n.department, &c.Department},
		{"principal id", optional(n.principal), &c.PrincipalID},
		{"secondary email", optional(n.secondary), &c.SecondaryEmail},
	}
	for _, f := range fields {
		if *f.dst, err = one(f.name, f.names); err != nil {
			return nil, err
		}
	}
	if c.Email == "" && store.EmailDomain(c.NameID) != "" {
		c.Email = c.NameID
	}
	for _, as := range a.AuthnStatements {
		if e := as.SessionNotOnOrAfter; e != nil && (c.SessionEnd.IsZero() || e.Before(c.SessionEnd)) {
			c.SessionEnd = *e
		}
	}
	return c, nil
}

// decision is reconciliation's outcome: the user to sign in (ID empty: create) and whether first
// sign-in still has to ask for something.
type decision struct {
	user    *store.User
	matched string // how: "principal-id", "email", "secondary-email" or "created"
	pending bool
	ask     []string // what /welcome will ask for, and why
}

// reconcile picks the user in the spec's order: principal id, email, secondary email, else a new user
// just in time. It never makes a second user for one person, refuses a deactivated user, and keeps the
// stored email in step with the IdP's when the principal id matched.
func reconcile(f store.UserFinder, t *store.Tenant, set *store.SSOSettings, n attrNames, c *claims) (*decision, error) {
	if n.principal != "" && c.PrincipalID == "" {
		return nil, refuse("principal-id", "attribute %s is configured as the principal id but the assertion has none", n.principal)
	}
	if c.Email == "" {
		return nil, refuse("attributes", "the assertion carries no email (attributes %s, and the NameID is not an email)", strings.Join(n.email, ", "))
	}
	// One rule for every email (store.ParseEmail), so whom SCIM provisions can sign in and the reverse.
	email, err := store.ParseEmail(c.Email)
	if err != nil {
		return nil, refuse("attributes", "the assertion's email %q is %v", c.Email, err)
	}
	c.Email = email
	if c.SecondaryEmail != "" {
		secondary, err := store.ParseEmail(c.SecondaryEmail)
		if err != nil {
			return nil, refuse("attributes", "the assertion's secondary email %q is %v", c.SecondaryEmail, err)
		}
		c.SecondaryEmail = secondary
	}
	country, countryOK := mapCountry(set.CountryFormat, c.Country)
	find := func(how string, lookup func() (*store.User, error)) (*decision, error) {
		u, err := lookup()
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !u.Active {
			return nil, refuse("inactive", "user %s is deactivated", u.ID)
		}
		return &decision{user: u, matched: how}, nil
	}
	var d *decision
	if n.principal != "" {
		if d, err = find("principal-id", func() (*store.User, error) { return f.ByExternalID(c.PrincipalID) }); err != nil {
			return nil, err
		}
		if d != nil && store.Key(d.user.UserName) != store.Key(c.Email) {
			if err := followEmail(f, t, d.user, c.Email); err != nil {
				return nil, err
			}
		}
	}
	if d == nil {
		if d, err = find("email", func() (*store.User, error) { return f.ByEmail(c.Email) }); err != nil {
			return nil, err
		}
	}
	if d == nil && n.secondary != "" && c.SecondaryEmail != "" {
		if d, err = find("secondary-email", func() (*store.User, error) { return f.BySecondaryEmail(c.SecondaryEmail) }); err != nil {
			return nil, err
		}
	}
	if d != nil {
		u := d.user
		// A principal id the IdP vouches for is recorded on a user found by email, so the next sign-in
		// matches by it even after the email changes.
		if n.principal != "" && u.ExternalID == "" {
			u.ExternalID = c.PrincipalID
		} else if n.principal != "" && d.matched != "principal-id" && u.ExternalID != c.PrincipalID {
			return nil, refuse("principal-id", "user %s found by email has principal id %q, the assertion says %q", u.ID, u.ExternalID, c.PrincipalID)
		}
		fill(u, c, country, countryOK)
		return d, d.complete(f, set, false)
	}
	// Nobody: create the user just in time.
	if !t.OwnsDomain(store.EmailDomain(c.Email)) {
		return nil, refuse("domain", "no user matches and the email's domain %s is not one of the tenant's", store.EmailDomain(c.Email))
	}
	if c.FirstName == "" || c.LastName == "" {
		return nil, refuse("attributes", "no user matches and the assertion lacks a first or last name, which creating one needs")
	}
	u := &store.User{
		UserName:   c.Email,
		Emails:     []store.Email{{Value: c.Email, Type: "work", Primary: true}},
		GivenName:  c.FirstName,
		FamilyName: c.LastName,
		ExternalID: c.PrincipalID,
		Active:     true,
		Source:     store.SourceSSO,
	}
	if n.secondary != "" && c.SecondaryEmail != "" && store.Key(c.SecondaryEmail) != store.Key(c.Email) {
		u.SecondaryEmail = c.SecondaryEmail
	}
	fill(u, c, country, countryOK)
	d = &decision{user: u, matched: "created"}
	return d, d.complete(f, set, true)
}

// followEmail makes the IdP's new email the user's userName and primary email, unless another user
// of the tenant already has it or it is outside the tenant's domains (then the sign-in is refused:
// never two users for one person, never an email the tenant does not own).
func followEmail(f store.UserFinder, t *store.Tenant, u *store.User, email string) error {
	if !t.OwnsDomain(store.EmailDomain(email)) {
		return refuse("domain", "the IdP changed user %s's email to %s, outside the tenant's domains", u.ID, email)
	}
	other, err := f.ByEmail(email)
	if err == nil && other.ID != u.ID {
		return refuse("conflict", "the IdP changed user %s's email to %s, which user %s has", u.ID, email, other.ID)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	u.UserName = email
	replaced := false
	for i := range u.Emails {
		if u.Emails[i].Primary || len(u.Emails) == 1 {
			u.Emails[i].Value, replaced = email, true
			break
		}
	}
	if !replaced {
		u.Emails = append([]store.Email{{Value: email, Type: "work", Primary: true}}, u.Emails...)
	}
	return nil
}

// fill sets what the user lacks from the assertion. What SCIM provisioned stays as it is: SCIM is the
// source of truth for provisioned attributes, and they may only change through SCIM's rules. A user
// created at sign-in has no other source, so its names follow the IdP's.
func fill(u *store.User, c *claims, country string, countryOK bool) {
	if u.Source == store.SourceSSO && c.FirstName != "" && c.LastName != "" {
		u.GivenName, u.FamilyName = c.FirstName, c.LastName
	}
	if u.GivenName == "" {
		u.GivenName = c.FirstName
	}
	if u.FamilyName == "" {
		u.FamilyName = c.LastName
	}
	if u.Country == "" && countryOK {
		u.Country = country
	}
	if u.Department == "" {
		u.Department = c.Department
	}
}

// mapCountry turns the assertion's country into alpha-2 by the tenant's country-format.
func mapCountry(format store.CountryFormat, v string) (string, bool) {
	if v == "" {
		return "", false
	}
	if format == store.CountryName {
		if code, ok := schemas.CountryFromName(v); ok {
			return code, true
		}
	}
	code, err := schemas.NormalizeCountry(v)
	return code, err == nil
}

// complete applies the tenant's first sign-in rules (store.Onboard) to the decided user.
func (d *decision) complete(f store.UserFinder, set *store.SSOSettings, first bool) error {
	ask, err := store.Onboard(f, set, d.user, first)
	d.ask, d.pending = ask, len(ask) > 0
	return err
}
