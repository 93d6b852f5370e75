package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// Each event type reaches the receiver once, signed, its body the events API's JSON; the user's
// events in seq order, and the tenant's; a webhook of a few types gets only those; a webhook added
// later gets only later events.
func TestDeliverEveryType(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		l.emit(store.EventUserCreated, "before", time.Time{}) // before the webhooks: not theirs
		all := newReceiver(t, nil)
		some := newReceiver(t, nil)
		addWebhook(t, l, all)
		addWebhook(t, l, some, store.EventUserDeactivated, store.EventSessionEnded)
		startService(t, l, nil)
		var want []store.Event
		for _, typ := range store.EventTypes {
			want = append(want, l.emit(typ, "u1", time.Time{}))
		}
		waitFor(t, all, "every type", func() bool { return len(all.delivered()) >= len(want) })
		waitFor(t, some, "two types", func() bool { return len(some.delivered()) >= 2 })
		got := all.requests()
		if len(got) != len(want) {
			t.Errorf("%d requests, want %d", len(got), len(want))
		}
		lastOf := map[string]int{} // by lane, the index in got of its last event
		for _, ev := range want {
			body, _ := store.EventJSON(ev)
			i := slices.IndexFunc(got, func(r received) bool { return r.id == ev.ID })
			if i < 0 || !bytes.Equal(got[i].body, body) {
				t.Errorf("%s: got %d, want body %s", ev.Type, i, body)
				continue
			}
			if j, ok := lastOf[laneOf(&ev)]; ok && j > i {
				t.Errorf("%s arrived before the event of its %s before it", ev.Type, laneOf(&ev))
			}
			lastOf[laneOf(&ev)] = i
		}
		if ids := some.delivered(); !slices.Equal(ids, []string{want[3].ID, want[6].ID}) {
			t.Errorf("the webhook of two types got %v", ids)
		}
		if b, _ := store.EventJSON(want[0]); !strings.Contains(string(b), `"type":"user.created"`) || !strings.Contains(string(b), `"seq":2,`) {
			t.Errorf("body %s", b)
		}
	})
}

// A receiver that fails for a while: every event arrives, each id at least once, each user's in seq
// order and none again after a later one of its user (drains send users side by side, and what one
// lane delivered past another's failure is not sent again); webhook-id is the same on every attempt,
// the timestamp fresh; the first retry comes within 10 s; the failures are visible in the deliveries.
func TestRetryUntilDelivered(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		for i := range 3 {
			l.user(fmt.Sprintf("u%d", i))
		}
		rc := newReceiver(t, func(n int, _ []byte) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		w := addWebhook(t, l, rc)
		startService(t, l, nil)
		var evs []store.Event
		for i := range 30 {
			evs = append(evs, l.emit(store.EventUserUpdated, fmt.Sprintf("u%d", i%3), time.Time{}))
		}
		waitCursor(t, l, w.ID, evs[29].Seq)
		reqs := rc.requests()
		seqOf, userOf := map[string]int64{}, map[string]string{}
		for _, e := range evs {
			seqOf[e.ID], userOf[e.ID] = e.Seq, e.Subject
		}
		lastOf := map[string]int64{}
		got := map[string]int{}
		for _, r := range reqs {
			if r.status/100 != 2 {
				continue
			}
			got[r.id]++
			u := userOf[r.id]
			if seqOf[r.id] <= lastOf[u] {
				t.Errorf("event %d of %s delivered after its event %d", seqOf[r.id], u, lastOf[u])
			}
			lastOf[u] = seqOf[r.id]
		}
		if len(got) != len(evs) {
			t.Errorf("%d events delivered, want %d", len(got), len(evs))
		}
		// The failed attempts: each event tried again with the same id, signed anew; the first retry
		// within 10 s (later ones back off).
		for k, f := range reqs[:2] {
			if f.status != http.StatusInternalServerError {
				t.Fatalf("request %+v, want a 500", f)
			}
			i := slices.IndexFunc(reqs[k+1:], func(r received) bool { return r.id == f.id })
			if i < 0 {
				t.Fatalf("event %s never tried again", f.id)
			}
			next := reqs[k+1+i]
			if gap := next.at.Sub(f.at); k == 0 && gap > 10*time.Second {
				t.Errorf("event %s tried again after %v, want within 10 s", f.id, gap)
			}
			if next.ts == f.ts && next.at.Sub(f.at) > time.Second {
				t.Errorf("the retry of %s has the first attempt's timestamp", f.id)
			}
		}
		if !slices.ContainsFunc(reqs, func(r received) bool { return r.id == reqs[0].id && r.status == http.StatusOK }) {
			t.Errorf("event %s never delivered", reqs[0].id)
		}
		ds, err := l.ListDeliveries(ctx, w.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, d := range ds {
			if d.Outcome == store.DeliveryFailed {
				failed++
				if d.Status != 500 || d.Error != "HTTP 500" {
					t.Errorf("failed delivery %+v", d)
				}
			}
		}
		if failed != 2 || ds[0].Outcome != store.DeliveryDelivered {
			t.Errorf("%d failures recorded, newest %+v", failed, ds[0])
		}
		if got, _ := l.Webhook(ctx, w.ID); got.Cursor != evs[29].Seq || got.Failures != 0 {
			t.Errorf("webhook after delivery: cursor %d failures %d", got.Cursor, got.Failures)
		}
	})
}

