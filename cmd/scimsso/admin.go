package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// dbFlags are the flags every command that opens the store has.
type dbFlags struct {
	db       string
	sync     string
	maxConns int
	// secretKeyFile encrypts tenants' SP private keys at rest. Every command that opens the store takes
	// it: those that create tenants must seal their keys, and those that read tenants must open them.
	secretKeyFile string
	// log, not a flag, is serve's logger, for what the store's background work has to say (nil: the
	// commands, which log nothing).
	log *zap.Logger
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.db, "db", "scimsso.db", "database: a SQLite file path, or a postgres:// URL")
	fs.StringVar(&d.sync, "sqlite-synchronous", sqlstore.SyncNormal, "SQLite synchronous level: normal (survives kill -9) or full (also survives power loss)")
	fs.IntVar(&d.maxConns, "pg-max-conns", 16, "PostgreSQL: connections per process")
	fs.StringVar(&d.secretKeyFile, "secret-key-file", "", "file of KEYID:BASE64 keys (mode 0600) that encrypt tenants' SP private keys at rest; the first encrypts")
}

// keyring loads the --secret-key-file; nil when none is configured.
func (d *dbFlags) keyring() (*sealing.Keyring, error) {
	if d.secretKeyFile == "" {
		return nil, nil
	}
	k, err := sealing.LoadKeyFile(d.secretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file: %w", err)
	}
	return k, nil
}

// dbName is the database for logs and errors: a PostgreSQL URL without its user, password and parameters.
func dbName(dsn string) string {
	if !sqlstore.IsPostgresURL(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// openExistingStore is openStore for the commands that must not create a database: a SQLite file
// that does not exist is an error naming the path looked for, where opening would have made an
// empty database (a command run in the wrong directory would otherwise answer "unknown tenant"
// from a new, empty file and leave it behind).
func (m *Main) openExistingStore(ctx context.Context, d dbFlags) (*sqlstore.Store, error) {
	// A bad key file is the first thing to say: it is wrong wherever the database is.
	if _, err := d.keyring(); err != nil {
		return nil, err
	}
	if !sqlstore.IsPostgresURL(d.db) && d.db != "" {
		p := sqlitePath(d.db)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			return nil, fmt.Errorf("no database at %s: give --db (or SCIMSSO_DB); 'scimsso tenant create' and 'scimsso serve' create one", p)
		}
	}
	return m.openStore(ctx, d)
}

// openStore opens the store named by d, creating a SQLite database that does not exist yet, and
// registers it to be closed by Close.
func (m *Main) openStore(ctx context.Context, d dbFlags) (*sqlstore.Store, error) {
	keys, err := d.keyring()
	if err != nil {
		return nil, err
	}
	dsn := d.db
	switch {
	case sqlstore.IsPostgresURL(dsn):
		if d.maxConns <= 0 {
			return nil, errors.New("--pg-max-conns must be positive")
		}
		s, err := sqlstore.OpenPostgres(ctx, sqlstore.PostgresOptions{URL: dsn, Now: m.Now, MaxConns: d.maxConns, Keyring: keys, Logger: d.log})
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", dbName(dsn), err)
		}
		m.onClose(s.Close)
		return s, nil
	case dsn == "":
		return nil, errors.New("--db: empty database path")
	}
	s, err := sqlstore.Open(ctx, sqlstore.Options{Path: sqlitePath(dsn), Synchronous: d.sync, Now: m.Now, Keyring: keys})
	if err != nil {
		return nil, err
	}
	m.onClose(s.Close)
	return s, nil
}

// sqlitePath is the file a --db that is not a PostgreSQL URL names.
func sqlitePath(dsn string) string {
	return strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
}

// tenantOf resolves --tenant SLUG, with one clear error for an unknown one.
func tenantOf(ctx context.Context, s store.Store, slug string) (*store.Tenant, error) {
	if slug == "" {
		return nil, errors.New("--tenant is required")
	}
	t, err := s.TenantBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("unknown tenant %q", slug)
	}
	return t, err
}

func wantArgs(cmd string, pos []string, n int, what string) error {
	if len(pos) != n {
		return fmt.Errorf("%s: want %s, got %d argument(s)", cmd, what, len(pos))
	}
	return nil
}

