package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/store"
)

func (m *Main) teamAdd(ctx context.Context, args []string) error {
	var hidden *bool
	return m.runTenantCommand(ctx, tenantCommand{
		name: "team add", args: "the team NAME", nargs: 1,
		flags: func(fs *flag.FlagSet) { hidden = fs.Bool("hidden", false, "not offered at first sign-in") },
		check: func(pos []string) error { return store.CheckName("team name", pos[0]) },
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			tm, err := store.AddTeam(ctx, s, t, pos[0], *hidden)
			if err != nil {
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
			if rows, err = store.ParseDepartmentMap(f); err != nil {
				if errors.Is(err, store.ErrEmptyDepartmentMap) {
					return fmt.Errorf("%s: nothing imported: %v (to clear the map: scimsso department-map clear)", pos[0], err)
				}
				return fmt.Errorf("%s: nothing imported: %v", pos[0], err)
			}
			return nil
		},
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			if err := store.ImportDepartmentMap(ctx, s, t, rows); err != nil {
				if errors.Is(err, store.ErrInvalid) {
					return fmt.Errorf("%s: nothing imported: %w (add teams with 'scimsso team add')", pos[0], err)
				}
				return fmt.Errorf("%s: nothing imported: %w", pos[0], err)
			}
			fmt.Fprintf(m.Stdout, "imported %d departments into tenant %s's department map (it replaces the previous map)\n", len(rows), t.Slug)
			return nil
		},
	}, args)
}

// departmentMapClear empties the tenant's department map: asked for by name, never by importing an
// empty file.
func (m *Main) departmentMapClear(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "department-map clear",
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			if err := store.ImportDepartmentMap(ctx, s, t, nil); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "cleared tenant %s's department map\n", t.Slug)
			return nil
		},
	}, args)
}

// userSetPassword reads one line from stdin as the password of a user on the tenant's exclusion list.
func (m *Main) userSetPassword(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "user set-password", args: "the user's EMAIL", nargs: 1,
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			// The management API's rules (store.PasswordUser, store.CheckPassword), checked before the
			// password is read.
			u, err := store.PasswordUser(ctx, s, t, pos[0])
			if err != nil {
				return err
			}
			line, err := bufio.NewReader(io.LimitReader(m.Stdin, store.MaxPassword+2)).ReadString('\n')
			if err != nil && err != io.EOF {
				return err
			}
			pw := strings.TrimRight(line, "\r\n")
			if err := store.CheckPassword(pw); err != nil {
				return err
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