// One user's event fails for good while the others' go on: the others are delivered once each, the
// cursor waits before the failing event, and that user's later events wait behind it.
func TestLanes(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		rc := newReceiver(t, func(_ int, body []byte) int {
			if strings.Contains(string(body), `"user_name":"bad@acme.test"`) {
				return http.StatusBadRequest
			}
			return http.StatusOK
		})
		w := addWebhook(t, l, rc)
		startService(t, l, nil)
		l.emit(store.EventUserCreated, "good", time.Time{})
		bad := l.emit(store.EventUserCreated, "bad", time.Time{})
		l.emit(store.EventUserUpdated, "bad", time.Time{})
		var good []string
		for range 5 {
			good = append(good, l.emit(store.EventUserUpdated, "good", time.Time{}).ID)
		}
		waitFor(t, rc, "the good user's events", func() bool { return len(rc.delivered()) >= 6 })
		waitFor(t, rc, "a retry of the bad one", func() bool {
			got, err := l.Webhook(ctx, w.ID)
			return err == nil && got.Failures >= 2
		})
		delivered := rc.delivered()
		if len(delivered) != 6 || !slices.Equal(delivered[1:], good) {
			t.Errorf("delivered %v, want the good user's six once each", delivered)
		}
		got, _ := l.Webhook(ctx, w.ID)
		if got.Cursor != bad.Seq-1 || got.Failures < 2 {
			t.Errorf("webhook: cursor %d failures %d; want %d and at least 2", got.Cursor, got.Failures, bad.Seq-1)
		}
	})
}

// An event still undelivered GiveUpAfter after it occurred is given up (visible), the cursor moves
// past it and later events are delivered; a resend delivers it again.
func TestGiveUpAndResend(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		var failOld atomic.Bool
		failOld.Store(true)
		rc := newReceiver(t, func(_ int, body []byte) int {
			if failOld.Load() && strings.Contains(string(body), `"user_name":"old@acme.test"`) {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		l.user("new")
		w := addWebhook(t, l, rc)
		old := time.Now().Add(-GiveUpAfter - time.Minute)
		e1 := l.emit(store.EventUserCreated, "old", old)
		e2 := l.emit(store.EventUserUpdated, "old", old) // as old, behind e1: given up without an attempt
		e3 := l.emit(store.EventUserUpdated, "new", time.Time{})
		s := startService(t, l, nil)
		waitCursor(t, l, w.ID, e3.Seq)
		ds, _ := l.ListDeliveries(ctx, w.ID, "", 10)
		var outcomes []string
		for _, d := range slices.Backward(ds) {
			outcomes = append(outcomes, d.EventID+":"+d.Outcome)
		}
		if want := []string{e1.ID + ":gave_up", e2.ID + ":gave_up", e3.ID + ":delivered"}; !slices.Equal(outcomes, want) {
			t.Errorf("deliveries %v, want %v", outcomes, want)
		}
		if n := len(rc.requests()); n != 2 {
			t.Errorf("%d requests, want 2 (e1 once, e2 never, e3 once)", n)
		}
		failOld.Store(false)
		if err := s.Resend(ctx, w.ID, e1.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, rc, "the resend", func() bool {
			d, err := l.DeliveryOf(ctx, w.ID, e1.ID)
			return err == nil && d.Resend
		})
		if d, err := l.DeliveryOf(ctx, w.ID, e1.ID); err != nil || d.Outcome != store.DeliveryDelivered || !slices.Contains(rc.delivered(), e1.ID) {
			t.Errorf("the resend's delivery: %+v, %v", d, err)
		}
		if err := s.Resend(ctx, w.ID, "evt_unknown"); err == nil {
			t.Error("resend of an event never sent succeeded")
		}
	})
}

// Events written while no service runs are delivered once one starts; a drain cut off by Stop is
// taken up again by the next start.
func TestRestart(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		rc := newReceiver(t, nil)
		for i := range 5 {
			l.user(fmt.Sprintf("u%d", i))
		}
		addWebhook(t, l, rc)
		stop := func(s *Service) {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := s.Stop(sctx); err != nil {
				t.Fatal(err)
			}
		}
		s := startService(t, l, nil)
		first := l.emit(store.EventUserUpdated, "u1", time.Time{})
		waitFor(t, rc, "the first event", func() bool { return slices.Contains(rc.delivered(), first.ID) })
		stop(s)
		var want []string
		for i := range 5 {
			want = append(want, l.emit(store.EventUserUpdated, fmt.Sprintf("u%d", i), time.Time{}).ID)
		}
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("%d requests while stopped", n)
		}
		startService(t, l, func(c *Config) { c.Wake = nil }) // no wake-up: the catch-up finds them
		waitFor(t, rc, "the events written while stopped", func() bool {
			return len(rc.delivered()) >= 6
		})
		// Each user's in order; users side by side.
		if got := rc.delivered()[1:]; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Errorf("after restart: %v, want %v", got, want)
		}
	})
}

