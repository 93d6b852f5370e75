package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestDatabaseFilesArePrivate: a new SQLite database and the -wal and -shm files SQLite makes beside it
// are 0600, whatever the umask allows; an existing file keeps its mode (no silent chmod) and is
// reported by ExposedFiles, which serve logs.
func TestDatabaseFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	t.Run("new", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scimsso.db")
		s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.CreateTenant(ctx, &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v (a write was committed: WAL mode makes both side files)", filepath.Base(p), err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), m)
			}
		}
		if ex, err := sqlstore.ExposedFiles(path); err != nil || len(ex) != 0 {
			t.Errorf("ExposedFiles = %v, %v; want none", ex, err)
		}
	})
	t.Run("existing 0644", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scimsso.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.CreateTenant(ctx, &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o644 {
			t.Errorf("the existing file's mode became %04o: Open must not change it", m)
		}
		ex, err := sqlstore.ExposedFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ex {
			got = append(got, filepath.Base(e.Path)+" "+e.Mode.String())
		}
		if want := "scimsso.db -rw-r--r--,scimsso.db-wal -rw-r--r--,scimsso.db-shm -rw-r--r--"; strings.Join(got, ",") != want {
			t.Errorf("ExposedFiles = %v, want %s", got, want)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(t.TempDir(), "no", "such", "x.db")})
		if err == nil || !strings.Contains(err.Error(), "x.db") {
			t.Errorf("err = %v, want one naming the file", err)
		}
	})
}

