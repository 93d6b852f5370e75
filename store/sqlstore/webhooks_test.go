package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestWebhookSecretsSealed: a secret stored before a key file reads in clear and is counted plain;
// ResealWebhookSecrets seals it under the first key, after which a key file without the older key
// still opens it; a secret under a key the file lacks is reported unreadable and left as it is.
func TestWebhookSecretsSealed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "scimsso.db")
	open := func(ring string) *sqlstore.Store {
		opts := sqlstore.Options{Path: path}
		if ring != "" {
			opts.Keyring = parseRing(t, ring)
		}
		s, err := sqlstore.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, lines := keyring(t, "k1", "k2")
	s := open("")
	w := &store.Webhook{URL: "https://a.test/hook", Secret: "whsec_AAAA"}
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(lines["k1"])
	if rep, err := s.WebhookSecrets(ctx); err != nil || rep.Plain != 1 || rep.Stale() != 1 {
		t.Fatalf("WebhookSecrets before = %+v, %v", rep, err)
	}
	rep, err := s.ResealWebhookSecrets(ctx)
	if err != nil || rep.Resealed != 1 || rep.Current != 1 || rep.Stale() != 0 {
		t.Fatalf("ResealWebhookSecrets = %+v, %v", rep, err)
	}
	s.Close()

	// k2 first, k1 second: the secret opens, under an older key.
	s = open(lines["k2"] + lines["k1"])
	if got, err := s.Webhook(ctx, w.ID); err != nil || got.Secret != w.Secret {
		t.Fatalf("Webhook = %+v, %v", got, err)
	}
	if rep, err := s.ResealWebhookSecrets(ctx); err != nil || rep.Resealed != 1 || rep.Current != 1 {
		t.Fatalf("reseal under k2 = %+v, %v", rep, err)
	}
	s.Close()

	s = open(lines["k1"])
	defer s.Close()
	if _, err := s.Webhook(ctx, w.ID); err == nil || !strings.Contains(err.Error(), "k2") {
		t.Errorf("Webhook with a key file that lacks k2 = %v, want an error naming k2", err)
	}
	if rep, err := s.ResealWebhookSecrets(ctx); err != nil || len(rep.Unreadable) != 1 || rep.Resealed != 0 {
		t.Errorf("reseal of an unreadable secret = %+v, %v", rep, err)
	}
}