func (m *Main) tenantCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenant create", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	name := fs.String("name", "", "display name")
	var domains multiFlag
	fs.Var(&domains, "domain", "exclusive email domain (repeatable)")
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("tenant create", pos, 1, "SLUG"); err != nil {
		return err
	}
	t := &store.Tenant{Slug: pos[0], Name: *name, Domains: domains}
	// Checked before the store is opened: a refused command creates no database.
	if err := store.CheckNewTenant(t); err != nil {
		return tenantFlagError(err)
	}
	s, err := m.openStore(ctx, d)
	if err != nil {
		return err
	}
	if err := m.createTenant(ctx, s, t); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created tenant %s (%s) with domains %s\n", t.Slug, t.Name, strings.Join(t.Domains, ", "))
	return nil
}

// tenantFlagError names the flag of a refused tenant's field, as tenant create spells it.
func tenantFlagError(err error) error {
	var r *store.Refusal
	if errors.As(err, &r) {
		switch r.Field {
		case "name":
			return fmt.Errorf("tenant create: --name: %s", r.Msg)
		case "domains":
			return fmt.Errorf("tenant create: --domain: %s", r.Msg)
		}
	}
	return err
}

// createTenant makes a tenant (tenant create, demo) by store.CreateNewTenant, the management API's
// rule too, with an SP key pair from samlsp.
func (m *Main) createTenant(ctx context.Context, s store.Store, t *store.Tenant) error {
	return tenantFlagError(store.CreateNewTenant(ctx, s, t, m.spKeyPair))
}

// spKeyPair makes a new tenant's SAML SP key pair.
func (m *Main) spKeyPair(slug string) (key, cert []byte, err error) {
	return samlsp.GenerateKeyPair("scimsso "+slug, m.Now())
}

func (m *Main) tokenIssue(ctx context.Context, args []string) error {
	var name, expires *string
	var exp time.Time
	return m.runTenantCommand(ctx, tenantCommand{
		name: "token issue", args: "no arguments",
		flags: func(fs *flag.FlagSet) {
			name = fs.String("name", "", "label, e.g. okta or entra")
			expires = fs.String("expires", "", "lifetime, e.g. 90d (default: never)")
		},
		check: func([]string) error {
			dur, err := store.ParseLifetime(*expires, 0, 0)
			if err != nil {
				return fmt.Errorf("--%v", err)
			}
			if dur > 0 {
				exp = m.Now().Add(dur)
			}
			return nil
		},
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			tok, rec, err := store.IssueToken(ctx, s, t.ID, *name, exp)
			var r *store.Refusal
			if errors.As(err, &r) && r.Field == "name" { // the API's field is the CLI's flag
				return fmt.Errorf("--name: %s", r.Msg)
			}
			if err != nil {
				return err
			}
			// The token alone on stdout, so TOKEN=$(scimsso token issue ...) works; everything else on stderr.
			fmt.Fprintln(m.Stdout, tok)
			when := "never expires"
			if !exp.IsZero() {
				when = "expires " + exp.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(m.Stderr, "issued token %s for tenant %s (%s); it is shown only once\n", rec.ID, t.Slug, when)
			return nil
		},
	}, args)
}

func (m *Main) tokenList(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "token list", args: "no arguments",
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			toks, err := s.ListTokens(ctx, t.ID)
			if err != nil {
				return err
			}
			now := m.Now()
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tEXPIRES\tSTATUS")
			for _, tok := range toks {
				exp, status := "never", "live"
				if !tok.ExpiresAt.IsZero() {
					exp = tok.ExpiresAt.Format(time.RFC3339)
				}
				switch {
				case !tok.RevokedAt.IsZero():
					status = "revoked " + tok.RevokedAt.Format(time.RFC3339)
				case !tok.Live(now):
					status = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tok.ID, tok.Name, tok.CreatedAt.Format(time.RFC3339), exp, status)
			}
			return tw.Flush()
		},
	}, args)
}

func (m *Main) tokenRevoke(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "token revoke", args: "the token ID", nargs: 1,
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			if err := s.RevokeToken(ctx, t.ID, pos[0]); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("tenant %q has no live token %s", t.Slug, pos[0])
				}
				return err
			}
			fmt.Fprintf(m.Stdout, "revoked token %s of tenant %s\n", pos[0], t.Slug)
			return nil
		},
	}, args)
}