func keyring(t *testing.T, ids ...string) (*sealing.Keyring, map[string]string) {
	t.Helper()
	lines := map[string]string{}
	var text string
	for _, id := range ids {
		b := make([]byte, sealing.KeySize)
		rand.Read(b)
		lines[id] = id + ":" + base64.StdEncoding.EncodeToString(b) + "\n"
		text += lines[id]
	}
	k, err := sealing.ParseKeyFile([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k, lines
}

func parseRing(t *testing.T, text string) *sealing.Keyring {
	t.Helper()
	k, err := sealing.ParseKeyFile([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeKeyPEM is a PEM block with random content: the store neither parses nor needs a real RSA key.
func fakeKeyPEM() (pem []byte, body string) {
	b := make([]byte, 600)
	rand.Read(b)
	body = base64.StdEncoding.EncodeToString(b)
	return []byte("-----BEGIN RSA PRIVATE KEY-----\n" + body + "\n-----END RSA PRIVATE KEY-----\n"), body
}

// TestSPKeysSealed drives encryption at rest of tenants' SP keys on both dialects, reading the raw
// column with database/sql: sealed on create, PEM on read, bound to its tenant, older PEM rows still
// read, rotation to a new first key with ResealSPKeys, and a clear error for a key id the file lacks.
func TestSPKeysSealed(t *testing.T) {
	for _, c := range []struct {
		name, driver string
		dsn          func(t testing.TB) string
		open         func(dsn string, k *sealing.Keyring) (*sqlstore.Store, error)
	}{
		{"sqlite", "sqlite3", func(t testing.TB) string { return filepath.Join(t.TempDir(), "x.db") }, func(dsn string, k *sealing.Keyring) (*sqlstore.Store, error) {
			return sqlstore.Open(context.Background(), sqlstore.Options{Path: dsn, Keyring: k})
		}},
		{"postgres", "pgx", pgtest.URL, func(dsn string, k *sealing.Keyring) (*sqlstore.Store, error) {
			return sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: dsn, Keyring: k})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := c.dsn(t)
			open := func(k *sealing.Keyring) *sqlstore.Store {
				t.Helper()
				s, err := c.open(dsn, k)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			raw, err := sql.Open(c.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			rebind := func(q string) string {
				if c.driver == "pgx" {
					return strings.NewReplacer("?1", "$1", "?2", "$2").Replace(q)
				}
				return q
			}
			column := func(slug string) []byte {
				t.Helper()
				var b []byte
				if err := raw.QueryRow(rebind("SELECT sp_key_pem FROM tenants WHERE slug = ?1"), slug).Scan(&b); err != nil {
					t.Fatal(err)
				}
				return b
			}
			setColumn := func(slug string, v []byte) {
				t.Helper()
				if _, err := raw.Exec(rebind("UPDATE tenants SET sp_key_pem = ?1 WHERE slug = ?2"), v, slug); err != nil {
					t.Fatal(err)
				}
			}
			readKey := func(s *sqlstore.Store, slug string) ([]byte, error) {
				t.Helper()
				tn, err := s.TenantBySlug(ctx, slug)
				if err != nil {
					return nil, err
				}
				return s.SPKey(ctx, tn.ID)
			}

			// A store without a key file keeps its first tenant's key in clear, as before.
			legacyPEM, _ := fakeKeyPEM()
			plainStore := open(nil)
			if err := plainStore.CreateTenant(ctx, &store.Tenant{Slug: "legacy", Name: "Legacy", SPKeyPEM: legacyPEM, SPCertPEM: []byte("c")}); err != nil {
				t.Fatal(err)
			}
			if got := column("legacy"); !bytes.Equal(got, legacyPEM) {
				t.Fatalf("without a key file the column holds %q, want the PEM", got)
			}
			if rep, err := plainStore.SPKeys(ctx); err != nil || rep.Plain != 1 || rep.Stale() != 1 {
				t.Errorf("SPKeys without a keyring = %+v, %v; want one plain key", rep, err)
			}
			if _, err := plainStore.ResealSPKeys(ctx); err == nil {
				t.Error("ResealSPKeys without a keyring succeeded")
			}

			// With a key file, new keys are sealed: the column holds neither PEM nor key bytes.
			ring1, lines := keyring(t, "k1")
			s1 := open(ring1)
			keys := map[string][]byte{"legacy": legacyPEM}
			for _, slug := range []string{"acme", "beta"} {
				pem, body := fakeKeyPEM()
				keys[slug] = pem
				if err := s1.CreateTenant(ctx, &store.Tenant{Slug: slug, Name: slug, SPKeyPEM: pem, SPCertPEM: []byte("c")}); err != nil {
					t.Fatal(err)
				}
				col := column(slug)
				der, _ := base64.StdEncoding.DecodeString(body)
				if !bytes.HasPrefix(col, []byte("enc:v1:k1:")) || bytes.Contains(col, []byte("PRIVATE KEY")) ||
					bytes.Contains(col, []byte(body[:32])) || bytes.Contains(col, der[:32]) {
					t.Fatalf("%s: the column holds %.60q…, want enc:v1:k1:… without PEM or key bytes", slug, col)
				}
			}
			for slug, want := range keys {
				if got, err := readKey(s1, slug); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: read %q, %v; want its PEM", slug, got, err)
				}
			}
			rep, err := s1.SPKeys(ctx)
			if err != nil || rep.Current != 2 || rep.Plain != 1 || rep.Older != 0 || len(rep.Unreadable) != 0 {
				t.Errorf("SPKeys = %+v, %v; want 2 current, 1 plain", rep, err)
			}

			// Without the key file, a sealed key is refused by name, never handed out as PEM.
			if _, err := readKey(plainStore, "acme"); err == nil || !strings.Contains(err.Error(), `key id "k1" but no secret key file is configured`) {
				t.Errorf("sealed key without a keyring: %v", err)
			}

			// A sealed value copied into another tenant's row does not open there.
			acmeCol, betaCol := column("acme"), column("beta")
			setColumn("beta", acmeCol)
			if _, err := readKey(s1, "beta"); !errors.Is(err, sealing.ErrOpen) || !strings.Contains(err.Error(), "tenant beta") {
				t.Errorf("acme's sealed key in beta's row: %v, want ErrOpen naming beta", err)
			}
			if rep, _ := s1.SPKeys(ctx); rep.Unreadable["beta"] == nil {
				t.Errorf("SPKeys does not report beta unreadable: %+v", rep)
			}
			setColumn("beta", betaCol)

			// Rotation: a new key first in the file seals new values; old ones still open; reseal moves
			// them all (the legacy PEM too) under the new key, after which the old key may go.
			ring21 := parseRing(t, keyLine(t, "k2", lines)+lines["k1"])
			s21 := open(ring21)
			for slug, want := range keys {
				if got, err := readKey(s21, slug); err != nil || !bytes.Equal(got, want) {
					t.Errorf("after rotation %s: %q, %v", slug, got, err)
				}
			}
			rep, err = s21.ResealSPKeys(ctx)
			if err != nil || rep.Resealed != 3 || rep.Current != 3 || rep.Stale() != 0 || len(rep.Unreadable) != 0 {
				t.Fatalf("ResealSPKeys = %+v, %v; want 3 resealed", rep, err)
			}
			for slug := range keys {
				if col := column(slug); !bytes.HasPrefix(col, []byte("enc:v1:k2:")) {
					t.Errorf("%s after reseal: %.12q…, want enc:v1:k2:", slug, col)
				}
			}
			if rep, err := s21.ResealSPKeys(ctx); err != nil || rep.Resealed != 0 || rep.Current != 3 {
				t.Errorf("second ResealSPKeys = %+v, %v; want nothing to do", rep, err)
			}
			s2 := open(parseRing(t, lines["k2"]))
			for slug, want := range keys {
				if got, err := readKey(s2, slug); err != nil || !bytes.Equal(got, want) {
					t.Errorf("with only k2, %s: %q, %v", slug, got, err)
				}
			}

			// A key file that lacks the key id in use: a clear error naming it, for each tenant.
			s1only := open(parseRing(t, lines["k1"]))
			var ke *sealing.KeyError
			if _, err := readKey(s1only, "acme"); !errors.As(err, &ke) || ke.ID != "k2" || !strings.Contains(err.Error(), `tenant acme: SP private key: sealing: value is encrypted under key id "k2", which the secret key file lacks`) {
				t.Errorf("k2 value with only k1: %v", err)
			}
			if rep, err := s1only.SPKeys(ctx); err != nil || len(rep.Unreadable) != 3 {
				t.Errorf("SPKeys with only k1 = %+v, %v; want 3 unreadable", rep, err)
			}
			if rep, err := s1only.ResealSPKeys(ctx); err != nil || rep.Resealed != 0 || len(rep.Unreadable) != 3 {
				t.Errorf("ResealSPKeys with only k1 = %+v, %v; want nothing changed", rep, err)
			}
			if col := column("acme"); !bytes.HasPrefix(col, []byte("enc:v1:k2:")) {
				t.Errorf("an unreadable key was rewritten: %.12q…", col)
			}
		})
	}
}

// keyLine adds a fresh key line for id to lines and returns it.
func keyLine(t *testing.T, id string, lines map[string]string) string {
	t.Helper()
	_, l := keyring(t, id)
	lines[id] = l[id]
	return l[id]
}
