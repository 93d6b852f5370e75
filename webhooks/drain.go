package webhooks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/scimsso/scimsso/store"
)

// drainStates are the states in which a drain of a webhook keeps another from being enqueued: waiting
// or running. Not completed (river's default includes it), so that a drain can follow one that ended.
var drainStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// DrainArgs is the job that delivers a webhook's events after its cursor.
type DrainArgs struct {
	Webhook string `json:"webhook"`
}

// Kind implements river.JobArgs.
func (DrainArgs) Kind() string { return "webhook_drain" }

// InsertOpts makes a drain unique per webhook while one waits or runs. Its attempts are many: a drain
// fails as long as its receiver does, and what ends that is the give-up by the age of the event
// (GiveUpAfter), not a number of attempts; a drain discarded all the same is enqueued again by the
// catch-up, its backoff carried by the webhook's failure count.
func (DrainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: 1000, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: drainStates}}
}

// ResendArgs is the job that sends one event to a webhook once more (`webhook deliveries --resend`).
type ResendArgs struct {
	Webhook string `json:"webhook"`
	Event   string `json:"event"`
	Seq     int64  `json:"seq"`
}

// Kind implements river.JobArgs.
func (ResendArgs) Kind() string { return "webhook_resend" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ResendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: 10}
}

// CatchUpArgs is the periodic job that enqueues a drain for every webhook behind the newest event.
type CatchUpArgs struct{}

// Kind implements river.JobArgs.
func (CatchUpArgs) Kind() string { return "webhook_catch_up" }

// InsertOpts keeps at most one catch-up waiting.
func (CatchUpArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: drainStates}}
}

type catchUpWorker struct {
	river.WorkerDefaults[CatchUpArgs]
	s *Service
}

func (c *catchUpWorker) Work(ctx context.Context, _ *river.Job[CatchUpArgs]) error {
	st := c.s.cfg.Store
	last, err := st.LastEventSeq(ctx, false)
	if err != nil {
		return err
	}
	hooks, err := st.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, w := range hooks {
		if w.Cursor < last {
			ids = append(ids, w.ID)
		}
	}
	_, err = c.s.enqueueDrains(ctx, ids)
	return err
}

type drainWorker struct {
	river.WorkerDefaults[DrainArgs]
	s *Service
}

// Work delivers the webhook's events after its cursor until none is left, one fails, or drainFor
// has passed (then it yields and is taken up again at once).
func (d *drainWorker) Work(ctx context.Context, job *river.Job[DrainArgs]) error {
	s, id := d.s, job.Args.Webhook
	poke := s.enter(id)
	defer s.leave(id)
	st := s.cfg.Store
	w, err := st.Webhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // removed: nothing to deliver
	} else if err != nil {
		return err
	}
	consumer, ok := s.consumers[w.Kind]
	if !ok {
		return river.JobCancel(fmt.Errorf("webhook %s: no consumer of kind %q in this binary", id, w.Kind))
	}
	// Events of other lanes past the cursor may have been delivered already (after a failure, or by a
	// drain that stopped early: its turn ended, Stop, a timeout): they are not sent again, or a user's
	// receiver would see an older state after a newer one. Always read: a drain cut short resets the
	// failures to 0 with such events left behind the cursor (one indexed query).
	sent, err := st.DeliveredAfter(ctx, id, w.Cursor)
	if err != nil {
		return err
	}
	until := s.cfg.Now().Add(drainFor)
	pool := newLanePool()
	defer pool.close()
	var skipTo int64 // the seq the cursor may move to, up to which no event was of its types
	// end moves the cursor over what the last passes found none of its types in, as the drain ends.
	end := func(ret error) error {
		if skipTo > w.Cursor {
			if err := s.advance(context.WithoutCancel(ctx), w, skipTo, nil); err != nil {
				return ignoreMoved(err)
			}
		}
		return ret
	}
	for {
		// last matters only to a webhook of some types (below); read before the events, and lazily
		// like them: every event up to it is readable to the list below.
		var last int64
		if len(w.Types) > 0 {
			if last, err = st.LastEventSeq(ctx, true); err != nil {
				return err
			}
		}
		// Lazily: a drain is woken once events are readable (EventsWritten); making them readable
		// itself would cost a commit per read on PostgreSQL (measured: 58 ms a batch under load).
		evs, err := st.ListEvents(ctx, store.EventQuery{After: w.Cursor, Limit: batch, Types: w.Types, Lazy: true})
		if err != nil {
			return err
		}
		outs := s.deliverBatch(ctx, consumer, w, evs, sent, until, pool)
		// The cursor moves over the events done (delivered, not for this destination, given up, or
		// delivered by an earlier attempt) up to the first that is not.
		var ds []store.Delivery
		var failed *store.Delivery
		to, all := w.Cursor, true
		for i, o := range outs {
			if all && o.done {
				to = evs[i].Seq
			} else {
				all = false
			}
			if o.d.Outcome == "" {
				continue
			}
			if o.d.Outcome == store.DeliveryFailed && failed == nil {
				failed = &o.d
				continue
			}
			ds = append(ds, o.d)
		}
		if all && len(evs) < batch && last > to {
			// Every event of its types up to last was read (last was read first, and events become
			// visible in seq order): the cursor moves to last, so the catch-up does not take a
			// webhook of a few types for behind. With events delivered, in this pass's write; a pass
			// that found none writes nothing, and the drain moves the cursor when it ends (a
			// back-channel client, of session.ended only, would otherwise write its cursor at every
			// wake-up under SCIM load).
			if len(evs) > 0 {
				to = last
			} else {
				skipTo = last
			}
		}
		if skipTo > to && (ctx.Err() != nil || failed != nil) {
			to = skipTo
		}
		ds = recorded(ds, to)
		if ctx.Err() != nil {
			// Stopping (or past the job's timeout): keep what was delivered and yield; no failure
			// counts against the receiver.
			if err := s.advance(context.WithoutCancel(ctx), w, to, ds); err != nil {
				return ignoreMoved(err)
			}
			return river.JobSnooze(0)
		}
		if failed != nil {
			fails, err := st.FailWebhook(ctx, id, w.Cursor, to, ds, *failed)
			if err != nil {
				return ignoreMoved(err)
			}
			s.policy.set(job.ID, Backoff(fails))
			return fmt.Errorf("webhook %s: event %d: %s", id, failed.Seq, failed.Error)
		}
		if err := s.advance(ctx, w, to, ds); err != nil {
			return ignoreMoved(err)
		}
		if s.cfg.Now().After(until) {
			return end(river.JobSnooze(0))
		}
		if all && len(evs) < batch && !s.idle(ctx, id, poke, until) {
			return end(nil) // nothing more, and no wake-up came for a while
		}
	}
}

