package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/scimsso/scimsso/internal/sealing"
)

// Synchronous levels for SQLite. Normal survives a crash of the process (kill -9) with every committed
// transaction; Full also survives power loss and OS crashes, at about a third of the write rate.
const (
	SyncNormal = "normal"
	SyncFull   = "full"
)

// Options configure a Store on SQLite.
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
	// WALLimit bounds the write-ahead log (default DefaultWALLimit): past half of it a checkpoint
	// restarts the log at its beginning, past it truncates it, and a log that has been restarted is cut
	// back to it (journal_size_limit).
	WALLimit int64

	// onConnect, for tests, runs on every new connection after the store's own set-up.
	onConnect func(*sqlite3.SQLiteConn) error
}

// sqlite is the SQLite dialect. Writes go through a single connection, so concurrent requests queue
// in Go instead of failing with SQLITE_BUSY (groupcommit.go), and reads use a separate pool that WAL
// lets run beside it. Both keep their prepared statements (stmtcache.go).
type sqlite struct {
	w, r   *sql.DB
	now    func() time.Time
	rStmts stmtCache

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
	// lockWait is how long a batch waits for another process's write lock: writeLockWait; tests
	// make it short.
	lockWait time.Duration

	// written wakes EventsWritten's reader after a commit that recorded events, and watch after other
	// processes' (eventwatch.go).
	written wakeup
	watch   eventWatch

	// jobsPool is the job queue's connection (JobsDB), on the writer's DSN.
	jobsPool
}

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
	l := &sqlite{w: w, r: r, now: opts.Now, wtok: make(chan struct{}, 1), lockWait: writeLockWait, walLimit: opts.WALLimit, written: newWakeup(), jobsPool: jobsPool{dsn: dsn}}
	s := &Store{db: l, now: opts.Now, keys: opts.Keyring, written: l.written}
	wconn, err := w.Conn(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", opts.Path, err)
	}
	l.wconn = wconn
	// A batch's savepoints keep the pages they change in a sub-journal, which SQLite spills to a
	// temporary file past 64 KB. Keeping it in memory (temp_store = MEMORY) saved ~4% of a create's CPU
	// but has no bound: a sweep of hundreds of thousands of expired rows held them all in RAM (+100 MB,
	// found in review), so it stays on disk.
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
	l.startCheckpoints(dsn)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := wconn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", opts.Path, err)
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

func (l *sqlite) name() string { return "sqlite" }

// queryRow runs q on the read pool through its statement cache.
func (l *sqlite) queryRow(ctx context.Context, q string, args []any) *sql.Row {
	st, cached, err := l.rStmts.get(ctx, l.r.PrepareContext, q)
	if err != nil || !cached {
		if st != nil {
			st.Close()
		}
		return l.r.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs q on the read pool through its statement cache.
func (l *sqlite) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	st, cached, err := l.rStmts.get(ctx, l.r.PrepareContext, q)
	if err != nil || !cached {
		if st != nil {
			st.Close()
		}
		return l.r.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (l *sqlite) forUpdate() string { return "" }

func (l *sqlite) lockKeys(context.Context, *wtx, int32, []string) error { return nil }

// migrationConn is the write connection: each migration's transaction is immediate (_txlock), which
// serialises it with another process's, so each migration is applied once.
func (l *sqlite) migrationConn(context.Context) (*sql.Conn, func(), error) {
	l.lockW()
	if l.wconn == nil {
		l.unlockW()
		return nil, nil, errClosed
	}
	return l.wconn, l.unlockW, nil
}

// eventsCommitted wakes the reader at once: the one writer numbers events in commit order.
func (l *sqlite) eventsCommitted() { l.written.notify() }

func (l *sqlite) eventInsert() string { return insertEvent }

func (l *sqlite) settleEvents(context.Context) error { return nil }

func (l *sqlite) followEvents() { l.watchEvents() }

func (l *sqlite) bind(q string) string { return q }

func (l *sqlite) pool() *sql.DB { return l.r }

func (l *sqlite) close() error {
	l.stopWatch()
	l.stopCheckpoints()
	l.lockW()
	defer l.unlockW()
	errs := []error{l.rStmts.close(), l.wStmts.close()}
	if l.wconn != nil {
		errs = append(errs, l.wconn.Close())
		l.wconn = nil
	}
	return errors.Join(append(errs, l.r.Close(), l.w.Close(), l.closeJobs())...)
}
