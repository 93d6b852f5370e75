package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/internal/ticker"
	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/platformapi"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/scimserver"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// serveConfig is everything serve needs, checked by validate before anything opens.
type serveConfig struct {
	addr            string
	baseURL         string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	sweepEvery      time.Duration
	db              dbFlags
	trustedProxies  string // comma-separated CIDRs or addresses, as clientaddr.Parse reads them
	metricsAddr     string // "" or "off" serves no metrics
	forwardHosts    string // comma-separated hosts of forward authentication, as people.ParseForwardAuthHosts reads them
	loopbackHooks   bool   // --allow-http-loopback-webhooks
	deliver         bool   // --deliver: this process delivers events (webhooks, back-channel logout)
	metadataRefresh time.Duration
	loopbackMeta    bool // --allow-http-loopback-metadata
}

func (c *serveConfig) validate() error {
	_, proxiesErr := clientaddr.Parse(c.trustedProxies)
	_, keyErr := c.db.keyring()
	_, forwardErr := people.ParseForwardAuthHosts(c.forwardHosts, c.baseURL)
	checks := []struct {
		ok  bool
		msg string
	}{
		{c.addr != "", "--addr is required"},
		{validBaseURL(c.baseURL), fmt.Sprintf("--base-url %q must be an absolute http(s) URL without query or fragment", c.baseURL)},
		{c.logFormat == "json" || c.logFormat == "console", "--log-format must be json or console"},
		{validLevel(c.logLevel), "--log-level must be debug, info, warn or error"},
		{c.shutdownTimeout > 0, "--shutdown-timeout must be positive"},
		{c.sweepEvery > 0, "--sweep-every must be positive"},
		{c.metadataRefresh == 0 || c.metadataRefresh >= time.Minute, "--metadata-refresh must be at least 1m (0: never)"},
		{c.db.sync == sqlstore.SyncNormal || c.db.sync == sqlstore.SyncFull, "--sqlite-synchronous must be normal or full"},
		{proxiesErr == nil, fmt.Sprintf("--trusted-proxies: %v", proxiesErr)},
		{metricsOff(c.metricsAddr) || validHostPort(c.metricsAddr), fmt.Sprintf("--metrics-addr %q must be host:port, or off (or empty) to serve no metrics", c.metricsAddr)},
		{metricsOff(c.metricsAddr) || c.metricsAddr != c.addr || strings.HasSuffix(c.addr, ":0"), "--metrics-addr must differ from --addr: metrics are not for the public listener"},
		{keyErr == nil, fmt.Sprint(keyErr)},
		{forwardErr == nil, fmt.Sprintf("--forward-auth-hosts: %v", forwardErr)},
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New(ch.msg)
		}
	}
	return nil
}

func validBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == ""
}

// metricsOff reports whether --metrics-addr asks for no metrics: empty, or "off", which the environment
// can say too (an empty SCIMSSO_METRICS_ADDR counts as unset).
func metricsOff(addr string) bool { return addr == "" || addr == "off" }

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != ""
}

func validLevel(s string) bool {
	_, err := zapcore.ParseLevel(s)
	return err == nil
}

