// Command scimsso runs the SCIM 2.0 + SAML 2.0 server and its operator commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	// Run returns once serve listens; Wait holds the process until SIGTERM (or a listener fails), and
	// Close finishes the requests in flight. Every other command is done when Run returns.
	err := m.Run(ctx, os.Args[1:])
	if err == nil {
		err = m.Wait(ctx)
	}
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
	// forwardHosts are serve --forward-auth-hosts, checked; nil allows no forward-auth redirect.
	forwardHosts []string
	// loopbackHooks is serve --allow-http-loopback-webhooks: the management API adds webhooks and
	// back-channel logout URIs by the rule delivery follows.
	loopbackHooks bool
	// loopbackMeta is serve --allow-http-loopback-metadata (the rule of the refresh of stored metadata
	// URLs, periodic or the console's "Refresh now"); a URL entered in the console is never fetched
	// from loopback (consoleFetch).
	loopbackMeta bool
	// metadataEvery is serve --metadata-refresh (0: no periodic refresh).
	metadataEvery time.Duration
	// refresher refreshes IdP metadata given by URL: built by buildHandler for the console, run on
	// serve's schedule.
	refresher *samlsp.Refresher
	// metrics counts what the handler serves (serve, unless --metrics-addr is off); nil counts nothing.
	metrics *metrics.Metrics
	// logoutToken makes OpenID Connect logout tokens: the provider's, set by buildHandler, handed to
	// delivery (startWebhooks) for back-channel logout.
	logoutToken func(ctx context.Context, c *store.OIDCClient, sub, sid string) (string, error)
	// refusals counts the SAML service provider's and the people's pages' refusals past the sign-in
	// log's cap, set by buildHandler; serve runs it and flushes it at shutdown.
	refusals *store.SignInMeter
	// httpAddr and metricsAddr are where serve listens (metricsAddr nil without metrics); serveErr
	// receives a listener's failure (Wait).
	httpAddr, metricsAddr net.Addr
	serveErr              chan error
	closers               []func() error
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

// errHelpShown means a command printed its --help; Run then returns nil, so the exit status is 0.
var errHelpShown = errors.New("help shown")

// command is one runnable command: its words ("tenant create"), what follows them in its usage line,
// what it does, and its function, which builds its own flag set (named after the words) and parses
// it with parseFlags. --help lists that flag set, so a flag added to a command appears there by itself.
type command struct {
	name     string
	synopsis string
	summary  string
	more     func() string // optional text printed after the summary in --help
	run      func(context.Context, []string) error
}

