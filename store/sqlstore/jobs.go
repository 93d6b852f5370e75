package sqlstore

import (
	"database/sql"
	"sync"

	"github.com/mattn/go-sqlite3"
)

// Dialect names, as JobsDB returns them.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// JobsDB returns a pool for a job queue that keeps its tables in the store's database (package
// webhooks runs river on it), and the dialect, DialectSQLite or DialectPostgres. The store closes it.
//
// On PostgreSQL it is the store's own pool. On SQLite it is a pool of one connection of its own on the
// same file (the store's write connection is its group commit's alone): WAL, the store's synchronous
// level, foreign keys, BEGIN IMMEDIATE and SQLite's busy handler for up to 10 s (the store's writer
// waits the same 10 s, in steps of its own: groupcommit.go's begin), so that neither fails with
// "database is locked" while the other writes; one connection, as the queue's SQLite driver asks,
// so its own goroutines never contend for the lock among themselves. River's statements are its
// own, so its waits keep SQLite's handler: against a writer that is seldom idle they can lose the
// lock more often than the store's, which delivery lag measures (README, Speed).
func (s *Store) JobsDB() (*sql.DB, string) {
	switch d := s.db.(type) {
	case *postgres:
		return d.db, DialectPostgres
	case *sqlite:
		d.jobsOnce.Do(func() {
			d.jobs = sql.OpenDB(connector{&sqlite3.SQLiteDriver{}, d.dsn})
			d.jobs.SetMaxOpenConns(1)
			d.jobs.SetMaxIdleConns(1)
			d.jobs.SetConnMaxIdleTime(0)
			d.jobs.SetConnMaxLifetime(0)
		})
		return d.jobs, DialectSQLite
	}
	return s.db.pool(), s.db.name()
}

// jobsPool is the SQLite dialect's pool for JobsDB, opened on first use.
type jobsPool struct {
	dsn      string
	jobsOnce sync.Once
	jobs     *sql.DB
}

func (j *jobsPool) closeJobs() error {
	if j.jobs == nil {
		return nil
	}
	return j.jobs.Close()
}