func (m *Main) audit(ctx context.Context, args []string) error {
	var since *string
	var dur time.Duration
	return m.runTenantCommand(ctx, tenantCommand{
		name: "audit", args: "no arguments",
		flags: func(fs *flag.FlagSet) { since = fs.String("since", "24h", "how far back, e.g. 1h or 7d") },
		check: func([]string) (err error) {
			if dur, err = store.ParseDuration(*since); err != nil || dur < 0 {
				return fmt.Errorf("--since: invalid duration %q", *since)
			}
			return nil
		},
		run: func(ctx context.Context, s store.Store, t *store.Tenant, _ []string) error {
			as, err := s.ListAudit(ctx, t.ID, m.Now().Add(-dur))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tTOKEN\tOPERATION\tUSER\tOUTCOME\tDETAIL")
			for _, a := range as {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.Format(time.RFC3339Nano), dash(a.TokenID), a.Operation, dash(a.UserID), a.Outcome, a.Detail)
			}
			return tw.Flush()
		},
	}, args)
}

func (m *Main) tenantList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenant list", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("tenant list", pos, 0, "no arguments"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	ts, err := s.ListTenants(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tDOMAINS\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Slug, t.Name, strings.Join(t.Domains, ","), t.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (m *Main) tenantShow(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenant show", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	base := fs.String("base-url", "http://localhost:8080", "public base URL of the server")
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("tenant show", pos, 1, "SLUG"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	t, err := tenantOf(ctx, s, pos[0])
	if err != nil {
		return err
	}
	toks, err := s.ListTokens(ctx, t.ID)
	if err != nil {
		return err
	}
	live := 0
	for _, tok := range toks {
		if tok.Live(m.Now()) {
			live++
		}
	}
	b := strings.TrimRight(*base, "/")
	fmt.Fprintf(m.Stdout, "slug:         %s\nname:         %s\nid:           %s\ndomains:      %s\ncreated:      %s\nSCIM base:    %s/scim/v2/%s\nSCIM tokens:  %d live, %d in all\nSAML entity:  %s/saml/%s/metadata\nSAML ACS:     %s/saml/%s/acs\n",
		t.Slug, t.Name, t.ID, strings.Join(t.Domains, ", "), t.CreatedAt.Format(time.RFC3339), b, t.Slug, live, len(toks), b, t.Slug, b, t.Slug)
	return nil
}

// tenantCommand is the shape of every command that works on one tenant: --db flags, --tenant, the
// command's own flags, a fixed number of positional arguments, checks that need no store (so a bad
// argument opens and writes nothing), then the work against the resolved tenant.
type tenantCommand struct {
	name  string
	args  string // what the positional arguments are, for the error message
	nargs int
	flags func(fs *flag.FlagSet)
	check func(pos []string) error
	run   func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error
}

func (m *Main) runTenantCommand(ctx context.Context, c tenantCommand, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	slug := fs.String("tenant", "", "tenant slug")
	if c.flags != nil {
		c.flags(fs)
	}
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(c.name, pos, c.nargs, c.args); err != nil {
		return err
	}
	if c.check != nil {
		if err := c.check(pos); err != nil {
			return err
		}
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	t, err := tenantOf(ctx, s, *slug)
	if err != nil {
		return err
	}
	return c.run(ctx, s, t, pos)
}

func (m *Main) domainChange(ctx context.Context, cmd, done string, args []string,
	apply func(context.Context, store.Store, *store.Tenant, string) (string, error)) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: cmd, args: "DOMAIN", nargs: 1,
		check: func(pos []string) error { _, err := store.CheckDomain(pos[0]); return err },
		run: func(ctx context.Context, s store.Store, t *store.Tenant, pos []string) error {
			dom, err := apply(ctx, s, t, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, done+"\n", dom, t.Slug)
			return nil
		},
	}, args)
}

func (m *Main) domainAdd(ctx context.Context, args []string) error {
	return m.domainChange(ctx, "domain add", "added domain %s to tenant %s", args, store.AddTenantDomain)
}

func (m *Main) domainRemove(ctx context.Context, args []string) error {
	return m.domainChange(ctx, "domain remove", "removed domain %s from tenant %s", args, store.RemoveTenantDomain)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
