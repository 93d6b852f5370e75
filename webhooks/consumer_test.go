package webhooks

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// logoutConsumer is a Consumer of another kind, shaped like back-channel logout: for each session of
// its Ref's, a form POST; other events are not for it.
type logoutConsumer struct{}

func (logoutConsumer) Requests(_ context.Context, w *store.Webhook, ev *store.Event, _ time.Time) ([]Request, error) {
	if !strings.Contains(string(ev.Data), `"user_name":"`+w.Ref+`"`) {
		return nil, nil
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return []Request{{URL: w.URL, Header: h, Body: []byte(url.Values{"logout_token": {ev.ID}}.Encode())}}, nil
}

// A destination of another kind is delivered through its Consumer like a webhook: in order, recorded,
// and the events it makes no request for pass without a delivery.
func TestConsumerKind(t *testing.T) {
	backends(t, func(t *testing.T, open func(t testing.TB) *eventLog) {
		l := open(t)
		l.user("u1")
		l.user("u2")
		got := make(chan string, 10)
		srv := newReceiverFunc(t, func(r *http.Request) {
			r.ParseForm()
			got <- r.Form.Get("logout_token")
		})
		last, _ := l.LastEventSeq(ctx, false)
		d := &store.Webhook{Kind: "test_logout", Ref: "u1@acme.test", URL: srv + "/bcl", Types: []string{store.EventUserDeactivated}, Cursor: last}
		if err := l.CreateWebhook(ctx, d); err != nil {
			t.Fatal(err)
		}
		startService(t, l, func(c *Config) { c.Consumers = map[string]Consumer{"test_logout": logoutConsumer{}} })
		l.emit(store.EventUserDeactivated, "u2", time.Time{}) // not u1's: no request
		want := l.emit(store.EventUserDeactivated, "u1", time.Time{})
		end := l.emit(store.EventUserCreated, "u3", time.Time{}) // not its type
		select {
		case id := <-got:
			if id != want.ID {
				t.Errorf("logout_token %q, want %q", id, want.ID)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no request")
		}
		waitCursor(t, l, d.ID, end.Seq)
		ds, _ := l.ListDeliveries(ctx, d.ID, "", 10)
		if len(ds) != 1 || ds[0].EventID != want.ID || ds[0].Outcome != store.DeliveryDelivered {
			t.Errorf("deliveries %+v, want the one request", ds)
		}
		if len(got) != 0 {
			t.Errorf("%d more requests", len(got))
		}
	})
}
