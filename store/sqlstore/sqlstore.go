// Package sqlstore implements store.Store on database/sql: SQLite (mattn/go-sqlite3) is the embedded
// default, PostgreSQL (jackc/pgx/v5) serves several replicas. Both run the same SQL and transactions;
// dialect.go holds what differs.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/store"
)

//go:embed migrations
var migrations embed.FS

// Synchronous levels for SQLite. Normal survives a crash of the process (kill -9) with every committed
// transaction; Full also survives power loss and OS crashes, at about a third of the write rate.
const (
	SyncNormal = "normal"
	SyncFull   = "full"
)

// Options configure a Store.
type Options struct {
	// Path is the SQLite database file; it is created, mode 0600, if missing (see createPrivate).
	Path string
	// Synchronous is SyncNormal (default) or SyncFull.
	Synchronous string
	// Now is the store's clock; time.Now when nil. It is read once per transaction.
	Now func() time.Time
	// ReadConns is the size of the read pool (default 4). Writes always go through one connection.
	ReadConns int
	// Keyring, when set, encrypts tenants' SP private keys at rest (see spkeys.go); without it they are
	// stored as PEM, and a key stored encrypted cannot be read.
	Keyring *sealing.Keyring
	// WALLimit bounds the write-ahead log (default DefaultWALLimit): past it a checkpoint truncates the
	// log, and a log that has been reset is cut back to it (journal_size_limit).
	WALLimit int64

	// onConnect, for tests, runs on every new connection after the store's own set-up.
	onConnect func(*sqlite3.SQLiteConn) error
}

// Store is a store.Store on SQLite or PostgreSQL. On SQLite, writes go through a single connection, so
// concurrent requests queue in Go instead of failing with SQLITE_BUSY, and reads use a separate pool
// that WAL lets run beside it. On PostgreSQL, w and r are one pool and pg is set.
type Store struct {
	w, r   *sql.DB
	now    func() time.Time
	rStmts stmtCache
	pg     *rebinder
	keys   *sealing.Keyring

	// cp is the connection background checkpoints run on; walLimit is when they truncate the WAL.
	cp       *sql.DB
	walLimit int64
	stopCP   func()
	cpDone   chan struct{}

	// qmu guards queue, the transactions waiting for the write connection.
	qmu   sync.Mutex
	queue []*pendingWrite
	// wtok serialises writes on wconn, the one write connection: holding its one slot is holding
	// wconn, and wStmts is only used then. A channel rather than a sync.Mutex so that a writer waiting
	// for the connection also waits for its own transaction to be committed in the holder's batch:
	// every waiter of a batch wakes when the batch commits, not one after the other through a mutex
	// each must take and release only to find its work done.
	wtok   chan struct{}
	wconn  *sql.Conn
	wStmts stmtCache
}

// stmtCache keeps prepared statements by their SQL: SQLite's prepare costs as much as running a
// simple statement, and every hot query has a fixed text. The cache is bounded because filter
// queries are built from client input.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxCachedStmts = 256