// lanes is how many of a batch's events a drain sends at once: the events of one user (or of one
// tenant's settings and tokens) go one after the other, in seq order, so each user's are delivered
// in order; different users' go side by side. One at a time, a drain delivers at most one event per
// round trip, which on a busy machine falls behind the writes (measured: 1,070 deliveries/s against
// 1,310 SCIM creates/s on two cores, the lag growing to 1.4 s).
const lanes = 8

// outcome is what became of one event of a batch: done when the cursor may pass it; d is the
// delivery to record ("" Outcome: nothing to record).
type outcome struct {
	done bool
	d    store.Delivery
}

// deliverBatch attempts evs, lanes at a time by lane (laneOf), each lane in seq order and stopping at
// its first failure; the events it does not reach are not done. An event in sent was delivered by an
// earlier attempt and is done without being sent. A failed event older than GiveUpAfter is given up
// (done), and the events after it in its lane as old too, unsent: they waited as long behind it, and
// one by one a receiver that hangs would cost AttemptTimeout each. No event is attempted after until
// or once ctx is done.
func (s *Service) deliverBatch(ctx context.Context, c Consumer, w *store.Webhook, evs []store.Event, sent map[string]bool, until time.Time, pool *lanePool) []outcome {
	outs := make([]outcome, len(evs))
	byLane := map[string][]int{}
	var order []string
	for i := range evs {
		k := laneOf(&evs[i])
		if _, ok := byLane[k]; !ok {
			order = append(order, k)
		}
		byLane[k] = append(byLane[k], i)
	}
	var wg sync.WaitGroup
	for _, k := range order {
		idx := byLane[k]
		wg.Add(1)
		pool.run(func() {
			defer wg.Done()
			givingUp := false
			for _, i := range idx {
				ev := &evs[i]
				now := s.cfg.Now()
				switch {
				case sent[ev.ID]:
					outs[i].done = true
					continue
				case givingUp && now.Sub(ev.OccurredAt) >= GiveUpAfter:
					outs[i] = outcome{true, delivery(w, ev, now, result{reason: "not sent: an earlier event of its user failed and this one is as old"}, store.DeliveryGaveUp)}
					s.cfg.Metrics.WebhookDelivery(store.DeliveryGaveUp)
					continue
				case ctx.Err() != nil || now.After(until):
					return
				}
				givingUp = false
				res := s.attempt(ctx, c, w, ev, now)
				switch {
				case res.ok && res.sent == 0:
					outs[i].done = true // not for this destination: nothing to record
				case res.ok:
					outs[i] = outcome{true, delivery(w, ev, now, res, store.DeliveryDelivered)}
					s.cfg.Metrics.WebhookDelivery(store.DeliveryDelivered)
					s.cfg.Metrics.WebhookLag(s.cfg.Now().Sub(ev.OccurredAt))
				case ctx.Err() != nil:
					return // cut off by the stop, not the receiver's failure
				case now.Sub(ev.OccurredAt) >= GiveUpAfter:
					outs[i] = outcome{true, delivery(w, ev, now, res, store.DeliveryGaveUp)}
					s.cfg.Metrics.WebhookDelivery(store.DeliveryGaveUp)
					givingUp = true
				default:
					outs[i] = outcome{false, delivery(w, ev, now, res, store.DeliveryFailed)}
					s.cfg.Metrics.WebhookDelivery(store.DeliveryFailed)
					return
				}
			}
		})
	}
	wg.Wait()
	return outs
}

