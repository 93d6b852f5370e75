package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/store/storetest"
)

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: pgtest.URL(t), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Replicas starting together on an empty database: every one opens, and each migration is applied once.
func TestPostgresMigrationLock(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: url})
			if err == nil {
				err = s.Ping(context.Background())
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, _ := sqlstore.Migrations("postgres")
	var n int // version is the primary key: a second application would have failed, not doubled a row
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want each of the %d migrations once", n, len(ms))
	}
}

// TestRefusesNewerSchema: a binary opening a database migrated by a newer one refuses it, on both
// backends, rather than run against a schema it does not know.
func TestRefusesNewerSchema(t *testing.T) {
	for _, c := range []struct {
		name, driver string
		dsn          func(t testing.TB) string
		open         func(dsn string) (*sqlstore.Store, error)
	}{
		{"sqlite", "sqlite3", func(t testing.TB) string { return filepath.Join(t.TempDir(), "x.db") }, func(dsn string) (*sqlstore.Store, error) {
			return sqlstore.Open(context.Background(), sqlstore.Options{Path: dsn})
		}},
		{"postgres", "pgx", pgtest.URL, func(dsn string) (*sqlstore.Store, error) {
			return sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: dsn})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			s, err := c.open(dsn)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			db, err := sql.Open(c.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.open(dsn); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
				t.Fatalf("open at schema version 999: %v, want a refusal naming the newer schema", err)
			}
		})
	}
}

// The two dialects' migrations must build the same schema: the same tables, each with the same
// columns (name and nullability), and the same indexes.
func TestMigrationParity(t *testing.T) {
	sqliteMs, err := sqlstore.Migrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pgMs, err := sqlstore.Migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(sqliteMs) != len(pgMs) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL migrations", len(sqliteMs), len(pgMs))
	}
	for i := range sqliteMs {
		if sqliteMs[i].Name != pgMs[i].Name {
			t.Errorf("migration %d is %q on SQLite, %q on PostgreSQL", i+1, sqliteMs[i].Name, pgMs[i].Name)
		}
	}

	path := filepath.Join(t.TempDir(), "parity.db")
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	lite, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	liteSchema := schemaOf(t, lite,
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
		`SELECT name, "notnull" OR pk FROM pragma_table_info(?)`,
		`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name`)

	url := pgtest.URL(t)
	ps, err := sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ps.Close()
	pg, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	pgSchema := schemaOf(t, pg,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
		`SELECT column_name, is_nullable = 'NO' FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`,
		// PostgreSQL names the indexes behind PRIMARY KEY and UNIQUE constraints itself; SQLite's are
		// the sqlite_autoindex_ ones left out above. Compare the indexes the migrations name.
		`SELECT indexname FROM pg_indexes i WHERE schemaname = 'public'
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY indexname`)
	// PostgreSQL numbers events once committed, moving them from a queue SQLite does not need
	// (sequencer.go).
	delete(pgSchema, "table events_pending")
	if !reflect.DeepEqual(liteSchema, pgSchema) {
		for k, v := range liteSchema {
			if !reflect.DeepEqual(v, pgSchema[k]) {
				t.Errorf("%s:\n  SQLite     %v\n  PostgreSQL %v", k, v, pgSchema[k])
			}
		}
		for k, v := range pgSchema {
			if _, ok := liteSchema[k]; !ok {
				t.Errorf("%s only on PostgreSQL: %v", k, v)
			}
		}
	}
}

// schemaOf reads a schema as "table T" → sorted "column notnull" lines, and "indexes" → names.
func schemaOf(t *testing.T, db *sql.DB, tablesQ, columnsQ, indexesQ string) map[string][]string {
	t.Helper()
	names := func(q string, args ...any) []string {
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	out := map[string][]string{"indexes": names(indexesQ)}
	for _, table := range names(tablesQ) {
		rows, err := db.Query(columnsQ, table)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var name string
			var notNull bool
			if err := rows.Scan(&name, &notNull); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, fmt.Sprintf("%s notnull=%v", name, notNull))
		}
		rows.Close()
		sort.Strings(cols)
		out["table "+table] = cols
	}
	return out
}
