// Package webhooks delivers events to webhooks (and to any other Consumer of events) through river, a
// durable job queue that keeps its jobs in the store's database: asynchronously, at least once, in
// seq order per destination, by whichever replica is up, across restarts.
//
// The events table is the outbox: every change writes its event in its own transaction. Each webhook
// has a cursor, the seq of the last event delivered or given up. Delivering to webhook W is the river
// job "drain W" (unique per webhook): read the events after W's cursor of W's types in seq order,
// 100 at a time, POST each, and move the cursor past those answered 2xx, recording with it the pass's
// failed attempts and give-ups but, of its deliveries, only the newest and those ahead of the cursor
// (recorded). A drain is enqueued when this process commits events (Config.Wake) and, as the safety
// net for events another replica wrote or a drain finishing as one committed, by a periodic job on
// river's leader every second for each webhook whose cursor is behind the newest event.
//
// Why not a river job per event inserted in the change's transaction: a job per event cannot keep a
// user's events in order once one of them is retried, while one cursor per webhook orders all its
// events, and a user's with them. And on SQLite the store commits on its own connection in batches
// (group commit: BEGIN IMMEDIATE and a savepoint per change), which river's InsertTx (a *sql.Tx)
// cannot join; the event row in the change's transaction is the durable record either way.
//
// A failed attempt (no 2xx, a timeout, a refused connection) stops the drain at that event: later
// events wait, to keep the order. River retries the drain with RetryPolicy's backoff: 4 s, then
// doubling, capped at an hour. An event still undelivered GiveUpAfter after it occurred is given up
// for that webhook (recorded, visible in its deliveries) and the cursor moves past it; `webhook
// deliveries ID --resend EVENT_ID` sends it again (a one-off job).
package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/store"
)

// Dialects of Config.Dialect: the names sqlstore's JobsDB gives.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Store is what delivery needs of the store: the event log and the webhooks.
type Store interface {
	store.EventStore
	store.WebhookStore
}

// Timing of delivery.
const (
	// GiveUpAfter is how long after an event occurred delivery stops retrying it.
	GiveUpAfter = 72 * time.Hour
	// drainFor is how long one drain job runs before it yields (river.JobSnooze(0)) and is taken up
	// again, so that it never nears jobTimeout.
	drainFor = 5 * time.Second
	// batch is how many events a drain reads at a time.
	batch = 100
	// jobTimeout bounds a job: drainFor plus one attempt in flight, with margin.
	jobTimeout = 30 * time.Second
	// rescueAfter is when river takes a running job for lost (its replica killed) and runs it again.
	rescueAfter = time.Minute
	// catchUpEvery is how often river's leader enqueues a drain for each webhook that is behind.
	catchUpEvery = time.Second
	// queue is river's queue of delivery jobs.
	queue = "webhooks"
	// maxWorkers is how many drains run at once in a process: a receiver that hangs holds one for
	// AttemptTimeout.
	maxWorkers = 16
)

// Config configures a Service.
type Config struct {
	// Store is the store whose events are delivered; DB and Dialect ("sqlite" or "postgres") are its
	// JobsDB, where river keeps its jobs (its tables are created by Start when missing).
	Store   Store
	DB      *sql.DB
	Dialect string
	Logger  *zap.Logger
	// RiverLogger receives river's own log lines; nil: warnings and errors to Logger.
	RiverLogger *slog.Logger
	Metrics     *metrics.Metrics
	Now         func() time.Time
	// AllowHTTPLoopback allows http:// (and https://) to loopback receivers
	// (serve --allow-http-loopback-webhooks); otherwise only https to public addresses.
	AllowHTTPLoopback bool
	// Wake, when set, receives a value after events were committed, by this process or (noticed within
	// tens of milliseconds) another on the same store (sqlstore's EventsWritten): each wake-up
	// enqueues a drain for every webhook, so delivery starts at once instead of at the next catch-up.
	Wake <-chan struct{}
	// Consumers add kinds of destination beyond store.KindWebhook (built in), by kind.
	Consumers map[string]Consumer
	// InsertOnly makes a Service that only enqueues (the CLI's resend): Start works no job.
	InsertOnly bool

	// attemptTimeout, for tests, replaces AttemptTimeout.
	attemptTimeout time.Duration
	// testOnly starts river's maintenance services without their random start-up delay.
	testOnly bool
}

