package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// The event log. Every store method that makes a change the platform's applications follow records
// its events itself, inside its own write transaction (the fn that s.write runs, so on SQLite inside
// the write's savepoint of a group commit): a write that fails or rolls back leaves no event, and no
// event exists without its change. One INSERT per event, of the JSON of the object after the change;
// the tenant's slug comes from a cache, so recording reads nothing more.
//
// seq is what a reader follows: "a reader that has seen every event up to Seq never sees a smaller one
// appear later". On SQLite, with its one writer, the row id taken at insert is in commit order. On
// PostgreSQL transactions commit in another order than they insert, so events are written to a queue
// and moved into the log, numbered, once committed (sequencer.go); ListEvents and LastEventSeq read
// the log only.

// EventRetention is how long events are kept: Sweep deletes older ones (but the newest).
const EventRetention = 30 * 24 * time.Hour

// defaultEventLimit is ListEvents' page size when the query gives none.
const defaultEventLimit = 100

// wakeup is a channel of one pending signal: a send never blocks, and signals sent before the reader
// comes back are one.
type wakeup chan struct{}

func newWakeup() wakeup { return make(wakeup, 1) }

func (w wakeup) notify() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// EventsWritten returns a channel that receives after events written through this Store value became
// visible to ListEvents: after the commit on SQLite; on PostgreSQL after they were numbered, which
// this Store's sequencer also notices for events written by other replicas (within about
// sequenceEvery); on SQLite, the first call starts a look every otherWritersEvery for events other
// processes on the same file committed (a replica that does not deliver, the CLI). It holds at most
// one signal, however many commits came before it was read, and never blocks a writer. It is a
// wake-up, not a delivery: a reader lists from its cursor when woken, and still lists now and then.
func (s *Store) EventsWritten() <-chan struct{} {
	s.db.followEvents()
	return s.written
}

// tenantSlug is the slug of tenant id, read once and then cached; ErrNotFound for an unknown tenant.
func (s *Store) tenantSlug(ctx context.Context, db rower, id string) (string, error) {
	if v, ok := s.slugs.Load(id); ok {
		return v.(string), nil
	}
	var slug string
	if err := db.row(ctx, `SELECT slug FROM tenants WHERE id = ?`, id).Scan(&slug); err != nil {
		return "", err
	}
	s.slugs.Store(id, slug)
	return slug, nil
}

// insertEvent records an event where its seq is given at insert (SQLite); insertPendingEvent where it
// is given after the commit (PostgreSQL, sequencer.go). The dialect says which (eventInsert).
const (
	insertEvent        = `INSERT INTO events (id, type, tenant_id, subject, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?)`
	insertPendingEvent = `INSERT INTO events_pending (id, type, tenant_id, subject, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?)`
)

// record writes one event of the tenant in tx; subject is the user it is about ("" for tenant events)
// and data the JSON of the object.
func (s *Store) record(ctx context.Context, tx *wtx, now time.Time, typ, tenantID, subject string, data []byte) error {
	tx.events++
	_, err := tx.exec(ctx, s.db.eventInsert(), uuid.NewString(), typ, tenantID, subject, micros(now), string(data))
	return err
}

// recordObject records one event whose data is obj.
func (s *Store) recordObject(ctx context.Context, tx *wtx, now time.Time, typ, tenantID, subject string, obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("event %s: %w", typ, err)
	}
	return s.record(ctx, tx, now, typ, tenantID, subject, data)
}

// userEvents are the events of a change of a user from old to u, in the order they are recorded: one
// per kind of change, none when nothing changed. userName changing (other than in case) is
// user.email_changed, the emails changing with it included; active flipping is user.deactivated or
// user.reactivated; any other change is user.updated.
func userEvents(old, u *store.User) []string {
	var types []string
	rest := u.Clone()
	rest.Active = old.Active
	emailChanged := store.Key(u.UserName) != store.Key(old.UserName)
	if emailChanged {
		rest.UserName, rest.Emails = old.UserName, old.Emails
	}
	if !rest.Equal(old) {
		types = append(types, store.EventUserUpdated)
	}
	if emailChanged {
		types = append(types, store.EventUserEmailChanged)
	}
	switch {
	case old.Active && !u.Active:
		types = append(types, store.EventUserDeactivated)
	case !old.Active && u.Active:
		types = append(types, store.EventUserReactivated)
	}
	return types
}

