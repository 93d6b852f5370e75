// Command scimload provisions users into a running scimsso server the way
// Okta does, at a chosen concurrency, and prints each phase's throughput and
// latency, plus the server's CPU per operation and its RSS when given the
// server's pid.
//
// Usage:
//
//	go run ./cmd/scimload -base http://127.0.0.1:8080/scim/v2/acme -token "$TOKEN" -c 8 -n 20000 -pid $(pgrep -f 'scimsso serve')
//
// The tenant must own -domain (default example.com). The token may come from
// SCIMLOAD_TOKEN instead of -token, the OIDC client's secret from
// SCIMLOAD_CLIENT_SECRET instead of -client-secret; neither is ever printed.
//
// With -webhook-listen ADDR the tool also receives the server's webhook deliveries there (a webhook
// added with scimsso webhook add --url http://ADDR/… --allow-http-loopback-webhooks, its secret in
// SCIMLOAD_WEBHOOK_SECRET): after the phases it waits until deliveries stop for 3 s and prints the
// row webhook-lag, the time from each event's occurred_at to its first arrival (requests: events,
// not_ok: deliveries whose signature did not verify). With -webhook-tls CERT,KEY it serves https
// (HTTP/2 or HTTP/1.1, as the client asks) with that certificate, for a webhook added with
// --url https://ADDR/… and a server that trusts it (SSL_CERT_FILE=CERT).
//
// First one GET /Users?startIndex=1&count=2 (Okta's "test connection")
// checks that the server answers and takes the token. Then the phases named
// by -phases run in this order, each with -c workers over one shared queue
// and a keep-alive HTTP/1.1 connection per worker:
//
//	create  for each of -n users, Okta's existence check
//	        GET /Users?filter=userName%20eq%20%22NAME%22&startIndex=1&count=100
//	        (must be 200 with totalResults 0), reported as phase "exists",
//	        then POST /Users with Okta's create body plus
//	        addresses [{"type":"work","country":"US"}] (must be 201 with an id),
//	        reported as phase "create".
//	filter  -k lookups of random users, alternating filter=userName eq "…"
//	        and filter=externalId eq "…" (must be 200 with totalResults 1).
//	patch   -m PATCHes of random users, alternating Okta's no-path
//	        {"op":"replace","value":{"active":false}} and Entra's
//	        {"op":"Replace","path":"emails[type eq \"work\"].value",...} with a
//	        new address in -domain (must be 200 or 204).
//	signin  -s unsolicited SAML sign-ins of random users (POST to the ACS,
//	        must be 303); needs -idp.
//	verify  -v GET /auth/verify with a session cookie, as a proxy doing
//	        forward authentication asks (must be 204); -c users are signed
//	        in first, untimed, one session per worker; needs -idp.
//	oidc    -o OpenID Connect round trips of a signed-in person: each worker
//	        first signs in one user as signin does (untimed) and keeps its
//	        session cookie, then GET /oidc/authorize?response_type=code&…
//	        with it (must be 302 to -redirect-uri with a code and the state),
//	        reported as "authz", and POST /oidc/token with the code
//	        (client_secret_basic; must be 200 with an access and an ID token),
//	        reported as "token"; the row "oidc" is the two together. The
//	        client is one registered with scimsso client add --redirect-uri
//	        (-client-id, -client-secret or SCIMLOAD_CLIENT_SECRET).
//	events  the platform API's event log read as an application keeping a
//	        copy in sync reads it: each of -c workers pages from seq 0 with
//	        GET /api/v1/events?after=SEQ&limit=500 and the API key (-api-key
//	        or SCIMLOAD_API_KEY, scope events:read; never printed), from each
//	        next_after, until a page is empty or it has read -e events. The
//	        row counts pages (each must be 200, in seq order, and end at its
//	        next_after); the line under it the events read and events/s over
//	        the phase's wall time, every reader's together.
//
// User i (0 <= i < n) has userName PREFIX-i@DOMAIN and externalId 00uPREFIXi.
// -prefix defaults to a random 6-character string, so runs against one server
// do not collide; the run's prefix is printed first.
//
// -seed-only drops the existence checks and, unless -phases is given too,
// runs only create: it grows a store quickly, e.g. to 100,000 users with
// -n 100000. filter and patch without create in the same run use users
// 0..n-1 of an earlier run: pass that run's -prefix and -n (patch first finds
// their ids with untimed userName filters).
//
// Output, one row per phase (or JSON lines with -json): requests, ok,
// not_ok, ok/s over the phase's wall time, and p50/p90/p99/max latency in
// ms of the ok requests. Each phase with failures lists up to 3 samples
// (distinct status codes, short bodies). With -pid, also the server's CPU
// time (utime+stime from /proc/PID/stat at 100 ticks/s) over the phase
// divided by its operations, and VmRSS after the phase; the create row's CPU
// covers each user's existence check and POST together. A last line gives
// the server's RSS and peak RSS.
//
// Exit status: 0 when every request was ok; 1 when a request was not ok, the
// server was unreachable, the token was refused or the run was interrupted;
// 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is a parsed and checked command line.
type config struct {
	base      string   // SCIM base URL, no trailing slash: the first of bases
	bases     []string // one per replica; workers take them in turn
	token     string
	domain    string
	prefix    string
	prefixSet bool // -prefix was given: users of an earlier run may be used
	c         int
	n, k, m   int
	pids      []int // servers whose /proc to read (summed over replicas); none: do not
	phases    phaseSet
	seedOnly  bool
	s         int    // sign-ins
	v         int    // forward-auth verifications
	idpDir    string // the IdP's key and certificate
	spBase    string // the server's --base-url
	writeIdP  string // only write a new IdP here
	json      bool
	timeout   time.Duration
	o         int // OIDC round trips
	clientID  string
	// clientSecret is the OIDC client's secret; like the token, it is never printed.
	clientSecret string
	redirectURI  string
	e            int // events each reader reads at most
	// apiKey is the platform API key of the events phase; like the token, it is never printed.
	apiKey string
	// webhookListen is where a webhook receiver listens during the run (-webhook-listen); "": none.
	webhookListen string
	// webhookSecret verifies its deliveries (SCIMLOAD_WEBHOOK_SECRET); never printed.
	webhookSecret string
	// webhookTLS is the receiver's certificate and key files, "CERT,KEY" (-webhook-tls); "": http.
	webhookTLS string
}

