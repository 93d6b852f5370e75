package main

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/console"
	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
)

// consoleTestLinkLifetime is how long the link a console's "Test sign-in" makes waits: the browser is
// sent to it at once.
const consoleTestLinkLifetime = 10 * time.Minute

// newConsole builds the tenant admin console on what serve built: the console imports neither the
// people's web nor the SAML service provider, so what it needs of them is handed to it as functions.
// Its "Refresh now" is refresher, serve's own: it fetches the stored metadata URL by serve's rule
// (--allow-http-loopback-metadata), as the schedule would when it is due; a URL entered in the
// console was fetched without loopback before it was stored (consoleFetch).
func (m *Main) newConsole(s store.Store, log *zap.Logger, baseURL string, web *people.Server, sp *samlsp.Server, refresher store.MetadataRefresher) (*console.Server, error) {
	return console.New(console.Config{
		Store: s, Logger: log, BaseURL: baseURL, Now: m.Now, Metrics: m.metrics,
		SignedIn: func(r *http.Request) (*store.Session, bool, error) {
			ses, _, stale, err := web.SessionOf(r)
			return ses, stale, err
		},
		ReauthURL: sp.ReauthURL,
		TestLink: func(ctx context.Context, t *store.Tenant) (string, error) {
			return samlsp.NewTestLink(ctx, s, baseURL, t, m.Now().Add(consoleTestLinkLifetime))
		},
		MetadataURL: sp.MetadataURL,
		ACSURL:      sp.ACSURL,
		ParseMetadata: func(b []byte) (*console.IdP, error) {
			idp, err := samlsp.ParseIdPMetadata(b)
			if err != nil {
				return nil, err
			}
			return &console.IdP{EntityID: idp.EntityID, SSOURL: idp.SSOURL, CertificatesPEM: idp.CertificatesPEM}, nil
		},
		FetchMetadata:   m.consoleFetch(),
		Refresher:       refresher,
		RefreshInterval: m.metadataEvery,
	})
}

// consoleFetch is how the console fetches the IdP metadata URL a tenant admin enters: one Fetcher for
// the server (its Transport pools connections), and never to loopback, whatever
// --allow-http-loopback-metadata says: that setting is the operator's, for URLs they give on the
// command line; from the console it would let any tenant admin make scimsso fetch from this machine.
func (m *Main) consoleFetch() func(ctx context.Context, url string) ([]byte, error) {
	f := safefetch.NewFetcher(safefetch.Policy{LoopbackSetting: "only the operator's sso set"})
	return f.Get
}
