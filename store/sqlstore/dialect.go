package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/store"
)

// The store's SQL is written once, in SQLite's spelling with ? placeholders, and runs on both
// dialects. What PostgreSQL needs differently is here: $n placeholders, row locks for
// read-modify-write transactions (SQLite has one writer and needs none), its error codes, and
// transactions on a connection pool instead of one write connection.

// rebinder turns ? and ?N placeholders into PostgreSQL's $N, caching by query text: every query
// but the filtered user lists has a fixed text.
type rebinder struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *rebinder) rebind(q string) string {
	r.mu.Lock()
	out, ok := r.m[q]
	r.mu.Unlock()
	if ok {
		return out
	}
	out = rebind(q)
	r.mu.Lock()
	if r.m == nil || len(r.m) >= 4*maxCachedStmts {
		r.m = map[string]string{}
	}
	r.m[q] = out
	r.mu.Unlock()
	return out
}

// rebind numbers the placeholders of q outside string literals: ? becomes the next $n, and ?N
// becomes $N.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'':
			j := strings.IndexByte(q[i+1:], '\'')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
				i = j - 1
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Every read and write of the store goes through row, each and wtx.exec, which hand back driver errors
// mapped by mapErr: so a connection lost during a list, found only when its rows are read
// (rows.Err), is store.ErrUnavailable like any other, and no method can forget to map it.

// scanner is a row to read: a row, or the current row of each.
type scanner interface{ Scan(dest ...any) error }

// row is the result of a one-row query.
type row struct{ r *sql.Row }

// Scan copies the row's columns into dest: store.ErrNotFound when there is no row, other errors mapped.
func (r row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

// each runs q on the read pool and calls scan with every row until scan fails. The errors of the
// query, of scan and of the iteration come back mapped.
func (s *Store) each(ctx context.Context, q string, args []any, scan func(scanner) error) error {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(rows.Err())
}

// PostgresOptions configure a Store on PostgreSQL.
type PostgresOptions struct {
	// URL is a postgres:// or postgresql:// connection string.
	URL string
	// Now is the store's clock; time.Now when nil. It is read once per transaction.
	Now func() time.Time
	// MaxConns bounds the connection pool (default 16).
	MaxConns int
	// Keyring, as in Options, encrypts tenants' SP private keys at rest.
	Keyring *sealing.Keyring

	// dial, for tests, opens the store's connections to the server (a connection cut mid-answer).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// IsPostgresURL reports whether dsn names a PostgreSQL database rather than a SQLite file.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OpenPostgres connects to the PostgreSQL database at opts.URL and applies pending migrations; replicas
// starting together take turns on an advisory lock, so each migration is applied once.
func OpenPostgres(ctx context.Context, opts PostgresOptions) (*Store, error) {
	if !IsPostgresURL(opts.URL) {
		return nil, errors.New("sqlstore: a PostgreSQL URL starts with postgres:// or postgresql://")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	cfg, err := pgx.ParseConfig(opts.URL)
	if err != nil {
		// The URL may hold a password: say what is wrong without it.
		return nil, fmt.Errorf("sqlstore: PostgreSQL URL: %w", redactURLError(err))
	}
	if cfg.ConnectTimeout == 0 {
		// Without one, a connection to a host that drops packets waits for the kernel's TCP timeout
		// (minutes), holding the request that needed it.
		cfg.ConnectTimeout = 5 * time.Second
	}
	if opts.dial != nil {
		cfg.DialFunc = opts.dial
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{w: db, r: db, now: opts.Now, pg: &rebinder{}, keys: opts.Keyring}
	if err := s.migratePostgres(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactURLError keeps pgx's reason for refusing a connection string but not the string.
func redactURLError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse the connection string")
	}
	return err
}

// migrationLock is the advisory lock key replicas take while they migrate ("scimsso" in ASCII).
const migrationLock = 0x7363696d73736f

func (s *Store) migratePostgres(ctx context.Context) error {
	ms, err := Migrations("postgres")
	if err != nil {
		return err
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: connect: %w", mapErr(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("sqlstore: migration lock: %w", mapErr(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
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
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", m.Version, m.Name, micros(s.now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
	}
	return nil
}

// writePG runs fn as one READ COMMITTED transaction on the pool. Read-modify-write transactions lock
// the rows they read (forUpdate), and uniqueness is the database's: what SQLite's one writer gives by
// running transactions one at a time.
func (s *Store) writePG(ctx context.Context, fn func(tx *wtx, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once begun, the transaction commits or rolls back as a whole, as on SQLite.
	bg := context.WithoutCancel(ctx)
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(&wtx{s: s, tx: tx}, s.now()); err != nil {
		tx.Rollback()
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

// forUpdate is the clause that locks the rows a write transaction reads before it changes them.
func (s *Store) forUpdate() string {
	if s.pg != nil {
		return " FOR UPDATE"
	}
	return ""
}

// PostgreSQL error codes the store maps (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgAdminShutdown       = "57P01"
	pgCrashShutdown       = "57P02"
	pgCannotConnectNow    = "57P03"
	pgTooManyConnections  = "53300"
	pgReadOnlyTransaction = "25006" // a replica promoted or demoted under us
)

// mapPG turns PostgreSQL errors into the store's sentinels; false when err is none of them.
func mapPG(err error) (error, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == pgUniqueViolation:
			return fmt.Errorf("%w: %s", store.ErrAlreadyExists, pe.ConstraintName), true
		case pe.Code == pgForeignKeyViolation:
			return fmt.Errorf("%w: %s", store.ErrNotFound, pe.ConstraintName), true
		case strings.HasPrefix(pe.Code, "08"), pe.Code == pgAdminShutdown, pe.Code == pgCrashShutdown,
			pe.Code == pgCannotConnectNow, pe.Code == pgTooManyConnections, pe.Code == pgReadOnlyTransaction:
			return fmt.Errorf("%w: %s", store.ErrUnavailable, pe.Message), true
		}
		return nil, false
	}
	// No answer from the server at all: it is down, restarting or unreachable.
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err), true
	}
	return nil, false
}
