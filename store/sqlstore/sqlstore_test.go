package sqlstore_test

import (
	"context"
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
