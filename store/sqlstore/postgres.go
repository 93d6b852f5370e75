package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/sealing"
)

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
	// Logger receives what the store's background work has to say (the event sequencer failing and
	// recovering); nil: nothing is logged.
	Logger *zap.Logger

	// dial, for tests, opens the store's connections to the server (a connection cut mid-answer).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// noSequencer, for tests, runs no sequencer goroutine: events are numbered only by the readers.
	noSequencer bool
}

// IsPostgresURL reports whether dsn names a PostgreSQL database rather than a SQLite file.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// postgres is the PostgreSQL dialect: reads and writes share one pool, transactions run READ COMMITTED
// side by side (from every replica), so read-modify-write transactions lock the rows they read
// (forUpdate) and counted limits take advisory locks (lockKeys); uniqueness is the database's.
type postgres struct {
	db  *sql.DB
	now func() time.Time
	rb  rebinder
	seq sequencer // numbers committed events (sequencer.go)
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
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	p := &postgres{db: db, now: opts.Now, seq: sequencer{db: db, written: newWakeup(), kick: newWakeup(), batch: sequenceBatch, wait: readerWait,
		log: opts.Logger.Named("sequencer")}}
	s := &Store{db: p, now: opts.Now, keys: opts.Keyring, written: p.seq.written}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if !opts.noSequencer {
		p.seq.start()
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

func (p *postgres) name() string { return "postgres" }

func (p *postgres) queryRow(ctx context.Context, q string, args []any) *sql.Row {
	return p.db.QueryRowContext(ctx, p.rb.rebind(q), args...)
}

func (p *postgres) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, p.rb.rebind(q), args...)
}

// write runs fn as one READ COMMITTED transaction on the pool.
func (p *postgres) write(ctx context.Context, fn func(tx *wtx, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once begun, the transaction commits or rolls back as a whole, as on SQLite.
	bg := context.WithoutCancel(ctx)
	tx, err := p.db.BeginTx(bg, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(&wtx{c: &pgTx{tx: tx, rb: &p.rb}}, p.now()); err != nil {
		tx.Rollback()
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

func (p *postgres) forUpdate() string { return " FOR UPDATE" }

// lockKeys takes the transaction-scoped advisory lock of every key of a class until tx ends. Within a
// call the locks are taken in one global order (by lock id), and callers that lock two classes always
// take them in the same order, so two transactions cannot wait for each other. Keys that hash alike
// share a lock, which only serialises them more.
func (p *postgres) lockKeys(ctx context.Context, tx *wtx, class int32, keys []string) error {
	ids := make([]int32, 0, len(keys))
	for _, k := range keys {
		h := fnv.New32a()
		h.Write([]byte(k))
		ids = append(ids, int32(h.Sum32()))
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(?, ?)`, class, id); err != nil {
			return err
		}
	}
	return nil
}

// migrationLock is the advisory lock key replicas take while they migrate ("scimsso" in ASCII). It is
// a single key, a separate key space from lockKeys' two-key locks.
const migrationLock = 0x7363696d73736f

// migrationConn is a connection of the pool holding the migration lock, which replicas starting
// together take in turns.
func (p *postgres) migrationConn(ctx context.Context) (*sql.Conn, func(), error) {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("migration lock: %w", err)
	}
	release := func() {
		conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
		conn.Close()
	}
	return conn, release, nil
}

// eventsCommitted wakes the sequencer, which numbers the events and then wakes the reader.
func (p *postgres) eventsCommitted() { p.seq.kick.notify() }

func (p *postgres) eventInsert() string { return insertPendingEvent }

func (p *postgres) settleEvents(ctx context.Context) error { return p.seq.settle(ctx) }

// followEvents has nothing to start: the sequencer already notices other replicas' events.
func (p *postgres) followEvents() {}

func (p *postgres) bind(q string) string { return p.rb.rebind(q) }

func (p *postgres) pool() *sql.DB { return p.db }

func (p *postgres) close() error {
	p.seq.stopAndWait()
	return p.db.Close()
}

// pgTx runs a write transaction's statements on its transaction; pgx caches their plans.
type pgTx struct {
	tx *sql.Tx
	rb *rebinder
}

func (t *pgTx) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.rb.rebind(q), args...)
}

func (t *pgTx) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.rb.rebind(q), args...)
}

func (t *pgTx) queryRow(ctx context.Context, q string, args []any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.rb.rebind(q), args...)
}

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
