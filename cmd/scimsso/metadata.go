package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
)

// metadataLoopbackFlag is --allow-http-loopback-metadata, on serve (the periodic refresh), sso set
// and sso refresh-metadata: IdP metadata may then be fetched from this machine over http, for a test
// IdP beside scimsso. Without it, metadata URLs are https to public addresses only (safefetch).
const metadataLoopbackFlag = "allow-http-loopback-metadata"

func registerMetadataLoopback(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, metadataLoopbackFlag, false, "allow IdP metadata URLs on loopback addresses, over http too, for an IdP on this machine; otherwise https to public addresses only")
}

// metadataPolicy is where IdP metadata may be fetched from.
func metadataPolicy(allowLoopback bool) safefetch.Policy {
	return safefetch.Policy{AllowHTTPLoopback: allowLoopback, LoopbackSetting: "--" + metadataLoopbackFlag}
}

// fetchMetadata downloads IdP metadata once, through safefetch: https to a public address (loopback
// only with the setting), redirects re-checked, at most 1 MiB, within 15 s.
func fetchMetadata(ctx context.Context, raw string, allowLoopback bool) ([]byte, error) {
	return safefetch.NewFetcher(metadataPolicy(allowLoopback)).Get(ctx, raw)
}

// newMetadataRefresher builds the refresher of IdP metadata given by URL: fetching by the loopback
// rule of --allow-http-loopback-metadata, each tenant again every interval (0: the default).
func newMetadataRefresher(s store.Store, log *zap.Logger, interval time.Duration, loopback bool, now func() time.Time) (*samlsp.Refresher, error) {
	return samlsp.NewRefresher(samlsp.RefresherConfig{Store: s, Logger: log, Policy: metadataPolicy(loopback), Interval: interval, Now: now})
}

// metadataRefreshLoop returns what runs r, the periodic refresh of IdP metadata given by URL (and
// the watch on expiring IdP certificates), until its ctx ends, for the caller to run and wait for;
// every replica runs one and the store's claim lets one fetch each tenant. An interval of 0 runs
// none (nil).
func metadataRefreshLoop(r *samlsp.Refresher, log *zap.Logger, interval time.Duration, loopback bool) func(context.Context) {
	if interval == 0 {
		log.Warn("IdP metadata is not refreshed (--metadata-refresh 0): a rolled-over IdP key stops sign-in until sso set is run again")
		return nil
	}
	if loopback {
		log.Warn("IdP metadata may be fetched from loopback addresses over http (--" + metadataLoopbackFlag + "): for an IdP on this machine only")
	}
	// Due tenants are looked for every few minutes; each is fetched once per interval.
	return func(ctx context.Context) { r.Run(ctx, min(interval, 5*time.Minute)) }
}

// ssoRefreshMetadata fetches a tenant's IdP metadata from its URL now, as the periodic refresh does.
func (m *Main) ssoRefreshMetadata(ctx context.Context, args []string) error {
	var loopback bool
	return m.runTenantCommand(ctx, tenantCommand{
		name: "sso refresh-metadata", args: "no arguments",
		flags: func(fs *flag.FlagSet) { registerMetadataLoopback(fs, &loopback) },
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			r, err := newMetadataRefresher(st, zap.NewNop(), 0, loopback, m.Now)
			if err != nil {
				return err
			}
			res, err := r.RefreshMetadata(ctx, t.ID)
			if res != nil { // nil when the refresh failed before it began
				for _, fp := range res.Announced {
					fmt.Fprintf(m.Stderr, "warning: IdP certificate sha256 %s expires within 30 days (sso.certificate_expiring recorded)\n", fp)
				}
			}
			if errors.Is(err, store.ErrNoMetadataURL) {
				return fmt.Errorf("tenant %q: its IdP metadata was not given by URL (sso set --metadata-url)", t.Slug)
			}
			if err != nil {
				return fmt.Errorf("tenant %q: %v; nothing changed", t.Slug, err)
			}
			fmt.Fprintf(m.Stdout, "refreshed IdP metadata of tenant %s: %s\n", t.Slug, res.Summary())
			return nil
		},
	}, args)
}
