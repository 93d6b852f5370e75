package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrations embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations of a dialect ("sqlite" or "postgres"), in order.
func Migrations(dialect string) ([]Migration, error) {
	dir := path.Join("migrations", dialect)
	ents, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	var ms []Migration
	for _, e := range ents {
		name := e.Name()
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("sqlstore: migration file %q is not NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(rest, ".sql"), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("sqlstore: migration %d is missing", i+1)
		}
	}
	return ms, nil
}

// schemaMigrations records the migrations applied. applied_at is in Unix microseconds (BIGINT has
// SQLite's INTEGER affinity).
const schemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`

// migrate applies every migration of the store's dialect newer than the database, each in its own
// transaction, on the dialect's migration connection: on SQLite the write connection, where each
// transaction is immediate; on PostgreSQL a connection holding an advisory lock. Either way two
// processes starting together apply each migration once. A database newer than the binary is refused.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations(s.db.name())
	if err != nil {
		return err
	}
	conn, release, err := s.db.migrationConn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", mapErr(err))
	}
	defer release()
	if _, err := conn.ExecContext(ctx, schemaMigrations); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", mapErr(err))
	}
	var newest int
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", mapErr(err))
	}
	if newest > len(ms) {
		return fmt.Errorf("sqlstore: database is at schema version %d, newer than this binary (%d)", newest, len(ms))
	}
	for _, m := range ms[newest:] {
		if err := s.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
	}
	return nil
}

// apply runs m and records it in one transaction, unless another process recorded it first.
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	var n int
	if err := tx.QueryRowContext(ctx, s.db.bind("SELECT count(*) FROM schema_migrations WHERE version = ?"), m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	// The migration's text may hold several statements: it runs as it is, neither prepared nor rebound.
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.db.bind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), m.Version, m.Name, micros(s.now())); err != nil {
		return err
	}
	return tx.Commit()
}
