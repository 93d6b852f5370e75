package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/webhooks"
)

// The OpenID provider's operator commands: clients (the platform's applications) and key rotation.

// clientAdd registers a client: client_id=… on stdout and, for a confidential client, client_secret=…
// (shown only this once; only its hash is stored), one a line, so that a script can read them.
func (m *Main) clientAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client add", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	var redirects, logouts multiFlag
	fs.Var(&redirects, "redirect-uri", "redirect URI, compared exactly (repeatable; https, or http for localhost)")
	fs.Var(&logouts, "post-logout-redirect-uri", "where logout may return the browser (repeatable)")
	public := fs.Bool("public", false, "a public client (single-page or native app): no secret, PKCE S256 required")
	alg := fs.String("id-token-alg", store.AlgRS256, "the algorithm that signs the client's ID tokens (its id_token_signed_response_alg): RS256 or ES256")
	backchannel := fs.String("backchannel-logout-uri", "", "where a logout token is POSTed when a session of the client ends (OpenID Connect Back-Channel Logout; https)")
	// The rule of webhook URLs: http, and loopback hosts, only where the server allows loopback
	// receivers. The same flag (and SCIMSSO_ variable) as serve's, so that one setting serves both.
	var loopback bool
	registerLoopback(fs, &loopback)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("client add", pos, 1, "NAME"); err != nil {
		return err
	}
	c, secret, err := newOIDCClient(store.OIDCClientSpec{Name: pos[0], RedirectURIs: redirects, PostLogoutRedirectURIs: logouts,
		Public: *public, IDTokenAlg: *alg, BackchannelLogoutURI: *backchannel}, loopback)
	if err != nil {
		return fmt.Errorf("client add: %s%w", clientFlag(err), err)
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	if err := s.CreateOIDCClient(ctx, c); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "client_id=%s\n", c.ID)
	kind := "public (PKCE S256 required)"
	if secret != "" {
		fmt.Fprintf(m.Stdout, "client_secret=%s\n", secret)
		kind = "confidential; the secret is shown only once"
	}
	fmt.Fprintf(m.Stderr, "registered client %q, %s\n", c.Name, kind)
	return nil
}

// newOIDCClient checks spec and makes the client (openid.NewClient), its back-channel logout URI by
// the webhook URL rule with loopback as serve's --allow-http-loopback-webhooks: client add and the
// management API both register clients through it.
func newOIDCClient(spec store.OIDCClientSpec, loopback bool) (*store.OIDCClient, string, error) {
	return openid.NewClient(spec, func(u string) error { return webhooks.CheckURL(u, loopback) })
}

// newOIDCClient is the management API's newOIDCClient, with the loopback flag serve was given.
func (m *Main) newOIDCClient(spec store.OIDCClientSpec) (*store.OIDCClient, string, error) {
	return newOIDCClient(spec, m.loopbackHooks)
}

// clientFlag is the flag, with ": ", of the field openid.NewClient refused, "" for the NAME.
func clientFlag(err error) string {
	var r *store.Refusal
	if !errors.As(err, &r) {
		return ""
	}
	switch r.Field {
	case "redirect_uris":
		return "--redirect-uri: "
	case "post_logout_redirect_uris":
		return "--post-logout-redirect-uri: "
	case "id_token_alg":
		return "--id-token-alg: "
	case "backchannel_logout_uri":
		return "--backchannel-logout-uri: "
	}
	return ""
}

// clientList lists the clients; never a secret or its hash.
func (m *Main) clientList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client list", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("client list", pos, 0, "no arguments"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	cs, err := s.ListOIDCClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tID TOKEN\tCREATED\tREDIRECT URIS\tPOST-LOGOUT URIS\tBACK-CHANNEL LOGOUT URI")
	for _, c := range cs {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		alg := c.IDTokenAlg
		if alg == "" {
			alg = store.AlgRS256
		}
		bc := c.BackchannelLogoutURI
		if bc == "" {
			bc = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, alg, c.CreatedAt.Format(time.RFC3339),
			strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "), bc)
	}
	return tw.Flush()
}

// clientRemove removes a client; its tokens stop working at once.
func (m *Main) clientRemove(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client remove", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("client remove", pos, 1, "ID"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	if err := s.DeleteOIDCClient(ctx, pos[0]); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("unknown client %q", pos[0])
	} else if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "removed client %s\n", pos[0])
	return nil
}

// oidcRotateKey makes new signing keys sign from now on; the old ones stay published for a day.
func (m *Main) oidcRotateKey(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("oidc rotate-key", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("oidc rotate-key", pos, 0, "no arguments"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	keys, err := openid.RotateKeys(ctx, s)
	if err != nil {
		return err
	}
	for _, k := range keys {
		fmt.Fprintf(m.Stdout, "new %s signing key %s\n", k.Algorithm, k.ID)
	}
	fmt.Fprintf(m.Stderr, "the new keys sign within seconds on every replica; the keys they replace stay in the key set for %s\n",
		shortDuration(openid.KeyOverlap.String()))
	return nil
}