// get returns the statement for q, preparing it with prepare on a miss; cached is false when the cache
// is full and the caller must close the statement.
func (c *stmtCache) get(ctx context.Context, prepare func(context.Context, string) (*sql.Stmt, error), q string) (st *sql.Stmt, cached bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, true, nil
	}
	st, err = prepare(ctx, q)
	if err != nil {
		return nil, false, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	if len(c.m) >= maxCachedStmts {
		return st, false, nil
	}
	c.m[q] = st
	return st, true, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// wtx is a write transaction: on SQLite, on the store's one write connection, where statements are
// prepared once and reused by every transaction after; on PostgreSQL, tx (pgx caches statements).
type wtx struct {
	s  *Store
	tx *sql.Tx
}

func (t *wtx) stmt(ctx context.Context, q string) (*sql.Stmt, bool, error) {
	return t.s.wStmts.get(ctx, t.s.wconn.PrepareContext, q)
}

// exec and row run statements of a transaction that others share (group commit): a cancelled request
// must not interrupt them, as SQLite would then roll back the whole batch, so the request's context is
// only checked before its transaction starts.
func (t *wtx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if t.tx != nil {
		res, err := t.tx.ExecContext(ctx, t.s.pg.rebind(q), args...)
		return res, mapErr(err)
	}
	st, cached, err := t.stmt(ctx, q)
	if err != nil {
		return nil, mapErr(err)
	}
	if !cached {
		defer st.Close()
	}
	res, err := st.ExecContext(ctx, args...)
	return res, mapErr(err)
}

func (t *wtx) row(ctx context.Context, q string, args ...any) row {
	ctx = context.WithoutCancel(ctx)
	if t.tx != nil {
		return row{t.tx.QueryRowContext(ctx, t.s.pg.rebind(q), args...)}
	}
	st, cached, err := t.stmt(ctx, q)
	if err != nil {
		return row{t.s.wconn.QueryRowContext(ctx, q, args...)}
	}
	if !cached {
		defer st.Close()
	}
	return row{st.QueryRowContext(ctx, args...)}
}

// row runs a one-row query on the read pool through its statement cache. Point reads are not
// cancellable: the driver starts a goroutine per query to watch a cancellable context, which cost more
// than the indexed lookup itself.
func (s *Store) row(ctx context.Context, q string, args ...any) row {
	ctx = context.WithoutCancel(ctx)
	if s.pg != nil {
		return row{s.r.QueryRowContext(ctx, s.pg.rebind(q), args...)}
	}
	st, cached, err := s.rStmts.get(ctx, s.r.PrepareContext, q)
	if err != nil || !cached {
		if st != nil {
			st.Close()
		}
		return row{s.r.QueryRowContext(ctx, q, args...)}
	}
	return row{st.QueryRowContext(ctx, args...)}
}

// query runs q on the read pool through its statement cache; the caller closes the rows. Only each
// calls it: each maps the errors.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.pg != nil {
		return s.r.QueryContext(ctx, s.pg.rebind(q), args...)
	}
	st, cached, err := s.rStmts.get(ctx, s.r.PrepareContext, q)
	if err != nil || !cached {
		if st != nil {
			st.Close()
		}
		return s.r.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at opts.Path and applies pending migrations.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlstore: empty database path")
	}
	sync := strings.ToLower(opts.Synchronous)
	switch sync {
	case "":
		sync = SyncNormal
	case SyncNormal, SyncFull:
	default:
		return nil, fmt.Errorf("sqlstore: synchronous must be %q or %q, not %q", SyncNormal, SyncFull, opts.Synchronous)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.WALLimit <= 0 {
		opts.WALLimit = DefaultWALLimit
	}
	if err := createPrivate(opts.Path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", strings.ToUpper(sync))
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: opts.Path}).EscapedPath() + "?" + q.Encode()
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if err := enableQPSG(c); err != nil {
			return err
		}
		if opts.onConnect != nil {
			return opts.onConnect(c)
		}
		return nil
	}}
	w := sql.OpenDB(connector{drv, dsn})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	q.Set("_query_only", "true")
	r := sql.OpenDB(connector{drv, "file:" + (&url.URL{Path: opts.Path}).EscapedPath() + "?" + q.Encode()})
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	s := &Store{w: w, r: r, now: opts.Now, keys: opts.Keyring, wtok: make(chan struct{}, 1), walLimit: opts.WALLimit}
	wconn, err := w.Conn(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", opts.Path, err)
	}
	s.wconn = wconn
	// Checkpoints run beside the writer instead of inside a commit, where their fsyncs would stall
	// every queued write (they set the p99 of SCIM writes).
	if _, err := wconn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", opts.Path, err)
	}
	// Without a limit the WAL file keeps the size of its busiest moment for good: the writer starts
	// again at its beginning once it is checkpointed, but never shortens it.
	if _, err := wconn.ExecContext(ctx, "PRAGMA journal_size_limit = "+strconv.FormatInt(opts.WALLimit, 10)); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", opts.Path, err)
	}
	// Checkpoints run no query: their connection needs neither the planner setting nor a test's hook.
	cp := sql.OpenDB(connector{&sqlite3.SQLiteDriver{}, dsn})
	cp.SetMaxOpenConns(1)
	s.cp = cp
	cpCtx, stop := context.WithCancel(context.Background())
	s.stopCP = stop
	s.cpDone = make(chan struct{})
	go s.checkpoints(cpCtx)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

