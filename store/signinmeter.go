package store

import (
	"context"
	"sync"
	"time"
)

// RefusalFlushInterval is how often a SignInMeter writes what it counted of a full minute: one
// write per tenant, minute and class every few seconds, however many refusals arrive.
const RefusalFlushInterval = 5 * time.Second

// SignInMeter records refusals in the sign-in log without making each refusal past the cap a write:
// once the store answered that a tenant's class is full for a minute (the SignInCodeMore record),
// this replica counts the rest of that minute in memory and adds them to that record at most every
// RefusalFlushInterval. Garbage posted faster than the cap then queues no transaction on the
// minute's row (a lock on PostgreSQL, the single writer on SQLite) ahead of real sign-ins.
// The server that records refusals owns one (no process-global state). Safe for concurrent use.
type SignInMeter struct {
	st  SignInLogStore
	now func() time.Time

	mu   sync.Mutex
	full map[meterKey]*meterCount
}

type meterKey struct {
	tenant string
	minute int64 // Unix minute of the store's SignInCodeMore record
	class  SignInClass
}

type meterCount struct {
	at      time.Time // the minute's record time, for AddRefusals
	pending int
	flushed time.Time
}

// NewSignInMeter returns a meter writing to st; now is the clock of the flush interval (time.Now
// when nil).
func NewSignInMeter(st SignInLogStore, now func() time.Time) *SignInMeter {
	if now == nil {
		now = time.Now
	}
	return &SignInMeter{st: st, now: now, full: map[meterKey]*meterCount{}}
}

// Record records r: an accepted record, or a refusal of a class not known full, through
// RecordSignIn; a refusal of a class this replica knows full in the current minute only in memory.
func (m *SignInMeter) Record(ctx context.Context, r *SignInRecord) error {
	now := m.now()
	if r.Capped() {
		k := meterKey{r.TenantID, now.Unix() / 60, r.Class()}
		m.mu.Lock()
		c, ok := m.full[k]
		if ok {
			c.pending++
		}
		due := m.due(now)
		m.mu.Unlock()
		m.flush(ctx, due)
		if ok {
			return nil
		}
	}
	if err := m.st.RecordSignIn(ctx, r); err != nil {
		return err
	}
	if r.Code == SignInCodeMore {
		k := meterKey{r.TenantID, r.Time.Unix() / 60, r.Class()}
		m.mu.Lock()
		if _, ok := m.full[k]; !ok {
			m.full[k] = &meterCount{at: r.Time, flushed: now}
		}
		m.mu.Unlock()
	}
	return nil
}

type meterFlush struct {
	k meterKey
	c meterCount
}

// due takes, with m.mu held, the counts to write now: those flushed longer than the interval ago,
// and every count of a past minute (whose entry then goes).
func (m *SignInMeter) due(now time.Time) []meterFlush {
	var out []meterFlush
	for k, c := range m.full {
		past := k.minute < now.Unix()/60
		if c.pending > 0 && (past || now.Sub(c.flushed) >= RefusalFlushInterval) {
			out = append(out, meterFlush{k, *c})
			c.pending, c.flushed = 0, now
		}
		if past {
			delete(m.full, k)
		}
	}
	return out
}

func (m *SignInMeter) flush(ctx context.Context, fs []meterFlush) {
	for _, f := range fs {
		// A count that cannot be written is lost: the log is a debugging aid, and the refusals it
		// stands for were refused all the same.
		_ = m.st.AddRefusals(context.WithoutCancel(ctx), f.k.tenant, f.c.at, f.k.class, f.c.pending)
	}
}

// Run writes the counts that are due every tick until ctx ends: a minute's last refusals, with no
// refusal after them to trigger Record's write, reach the log within a tick or two rather than never.
// Whoever owns the meter runs it (cmd, every RefusalFlushInterval) and calls Flush after the last
// request at shutdown.
func (m *SignInMeter) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.mu.Lock()
			due := m.due(m.now())
			m.mu.Unlock()
			m.flush(ctx, due)
		}
	}
}

// Flush writes every count not yet written (at shutdown, or in tests).
func (m *SignInMeter) Flush(ctx context.Context) {
	m.mu.Lock()
	var fs []meterFlush
	for k, c := range m.full {
		if c.pending > 0 {
			fs = append(fs, meterFlush{k, *c})
			c.pending = 0
		}
	}
	m.mu.Unlock()
	m.flush(ctx, fs)
}