// recordUser records events of the types about u, each with u as it is now.
func (s *Store) recordUser(ctx context.Context, tx *wtx, now time.Time, u *store.User, types ...string) error {
	if len(types) == 0 {
		return nil
	}
	slug, err := s.tenantSlug(ctx, tx, u.TenantID)
	if err != nil {
		return err
	}
	data, err := json.Marshal(store.NewUserObject(u, slug))
	if err != nil {
		return fmt.Errorf("user event: %w", err)
	}
	for _, typ := range types {
		if err := s.record(ctx, tx, now, typ, u.TenantID, u.ID, data); err != nil {
			return err
		}
	}
	return nil
}

// recordSessionStarted records session.started for ss.
func (s *Store) recordSessionStarted(ctx context.Context, tx *wtx, now time.Time, ss *store.Session) error {
	slug, err := s.tenantSlug(ctx, tx, ss.TenantID)
	if err != nil {
		return err
	}
	return s.recordObject(ctx, tx, now, store.EventSessionStarted, ss.TenantID, ss.UserID, store.NewSessionObject(ss, slug))
}

// endSessions deletes the sessions matching where (a condition on sessions, with its args) and records
// a session.ended event for each, with reason and the OpenID clients signed in with the session
// (rememberSignIns: they redeemed a code of it, whether or not their tokens have expired since),
// which are forgotten with it; it returns how many ended. A session past its expiry had already ended by
// timeout, unswept: its reason is EndTimeout, whatever ends it now. The clients are deleted and read
// by a statement of their own after the sessions' DELETE, 64 sessions at a time (Sweep ends a
// thousand at once): on PostgreSQL a subquery of the DELETE would read them as they were when it
// started, and miss a client whose sign-in committed while the DELETE waited for the session's row
// (RedeemOIDCCode locks it).
func (s *Store) endSessions(ctx context.Context, tx *wtx, now time.Time, reason, where string, args ...any) (int64, error) {
	var ended []endedSession
	err := tx.each(ctx, `DELETE FROM sessions WHERE `+where+` RETURNING id_hash, tenant_id, user_id, created_at, expires_at, mobile`, args,
		func(sc scanner) error {
			var e endedSession
			var c, x int64
			var mobile int
			if err := sc.Scan(&e.IDHash, &e.TenantID, &e.UserID, &c, &x, &mobile); err != nil {
				return err
			}
			e.CreatedAt, e.ExpiresAt, e.Mobile = fromMicros(c), fromMicros(x), mobile != 0
			ended = append(ended, e)
			return nil
		})
	if err != nil {
		return 0, err
	}
	if err := forgetSignIns(ctx, tx, ended); err != nil {
		return 0, err
	}
	// RETURNING gives no order: record them oldest first, so the log reads the same on every backend.
	slices.SortFunc(ended, func(a, b endedSession) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(string(a.IDHash), string(b.IDHash)))
	})
	for i := range ended {
		e := &ended[i]
		slug, err := s.tenantSlug(ctx, tx, e.TenantID)
		if err != nil {
			return 0, err
		}
		o := store.NewSessionObject(&e.Session, slug)
		o.Reason, o.Clients = reason, e.clients
		if !e.ExpiresAt.After(now) {
			o.Reason = store.EndTimeout
		}
		if err := s.recordObject(ctx, tx, now, store.EventSessionEnded, e.TenantID, e.UserID, o); err != nil {
			return 0, err
		}
	}
	return int64(len(ended)), nil
}