// serve starts the server and returns once it listens, like wtf's Main.Run: Wait blocks until it is
// told to stop (or a listener fails), and Close finishes the requests in flight and stops it. Tests
// that need no process of their own run it in-process (TestServeInProcess).
func (m *Main) serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c serveConfig
	c.db.register(fs)
	fs.StringVar(&c.addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.baseURL, "base-url", "http://localhost:8080", "public base URL (SCIM Location, SAML entity IDs)")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	fs.DurationVar(&c.sweepEvery, "sweep-every", time.Minute, "how often expired sign-in state is deleted")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For is believed (default: none)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", defaultMetricsAddr, "listen address of /metrics, apart from --addr (off or empty: no metrics)")
	registerLoopback(fs, &c.loopbackHooks)
	fs.BoolVar(&c.deliver, "deliver", true, "deliver events to webhooks and back-channel logout URIs from this process; false: another serve on the same store must (see README, Delivering from another process)")
	fs.DurationVar(&c.metadataRefresh, "metadata-refresh", samlsp.DefaultRefreshInterval, "how often IdP metadata given by URL is fetched again, by one replica at a time (0: never)")
	registerMetadataLoopback(fs, &c.loopbackMeta)
	fs.StringVar(&c.forwardHosts, "forward-auth-hosts", "", "comma-separated hosts (host or host:port, BASE's host name) that GET /auth/verify may send a person back to after signing in (default: none)")
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("serve", pos, 0, "no arguments"); err != nil {
		return err
	}
	c.baseURL = strings.TrimRight(c.baseURL, "/")
	if err := c.validate(); err != nil {
		return err
	}
	log, err := m.buildLogger(c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	c.db.log = log.Named("store")
	s, err := m.openStore(ctx, c.db)
	if err != nil {
		return err
	}
	gcPercent, memLimit := tuneGC(m.Getenv)
	if m.proxies, err = clientaddr.Parse(c.trustedProxies); err != nil {
		return err
	}
	m.proxies.Untrusted = func(peer netip.Addr) {
		log.Warn("a request came with X-Forwarded-For from a peer that is not a trusted proxy: if scimsso is behind a proxy, "+
			"set --trusted-proxies, or every client shares the proxy's address in every limit", zap.Stringer("peer", peer))
	}
	m.forwardHosts, _ = people.ParseForwardAuthHosts(c.forwardHosts, c.baseURL) // checked by validate
	m.loopbackHooks = c.loopbackHooks
	m.loopbackMeta, m.metadataEvery = c.loopbackMeta, c.metadataRefresh
	if !metricsOff(c.metricsAddr) {
		m.metrics = metrics.New()
	}
	h, err := m.buildHandler(s, log, c.baseURL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	msrv, mln, err := listenMetrics(c.metricsAddr, m.metrics, log)
	if err != nil {
		ln.Close()
		return err
	}
	// After both listens, so a serve that fails to start prints its one error line and nothing else.
	if err := logAtRest(ctx, s, c.db, log); err != nil {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
		return err
	}
	if err := m.startWebhooks(ctx, s, log, c.loopbackHooks, c.deliver); err != nil {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
		return err
	}
	metricsAt := ""
	m.httpAddr = ln.Addr()
	if mln != nil {
		metricsAt = mln.Addr().String()
		m.metricsAddr = mln.Addr()
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("base_url", c.baseURL),
		zap.String("metrics_addr", metricsAt), zap.Stringers("trusted_proxies", m.proxies.Trusted()), zap.Strings("forward_auth_hosts", m.forwardHosts),
		zap.String("db", dbName(c.db.db)), zap.String("sqlite_synchronous", c.db.sync),
		zap.Int("gogc", gcPercent), zap.Int64("gomemlimit_bytes", memLimit))

	// The background work writes to the store: shutdown stops it and waits for it before the store
	// closes, so that what it was writing (a refresh's outcome, a meter's counts) is written.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var background sync.WaitGroup
	background.Go(func() { sweep(sweepCtx, s, c.sweepEvery, log.Named("sweep")) })
	background.Go(func() { m.refusals.Run(sweepCtx, store.RefusalFlushInterval) })
	if refresh := metadataRefreshLoop(m.refresher, log.Named("metadata"), c.metadataRefresh, c.loopbackMeta); refresh != nil {
		background.Go(func() { refresh(sweepCtx) })
	}
	stopBackground := func() {
		stopSweep()
		done := make(chan struct{})
		go func() { background.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(backgroundStop):
			// A write stuck on a database that stopped answering: shutdown goes on without it.
			log.Warn("shutting down: background work still running", zap.Duration("waited", backgroundStop))
		}
	}

	// Serve returns http.ErrServerClosed once Close shut it down: only another error is a failure.
	m.serveErr = make(chan error, 2)
	serveOn := func(srv *http.Server, ln net.Listener) {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.serveErr <- err
		}
	}
	go serveOn(srv, ln)
	if msrv != nil {
		go serveOn(msrv, mln)
	}
	// Registered after the store, so it runs before the store closes: the requests in flight finish
	// with their store.
	m.onClose(func() error {
		if msrv != nil {
			defer msrv.Close()
		}
		log.Info("shutting down: finishing in-flight requests", zap.Duration("timeout", c.shutdownTimeout))
		sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		stopBackground()
		// What the last requests counted past the sign-in log's cap, before the store closes.
		m.refusals.Flush(sctx)
		if err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		log.Info("stopped")
		// Syncing stderr fails with EINVAL on pipes and terminals; that is not a failed shutdown.
		_ = log.Sync()
		return nil
	})
	return nil
}