// Service delivers events through river. Start it once; Stop it before closing the store.
type Service struct {
	cfg       Config
	log       *zap.Logger
	client    *river.Client[*sql.Tx]
	driver    riverdriver.Driver[*sql.Tx]
	sender    *sender
	consumers map[string]Consumer
	policy    *RetryPolicy

	// mu guards active, the drains running in this process by webhook.
	mu     sync.Mutex
	active map[string]*local

	stopWake context.CancelFunc
	wakeDone chan struct{}
}

// New checks cfg and builds the Service; nothing runs until Start.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("webhooks: Config.Store is required")
	case cfg.DB == nil:
		return nil, errors.New("webhooks: Config.DB is required")
	case cfg.Logger == nil:
		return nil, errors.New("webhooks: Config.Logger is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.attemptTimeout == 0 {
		cfg.attemptTimeout = AttemptTimeout
	}
	s := &Service{cfg: cfg, log: cfg.Logger, sender: newSender(cfg.AllowHTTPLoopback, cfg.attemptTimeout),
		consumers: map[string]Consumer{store.KindWebhook: webhookConsumer{}}, policy: newRetryPolicy(),
		active: map[string]*local{}}
	for k, c := range cfg.Consumers {
		s.consumers[k] = c
	}
	switch cfg.Dialect {
	case DialectSQLite:
		s.driver = riversqlite.New(cfg.DB)
	case DialectPostgres:
		s.driver = riverdatabasesql.New(cfg.DB)
	default:
		return nil, fmt.Errorf("webhooks: dialect %q: want %q or %q", cfg.Dialect, DialectSQLite, DialectPostgres)
	}
	rl := cfg.RiverLogger
	if rl == nil {
		rl = slog.New(slog.NewTextHandler(zap.NewStdLog(cfg.Logger.Named("river")).Writer(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rc := &river.Config{
		Logger:                      rl,
		RetryPolicy:                 s.policy,
		JobTimeout:                  jobTimeout,
		RescueStuckJobsAfter:        rescueAfter,
		CompletedJobRetentionPeriod: time.Hour,
		TestOnly:                    cfg.testOnly,
	}
	if !cfg.InsertOnly {
		workers := river.NewWorkers()
		river.AddWorker(workers, &drainWorker{s: s})
		river.AddWorker(workers, &resendWorker{s: s})
		river.AddWorker(workers, &catchUpWorker{s: s})
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{queue: {MaxWorkers: maxWorkers, FetchPollInterval: 200 * time.Millisecond, FetchCooldown: 20 * time.Millisecond}}
		rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(catchUpEvery),
			func() (river.JobArgs, *river.InsertOpts) { return CatchUpArgs{}, nil },
			&river.PeriodicJobOpts{ID: "webhooks_catch_up", RunOnStart: true})}
	} else {
		rc.SkipUnknownJobCheck = true
	}
	var err error
	if s.client, err = river.NewClient(s.driver, rc); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return s, nil
}

// Migrate creates or updates river's tables in the store's database. Replicas starting together take
// turns: on PostgreSQL under an advisory lock; on SQLite a failed attempt is tried again.
func (s *Service) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(s.driver, nil)
	if err != nil {
		return fmt.Errorf("webhooks: migrate: %w", err)
	}
	if s.cfg.Dialect == DialectPostgres {
		conn, err := s.cfg.DB.Conn(ctx)
		if err != nil {
			return fmt.Errorf("webhooks: migrate: %w", err)
		}
		defer conn.Close()
		// A session lock, released below or when the connection goes: the key is "rivermig" as bytes.
		const key = 0x7269766572_6d6967
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(key)); err != nil {
			return fmt.Errorf("webhooks: migrate: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(key))
	}
	for try := 0; ; try++ {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil || try == 2 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("webhooks: migrate river's tables: %w", err)
	}
	return nil
}

// Start migrates river's tables and starts working jobs and following Config.Wake. An InsertOnly
// Service only migrates.
func (s *Service) Start(ctx context.Context) error {
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	if s.cfg.InsertOnly {
		return nil
	}
	if err := s.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("webhooks: start: %w", err)
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWake, s.wakeDone = stop, make(chan struct{})
	go s.follow(wctx)
	return nil
}

// Stop stops following wake-ups and lets the running jobs finish (a drain yields within drainFor,
// an attempt within AttemptTimeout) until ctx is done, then cancels them: a drain cancelled this way
// is taken up again by the next replica, or this one when it starts.
func (s *Service) Stop(ctx context.Context) error {
	if s.stopWake != nil {
		s.stopWake()
		<-s.wakeDone
		s.stopWake = nil
	}
	if s.cfg.InsertOnly {
		return nil
	}
	err := s.client.Stop(ctx)
	if ctx.Err() != nil {
		err = s.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	// No attempt runs any more: the kept-alive connections to receivers are closed now, not when
	// their idle timeout passes (a Service stopped and started again, or a test, would leak them).
	s.sender.closeIdle()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("webhooks: stop: %w", err)
	}
	return nil
}

// follow enqueues a drain of every webhook after each wake-up, at most every wakeGap, so a stream of
// commits costs one round of inserts per gap, not one per commit.
func (s *Service) follow(ctx context.Context) {
	defer close(s.wakeDone)
	const wakeGap = 10 * time.Millisecond
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	tries := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.cfg.Wake:
			tries = 0
		case <-retry.C:
		}
		if busy := s.kick(ctx); busy && tries < 40 {
			// A drain is still running elsewhere (another replica, or one here that has returned but
			// whose completion river has not written yet): try again shortly rather than wait for the
			// catch-up, as it may end before reading this commit's events.
			tries++
			retry.Reset(50 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wakeGap):
		}
	}
}

