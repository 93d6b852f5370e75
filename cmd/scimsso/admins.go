package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimsso/scimsso/store"
)

// setupLink makes a one-time link that opens the tenant's console (SPEC "Admins").
func (m *Main) setupLink(ctx context.Context, args []string) error {
	var base, expires *string
	var sso, scim *bool
	var exp time.Time
	var scopes []string
	return m.runTenantCommand(ctx, tenantCommand{
		name: "setup-link", args: "no arguments",
		flags: func(fs *flag.FlagSet) {
			base = fs.String("base-url", "http://localhost:8080", "public base URL of the server, as given to serve")
			expires = fs.String("expires", "24h", "how long the link may wait to be opened (at most 7d)")
			sso = fs.Bool("sso", false, "the link opens the SSO part of the console (with neither --sso nor --scim: both)")
			scim = fs.Bool("scim", false, "the link opens the SCIM part of the console")
		},
		check: func([]string) error {
			if !validBaseURL(*base) {
				return fmt.Errorf("--base-url %q must be an absolute http(s) URL without query or fragment", *base)
			}
			// The management API's rules too (store.ParseLifetime, store.SetupLinkScopes); but a flag
			// given empty is a mistake (the API's "" means "not given"; the CLI's default is 24h).
			if *expires == "" {
				return errors.New("--expires: give a lifetime such as 24h (at most 7d)")
			}
			dur, err := store.ParseLifetime(*expires, store.DefaultSetupLinkLifetime, store.MaxSetupLinkLifetime)
			if err != nil {
				return fmt.Errorf("--%v", err)
			}
			exp = m.Now().Add(dur)
			scopes = store.SetupLinkScopes(*sso, *scim)
			return nil
		},
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			secret, hash, err := store.NewSecret(store.SetupLinkPrefix)
			if err != nil {
				return err
			}
			l := &store.SetupLink{TenantID: t.ID, Scopes: scopes, Hash: hash, ExpiresAt: exp}
			if err := st.CreateSetupLink(ctx, l); err != nil {
				return err
			}
			// The link alone on stdout, so LINK=$(scimsso setup-link ...) works; everything else on stderr.
			fmt.Fprintln(m.Stdout, strings.TrimRight(*base, "/")+"/setup/"+secret)
			fmt.Fprintf(m.Stderr, "setup link %s for tenant %s (%s): opens the console once, expires %s; it is shown only once\n",
				l.ID, t.Slug, strings.Join(scopes, ", "), exp.UTC().Format(time.RFC3339))
			return nil
		},
	}, args)
}

// setupLinkList lists the tenant's setup links and what became of them.
func (m *Main) setupLinkList(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "setup-link list", args: "no arguments",
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			ls, err := s.ListSetupLinks(ctx, t.ID)
			if err != nil {
				return err
			}
			now := m.Now()
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCOPES\tCREATED\tBY\tEXPIRES\tSTATUS")
			for _, l := range ls {
				status := "waiting" // the management API's words
				switch {
				case !l.RevokedAt.IsZero():
					status = "revoked " + l.RevokedAt.UTC().Format(time.RFC3339)
				case !l.UsedAt.IsZero():
					status = "used " + l.UsedAt.UTC().Format(time.RFC3339)
				case !l.ExpiresAt.After(now):
					status = "expired"
				}
				by := l.CreatedBy.Kind
				if l.CreatedBy.Name != "" {
					by += " " + l.CreatedBy.Name
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, strings.Join(l.Scopes, ","), l.CreatedAt.UTC().Format(time.RFC3339), by,
					l.ExpiresAt.UTC().Format(time.RFC3339), status)
			}
			return tw.Flush()
		},
	}, args)
}

// setupLinkRevoke makes a setup link unusable and ends the console sessions it opened.
func (m *Main) setupLinkRevoke(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "setup-link revoke", args: "the link's ID", nargs: 1,
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			if err := s.RevokeSetupLink(ctx, t.ID, pos[0]); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("tenant %q has no setup link %s ('scimsso setup-link list' shows them)", t.Slug, pos[0])
				}
				return err
			}
			fmt.Fprintf(m.Stdout, "revoked setup link %s of tenant %s; the console sessions it opened have ended\n", pos[0], t.Slug)
			return nil
		},
	}, args)
}

// userSetAdmin marks a user of the tenant as a tenant admin (or, with --off, not).
func (m *Main) userSetAdmin(ctx context.Context, args []string) error {
	var off *bool
	var email string
	return m.runTenantCommand(ctx, tenantCommand{
		name: "user set-admin", args: "the user's EMAIL", nargs: 1,
		flags: func(fs *flag.FlagSet) {
			off = fs.Bool("off", false, "take the admin role away (and end the user's console sessions)")
		},
		check: func(pos []string) (err error) {
			if email, err = store.ParseEmail(pos[0]); err != nil {
				return fmt.Errorf("%q is %v", pos[0], err)
			}
			return nil
		},
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			var u *store.User
			err := s.Lookup(ctx, t.ID, func(f store.UserFinder) (err error) { u, err = f.ByEmail(email); return err })
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant %q has no user %s; provision it (SCIM) or let it sign in first", t.Slug, email)
			}
			if err != nil {
				return err
			}
			if err := s.SetAdmin(ctx, t.ID, u.ID, !*off); err != nil {
				return err
			}
			if *off {
				fmt.Fprintf(m.Stdout, "%s is not an admin of tenant %s\n", u.UserName, t.Slug)
			} else {
				fmt.Fprintf(m.Stdout, "%s is an admin of tenant %s: the console is at /admin/%s/ after signing in\n", u.UserName, t.Slug, t.Slug)
			}
			return nil
		},
	}, args)
}