// recorded is what of a pass's deliveries ds is recorded once the cursor is at to: every failed
// attempt and give-up; of the events delivered, those past to (a lane that ran ahead of a failure:
// DeliveredAfter must know them, not to send them again) and, of those the cursor passes, only the
// newest, which `webhook deliveries` shows as the last delivered. The cursor says the others were
// delivered; a row each (three indexes, then swept) was a fifth of a delivery's server CPU on SQLite,
// in its one writer. ds is reused.
func recorded(ds []store.Delivery, to int64) []store.Delivery {
	newest := -1
	for i := range ds {
		if ds[i].Outcome == store.DeliveryDelivered && ds[i].Seq <= to && (newest < 0 || ds[i].Seq > ds[newest].Seq) {
			newest = i
		}
	}
	out := ds[:0]
	for i, d := range ds {
		if d.Outcome != store.DeliveryDelivered || d.Seq > to || i == newest {
			out = append(out, d)
		}
	}
	return out
}

// lanePool runs a drain's lanes: lanes goroutines for the drain's life, not one per lane of every
// batch. A new goroutine grows its stack through the HTTP client's calls every time (measured: a
// tenth of an attempt's CPU copying stacks); these keep theirs.
type lanePool struct {
	work chan func()
	done sync.WaitGroup
}

func newLanePool() *lanePool {
	p := &lanePool{work: make(chan func())}
	p.done.Add(lanes)
	for range lanes {
		go func() {
			defer p.done.Done()
			for f := range p.work {
				f()
			}
		}()
	}
	return p
}

// run runs f on the first goroutine free, waiting for one: at most lanes run at once.
func (p *lanePool) run(f func()) { p.work <- f }

// close ends the goroutines once they are free; run may not be called after.
func (p *lanePool) close() {
	close(p.work)
	p.done.Wait()
}

// laneOf is the lane of ev: its user, or its tenant for the tenant's own events.
func laneOf(ev *store.Event) string {
	if ev.Subject != "" {
		return "u:" + ev.Subject
	}
	return "t:" + ev.TenantID
}

// advance records ds and moves w's cursor to to, unless there is nothing to write.
func (s *Service) advance(ctx context.Context, w *store.Webhook, to int64, ds []store.Delivery) error {
	if to == w.Cursor && len(ds) == 0 {
		return nil
	}
	if err := s.cfg.Store.AdvanceWebhook(ctx, w.ID, w.Cursor, to, ds); err != nil {
		return err
	}
	w.Cursor = to
	return nil
}

// ignoreMoved ends a drain whose webhook another drain moved (a rescued job running beside the one it
// replaced) or that was removed: the other goes on.
func ignoreMoved(err error) error {
	if errors.Is(err, store.ErrVersionMismatch) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// attempt makes the requests consumer asks for ev, in order, and fails at the first that fails.
func (s *Service) attempt(ctx context.Context, c Consumer, w *store.Webhook, ev *store.Event, now time.Time) result {
	reqs, err := c.Requests(ctx, w, ev, now)
	if err != nil {
		return result{reason: err.Error()}
	}
	res := result{ok: true}
	for i, r := range reqs {
		if res = s.sender.post(ctx, r); !res.ok {
			return res
		}
		res.sent = i + 1
	}
	return res
}

func delivery(w *store.Webhook, ev *store.Event, at time.Time, res result, outcome string) store.Delivery {
	return store.Delivery{WebhookID: w.ID, EventID: ev.ID, Seq: ev.Seq, EventType: ev.Type, At: at, Status: res.status,
		Error: res.reason, Outcome: outcome}
}

// local is a drain running in this process: n of them for one webhook (a rescued job beside the one
// it replaced), poked by wake-ups while they run.
type local struct {
	n    int
	poke chan struct{}
}

// enter records a drain of webhook id running here and returns its wake-up channel.
func (s *Service) enter(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.active[id]
	if l == nil {
		l = &local{poke: make(chan struct{}, 1)}
		s.active[id] = l
	}
	l.n++
	return l.poke
}

func (s *Service) leave(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.active[id]; l != nil {
		if l.n--; l.n <= 0 {
			delete(s.active, id)
		}
	}
}

// poke wakes the drain of webhook id running here and reports whether there is one.
func (s *Service) poke(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.active[id]
	if l == nil {
		return false
	}
	select {
	case l.poke <- struct{}{}:
	default:
	}
	return true
}

// idle waits, for a drain that found nothing more, until a wake-up comes (true: read again) or
// linger passes, ctx ends or until comes (false: end). Lingering, a drain under a stream of writes
// stays one job instead of one job per commit, each of them river writes that, on SQLite, take the
// one write lock from the store's writer.
func (s *Service) idle(ctx context.Context, id string, poke <-chan struct{}, until time.Time) bool {
	wait := min(linger, time.Until(until))
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-poke:
			return true
		case <-t.C:
		case <-ctx.Done():
		}
	}
	// A wake-up that came as the wait ended must not be lost: kick only pokes a drain it finds here.
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-poke:
		return true
	default:
	}
	if l := s.active[id]; l != nil && l.n == 1 {
		delete(s.active, id) // from here kick enqueues a new drain
	}
	return false
}

