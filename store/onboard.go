package store

import "fmt"

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
