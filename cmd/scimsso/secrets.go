package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store/sqlstore"
)

// secretsRotate re-encrypts every tenant's SP private key, every OpenID Connect signing key not yet
// retired, and every webhook's secret, under the first key of --secret-key-file: keys stored in clear (before a key file was
// configured) and keys under an older key id. It is a
// command rather than something serve does at start because replicas restart one at a time: one
// with the new key file must not re-encrypt under a key id the others cannot read yet. Run it once
// every replica has the new file; afterwards the older key may leave the file.
func (m *Main) secretsRotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("secrets rotate", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("secrets rotate", pos, 0, "no arguments"); err != nil {
		return err
	}
	if d.secretKeyFile == "" {
		return errors.New("secrets rotate: --secret-key-file is required")
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	rep, err := s.ResealSPKeys(ctx)
	if err != nil {
		return err
	}
	orep, err := s.ResealOIDCKeys(ctx)
	if err != nil {
		return err
	}
	wrep, err := s.ResealWebhookSecrets(ctx)
	if err != nil {
		return err
	}
	if len(rep.Unreadable) > 0 {
		return fmt.Errorf("secrets rotate: re-encrypted %d SP private keys, but %d could not be read and were left as they are: %s",
			rep.Resealed, len(rep.Unreadable), unreadable(rep))
	}
	// A retiring signing key only verifies until it leaves the key set: one that does not open needs no
	// fixing. A current one does: nothing can sign with it.
	if n := len(orep.Unreadable) - orep.UnreadableRetiring; n > 0 {
		return fmt.Errorf("secrets rotate: re-encrypted %d OIDC signing keys, but %d current ones could not be read and were left as they are: %s",
			orep.Resealed, n, unreadableOIDC(orep))
	}
	if n := len(wrep.Unreadable); n > 0 {
		return fmt.Errorf("secrets rotate: re-encrypted %d webhook secrets, but %d could not be read and were left as they are: %s",
			wrep.Resealed, n, unreadableWebhooks(wrep))
	}
	fmt.Fprintf(m.Stdout, "re-encrypted %d SP private keys; %d tenants' keys are under the current key\n", rep.Resealed, rep.Current)
	if orep.Current+orep.Stale()+len(orep.Unreadable) > 0 {
		fmt.Fprintf(m.Stdout, "re-encrypted %d OIDC signing keys; %d are under the current key\n", orep.Resealed, orep.Current)
	}
	if wrep.Current+wrep.Stale() > 0 {
		fmt.Fprintf(m.Stdout, "re-encrypted %d webhook secrets; %d are under the current key\n", wrep.Resealed, wrep.Current)
	}
	return nil
}

// unreadableWebhooks lists the webhooks whose secret does not open, with why, in id order.
func unreadableWebhooks(rep sqlstore.WebhookSecretReport) string {
	ids := make([]string, 0, len(rep.Unreadable))
	for id, err := range rep.Unreadable {
		ids = append(ids, id+" ("+err.Error()+")")
	}
	sort.Strings(ids)
	return strings.Join(ids, "; ")
}

// unreadableOIDC lists the signing keys that do not open, with why, in key id order.
func unreadableOIDC(rep sqlstore.OIDCKeyReport) string {
	ids := make([]string, 0, len(rep.Unreadable))
	for id, err := range rep.Unreadable {
		ids = append(ids, id+" ("+err.Error()+")")
	}
	sort.Strings(ids)
	return strings.Join(ids, "; ")
}

// unreadable lists the tenants whose SP key does not open, with why, in slug order.
func unreadable(rep sqlstore.SPKeyReport) string {
	slugs := unreadableSlugs(rep)
	for i, slug := range slugs {
		slugs[i] = slug + " (" + rep.Unreadable[slug].Error() + ")"
	}
	return strings.Join(slugs, "; ")
}

func unreadableSlugs(rep sqlstore.SPKeyReport) []string {
	slugs := make([]string, 0, len(rep.Unreadable))
	for slug := range rep.Unreadable {
		slugs = append(slugs, slug)
	}
	sort.Strings(slugs)
	return slugs
}

// logAtRest tells the operator, once at start, what the store exposes at rest: database files other
// users may read, SP private keys stored in clear or under an older key, and tenants whose key this
// process cannot read (their sign-ins will fail).
func logAtRest(ctx context.Context, s *sqlstore.Store, d dbFlags, log *zap.Logger) error {
	if !sqlstore.IsPostgresURL(d.db) {
		exposed, err := sqlstore.ExposedFiles(sqlitePath(d.db))
		if err != nil {
			return err
		}
		if len(exposed) > 0 {
			files := make([]string, len(exposed))
			for i, f := range exposed {
				files[i] = fmt.Sprintf("%s (%04o)", f.Path, f.Mode)
			}
			log.Warn("database files may be read or written by group or others; they hold every tenant's data: chmod 600 them",
				zap.Strings("files", files))
		}
	}
	rep, err := s.SPKeys(ctx)
	if err != nil {
		return err
	}
	if d.secretKeyFile == "" {
		log.Warn("SP private keys are stored unencrypted: set --secret-key-file to encrypt them at rest")
	} else if rep.Stale() > 0 {
		log.Warn("some SP private keys are not encrypted under the current key: run scimsso secrets rotate",
			zap.Int("unencrypted", rep.Plain), zap.Int("older_key", rep.Older))
	}
	for _, slug := range unreadableSlugs(rep) {
		log.Error("a tenant's SP private key cannot be read: sign-in for this tenant will fail",
			zap.String("tenant", slug), zap.Error(rep.Unreadable[slug]))
	}
	orep, err := s.OIDCKeyState(ctx)
	if err != nil {
		return err
	}
	if d.secretKeyFile != "" && orep.Stale() > 0 {
		log.Warn("some OIDC signing keys are not encrypted under the current key: run scimsso secrets rotate",
			zap.Int("unencrypted", orep.Plain), zap.Int("older_key", orep.Older))
	}
	wrep, err := s.WebhookSecrets(ctx)
	if err != nil {
		return err
	}
	if d.secretKeyFile != "" && wrep.Stale() > 0 {
		log.Warn("some webhook secrets are not encrypted under the current key: run scimsso secrets rotate",
			zap.Int("unencrypted", wrep.Plain), zap.Int("older_key", wrep.Older))
	}
	for id, err := range wrep.Unreadable {
		log.Error("a webhook's secret cannot be read: delivery to it fails", zap.String("webhook", id), zap.Error(err))
	}
	return nil
}