// forgetSignIns deletes the rows of the OpenID clients signed in with the ended sessions (and the
// console sessions opened from them) and puts them in each session's clients, sorted. The sessions go
// 64 to a statement, the last chunk padded
// with its last session (a repeat in IN changes nothing), so that SQLite prepares two statements,
// not one per count.
func forgetSignIns(ctx context.Context, tx *wtx, ended []endedSession) error {
	const chunk = 64
	byHash := make(map[string]*endedSession, len(ended))
	for i := range ended {
		byHash[string(ended[i].IDHash)] = &ended[i]
	}
	for lo := 0; lo < len(ended); lo += chunk {
		part := ended[lo:min(lo+chunk, len(ended))]
		n := chunk
		if len(ended) == 1 {
			n = 1
		}
		args := make([]any, n)
		for i := range args {
			args[i] = part[min(i, len(part)-1)].IDHash
		}
		// The console sessions a tenant admin opened from these sessions end with them.
		if _, err := tx.exec(ctx, `DELETE FROM admin_sessions WHERE people_session IN (?`+strings.Repeat(", ?", n-1)+`)`, args...); err != nil {
			return err
		}
		q := `DELETE FROM oidc_session_clients WHERE session_hash IN (?` + strings.Repeat(", ?", n-1) + `) RETURNING session_hash, client_id`
		err := tx.each(ctx, q, args, func(sc scanner) error {
			var h []byte
			var client string
			if err := sc.Scan(&h, &client); err != nil {
				return err
			}
			if e := byHash[string(h)]; e != nil {
				e.clients = append(e.clients, client)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i := range ended {
		slices.Sort(ended[i].clients)
		ended[i].clients = slices.Compact(ended[i].clients)
	}
	return nil
}

// endedSession is a session endSessions deleted, with the clients signed in with it.
type endedSession struct {
	store.Session
	clients []string
}

// sweepBatch bounds the sessions one transaction of Sweep ends, and the events one deletes: on SQLite
// every other write waits for the one writer meanwhile (100,000 expired sessions in one transaction
// held a SCIM write up 4 s).
const sweepBatch = 1000

// sweepSessions ends the expired sessions, sweepBatch at a time, each batch its own transaction, until
// a batch finds fewer: writes queued meanwhile go between the batches. It returns how many ended.
func (s *Store) sweepSessions(ctx context.Context) (int64, error) {
	var n int64
	for {
		var k int64
		err := s.write(ctx, func(tx *wtx, now time.Time) error {
			var err error
			// The outer condition again, so that on PostgreSQL a session touched (moved on) while the
			// DELETE waited for its row is re-checked and kept.
			k, err = s.endSessions(ctx, tx, now, store.EndTimeout,
				`id_hash IN (SELECT id_hash FROM sessions WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2) AND expires_at <= ?1`,
				micros(now), sweepBatch)
			return err
		})
		n += k
		if err != nil || k < sweepBatch {
			return n, err
		}
	}
}

// sweepEvents deletes the events older than EventRetention, but always keeps the newest event, so
// that seq goes on from it (a new seq is one above the greatest, on both backends), sweepBatch at a
// time, each batch its own transaction. It finds the first event young enough to keep by walking the
// seq index from the oldest (the cost is that of the rows it then deletes, and no index on
// occurred_at is kept up on every write), and deletes by seq below it, each batch starting where the
// last one ended, not walking again over what it deleted. (An event older than a younger one's seq
// stays until that one goes: times are the transactions', and seq their order of commit, which agree
// to within a transaction's length.)
func (s *Store) sweepEvents(ctx context.Context) (int64, error) {
	var lo, keep int64
	err := s.row(ctx, `SELECT coalesce((SELECT min(seq) FROM events), 0),
		coalesce((SELECT seq FROM events WHERE occurred_at >= ? ORDER BY seq LIMIT 1), (SELECT max(seq) FROM events), 0)`,
		micros(s.now().Add(-EventRetention))).Scan(&lo, &keep)
	if err != nil {
		return 0, err
	}
	var n int64
	for lo < keep {
		var k int64
		err := s.write(ctx, func(tx *wtx, _ time.Time) error {
			k = 0
			return tx.each(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?) RETURNING seq`,
				[]any{lo, keep, sweepBatch}, func(sc scanner) error {
					var seq int64
					if err := sc.Scan(&seq); err != nil {
						return err
					}
					k++
					lo = max(lo, seq+1)
					return nil
				})
		})
		n += k
		if err != nil || k < sweepBatch {
			return n, err
		}
	}
	return n, nil
}

// ListEvents implements store.EventStore. Every event committed before the call is visible to it,
// unless numbering it took longer than readerWait (PostgreSQL, sequencer.go); a Limit of 0 or less
// lists defaultEventLimit events.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	if !q.Lazy {
		if err := s.db.settleEvents(ctx); err != nil {
			return nil, fmt.Errorf("sqlstore: list events: %w", mapErr(err))
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultEventLimit
	}
	var types []string
	if len(q.Types) > 0 {
		// Only known types can match, and the statement names them (listEventsSQL): keep to the
		// list's own strings, each once, in its order.
		types = slices.DeleteFunc(slices.Clone(store.EventTypes), func(t string) bool { return !slices.Contains(q.Types, t) })
		if len(types) == 0 {
			return []store.Event{}, nil
		}
	}
	out := make([]store.Event, 0, min(limit, 512))
	err := s.each(ctx, listEventsSQL(types), []any{max(q.After, 0), limit},
		func(sc scanner) error {
			var e store.Event
			var at int64
			if err := sc.Scan(&e.Seq, &e.ID, &e.Type, &e.TenantID, &e.Subject, &at, &e.Data); err != nil {
				return err
			}
			e.OccurredAt = fromMicros(at)
			out = append(out, e)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list events: %w", err)
	}
	for i := range out {
		slug, err := s.tenantSlug(ctx, s, out[i].TenantID)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list events: tenant %s: %w", out[i].TenantID, mapErr(err))
		}
		out[i].Tenant = slug
	}
	return out, nil
}

// eventCols are the columns ListEvents reads.
const eventCols = `seq, id, type, tenant_id, subject, occurred_at, data`

// listEventsSQL is ListEvents' statement: the events after ?1, at most ?2, in seq order, of the types
// given (none: of every type), which must be store.EventTypes' own strings.
//
// With types, each is a walk in seq order from the cursor that stops at ?2 rows: of the (type, seq)
// index for a rare type, of the log for a common one, whose rows come soon; the first ?2 of the walks
// are returned. "type IN (…)" would either walk the log from the cursor for rare types too (the whole
// log after it) or read every event of the types after the cursor to sort them; this reads at most
// ?2 rows a type. The types are written into the statement, not bound: on PostgreSQL a prepared
// statement settles on a generic plan, made without the bound values, which takes the type for one
// of ten (common) and walks the log for every type; written in, each plan is made for its types.
// They are constants from a list of ten, so the statements are few.
func listEventsSQL(types []string) string {
	walk := func(typ string) string {
		cond := ""
		if typ != "" {
			cond = `type = '` + typ + `' AND `
		}
		return `SELECT ` + eventCols + ` FROM events WHERE ` + cond + `seq > ?1 ORDER BY seq LIMIT ?2`
	}
	switch len(types) {
	case 0:
		return walk("")
	case 1:
		return walk(types[0])
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + eventCols + ` FROM (`)
	for i, t := range types {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		fmt.Fprintf(&b, `SELECT * FROM (%s) t%d`, walk(t), i)
	}
	b.WriteString(`) e ORDER BY seq LIMIT ?2`)
	return b.String()
}

// LastEventSeq implements store.EventStore. Unless lazy, every event committed before the call is
// counted, as in ListEvents.
func (s *Store) LastEventSeq(ctx context.Context, lazy bool) (int64, error) {
	if !lazy {
		if err := s.db.settleEvents(ctx); err != nil {
			return 0, fmt.Errorf("sqlstore: last event seq: %w", mapErr(err))
		}
	}
	var seq int64
	if err := s.row(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlstore: last event seq: %w", err)
	}
	return seq, nil
}