// linger is how long a drain that found nothing more waits for a wake-up before it ends.
const linger = time.Second

type resendWorker struct {
	river.WorkerDefaults[ResendArgs]
	s *Service
}

// Work sends the event once more; the webhook's cursor is not touched.
func (r *resendWorker) Work(ctx context.Context, job *river.Job[ResendArgs]) error {
	s, a := r.s, job.Args
	w, err := s.cfg.Store.Webhook(ctx, a.Webhook)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("webhook %s was removed", a.Webhook))
	} else if err != nil {
		return err
	}
	consumer, ok := s.consumers[w.Kind]
	if !ok {
		return river.JobCancel(fmt.Errorf("webhook %s: no consumer of kind %q in this binary", w.ID, w.Kind))
	}
	evs, err := s.cfg.Store.ListEvents(ctx, store.EventQuery{After: a.Seq - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].ID != a.Event {
		return river.JobCancel(fmt.Errorf("event %s is no longer kept", a.Event))
	}
	now := s.cfg.Now()
	res := s.attempt(ctx, consumer, w, &evs[0], now)
	outcome := store.DeliveryDelivered
	if !res.ok {
		outcome = store.DeliveryFailed
	}
	d := delivery(w, &evs[0], now, res, outcome)
	d.Resend = true
	if err := s.cfg.Store.RecordDelivery(ctx, d); err != nil {
		return ignoreMoved(err)
	}
	s.cfg.Metrics.WebhookDelivery(outcome)
	if !res.ok {
		s.policy.set(job.ID, Backoff(job.Attempt))
		return fmt.Errorf("webhook %s: resend of event %d: %s", w.ID, evs[0].Seq, res.reason)
	}
	return nil
}

// Backoff is the wait before the next attempt after failures failed attempts in a row: 4 s, doubling,
// with up to 10% jitter either way so that drains failing together spread out, capped at an hour.
// The first retry comes within 10 s (4.4 s at most; river's scheduler makes a job due within 5 s
// available at once).
func Backoff(failures int) time.Duration {
	d := 4 * time.Second
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	// The cap comes after the jitter: never more than an hour.
	return min(d+time.Duration((rand.Float64()*0.2-0.1)*float64(d)), time.Hour)
}

// RetryPolicy is river's ClientRetryPolicy for delivery jobs: the wait is Backoff of the failures
// the job's worker counted (a drain counts the webhook's failures since its last delivered event, kept
// in the store, so a drain enqueued anew keeps the pace), or of the job's own errors when its worker
// counted none (another kind of job, or a panic), except a drain's: soon, as its errors gather over a
// long life.
type RetryPolicy struct {
	mu   sync.Mutex
	next map[int64]time.Duration // by job id, set by the worker just before it returns its error
}

func newRetryPolicy() *RetryPolicy {
	return &RetryPolicy{next: map[int64]time.Duration{}}
}

func (p *RetryPolicy) set(jobID int64, d time.Duration) {
	p.mu.Lock()
	p.next[jobID] = d
	p.mu.Unlock()
}

// NextRetry implements river.ClientRetryPolicy.
func (p *RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	p.mu.Lock()
	d, ok := p.next[job.ID]
	delete(p.next, job.ID)
	p.mu.Unlock()
	switch {
	case ok:
	case job.Kind == (DrainArgs{}).Kind():
		// A drain whose worker recorded no wait: rescued (its replica died) or panicked. A drain job
		// lives long and gathers errors over its life, so they say nothing of the receiver: retry
		// soon; the webhook's failures in the store pace a failing receiver.
		d = Backoff(1)
	default:
		d = Backoff(len(job.Errors) + 1)
	}
	// The wall clock, not Config.Now: river schedules the retry against its own.
	return time.Now().Add(d)
}
