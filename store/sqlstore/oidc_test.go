package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestOIDCKeysSealed: with a keyring, a signing key's private half is stored sealed (bound to its key
// id) and read back in clear; the public half stays readable. A current key that does not open is an
// error; a retiring one is returned without its private half, which it no longer needs.
func TestOIDCKeysSealed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "scimsso.db")
	ring, _ := keyring(t, "k1")
	s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path, Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	key := store.OIDCKey{ID: "sig1", Algorithm: store.AlgRS256, PrivateKeyPEM: []byte("-----BEGIN PRIVATE KEY-----"), PublicKeyPEM: []byte("public")}
	if _, err := s.AddOIDCKeys(ctx, []store.OIDCKey{key}, 24*time.Hour, true); err != nil {
		t.Fatal(err)
	}
	keys, err := s.OIDCKeys(ctx)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].PrivateKeyPEM, key.PrivateKeyPEM) {
		t.Fatalf("OIDCKeys = %+v, %v; want the key in clear", keys, err)
	}
	s.Close()

	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := db.QueryRow(`SELECT private_key FROM oidc_keys WHERE id = 'sig1'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !sealing.IsSealed(stored) || bytes.Contains(stored, []byte("PRIVATE KEY")) {
		t.Fatalf("private key stored as %q; want it sealed", stored)
	}

	other, _ := keyring(t, "k2")
	s, err = sqlstore.Open(ctx, sqlstore.Options{Path: path, Keyring: other})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.OIDCKeys(ctx); err == nil {
		t.Fatal("OIDCKeys with a keyring that lacks the key id: no error")
	}
	// A rotation under the new keyring: the old key now retires, and reads without its private half.
	if _, err := s.AddOIDCKeys(ctx, []store.OIDCKey{{ID: "sig2", Algorithm: store.AlgRS256, PrivateKeyPEM: []byte("p2"), PublicKeyPEM: []byte("pub2")}},
		24*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	keys, err = s.OIDCKeys(ctx)
	if err != nil || len(keys) != 2 || string(keys[0].PrivateKeyPEM) != "p2" || keys[1].PrivateKeyPEM != nil || string(keys[1].PublicKeyPEM) != "public" {
		t.Fatalf("OIDCKeys after rotation = %+v, %v", keys, err)
	}
}
