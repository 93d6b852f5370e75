package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

func mustWebhook(t *testing.T, s store.Store, url string, cursor int64, types ...string) *store.Webhook {
	t.Helper()
	w := &store.Webhook{URL: url, Types: types, Secret: "whsec_c2VjcmV0IG9mIA==" + url, Cursor: cursor}
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatalf("CreateWebhook(%s): %v", url, err)
	}
	return w
}

func delivery(w *store.Webhook, seq int64, outcome string, at time.Time) store.Delivery {
	return store.Delivery{WebhookID: w.ID, EventID: fmt.Sprintf("ev%d", seq), Seq: seq, EventType: store.EventUserCreated,
		At: at, Outcome: outcome}
}

// testWebhooks: a webhook is stored with its secret and cursor, read back with its secret, listed
// without it, and removed with its deliveries.
func testWebhooks(t *testing.T, s store.Store, clock *Clock) {
	a := mustWebhook(t, s, "https://a.test/hook", 7, store.EventUserCreated, store.EventUserDeactivated)
	clock.Add(time.Second)
	b := mustWebhook(t, s, "https://b.test/hook", 9)
	if a.ID == "" || a.ID == b.ID || a.Kind != store.KindWebhook || !a.CreatedAt.Equal(clock.Now().Add(-time.Second)) {
		t.Fatalf("created %+v, %+v", a, b)
	}
	got, err := s.Webhook(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != a.Secret || got.URL != a.URL || got.Cursor != 7 || !reflect.DeepEqual(got.Types, a.Types) || got.Kind != store.KindWebhook {
		t.Errorf("Webhook = %+v, want %+v", got, a)
	}
	if !got.Wants(store.EventUserCreated) || got.Wants(store.EventSessionStarted) {
		t.Errorf("Wants: types %v", got.Types)
	}
	if b2, _ := s.Webhook(ctx, b.ID); len(b2.Types) != 0 || !b2.Wants(store.EventSessionStarted) {
		t.Errorf("a webhook without types gets every type: %+v", b2)
	}
	// Another kind of destination, with what it belongs to.
	o := &store.Webhook{Kind: "oidc_logout", Ref: "client-1", URL: "https://app.test/bcl", Types: []string{store.EventSessionEnded}, Cursor: 3}
	if err := s.CreateWebhook(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Webhook(ctx, o.ID); err != nil || got.Kind != "oidc_logout" || got.Ref != "client-1" || got.Secret != "" {
		t.Errorf("Webhook(other kind) = %+v, %v", got, err)
	}
	if err := s.DeleteWebhook(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWebhooks(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID || list[0].Secret != "" || list[1].Cursor != 9 {
		t.Fatalf("ListWebhooks = %+v, %v", list, err)
	}
	if _, err := s.Webhook(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Webhook(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.AdvanceWebhook(ctx, a.ID, 7, 8, []store.Delivery{delivery(a, 8, store.DeliveryDelivered, clock.Now())}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteWebhook twice = %v, want ErrNotFound", err)
	}
	if ds, err := s.ListDeliveries(ctx, a.ID, "", 10); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a removed webhook = %v, %v", ds, err)
	}
	if list, _ := s.ListWebhooks(ctx); len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("after delete: %+v", list)
	}
}

// testWebhookCursor: the cursor moves only forward and only from where the mover read it; failures
// count up until an event is delivered; deliveries are listed newest first.
func testWebhookCursor(t *testing.T, s store.Store, clock *Clock) {
	w := mustWebhook(t, s, "https://a.test/hook", 10)
	now := clock.Now()
	if err := s.AdvanceWebhook(ctx, w.ID, 10, 12, []store.Delivery{delivery(w, 11, store.DeliveryDelivered, now), delivery(w, 12, store.DeliveryDelivered, now)}); err != nil {
		t.Fatal(err)
	}
	// A mover that read the cursor before: nothing written.
	if err := s.AdvanceWebhook(ctx, w.ID, 10, 13, []store.Delivery{delivery(w, 13, store.DeliveryDelivered, now)}); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("stale AdvanceWebhook = %v, want ErrVersionMismatch", err)
	}
	if err := s.AdvanceWebhook(ctx, w.ID, 12, 11, nil); err == nil {
		t.Error("AdvanceWebhook backwards succeeded")
	}
	if err := s.AdvanceWebhook(ctx, "nope", 0, 1, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AdvanceWebhook(unknown) = %v, want ErrNotFound", err)
	}
	for i, want := range []int{1, 2, 3} {
		clock.Add(time.Second)
		n, err := s.FailWebhook(ctx, w.ID, 12, 12, nil, store.Delivery{WebhookID: w.ID, EventID: "ev13", Seq: 13, EventType: store.EventUserUpdated,
			At: clock.Now(), Status: 500, Error: "HTTP 500", Outcome: store.DeliveryFailed})
		if err != nil || n != want {
			t.Fatalf("FailWebhook #%d = %d, %v; want %d", i, n, err, want)
		}
	}
	// Give up 13, deliver 14, fail at 15: one failure, the cursor at 14.
	n, err := s.FailWebhook(ctx, w.ID, 12, 14, []store.Delivery{delivery(w, 13, store.DeliveryGaveUp, clock.Now()), delivery(w, 14, store.DeliveryDelivered, clock.Now())},
		store.Delivery{WebhookID: w.ID, EventID: "ev15", Seq: 15, At: clock.Now(), Error: "timeout", Outcome: store.DeliveryFailed})
	if err != nil || n != 1 {
		t.Fatalf("FailWebhook after a delivery = %d, %v; want 1", n, err)
	}
	// A delivery past the failing event, the cursor not moving, does not reset the count either.
	if n, err := s.FailWebhook(ctx, w.ID, 14, 14, []store.Delivery{delivery(w, 16, store.DeliveryDelivered, clock.Now())},
		store.Delivery{WebhookID: w.ID, EventID: "ev15", Seq: 15, At: clock.Now(), Error: "timeout", Outcome: store.DeliveryFailed}); err != nil || n != 2 {
		t.Fatalf("FailWebhook with the cursor still = %d, %v; want 2", n, err)
	}
	if got, err := s.DeliveredAfter(ctx, w.ID, 14); err != nil || len(got) != 1 || !got["ev16"] {
		t.Errorf("DeliveredAfter(14) = %v, %v; want ev16", got, err)
	}
	if got, err := s.DeliveredAfter(ctx, w.ID, 16); err != nil || len(got) != 0 {
		t.Errorf("DeliveredAfter(16) = %v, %v; want none", got, err)
	}
	// Giving up alone does not reset the count.
	if n, err := s.FailWebhook(ctx, w.ID, 14, 15, []store.Delivery{delivery(w, 15, store.DeliveryGaveUp, clock.Now())},
		store.Delivery{WebhookID: w.ID, EventID: "ev16", Seq: 16, At: clock.Now(), Error: "timeout", Outcome: store.DeliveryFailed}); err != nil || n != 3 {
		t.Fatalf("FailWebhook after a give-up = %d, %v; want 3", n, err)
	}
	got, _ := s.Webhook(ctx, w.ID)
	if got.Cursor != 15 || got.Failures != 3 {
		t.Errorf("webhook = cursor %d failures %d, want 15, 3", got.Cursor, got.Failures)
	}
	if err := s.AdvanceWebhook(ctx, w.ID, 15, 16, []store.Delivery{delivery(w, 16, store.DeliveryDelivered, clock.Now())}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Webhook(ctx, w.ID); got.Failures != 0 {
		t.Errorf("failures after a delivery = %d, want 0", got.Failures)
	}
	ds, err := s.ListDeliveries(ctx, w.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, d := range ds {
		seqs = append(seqs, fmt.Sprintf("%d:%s", d.Seq, d.Outcome))
	}
	want := []string{"16:delivered", "16:failed", "15:gave_up", "15:failed", "16:delivered", "15:failed", "14:delivered", "13:gave_up", "13:failed", "13:failed", "13:failed", "12:delivered", "11:delivered"}
	if !reflect.DeepEqual(seqs, want) {
		t.Errorf("deliveries = %v, want %v", seqs, want)
	}
	if ds[1].Status != 0 || ds[1].Error != "timeout" || ds[8].Status != 500 || ds[8].EventType != store.EventUserUpdated {
		t.Errorf("failed attempts = %+v, %+v", ds[1], ds[8])
	}
	if ds, _ := s.ListDeliveries(ctx, w.ID, "", 2); len(ds) != 2 || ds[0].Seq != 16 {
		t.Errorf("ListDeliveries(limit 2) = %+v", ds)
	}
	d, err := s.DeliveryOf(ctx, w.ID, "ev13")
	if err != nil || d.Outcome != store.DeliveryGaveUp || d.Seq != 13 {
		t.Errorf("DeliveryOf(ev13) = %+v, %v", d, err)
	}
	if _, err := s.DeliveryOf(ctx, w.ID, "ev99"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeliveryOf(unknown) = %v, want ErrNotFound", err)
	}
	resend := delivery(w, 13, store.DeliveryDelivered, clock.Now())
	resend.Resend = true
	if err := s.RecordDelivery(ctx, resend); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DeliveryOf(ctx, w.ID, "ev13"); !d.Resend || d.Outcome != store.DeliveryDelivered {
		t.Errorf("after resend: %+v", d)
	}
	if got, _ := s.Webhook(ctx, w.ID); got.Cursor != 16 {
		t.Errorf("a resend moved the cursor to %d", got.Cursor)
	}
	resend.WebhookID = "nope"
	if err := s.RecordDelivery(ctx, resend); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordDelivery(unknown webhook) = %v, want ErrNotFound", err)
	}
}

// testConcurrentWebhookAdvance: of drains racing from the same cursor, exactly one moves it.
func testConcurrentWebhookAdvance(t *testing.T, s store.Store, clock *Clock) {
	w := mustWebhook(t, s, "https://a.test/hook", 0)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AdvanceWebhook(ctx, w.ID, 0, int64(i+1), []store.Delivery{delivery(w, int64(i+1), store.DeliveryDelivered, clock.Now())})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrVersionMismatch):
			t.Errorf("AdvanceWebhook = %v", err)
		}
	}
	if ds, _ := s.ListDeliveries(ctx, w.ID, "", 100); won != 1 || len(ds) != 1 {
		t.Errorf("%d advances won, %d deliveries recorded; want 1, 1", won, len(ds))
	}
}

// testSweepDeliveries: Sweep keeps a webhook's latest MaxDeliveries attempts and its give-ups for
// DeliveryRetention.
func testSweepDeliveries(t *testing.T, s store.Store, clock *Clock) {
	w := mustWebhook(t, s, "https://a.test/hook", 0)
	other := mustWebhook(t, s, "https://b.test/hook", 0)
	old := clock.Now()
	if err := s.AdvanceWebhook(ctx, w.ID, 0, 1, []store.Delivery{delivery(w, 1, store.DeliveryGaveUp, old)}); err != nil {
		t.Fatal(err)
	}
	var ds []store.Delivery
	for i := range store.MaxDeliveries + 5 {
		ds = append(ds, delivery(w, int64(i+2), store.DeliveryDelivered, old))
	}
	if err := s.AdvanceWebhook(ctx, w.ID, 1, int64(store.MaxDeliveries+6), ds); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceWebhook(ctx, other.ID, 0, 1, []store.Delivery{delivery(other, 1, store.DeliveryDelivered, old)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ListDeliveries(ctx, w.ID, "", 2*store.MaxDeliveries)
	if len(got) != store.MaxDeliveries+1 || got[0].Seq != int64(store.MaxDeliveries+6) || got[len(got)-1].Outcome != store.DeliveryGaveUp {
		t.Errorf("after sweep: %d deliveries, newest %d, oldest %+v", len(got), got[0].Seq, got[len(got)-1])
	}
	if got, err := s.ListDeliveries(ctx, w.ID, store.DeliveryGaveUp, 1); err != nil || len(got) != 1 || got[0].Seq != 1 {
		t.Errorf("ListDeliveries(gave_up, 1) = %+v, %v; want the give-up behind %d deliveries", got, err, store.MaxDeliveries)
	}
	if got, _ := s.ListDeliveries(ctx, w.ID, store.DeliveryDelivered, 2*store.MaxDeliveries); len(got) != store.MaxDeliveries {
		t.Errorf("ListDeliveries(delivered) = %d, want %d", len(got), store.MaxDeliveries)
	}
	if got, _ := s.ListDeliveries(ctx, other.ID, "", 10); len(got) != 1 {
		t.Errorf("another webhook's deliveries: %d, want 1", len(got))
	}
	clock.Add(store.DeliveryRetention + time.Second)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := s.DeliveryOf(ctx, w.ID, "ev1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a give-up past DeliveryRetention: %+v, %v", d, err)
	}
}