// phaseSet says which phases run; they always run in the order create,
// filter, patch, signin, verify, oidc, events.
type phaseSet struct{ create, filter, patch, signin, verify, oidc, events bool }

// String lists the phases that run, in order, comma-separated.
func (p phaseSet) String() string {
	var names []string
	for _, ph := range []struct {
		on   bool
		name string
	}{{p.create, "create"}, {p.filter, "filter"}, {p.patch, "patch"}, {p.signin, "signin"}, {p.verify, "verify"}, {p.oidc, "oidc"}, {p.events, "events"}} {
		if ph.on {
			names = append(names, ph.name)
		}
	}
	return strings.Join(names, ",")
}

// errUsage reports a bad command line whose message was already written.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs the command and returns its exit status.
func realMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	if cfg.writeIdP != "" {
		if err := writeIdP(cfg.writeIdP, stdout); err != nil {
			fmt.Fprintf(stderr, "scimload: %v\n", err)
			return 1
		}
		return 0
	}
	if err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "scimload: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags parses and checks args. On a bad command line it writes the
// reason to stderr and returns an error wrapping errUsage (or flag.ErrHelp
// for -h).
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("scimload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.base, "base", "", "SCIM base URL of one tenant, e.g. http://127.0.0.1:8080/scim/v2/acme (required); comma-separated for replicas, which workers take in turn")
	fs.StringVar(&cfg.token, "token", "", "bearer token of that tenant (default $SCIMLOAD_TOKEN)")
	fs.StringVar(&cfg.domain, "domain", "example.com", "email `domain` the tenant owns")
	fs.IntVar(&cfg.c, "c", 8, "concurrency: workers, and keep-alive connections")
	fs.IntVar(&cfg.n, "n", 5000, "users to create (create phase); users of the earlier run when create does not run")
	fs.IntVar(&cfg.k, "k", 5000, "filtered lookups (filter phase)")
	fs.IntVar(&cfg.m, "m", 1000, "PATCHes (patch phase)")
	pids := fs.String("pid", "", "server `pid`s, comma-separated, to read CPU time and RSS from /proc, summed (optional)")
	fs.StringVar(&cfg.prefix, "prefix", "", "userName prefix (default: random 6 characters per run)")
	phases := fs.String("phases", "create,filter,patch", "comma-separated phases to run: create, filter, patch, signin, verify, oidc, events")
	fs.IntVar(&cfg.s, "s", 2000, "sign-ins (signin phase)")
	fs.IntVar(&cfg.v, "v", 20000, "GET /auth/verify requests (verify phase)")
	fs.IntVar(&cfg.o, "o", 5000, "round trips, authorize then token (oidc phase)")
	fs.StringVar(&cfg.clientID, "client-id", "", "client_id of an OIDC client (oidc phase; scimsso client add)")
	fs.StringVar(&cfg.clientSecret, "client-secret", "", "its client_secret (default $SCIMLOAD_CLIENT_SECRET)")
	fs.StringVar(&cfg.redirectURI, "redirect-uri", "", "a redirect URI the client registered (oidc phase)")
	fs.IntVar(&cfg.e, "e", 200000, "events each reader reads at most (events phase)")
	fs.StringVar(&cfg.apiKey, "api-key", "", "platform API key with the scope events:read (events phase; default $SCIMLOAD_API_KEY)")
	fs.StringVar(&cfg.idpDir, "idp", "", "`dir`ectory of the IdP key the tenant trusts (signin phase; make one with -write-idp)")
	writeIdP := fs.String("write-idp", "", "write a new IdP key, certificate and metadata.xml to `dir`, print the scimsso command that trusts it, and exit")
	fs.StringVar(&cfg.spBase, "sp-base", "", "the server's --base-url, for the Audience and Destination of sign-ins (default: scheme and host of -base)")
	fs.BoolVar(&cfg.seedOnly, "seed-only", false, "create without existence checks; only the create phase unless -phases is given")
	fs.BoolVar(&cfg.json, "json", false, "print JSON lines instead of a table")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "per-request timeout (Okta's is 60s)")
	fs.StringVar(&cfg.webhookListen, "webhook-listen", "", "run a webhook receiver on `addr` (host:port) during the phases, verifying signatures with $SCIMLOAD_WEBHOOK_SECRET, and report the delivery lag as the row webhook-lag")
	fs.StringVar(&cfg.webhookTLS, "webhook-tls", "", "serve -webhook-listen over https with the certificate and key in `cert,key` (PEM files)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	if *writeIdP != "" {
		cfg.writeIdP = *writeIdP
		return cfg, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	bad := func(format string, a ...any) (config, error) {
		fmt.Fprintf(stderr, "scimload: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run scimload -h for usage")
		return cfg, errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if cfg.token == "" {
		cfg.token = getenv("SCIMLOAD_TOKEN")
	}
	if cfg.clientSecret == "" {
		cfg.clientSecret = getenv("SCIMLOAD_CLIENT_SECRET")
	}
	if cfg.apiKey == "" {
		cfg.apiKey = getenv("SCIMLOAD_API_KEY")
	}
	cfg.webhookSecret = getenv("SCIMLOAD_WEBHOOK_SECRET")
	if cfg.webhookListen != "" && cfg.webhookSecret == "" {
		return bad("-webhook-listen needs the webhook's secret in SCIMLOAD_WEBHOOK_SECRET")
	}
	if cert, key, ok := strings.Cut(cfg.webhookTLS, ","); cfg.webhookTLS != "" && (!ok || cert == "" || key == "" || cfg.webhookListen == "") {
		return bad("-webhook-tls wants cert,key and -webhook-listen")
	}
	if cfg.seedOnly && !set["phases"] {
		*phases = "create"
	}
	for _, p := range strings.Split(*phases, ",") {
		switch strings.TrimSpace(p) {
		case "create":
			cfg.phases.create = true
		case "filter":
			cfg.phases.filter = true
		case "patch":
			cfg.phases.patch = true
		case "signin":
			cfg.phases.signin = true
		case "verify":
			cfg.phases.verify = true
		case "oidc":
			cfg.phases.oidc = true
		case "events":
			cfg.phases.events = true
		default:
			return bad("-phases: unknown phase %q (want create, filter, patch, signin, verify, oidc, events)", p)
		}
	}
	cfg.prefixSet = cfg.prefix != ""
	if !cfg.prefixSet {
		cfg.prefix = randomPrefix()
	}

	if cfg.base == "" {
		return bad("-base is required")
	}
	for _, b := range strings.Split(cfg.base, ",") {
		u, err := url.Parse(b)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return bad("-base %q: want an http or https URL", b)
		case u.RawQuery != "" || u.Fragment != "":
			return bad("-base %q: want no query or fragment", b)
		}
		cfg.bases = append(cfg.bases, strings.TrimRight(b, "/"))
	}
	cfg.base = cfg.bases[0]
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || pid <= 0 {
				return bad("-pid %q: want process ids", p)
			}
			cfg.pids = append(cfg.pids, pid)
		}
	}
	switch {
	case cfg.token == "":
		return bad("no token: pass -token or set SCIMLOAD_TOKEN")
	case !validDomain(cfg.domain):
		return bad("-domain %q: want a DNS name", cfg.domain)
	case !validPrefix(cfg.prefix):
		return bad("-prefix %q: want 1-40 of A-Z a-z 0-9 . _ - starting with a letter or digit", cfg.prefix)
	case cfg.c < 1:
		return bad("-c %d: want at least 1", cfg.c)
	case cfg.n < 0 || cfg.k < 0 || cfg.m < 0 || cfg.s < 0 || cfg.v < 0 || cfg.o < 0 || cfg.e < 0:
		return bad("-n, -k, -m, -s, -v, -o and -e must not be negative")
	case cfg.phases.events && cfg.apiKey == "":
		return bad("the events phase needs a platform API key: pass -api-key or set SCIMLOAD_API_KEY (scimsso apikey create --scope events:read)")
	case cfg.timeout <= 0:
		return bad("-timeout %v: want a positive duration", cfg.timeout)
	case (cfg.phases.filter && cfg.k > 0 || cfg.phases.patch && cfg.m > 0 || cfg.phases.signin && cfg.s > 0 || cfg.phases.verify || cfg.phases.oidc && cfg.o > 0) && cfg.n == 0:
		return bad("filter, patch, signin, verify and oidc need users: -n must be at least 1")
	case (cfg.phases.signin || cfg.phases.verify || cfg.phases.oidc) && cfg.idpDir == "":
		return bad("the signin, verify and oidc phases need -idp DIR (make one with -write-idp DIR and trust it with scimsso sso set)")
	case cfg.phases.oidc && (cfg.clientID == "" || cfg.clientSecret == "" || cfg.redirectURI == ""):
		return bad("%v", errNoClient)
	case (cfg.phases.filter || cfg.phases.patch || cfg.phases.signin || cfg.phases.verify || cfg.phases.oidc) && !cfg.phases.create && !cfg.prefixSet:
		return bad("filter, patch, signin, verify and oidc without create use an earlier run's users: pass its -prefix and -n")
	}
	if cfg.spBase == "" {
		u, _ := url.Parse(cfg.base)
		cfg.spBase = u.Scheme + "://" + u.Host
	}
	cfg.spBase = strings.TrimRight(cfg.spBase, "/")
	return cfg, nil
}

// randomPrefix returns 6 random lower-case letters and digits.
func randomPrefix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// validPrefix reports whether p makes a safe email local part and externalId
// (no quoting needed in a SCIM filter).
func validPrefix(p string) bool {
	if p == "" || len(p) > 40 || !isAlnum(p[0]) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validDomain reports whether d looks like a DNS name.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || d[0] == '.' || d[len(d)-1] == '.' || d[0] == '-' {
		return false
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
