package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/store"
)

// maxTeamName bounds team and department names: they are shown in a select and matched as given.
const maxTeamName = 200

func checkName(what, v string) error {
	if strings.TrimSpace(v) != v || v == "" || len(v) > maxTeamName || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%s %q must be 1 to %d characters of text without surrounding spaces or control characters", what, v, maxTeamName)
	}
	return nil
}

func (m *Main) teamAdd(ctx context.Context, args []string) error {
	var hidden *bool
	return m.runTenantCommand(ctx, tenantCommand{
		name: "team add", args: "the team NAME", nargs: 1,
		flags: func(fs *flag.FlagSet) { hidden = fs.Bool("hidden", false, "not offered at first sign-in") },
		check: func(pos []string) error { return checkName("team name", pos[0]) },
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			tm := &store.Team{Name: pos[0], Hidden: *hidden}
			if err := s.CreateTeam(ctx, t.ID, tm); err != nil {
				if errors.Is(err, store.ErrAlreadyExists) {
					return fmt.Errorf("tenant %q already has a team %q", t.Slug, pos[0])
				}
				return err
			}
			fmt.Fprintf(m.Stdout, "added team %q to tenant %s\n", tm.Name, t.Slug)
			return nil
		},
	}, args)
}

func (m *Main) teamList(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "team list", args: "no arguments",
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			teams, err := s.ListTeams(ctx, t.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tOFFERED")
			for _, tm := range teams {
				offered := "yes"
				switch {
				case tm.Root:
					offered = "no (root team)"
				case tm.Hidden:
					offered = "no (hidden)"
				}
				fmt.Fprintf(tw, "%s\t%s\n", tm.Name, offered)
			}
			return tw.Flush()
		},
	}, args)
}

// readDepartmentMap reads department,team rows. A first row "department,team" is a header. Every bad
// row is reported with its line number, and nothing is returned when there is one.
func readDepartmentMap(r io.Reader) ([]store.DepartmentMapping, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows []store.DepartmentMapping
	var bad []string
	seen := map[string]int{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, fmt.Sprintf("line %d: %v", pe.Line, pe.Err))
				if len(bad) >= 50 {
					break
				}
				continue
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first && len(rec) == 2 && strings.EqualFold(strings.TrimSpace(rec[0]), "department") && strings.EqualFold(strings.TrimSpace(rec[1]), "team") {
			continue
		}
		if len(rec) != 2 {
			bad = append(bad, fmt.Sprintf("line %d: want 2 fields (department,team), got %d", line, len(rec)))
			continue
		}
		d, tm := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if err := checkName("department", d); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if err := checkName("team", tm); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if prev, dup := seen[store.Key(d)]; dup {
			bad = append(bad, fmt.Sprintf("line %d: department %q is already mapped on line %d", line, d, prev))
			continue
		}
		seen[store.Key(d)] = line
		rows = append(rows, store.DepartmentMapping{Department: d, Team: tm})
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return rows, nil
}

// departmentMapImport replaces the tenant's department map with the file's rows, all or nothing.
func (m *Main) departmentMapImport(ctx context.Context, args []string) error {
	var rows []store.DepartmentMapping
	return m.runTenantCommand(ctx, tenantCommand{
		name: "department-map import", args: "the CSV file", nargs: 1,
		check: func(pos []string) error {
			f, err := os.Open(pos[0])
			if err != nil {
				return err
			}
			defer f.Close()
			if rows, err = readDepartmentMap(io.LimitReader(f, 16<<20)); err != nil {
				return fmt.Errorf("%s: nothing imported: %v", pos[0], err)
			}
			return nil
		},
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			teams, err := s.ListTeams(ctx, t.ID)
			if err != nil {
				return err
			}
			known := map[string]bool{}
			for _, tm := range teams {
				known[tm.Name] = true
			}
			var bad []string
			for _, r := range rows {
				if !known[r.Team] {
					bad = append(bad, fmt.Sprintf("department %q: tenant %q has no team %q (add it with 'scimsso team add')", r.Department, t.Slug, r.Team))
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("%s: nothing imported: %s", pos[0], strings.Join(bad, "; "))
			}
			if err := s.ReplaceDepartmentMap(ctx, t.ID, rows); err != nil {
				return fmt.Errorf("%s: nothing imported: %w", pos[0], err)
			}
			fmt.Fprintf(m.Stdout, "imported %d departments into tenant %s's department map (it replaces the previous map)\n", len(rows), t.Slug)
			return nil
		},
	}, args)
}

// userSetPassword reads one line from stdin as the password of a user on the tenant's exclusion list.
func (m *Main) userSetPassword(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "user set-password", args: "the user's EMAIL", nargs: 1,
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			email, err := store.ParseEmail(pos[0])
			if err != nil {
				return fmt.Errorf("%q is %v", pos[0], err)
			}
			set, err := ssoSettingsOf(ctx, s, t.ID)
			if err != nil {
				return err
			}
			onList := false
			for _, e := range set.Exclude {
				onList = onList || e == store.Key(email)
			}
			if !onList {
				return fmt.Errorf("%s is not on tenant %q's exclusion list; only excluded users sign in with a password (scimsso sso set --tenant %s --exclude %s)", email, t.Slug, t.Slug, email)
			}
			var u *store.User
			err = s.Lookup(ctx, t.ID, func(f store.UserFinder) error { u, err = f.ByEmail(email); return err })
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant %q has no user %s; provision it (SCIM) first", t.Slug, email)
			}
			if err != nil {
				return err
			}
			line, err := bufio.NewReader(io.LimitReader(m.Stdin, 4096)).ReadString('\n')
			if err != nil && err != io.EOF {
				return err
			}
			pw := strings.TrimRight(line, "\r\n")
			if len(pw) < 12 {
				return errors.New("the password (one line on stdin) must be at least 12 characters")
			}
			hash, err := people.HashPassword(pw)
			if err != nil {
				return err
			}
			if err := s.SetPassword(ctx, t.ID, u.ID, hash); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "set the password of %s in tenant %s\n", u.UserName, t.Slug)
			return nil
		},
	}, args)
}