// commands is the command table: the usage text, --help and dispatch all come from it.
func (m *Main) commands() []command {
	return []command{
		{"serve", "[--addr :8080] [--base-url URL] [--db scimsso.db] [flags]",
			"Runs the server: SCIM, SAML sign-in and the sign-in pages. Creates the SQLite database if there is none.", nil, m.serve},
		{"demo", "[--addr 127.0.0.1:8080] [--idp-addr 127.0.0.1:8081]",
			"Runs scimsso with a demo tenant, a SCIM token and a built-in IdP on a throw-away store, and prints what to try.", nil, m.demo},
		{"tenant create", "SLUG --name NAME --domain D [--domain D2]",
			"Creates a tenant with its email domains and SAML key pair. Creates the SQLite database if there is none.", nil, m.tenantCreate},
		{"tenant list", "", "Lists the tenants.", nil, m.tenantList},
		{"tenant show", "SLUG [--base-url URL]", "Shows a tenant and the SCIM and SAML URLs to give its IdP.", nil, m.tenantShow},
		{"domain add", "--tenant SLUG DOMAIN", "Adds an email domain to a tenant.", nil, m.domainAdd},
		{"domain remove", "--tenant SLUG DOMAIN", "Removes an email domain from a tenant (not its last).", nil, m.domainRemove},
		{"token issue", "--tenant SLUG [--name LABEL] [--expires 90d]",
			"Issues a SCIM bearer token: the token alone on stdout (shown only once), its id on stderr.", nil, m.tokenIssue},
		{"token list", "--tenant SLUG", "Lists a tenant's SCIM tokens (never the tokens themselves).", nil, m.tokenList},
		{"token revoke", "--tenant SLUG ID", "Revokes a SCIM token.", nil, m.tokenRevoke},
		{"sso set", "--tenant SLUG [--metadata-file F | --metadata-url U] [--state off|testing|active] [--exclude a@x,b@x] " +
			"[--hard-timeout 14d] [--soft-timeout 8h] [--mobile-hard-timeout 90d] [--country-format iso|name] " +
			"[--signature-algorithm sha256|sha1] [--signed-element assertion|response|both] [--idp-initiated on|off] " +
			"[--principal-id-attr A] [--secondary-email-attr A] [--attr-first-name A,B] [--attr-last-name A,B] [--attr-email A,B] " +
			"[--attr-country A,B] [--attr-department A,B] [--force-country] [--force-department] [--sign-requests] [--skip-destination-validation]",
			"Changes a tenant's SAML settings: only the flags given; every other setting keeps its stored value.", ssoDefaults, m.ssoSet},
		{"sso show", "--tenant SLUG", "Shows a tenant's SAML settings, with a warning for each unsafe one.", nil, m.ssoShow},
		{"sso refresh-metadata", "--tenant SLUG [--allow-http-loopback-metadata]",
			"Fetches a tenant's IdP metadata from its URL now, as serve does periodically: adds new certificates, removes withdrawn ones while a valid one is listed.", nil, m.ssoRefreshMetadata},
		{"sso test-link", "--tenant SLUG [--base-url URL] [--expires 1h]",
			"Prints a one-time link (alone on stdout) that starts a test sign-in: the report shows what the IdP sent and what scimsso would do, and stores nothing.", nil, m.ssoTestLink},
		{"team add", "--tenant SLUG NAME [--hidden]", "Adds a team people can pick at their first sign-in (unless hidden).", nil, m.teamAdd},
		{"team list", "--tenant SLUG", "Lists a tenant's teams.", nil, m.teamList},
		{"department-map import", "--tenant SLUG FILE.csv",
			"Replaces a tenant's department map with the file's department,team rows (a header row is optional); all or nothing. A file without a row is refused.", nil, m.departmentMapImport},
		{"department-map clear", "--tenant SLUG", "Empties a tenant's department map.", nil, m.departmentMapClear},
		{"user set-password", "--tenant SLUG EMAIL",
			"Sets the password of a user on the tenant's exclusion list; the password is one line on stdin.", nil, m.userSetPassword},
		{"user set-admin", "--tenant SLUG EMAIL [--off]",
			"Makes a user a tenant admin, who reaches the console at /admin/SLUG/ after signing in; --off takes it away.", nil, m.userSetAdmin},
		{"setup-link", "--tenant SLUG [--expires 24h] [--sso] [--scim] [--base-url URL]",
			"Prints a one-time link (alone on stdout) that opens the tenant's console for its IT admin: SSO, SCIM or (neither flag) both.", nil, m.setupLink},
		{"setup-link list", "--tenant SLUG", "Lists a tenant's setup links (never the links themselves), used, revoked and expired ones for 30 days.", nil, m.setupLinkList},
		{"setup-link revoke", "--tenant SLUG ID", "Revokes a setup link: it no longer opens the console, and the console sessions it opened end.", nil, m.setupLinkRevoke},
		{"audit", "--tenant SLUG [--since 24h]", "Lists a tenant's SCIM write attempts, accepted and refused.", nil, m.audit},
		{"secrets rotate", "--secret-key-file F",
			"Re-encrypts every tenant's SP private key under the key file's first key (KEYID:BASE64 lines, mode 0600).", nil, m.secretsRotate},
		{"client add", "NAME --redirect-uri URL [--redirect-uri URL…] [--post-logout-redirect-uri URL…] [--public] [--id-token-alg RS256|ES256] [--backchannel-logout-uri URL]",
			"Registers an OpenID Connect client (an application): client_id=… and, unless --public, client_secret=… (shown only once) on stdout.", nil, m.clientAdd},
		{"client list", "", "Lists the OpenID Connect clients (never their secrets).", nil, m.clientList},
		{"client remove", "ID", "Removes an OpenID Connect client; its tokens stop working at once.", nil, m.clientRemove},
		{"webhook add", "--url URL [--types T,…] [--allow-http-loopback-webhooks]",
			"Adds a webhook: each event after now (of --types, default all) is POSTed to URL, signed: its secret alone on stdout (shown only once), its id on stderr.", nil, m.webhookAdd},
		{"webhook list", "", "Lists the webhooks (never their secrets), how many events each is behind and whether it is failing.", nil, m.webhookList},
		{"webhook remove", "ID", "Removes a webhook; delivery to it stops.", nil, m.webhookRemove},
		{"webhook deliveries", "ID [--limit 50] [--outcome delivered|failed|gave_up] [--resend EVENT_ID]",
			"Lists a webhook's latest delivery attempts and given-up events, newest first (an OpenID client's id: its back-channel logouts); --resend sends an event again.", nil, m.webhookDeliveries},
		{"oidc rotate-key", "", "Makes new ID token signing keys sign from now on; the replaced keys stay in the published key set for 24 hours.", nil, m.oidcRotateKey},
		{"apikey create", "--name LABEL --scope S[,S…]",
			"Creates a platform API key with scopes directory:read, events:read, manage: the key alone on stdout (shown only once), its id on stderr.", nil, m.apikeyCreate},
		{"apikey list", "", "Lists the platform API keys (never the keys themselves).", nil, m.apikeyList},
		{"apikey revoke", "ID", "Revokes a platform API key; it stops working at once.", nil, m.apikeyRevoke},
	}
}