type connector struct {
	drv driver.Driver
	dsn string
}

// Connect opens a connection. (mmap was tried and dropped: it made the first read after every commit
// five times slower, 250 µs against 50 µs, because readers remap as the database file changes.)
func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// Ping reports whether the store reaches its database and the schema is there.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", mapErr(err))
	}
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", mapErr(err))
	}
	return nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	if s.pg != nil {
		return s.w.Close()
	}
	if s.stopCP != nil {
		s.stopCP()
		<-s.cpDone
		s.stopCP = nil
		s.cp.Close()
	}
	s.lockW()
	defer s.unlockW()
	errs := []error{s.rStmts.close(), s.wStmts.close()}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	return errors.Join(append(errs, s.r.Close(), s.w.Close())...)
}

// checkpointEvery is how often the WAL is copied back into the database file.
const checkpointEvery = 200 * time.Millisecond

// DefaultWALLimit is the WAL size past which a checkpoint truncates it: a hundred times what a busy
// second of SCIM writes adds, so it is reached only under a flood or a reader that holds on.
const DefaultWALLimit = 64 << 20

// Truncating checkpoints wait for readers at most truncateWait, holding new writers back meanwhile, and
// after one that could not finish the next is tried truncateBackoff later: a reader that holds on (a
// backup) delays writes by at most a tenth of the time, and the WAL grows meanwhile as it must.
const (
	truncateWait    = 200 * time.Millisecond
	truncateBackoff = 2 * time.Second
)

// checkpoints runs PASSIVE checkpoints until ctx ends: they never block the writer or readers. But
// while readers keep overlapping, the WAL can never start again at its beginning and grows with every
// write (a flood of sign-in starts grew it to 923 MB). Past s.walLimit a TRUNCATE checkpoint waits for
// the readers of older snapshots to finish, copies the whole WAL and empties the file.
func (s *Store) checkpoints(ctx context.Context) {
	defer close(s.cpDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var pageSize int64
	var notBefore time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if pageSize == 0 {
				if err := s.cp.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
					continue
				}
			}
			var busy, frames, done int64
			if err := s.cp.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
				continue
			}
			// Each frame is a page and a 24-byte header; frames counts those written since the WAL last
			// started again at its beginning.
			if frames*(pageSize+24) > s.walLimit && time.Now().After(notBefore) {
				if !s.truncateWAL(ctx) {
					notBefore = time.Now().Add(truncateBackoff)
				}
			}
		}
	}
}

// truncateWAL runs a TRUNCATE checkpoint, waiting at most truncateWait; false if it could not finish.
func (s *Store) truncateWAL(ctx context.Context) bool {
	conn, err := s.cp.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(int(truncateWait/time.Millisecond))); err != nil {
		return false
	}
	var busy, frames, done int64
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done)
	return err == nil && busy == 0
}

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

