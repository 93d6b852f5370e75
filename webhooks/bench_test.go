package webhooks

import (
	"fmt"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// BenchmarkDrain: events delivered per second to one receiver on loopback, from a backlog.
func BenchmarkDrain(b *testing.B) {
	backendsB(b, func(b *testing.B, st *sqlstore.Store) {
		l := newEventLog(b, st, &clock{}) // its events are made now: the store keeps its own clock
		rc := newReceiver(b, nil)
		for i := range 50 {
			l.user(fmt.Sprintf("u%d", i))
		}
		w, err := Add(ctx, l.Store, rc.srv.URL+"/hook", nil, true)
		if err != nil {
			b.Fatal(err)
		}
		rc.secret = w.Secret
		for i := range b.N {
			l.emit(store.EventUserUpdated, fmt.Sprintf("u%d", i%50), time.Time{})
		}
		last, _ := l.LastEventSeq(ctx, false)
		b.ResetTimer()
		startService(b, l, nil)
		for {
			if got, _ := l.Webhook(ctx, w.ID); got.Cursor >= last {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
