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

// The platform API's keys: held by the platform's own application, not by a tenant, so these
// commands take no --tenant.

// apikeyCreate makes a key: the key alone on stdout (shown only this once; only its hash is stored),
// so that KEY=$(scimsso apikey create …) works, and its id on stderr.
func (m *Main) apikeyCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	name := fs.String("name", "", "label, e.g. billing-sync (required)")
	var scopes multiFlag
	fs.Var(&scopes, "scope", "what the key may do, comma-separated or repeated: "+strings.Join(store.APIKeyScopes, ", ")+" (required)")
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("apikey create", pos, 0, "no arguments"); err != nil {
		return err
	}
	label := strings.TrimSpace(*name)
	if err := store.CheckName("apikey create: --name", label); err != nil {
		return err
	}
	if len(scopes) == 0 {
		return fmt.Errorf("apikey create: --scope is required: one or more of %s", strings.Join(store.APIKeyScopes, ", "))
	}
	granted, err := store.ParseScopes(scopes...)
	if err != nil {
		return fmt.Errorf("apikey create: --scope: %w", err)
	}
	key, hash, err := store.NewSecret(store.APIKeyPrefix)
	if err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	k := &store.APIKey{Name: label, Scopes: granted, Hash: hash}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, key)
	fmt.Fprintf(m.Stderr, "created API key %s (%s) with scopes %s; it is shown only once\n", k.ID, k.Name, strings.Join(k.Scopes, ","))
	return nil
}

// apikeyList lists the keys; never a key or its hash.
func (m *Main) apikeyList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("apikey list", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("apikey list", pos, 0, "no arguments"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	ks, err := s.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tSTATUS")
	for _, k := range ks {
		status := "live"
		if !k.Live() {
			status = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}

// apikeyRevoke revokes a key; it stops working at once, on every replica.
func (m *Main) apikeyRevoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("apikey revoke", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("apikey revoke", pos, 1, "the key's ID"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	if err := s.RevokeAPIKey(ctx, pos[0]); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no live API key %q ('scimsso apikey list' shows them)", pos[0])
	} else if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "revoked API key %s\n", pos[0])
	return nil
}