// ssoDefaults lists the settings a tenant has before any `sso set` changed them.
func ssoDefaults() string {
	d := store.DefaultSSOSettings()
	var b strings.Builder
	b.WriteString("A tenant's settings before any change:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"state", string(d.State)}, {"hard-timeout", shortDuration(d.HardTimeout.String())}, {"soft-timeout", shortDuration(d.SoftTimeout.String())},
		{"mobile-hard-timeout", "0 (the hard timeout)"}, {"country-format", string(d.CountryFormat)},
		{"signature-algorithm", string(d.SignatureAlgorithm)}, {"signed-element", string(d.SignedElement)}, {"idp-initiated", "on"},
		{"exclude", "empty"}, {"principal-id-attr", "empty (off)"}, {"secondary-email-attr", "empty (off)"},
		{"attr-first-name", d.AttrFirstName}, {"attr-last-name", d.AttrLastName}, {"attr-email", d.AttrEmail},
		{"attr-country", d.AttrCountry}, {"attr-department", d.AttrDepartment},
		{"force-country", "false"}, {"force-department", "false"}, {"sign-requests", "false"}, {"skip-destination-validation", "false"},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	return b.String()
}

// shortDuration writes a time.Duration's String as the flags accept it: "336h0m0s" as "14d", "8h0m0s"
// as "8h", "1m0s" as "1m".
func shortDuration(s string) string {
	if d, err := time.ParseDuration(s); err == nil && d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// usage is the text of `scimsso help`, made from the command table.
func (m *Main) usage() string {
	var b strings.Builder
	b.WriteString("scimsso: SCIM 2.0 provisioning and SAML 2.0 sign-in for a multi-tenant platform\n\nusage:\n")
	for _, c := range m.commands() {
		b.WriteString(wrapUsage("  scimsso "+c.name, c.synopsis, "      "))
	}
	b.WriteString(`
'scimsso COMMAND --help' lists a command's flags and their defaults. Flags go before or after the
command. Every flag can also be set as SCIMSSO_<FLAG> (for example SCIMSSO_DB, SCIMSSO_BASE_URL);
a flag on the command line wins. Only serve, demo and tenant create create a database.
`)
	return b.String()
}

// Run runs the command named by the first words of args; flags may come before, between or after them.
func (m *Main) Run(ctx context.Context, args []string) error {
	cmds := m.commands()
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, m.usage())
		return errUsageShown
	}
	// "help tenant create" is "tenant create --help".
	if args[0] == "help" {
		if len(args) == 1 {
			fmt.Fprint(m.Stdout, m.usage())
			return nil
		}
		args = append(args[1:len(args):len(args)], "--help")
	}
	words := map[string]bool{}
	for _, c := range cmds {
		words[strings.Fields(c.name)[0]] = true
	}
	i := commandWord(args, words)
	if i < 0 {
		if wantsHelp(args) {
			fmt.Fprint(m.Stdout, m.usage())
			return nil
		}
		if w := firstWord(args); w != "" {
			return fmt.Errorf("unknown command %q (run 'scimsso help')", w)
		}
		return errors.New("no command given (run 'scimsso help')")
	}
	lead, name, rest := args[:i], args[i], args[i+1:]
	subs := map[string]bool{}
	var group []command
	for _, c := range cmds {
		if first, sub, ok := strings.Cut(c.name, " "); ok && first == name {
			subs[sub] = true
			group = append(group, c)
		}
	}
	bare := slices.ContainsFunc(cmds, func(c command) bool { return c.name == name })
	if len(group) > 0 {
		j := commandWord(rest, subs)
		if j < 0 && bare {
			// "setup-link --tenant acme" is the command itself; "setup-link list" one of its group.
			group = nil
		} else if j < 0 {
			if wantsHelp(rest) {
				for _, c := range group {
					fmt.Fprintf(m.Stdout, "%s    %s\n", wrapUsage("usage: scimsso "+c.name, c.synopsis, "    "), c.summary)
				}
				fmt.Fprintf(m.Stdout, "\n'scimsso %s SUBCOMMAND --help' lists its flags.\n", name)
				return nil
			}
			names := make([]string, 0, len(subs))
			for n := range subs {
				names = append(names, n)
			}
			want := strings.Join(sortStrings(names), ", ")
			if w := firstWord(rest); w != "" {
				return fmt.Errorf("%s: unknown subcommand %q (want one of %s)", name, w, want)
			}
			return fmt.Errorf("%s: want a subcommand: one of %s ('scimsso %s --help' shows them)", name, want, name)
		}
		if group != nil {
			lead = append(lead[:len(lead):len(lead)], rest[:j]...)
			name, rest = name+" "+rest[j], rest[j+1:]
		}
	}
	for _, c := range cmds {
		if c.name == name {
			err := c.run(ctx, append(lead[:len(lead):len(lead)], rest...))
			if errors.Is(err, errHelpShown) {
				return nil
			}
			return err
		}
	}
	return fmt.Errorf("unknown command %q (run 'scimsso help')", name)
}

