package store

import (
	"fmt"
	"slices"
	"time"
)

// The tenant's sign-in rules that more than one package applies: the SAML service provider and the
// people's web (passwords, sessions, /welcome) both sign people in and keep their sessions.

// Session lifetimes by the spec when a tenant stored none.
const (
	DefaultHardTimeout = 14 * 24 * time.Hour
	DefaultSoftTimeout = 8 * time.Hour
)

// SessionTimeout is how long a session may stay idle before it ends: the mobile hard timeout for a
// mobile session when one is set, else the hard timeout, else DefaultHardTimeout.
func (s *SSOSettings) SessionTimeout(mobile bool) time.Duration {
	if mobile && s.MobileHardTimeout > 0 {
		return s.MobileHardTimeout
	}
	if s.HardTimeout > 0 {
		return s.HardTimeout
	}
	return DefaultHardTimeout
}

// ReauthAfter is the idle time after which the IdP must vouch again (silently) before a session goes
// on: the soft timeout, else DefaultSoftTimeout.
func (s *SSOSettings) ReauthAfter() time.Duration {
	if s.SoftTimeout > 0 {
		return s.SoftTimeout
	}
	return DefaultSoftTimeout
}

// Excludes reports whether email (any case) is on the exclusion list: such a user signs in with a
// password, never at the IdP.
func (s *SSOSettings) Excludes(email string) bool {
	return slices.Contains(s.Exclude, Key(email))
}

// Onboard applies a tenant's first sign-in rules to u, a user signing in (a SAML sign-in after the
// user is reconciled, or a password sign-in): it places u in the team its department maps to when u
// has none, and returns what the first sign-in form (/welcome) must still ask before the session is
// complete, each with why; none means complete. first is true for a user created by this sign-in:
// force-country and force-department apply to it only. It reads the department map through f and
// returns f's errors.
func Onboard(f UserFinder, set *SSOSettings, u *User, first bool) (ask []string, err error) {
	switch {
	case u.Country == "":
		ask = append(ask, fmt.Sprintf("country: missing, or not mappable with country-format %s", set.CountryFormat))
	case set.ForceCountry && first:
		ask = append(ask, "country: force-country is on")
	}
	team, hasMap, err := f.DepartmentTeam(u.Department)
	if err != nil {
		return nil, err
	}
	if u.Team == "" {
		u.Team = team
	}
	switch {
	case !hasMap:
	case u.Team == "":
		ask = append(ask, fmt.Sprintf("team: department %q is not in the department map", u.Department))
	case set.ForceDepartment && first:
		ask = append(ask, "team: force-department is on")
	}
	return ask, nil
}
