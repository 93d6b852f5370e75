package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// Each event type reaches the receiver once, signed, its body the events API's JSON, in seq order;
// a webhook of a few types gets only those; a webhook added later gets only later events.
func TestDeliverEveryType(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) *sqlstore.Store) {
		l := newEventLog(open(t))
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
		for i, ev := range want {
			body, _ := EventJSON(&ev)
			if got[i].id != ev.ID || !bytes.Equal(got[i].body, body) {
				t.Errorf("request %d: id %s body %s; want %s %s", i, got[i].id, got[i].body, ev.ID, body)
			}
		}
		if ids := some.delivered(); !slices.Equal(ids, []string{want[3].ID, want[6].ID}) {
			t.Errorf("the webhook of two types got %v", ids)
		}
		if !strings.Contains(string(got[0].body), `"type":"user.created"`) || !strings.Contains(string(got[0].body), `"seq":2`) {
			t.Errorf("body %s", got[0].body)
		}
	})
}

// A receiver that fails for a while: every event arrives, each id at least once, all in seq order
// (so each user's in order); webhook-id is the same on every attempt, the timestamp fresh; the first
// retry comes within 10 s; the failures are visible in the deliveries.
func TestRetryUntilDelivered(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) *sqlstore.Store) {
		l := newEventLog(open(t))
		rc := newReceiver(t, func(n int, _ *http.Request) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		w := addWebhook(t, l, rc)
		startService(t, l, nil)
		var want []string
		for i := range 30 {
			want = append(want, l.emit(store.EventUserUpdated, fmt.Sprintf("u%d", i%3), time.Time{}).ID)
		}
		waitFor(t, rc, "every event", func() bool {
			return len(slices.Compact(rc.delivered())) >= len(want)
		})
		waitCursor(t, l, w.ID, 30)
		reqs := rc.requests()
		if reqs[0].id != want[0] || reqs[1].id != want[0] || reqs[2].id != want[0] || reqs[0].ts == reqs[2].ts {
			t.Errorf("attempts of the first event: %+v %+v %+v", reqs[0], reqs[1], reqs[2])
		}
		if gap := reqs[1].at.Sub(reqs[0].at); gap > 10*time.Second {
			t.Errorf("first retry after %v, want within 10 s", gap)
		}
		if reqs[0].ts == "" {
			t.Error("no timestamp")
		}
		// Delivered in seq order: the 2xx ids, repeats collapsed, are the events in order.
		if got := slices.Compact(rc.delivered()); !slices.Equal(got, want) {
			t.Errorf("delivered %v,\nwant %v", got, want)
		}
		ds, err := l.ListDeliveries(ctx, w.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, d := range ds {
			if d.Outcome == store.DeliveryFailed {
				failed++
				if d.Status != 500 || d.Error != "HTTP 500" || d.EventID != want[0] {
					t.Errorf("failed delivery %+v", d)
				}
			}
		}
		if failed != 2 || ds[0].Outcome != store.DeliveryDelivered || ds[0].EventID != want[len(want)-1] {
			t.Errorf("%d failures recorded, newest %+v", failed, ds[0])
		}
		got, _ := l.Webhook(ctx, w.ID)
		if got.Cursor != 30 || got.Failures != 0 {
			t.Errorf("webhook after delivery: cursor %d failures %d", got.Cursor, got.Failures)
		}
	})
}

// An event still undelivered GiveUpAfter after it occurred is given up (visible), the cursor moves
// past it and later events are delivered; a resend delivers it again.
func TestGiveUpAndResend(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) *sqlstore.Store) {
		l := newEventLog(open(t))
		failOld := true
		rc := newReceiver(t, func(_ int, r *http.Request) int {
			if failOld && strings.Contains(r.Header.Get(HeaderID), "_old") {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		w := addWebhook(t, l, rc)
		old := time.Now().Add(-GiveUpAfter - time.Minute)
		e1 := l.emit(store.EventUserCreated, "old", old)
		e2 := l.emit(store.EventUserUpdated, "old", old) // as old, behind e1: given up without an attempt
		e3 := l.emit(store.EventUserUpdated, "new", time.Time{})
		s := startService(t, l, nil)
		waitCursor(t, l, w.ID, e3.Seq)
		ds, _ := l.ListDeliveries(ctx, w.ID, 10)
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
		failOld = false
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
	backends(t, func(t *testing.T, open func(t *testing.T) *sqlstore.Store) {
		st := open(t)
		l := newEventLog(st)
		rc := newReceiver(t, nil)
		addWebhook(t, l, rc)
		stop := func(s *Service) {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := s.Stop(sctx); err != nil {
				t.Fatal(err)
			}
		}
		s := startService(t, l, nil)
		first := l.emit(store.EventUserCreated, "u1", time.Time{})
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
		if got := rc.delivered()[1:]; !slices.Equal(got, want) {
			t.Errorf("after restart: %v, want %v", got, want)
		}
	})
}

// waitCursor waits until webhook id's cursor reaches seq.
func waitCursor(t *testing.T, l *eventLog, id string, seq int64) {
	t.Helper()
	waitFor(t, nil, fmt.Sprintf("the cursor at %d", seq), func() bool {
		w, err := l.Webhook(ctx, id)
		return err == nil && w.Cursor >= seq
	})
}