// commandWord returns the index in args of the command word (one of words), or -1. Flags' values
// are not known here (the command's flag set is), so a word right after a flag without "=value" may
// be that flag's value ("--name demo tenant create"): then a later word is taken if it follows no
// such flag and only flags and their values come between; an argument that is neither ends the
// search, since arguments follow the command ("--hidden team add --tenant acme demo").
func commandWord(args []string, words map[string]bool) int {
	first := -1
	for i, a := range args {
		afterFlag := i > 0 && bareFlag(args[i-1])
		switch {
		case a == "--":
			return first
		case words[a] && !afterFlag:
			return i
		case words[a] && first < 0:
			first = i
		case !words[a] && !strings.HasPrefix(a, "-") && !afterFlag && first >= 0:
			return first
		}
	}
	return first
}

// wrapUsage writes head and the synopsis on lines of at most 100 characters, breaking only between
// bracketed groups, the lines after the first indented by indent.
func wrapUsage(head, synopsis, indent string) string {
	var b strings.Builder
	line := head
	depth, start := 0, 0
	var parts []string
	for i, r := range synopsis {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ' ':
			if depth == 0 {
				parts = append(parts, synopsis[start:i])
				start = i + 1
			}
		}
	}
	if synopsis != "" {
		parts = append(parts, synopsis[start:])
	}
	for _, p := range parts {
		if len(line)+1+len(p) > 100 {
			b.WriteString(line + "\n")
			line = indent + p
		} else {
			line += " " + p
		}
	}
	b.WriteString(line + "\n")
	return b.String()
}

// bareFlag reports whether a is a flag without "=value", which may take the next argument as its value.
func bareFlag(a string) bool {
	return len(a) > 1 && a[0] == '-' && a != "--" && !strings.Contains(a, "=")
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// firstWord returns the first argument that is not a flag, for error messages.
func firstWord(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// oneLine keeps an error message on one line, as the exit contract promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
