package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// BenchmarkCreateUser is the store's part of a SCIM create: the user (the shape an Okta create
// stores), its audit entry and, since the event log, its user.created event, one at a time (serial)
// and from many goroutines (parallel: SQLite's group commit, PostgreSQL's pool).
func BenchmarkCreateUser(b *testing.B) {
	ctx := context.Background()
	// wal is PostgreSQL's WAL position in bytes, for the WAL each create writes (its server's work,
	// which the CPU time of this process does not see); nil on SQLite.
	var wal func() int64
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			wal = nil
			s, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) store.Store {
			url := pgtest.URL(b)
			s, err := sqlstore.OpenPostgres(ctx, sqlstore.PostgresOptions{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			db, err := sql.Open("pgx", url)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			wal = func() int64 {
				var n int64
				if err := db.QueryRow(`SELECT pg_current_wal_lsn() - '0/0'`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			return s
		}},
	}
	extra := []byte(`{"addresses":[{"country":"US","type":"work"}],"displayName":"Test User","locale":"en-US","name":{"familyName":"User","givenName":"Test"}}`)
	for _, be := range backends {
		for _, parallel := range []bool{false, true} {
			name := be.name + "/serial"
			if parallel {
				name = be.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				s := be.open(b)
				defer s.Close()
				tn := &store.Tenant{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
				if err := s.CreateTenant(ctx, tn); err != nil {
					b.Fatal(err)
				}
				var n atomic.Int64
				create := func() {
					name := fmt.Sprintf("user.%d@example.com", n.Add(1))
					u := &store.User{UserName: name, Emails: []store.Email{{Value: name, Type: "work", Primary: true}},
						GivenName: "Test", FamilyName: "User", Country: "US", ExternalID: "ext-" + name, Extra: extra,
						Active: true, Source: store.SourceSCIM}
					if err := s.CreateUser(ctx, tn.ID, u, store.Audit{Operation: "create", Outcome: "201"}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				// The process's CPU time per create as well as the wall time: on a shared machine it
				// varies less with what else runs (SQLite's work is all in this process).
				cpu0, w0 := cpuTime(), written()
				var wal0 int64
				if wal != nil {
					wal0 = wal()
				}
				b.ResetTimer()
				if !parallel {
					for b.Loop() {
						create()
					}
				} else {
					b.SetParallelism(8) // 8 goroutines per CPU: a loaded server's concurrent requests
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							create()
						}
					})
				}
				b.StopTimer()
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
				if wal == nil && w0 >= 0 {
					// SQLite's I/O: the WAL frames of each commit and the checkpoints that copy them back.
					b.ReportMetric(float64(written()-w0)/float64(b.N), "write-B/op")
				}
				if wal != nil {
					// Events written are numbered within sequenceEvery: wait that long, so that the
					// numbering's WAL is counted too.
					time.Sleep(100 * time.Millisecond)
					b.ReportMetric(float64(wal()-wal0)/float64(b.N), "wal-B/op")
				}
			})
		}
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// written is the bytes this process has handed to write calls (Linux's /proc/self/io wchar), or -1.
func written() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