// kick enqueues a drain for every webhook with none running here, and wakes those running here. It reports whether an insert was skipped
// because a drain of that webhook was running elsewhere.
func (s *Service) kick(ctx context.Context) bool {
	hooks, err := s.cfg.Store.ListWebhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhooks: list webhooks", zap.Error(err))
		}
		return false
	}
	var ids []string
	for _, w := range hooks {
		if !s.poke(w.ID) {
			ids = append(ids, w.ID)
		}
	}
	busy, err := s.enqueueDrains(ctx, ids)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("webhooks: enqueue drains", zap.Error(err))
	}
	return busy
}

// enqueueDrains inserts a drain job for each webhook id, skipped where one is waiting or running. It
// reports whether one was skipped for a drain running.
func (s *Service) enqueueDrains(ctx context.Context, ids []string) (bool, error) {
	if len(ids) == 0 {
		return false, nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DrainArgs{Webhook: id}}
	}
	res, err := s.client.InsertMany(ctx, params)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(res, func(r *rivertype.JobInsertResult) bool {
		return r.UniqueSkippedAsDuplicate && r.Job != nil && r.Job.State == rivertype.JobStateRunning
	}), nil
}

// Resend enqueues one more delivery of event eventID to webhook id, whatever became of its earlier
// ones: the event must be among the webhook's recorded deliveries (DeliveryOf) and still kept.
// ErrNotFound (wrapped) when either is unknown.
func (s *Service) Resend(ctx context.Context, id, eventID string) error {
	d, err := s.cfg.Store.DeliveryOf(ctx, id, eventID)
	if err != nil {
		return fmt.Errorf("webhooks: resend: event %s was never sent to webhook %s: %w", eventID, id, err)
	}
	if _, err := s.client.Insert(ctx, ResendArgs{Webhook: id, Event: eventID, Seq: d.Seq}, nil); err != nil {
		return fmt.Errorf("webhooks: resend: %w", err)
	}
	return nil
}

// Add stores a new webhook for url and types (all when empty) with a new secret, and returns it with
// the secret, which is shown once. It gets the events after the newest one now. url must pass
// CheckURL and types store.ParseEventTypes, whose list is stored.
func Add(ctx context.Context, st Store, url string, types []string, allowHTTPLoopback bool) (*store.Webhook, error) {
	if err := CheckURL(url, allowHTTPLoopback); err != nil {
		return nil, err
	}
	types, err := store.ParseEventTypes(types...)
	if err != nil {
		return nil, err
	}
	secret, err := NewSecret()
	if err != nil {
		return nil, err
	}
	last, err := st.LastEventSeq(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("webhooks: add: %w", err)
	}
	w := &store.Webhook{Kind: store.KindWebhook, URL: url, Types: types, Secret: secret, Cursor: last}
	if err := st.CreateWebhook(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}