// backgroundStop bounds how long shutdown waits for the background work (sweep, sign-in meter,
// metadata refresh) to finish its last write once stopped.
const backgroundStop = 15 * time.Second

// Wait blocks until ctx is done or a listener that Run started fails, whose error it returns. After a
// command that serves nothing it returns nil at once. Close stops what Run started.
func (m *Main) Wait(ctx context.Context) error {
	if m.serveErr == nil {
		return nil
	}
	select {
	case err := <-m.serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		return nil
	}
}

// Defaults for the garbage collector when GOGC / GOMEMLIMIT are not set. Requests allocate much
// short-lived garbage over a small live heap, so the default GOGC=100 collects every few requests;
// 400 with a soft 1 GiB ceiling measured 2,200 → 2,550 SCIM creates/s on two cores.
const (
	defaultGOGC       = 400
	defaultGOMEMLIMIT = 1 << 30
)

// tuneGC applies the defaults unless the environment sets GOGC or GOMEMLIMIT, which always win.
func tuneGC(getenv func(string) string) (gcPercent int, memLimit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultGOMEMLIMIT)
	}
	gcPercent = debug.SetGCPercent(-1)
	debug.SetGCPercent(gcPercent)
	return gcPercent, debug.SetMemoryLimit(-1)
}

// buildLogger makes the one zap logger the server uses; everything below gets it injected.
func (m *Main) buildLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder = zapcore.NewJSONEncoder(encCfg)
	if format == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(m.Stderr), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.AddSync(m.Stderr))), nil
}