// migrate applies every migration newer than the database, each in its own immediate transaction, so
// two processes starting together apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations("sqlite")
	if err != nil {
		return err
	}
	if _, err := s.wconn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for _, m := range ms {
		err := s.write(ctx, func(tx *wtx, now time.Time) error {
			var n int
			if err := s.wconn.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := s.wconn.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := s.wconn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, micros(now))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	var newest int
	if err := s.wconn.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if newest > len(ms) {
		return fmt.Errorf("sqlstore: database is at schema version %d, newer than this binary (%d)", newest, len(ms))
	}
	return nil
}

// pendingWrite is a transaction waiting for the write connection.
type pendingWrite struct {
	ctx  context.Context
	fn   func(tx *wtx, now time.Time) error
	err  error
	done chan struct{}
}

// maxBatch bounds how many queued transactions commit together.
const maxBatch = 64

// write runs fn as one transaction: it applies whole or not at all, and write returns only after it
// is committed. Writes queue for the one write connection instead of SQLite's lock, so none fails
// with "database is locked". Whoever holds the connection commits everything queued behind it in one
// SQLite transaction, each in its own savepoint (group commit): under concurrent load that pays
// BEGIN/COMMIT and the WAL writes once per batch instead of once per request.
func (s *Store) write(ctx context.Context, fn func(tx *wtx, now time.Time) error) error {
	if s.pg != nil {
		return s.writePG(ctx, fn)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pendingWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	s.qmu.Unlock()

	for {
		select {
		case <-p.done: // the holder committed it in its batch
			return p.err
		case s.wtok <- struct{}{}:
		}
		select {
		case <-p.done: // committed by the holder before
			s.unlockW()
			return p.err
		default:
		}
		// The batch is the oldest queued transactions; ours may be behind them, so go round again until
		// it is done rather than wait for another writer to come along.
		s.qmu.Lock()
		n := min(len(s.queue), maxBatch)
		batch := s.queue[:n:n]
		s.queue = append([]*pendingWrite(nil), s.queue[n:]...)
		s.qmu.Unlock()
		s.runBatch(batch)
		s.unlockW()
	}
}

// lockW takes the write connection; unlockW gives it back.
func (s *Store) lockW()   { s.wtok <- struct{}{} }
func (s *Store) unlockW() { <-s.wtok }

// runBatch commits the batch in one transaction; it is called holding the write connection (wtok).
func (s *Store) runBatch(batch []*pendingWrite) {
	finish := func(err error) {
		for _, p := range batch {
			if err != nil && p.err == nil {
				p.err = err
			}
			close(p.done)
		}
	}
	if s.wconn == nil {
		finish(errors.New("sqlstore: store is closed"))
		return
	}
	// Once begun, the transaction commits or rolls back as a whole: a request cancelled half-way
	// must not cut its statements off.
	bg := context.Background()
	tx := &wtx{s: s}
	exec := func(q string) error { _, err := tx.exec(bg, q); return err }
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		finish(mapErr(err))
		return
	}
	now := s.now()
	ok := 0
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.err = err
			continue
		}
		single := len(batch) == 1
		if !single {
			if err := exec("SAVEPOINT w"); err != nil {
				p.err = mapErr(err)
				continue
			}
		}
		err := p.fn(tx, now)
		switch {
		case err != nil && single:
			p.err = mapErr(err)
		case err != nil:
			p.err = mapErr(err)
			if rerr := exec("ROLLBACK TO w"); rerr != nil {
				exec("ROLLBACK")
				finish(errors.Join(p.err, rerr))
				return
			}
			exec("RELEASE w")
		default:
			if !single {
				if err := exec("RELEASE w"); err != nil {
					exec("ROLLBACK")
					finish(mapErr(err))
					return
				}
			}
			ok++
		}
	}
	if ok == 0 {
		if err := exec("ROLLBACK"); err != nil {
			finish(mapErr(err))
			return
		}
		finish(nil)
		return
	}
	if err := exec("COMMIT"); err != nil {
		exec("ROLLBACK")
		finish(mapErr(err))
		return
	}
	finish(nil)
}

// txNow in the arguments of writeOne stands for the transaction's time, in Unix microseconds.
type txNow struct{}

// Whether writeOne's statement must touch a row.
const (
	anyRows = false
	oneRow  = true // no row touched: ErrNotFound
)

// writeOne runs one statement as its own transaction, the shape of most single-row writes. what names
// the operation in the error.
func (s *Store) writeOne(ctx context.Context, what string, must bool, q string, args ...any) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		a := append([]any(nil), args...)
		for i := range a {
			if _, ok := a[i].(txNow); ok {
				a[i] = micros(now)
			}
		}
		res, err := tx.exec(ctx, q, a...)
		if must {
			return affected(res, err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return nil
}

// affected turns an UPDATE or DELETE that touched no row into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// mapErr turns driver errors into the store's sentinels; it is the one place that knows the drivers' codes.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if m, ok := mapPG(err); ok {
		return m
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", store.ErrAlreadyExists, err)
		case sqlite3.ErrConstraintForeignKey:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
