package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db"), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrationsAreNumberedAndIdempotent(t *testing.T) {
	ms, err := sqlstore.Migrations("sqlite")
	if err != nil || len(ms) == 0 {
		t.Fatalf("Migrations = %v, %v", ms, err)
	}
	path := filepath.Join(t.TempDir(), "m.db")
	for range 2 {
		s, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestOpenRejectsBadSynchronous(t *testing.T) {
	_, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "x.db"), Synchronous: "off"})
	if err == nil {
		t.Fatal("synchronous=off accepted")
	}
}

// Processes opening one new SQLite file together: every one opens, and each migration is applied once
// (the runner's immediate transactions serialise them, as the advisory lock does on PostgreSQL).
func TestSQLiteMigrationsConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	const procs = 4
	errs := make(chan error, procs)
	for range procs {
		go func() {
			s, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: path})
			if err == nil {
				err = s.Ping(context.Background())
				s.Close()
			}
			errs <- err
		}()
	}
	for range procs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, _ := sqlstore.Migrations("sqlite")
	var n, versions int
	if err := db.QueryRow("SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&n, &versions); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || versions != len(ms) {
		t.Errorf("schema_migrations has %d rows of %d versions, want each of the %d migrations once", n, versions, len(ms))
	}
}