// waitCursor waits until webhook id's cursor reaches seq.
func waitCursor(t testing.TB, l *eventLog, id string, seq int64) {
	t.Helper()
	waitFor(t, nil, fmt.Sprintf("the cursor at %d", seq), func() bool {
		w, err := l.Webhook(ctx, id)
		return err == nil && w.Cursor >= seq
	})
}

// A drain cut by drainFor while one lane ran ahead: the events that lane delivered past the cursor are
// not sent again by the next drain (once, they were: a user received an older event after a newer one).
func TestDrainCutShortDoesNotResend(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		others := []string{"b", "c", "d", "e", "f", "g", "h", "i"}
		l.user("a")
		for _, u := range others {
			l.user(u)
		}
		var offset atomic.Int64
		var last string
		rc := newReceiver(t, func(n int, body []byte) int {
			switch {
			case strings.Contains(string(body), `"user_name":"a@acme.test"`):
				if strings.Contains(string(body), last) {
					offset.Store(int64(10 * time.Second)) // the drain's turn has passed
				}
			case !strings.Contains(string(body), `"user_name":"i@acme.test"`):
				time.Sleep(500 * time.Millisecond) // the other lanes lag behind a's
			}
			return http.StatusOK
		})
		w := addWebhook(t, l, rc)
		var a []store.Event
		a = append(a, l.emit(store.EventUserUpdated, "a", time.Time{}))
		for _, u := range others {
			l.emit(store.EventUserUpdated, u, time.Time{})
		}
		a = append(a, l.emit(store.EventUserUpdated, "a", time.Time{}))
		a = append(a, l.emit(store.EventUserUpdated, "a", time.Time{}))
		last = fmt.Sprintf(`"seq":%d,`, a[2].Seq)
		startService(t, l, func(c *Config) {
			c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		})
		waitCursor(t, l, w.ID, a[2].Seq)
		var got, want []int64
		for _, e := range a {
			want = append(want, e.Seq)
		}
		for _, r := range rc.requests() {
			for _, e := range a {
				if r.id == e.ID {
					got = append(got, e.Seq)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("user a received %v; want %v", got, want)
		}
	})
}

// Stop closes the kept-alive connections to receivers (once, they stayed open until their idle timeout).
func TestStopClosesIdleConnections(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		closed := make(chan struct{}, 100)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				closed <- struct{}{}
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		w, err := Add(ctx, l, srv.URL+"/hook", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		l.user("a")
		e := l.emit(store.EventUserUpdated, "a", time.Time{})
		s := startService(t, l, nil)
		waitCursor(t, l, w.ID, e.Seq)
		select {
		case <-closed:
			t.Fatal("a connection was closed before Stop")
		default:
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Error("the receiver's connection is still open 10 s after Stop")
		}
	})
}
