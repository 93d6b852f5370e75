// Command scimsso runs the SCIM 2.0 + SAML 2.0 server and its operator commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scimsso/scimsso/internal/clientaddr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if !errors.Is(err, errUsageShown) {
			fmt.Fprintln(m.Stderr, "scimsso: "+oneLine(err.Error()))
		}
		os.Exit(1)
	}
}

// Main is the program with its environment made explicit, so tests run the real thing.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time

	// proxies resolves client addresses (serve --trusted-proxies); nil trusts no proxy.
	proxies *clientaddr.Resolver
	closers []func() error
}

// NewMain returns a Main wired to the process's standard streams and environment.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

// Close releases what Run opened.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

func (m *Main) onClose(fn func() error) { m.closers = append(m.closers, fn) }

// errUsageShown means the usage text has already been printed; main only sets the exit status.
var errUsageShown = errors.New("usage shown")

const usage = `scimsso: SCIM 2.0 provisioning and SAML 2.0 sign-in for a multi-tenant platform

usage:
  scimsso serve [--addr :8080] [--base-url URL] [--db scimsso.db]
  scimsso demo [--addr 127.0.0.1:8080] [--idp-addr 127.0.0.1:8081]
  scimsso tenant create SLUG --name NAME --domain D [--domain D2]
  scimsso tenant list | tenant show SLUG
  scimsso domain add|remove --tenant SLUG DOMAIN
  scimsso token issue --tenant SLUG [--name LABEL] [--expires 90d]
  scimsso token list --tenant SLUG | token revoke --tenant SLUG ID
  scimsso sso set --tenant SLUG [--metadata-file F | --metadata-url U] [--state off|testing|active] [settings…]
  scimsso sso show --tenant SLUG
  scimsso sso test-link --tenant SLUG [--base-url URL] [--expires 1h]   (a one-time test sign-in link)
  scimsso team add --tenant SLUG NAME [--hidden] | team list --tenant SLUG
  scimsso department-map import --tenant SLUG FILE.csv   (department,team rows; replaces the map)
  scimsso user set-password --tenant SLUG EMAIL            (the password is one line on stdin)
  scimsso audit --tenant SLUG [--since 24h]

Every flag can also be set as SCIMSSO_<FLAG> (for example SCIMSSO_DB, SCIMSSO_BASE_URL).
`

// Run runs the command named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(m.Stderr, usage)
		if len(args) == 0 {
			return errUsageShown
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 {
		sub = rest[0]
	}
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "demo":
		return m.demo(ctx, rest)
	case "tenant":
		return m.dispatch(ctx, "tenant", sub, rest, map[string]func(context.Context, []string) error{
			"create": m.tenantCreate, "list": m.tenantList, "show": m.tenantShow,
		})
	case "domain":
		return m.dispatch(ctx, "domain", sub, rest, map[string]func(context.Context, []string) error{
			"add": m.domainAdd, "remove": m.domainRemove,
		})
	case "token":
		return m.dispatch(ctx, "token", sub, rest, map[string]func(context.Context, []string) error{
			"issue": m.tokenIssue, "list": m.tokenList, "revoke": m.tokenRevoke,
		})
	case "sso":
		return m.dispatch(ctx, "sso", sub, rest, map[string]func(context.Context, []string) error{
			"set": m.ssoSet, "show": m.ssoShow, "test-link": m.ssoTestLink,
		})
	case "team":
		return m.dispatch(ctx, "team", sub, rest, map[string]func(context.Context, []string) error{
			"add": m.teamAdd, "list": m.teamList,
		})
	case "department-map":
		return m.dispatch(ctx, "department-map", sub, rest, map[string]func(context.Context, []string) error{
			"import": m.departmentMapImport,
		})
	case "user":
		return m.dispatch(ctx, "user", sub, rest, map[string]func(context.Context, []string) error{
			"set-password": m.userSetPassword,
		})
	case "audit":
		return m.audit(ctx, rest)
	}
	return fmt.Errorf("unknown command %q (run 'scimsso help')", cmd)
}

func (m *Main) dispatch(ctx context.Context, cmd, sub string, rest []string, subs map[string]func(context.Context, []string) error) error {
	fn, ok := subs[sub]
	if !ok {
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		return fmt.Errorf("%s: unknown subcommand %q (want one of %s)", cmd, sub, strings.Join(sortStrings(names), ", "))
	}
	return fn(ctx, rest[1:])
}

// oneLine keeps an error message on one line, as the exit contract promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