// buildHandler mounts every route with the middleware owned by cmd: request id, access log, recovery.
// What it serves is counted in m.metrics (nil: nothing is counted).
func (m *Main) buildHandler(s store.Store, log *zap.Logger, baseURL string) (http.Handler, error) {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := s.Ping(ctx); err != nil {
			log.Warn("not ready", zap.Error(err), zap.String("request_id", requestid.From(req.Context())))
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "store unreachable")
			return
		}
		fmt.Fprintln(w, "ready")
	}).Methods(http.MethodGet, http.MethodHead)

	// /metrics is not on this router: it has a listener of its own (listenMetrics).
	r.Use(nameRoute)

	scim, err := scimserver.New(scimserver.Config{Store: s, Logger: log.Named("scim"), BaseURL: baseURL, Now: m.Now, Metrics: m.metrics})
	if err != nil {
		return nil, err
	}
	scim.Routes(r)
	// The SAML service provider and the people's web never import each other: the ACS hands a verified
	// sign-in to the session starter, and the email-first page hands a person to the SP's sign-in.
	sessions, err := people.NewSessions(people.SessionsConfig{Store: s, BaseURL: baseURL, Now: m.Now})
	if err != nil {
		return nil, err
	}
	m.refusals = store.NewSignInMeter(s, m.Now)
	sp, err := samlsp.New(samlsp.Config{Store: s, Logger: log.Named("saml"), BaseURL: baseURL, Now: m.Now, Sessions: sessions, Metrics: m.metrics,
		Refusals: m.refusals})
	if err != nil {
		return nil, err
	}
	sp.Routes(r)
	web, err := people.New(people.Config{Store: s, Logger: log.Named("people"), BaseURL: baseURL, Now: m.Now, Sessions: sessions, SSO: sp,
		ForwardAuthHosts: m.forwardHosts, Metrics: m.metrics, Refusals: m.refusals})
	if err != nil {
		return nil, err
	}
	web.Routes(r)
	// One refresher of IdP metadata for the console's "Refresh now" and serve's schedule (Run starts
	// it), so both fetch by the same rule.
	if m.refresher, err = newMetadataRefresher(s, log.Named("metadata"), m.metadataEvery, m.loopbackMeta, m.Now); err != nil {
		return nil, err
	}
	admin, err := m.newConsole(s, log.Named("console"), baseURL, web, sp, m.refresher)
	if err != nil {
		return nil, err
	}
	admin.Routes(r)
	op, err := openid.New(openid.Config{Store: s, Logger: log.Named("oidc"), BaseURL: baseURL, Now: m.Now, Session: web.SessionOf, ForgetSession: sessions.Forget})
	if err != nil {
		return nil, err
	}
	op.Routes(r)
	m.logoutToken = op.LogoutToken
	// The management API fetches IdP metadata as the operator's CLI does, under serve's own
	// --allow-http-loopback-metadata (a manage key is the operator's, not a tenant admin's), and
	// refreshes through the one refresher the console and the schedule use.
	api, err := platformapi.New(platformapi.Config{Store: s, Logger: log.Named("api"), Metrics: m.metrics, BaseURL: baseURL, Now: m.Now,
		NewSPKeyPair: m.spKeyPair, NewOIDCClient: m.newOIDCClient, ParseIdPMetadata: parseIdPMetadata, AllowHTTPLoopback: m.loopbackHooks,
		MetadataPolicy: metadataPolicy(m.loopbackMeta), RefreshMetadata: m.refresher, Resend: apiResend(s),
		NewTestLink: func(ctx context.Context, t *store.Tenant, expires time.Time) (string, error) {
			return samlsp.NewTestLink(ctx, s, baseURL, t, expires)
		},
		RotateOIDCKeys: func(ctx context.Context) ([]store.OIDCKey, error) { return openid.RotateKeys(ctx, s) },
		HashPassword:   people.HashPassword})
	if err != nil {
		return nil, err
	}
	api.Routes(r)
	proxies := m.proxies
	if proxies == nil {
		proxies = &clientaddr.Resolver{}
	}
	routeLibraryLogs()
	return noSniff(withRequestID(proxies.Middleware(accessLog(log.Named("access"), m.metrics,
		recoverPanics(log.Named("panic"), withLibraryLog(log.Named("oidc"), r)))))), nil
}

// apiResend is the management API's resend: a job in the store's database, as `webhook deliveries
// --resend` enqueues it, which this server's delivery (or any replica's) takes.
func apiResend(s store.Store) func(ctx context.Context, id, eventID string) error {
	return func(ctx context.Context, id, eventID string) error {
		ss, ok := s.(*sqlstore.Store)
		if !ok {
			return errors.New("cmd: resending needs the SQL store's job queue")
		}
		return resendEvent(ctx, ss, id, eventID)
	}
}

// defaultMetricsAddr keeps the metrics on loopback unless the operator says otherwise: request counts,
// latencies and the process's memory are for the operator's monitoring, not for every client.
const defaultMetricsAddr = "127.0.0.1:9090"

// listenMetrics opens the listener of --metrics-addr and the server of GET /metrics on it, apart from
// the public router so that no proxy rule is needed to keep it private. Metrics carry no tenant or
// user (see internal/metrics). With metricsOff(addr) it serves none: nil, nil, nil. A listener beyond
// loopback is the operator's explicit choice, and logged as a warning.
func listenMetrics(addr string, mx *metrics.Metrics, log *zap.Logger) (*http.Server, net.Listener, error) {
	if metricsOff(addr) {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s (--metrics-addr): %w", addr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		log.Warn("metrics are served beyond loopback: keep --metrics-addr off the public network", zap.Stringer("metrics_addr", ln.Addr()))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", mx.Handler())
	return &http.Server{
		Handler:           noSniff(mux),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      60 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("metrics")),
	}, ln, nil
}

func sweep(ctx context.Context, s store.Store, every time.Duration, log *zap.Logger) {
	ticker.Every(ctx, every, func(ctx context.Context) {
		n, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("sweep failed", zap.Error(err))
		} else if n > 0 {
			log.Debug("swept expired rows", zap.Int64("rows", n))
		}
	})
}
