package platformapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/webhooks"
)

type deliveryJSON struct {
	EventID string `json:"event_id"`
	Outcome string `json:"outcome"`
	Resend  bool   `json:"resend"`
}

// deliveries lists the deliveries at path (…/deliveries) through the API.
func (e *env) deliveries(path string) []deliveryJSON {
	e.t.Helper()
	var l struct{ Data []deliveryJSON }
	e.must(http.MethodGet, path, nil, "", http.StatusOK, &l)
	return l.Data
}

// waitUntil polls cond until it holds; a minute without is a failure (delivery runs in the
// background, as in serve).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestManageResend: an event delivered to a webhook is sent again on request, as `webhook deliveries
// --resend` sends it: the API queues the job, a server's delivery (running beside it, as in serve)
// sends it and records it as a resend. An event never sent there, a body without an event id and
// another kind's id are refused, changing nothing; a client's back-channel logouts are listed and
// resent under the client.
func TestManageResend(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ss := e.st.(*sqlstore.Store)
		db, dialect := ss.JobsDB()
		svc, err := webhooks.New(webhooks.Config{Store: ss, DB: db, Dialect: dialect, Logger: zaptest.NewLogger(t).Named("webhooks"),
			AllowHTTPLoopback: true, Wake: ss.EventsWritten()})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := svc.Stop(ctx); err != nil {
				t.Error(err)
			}
		})
		var mu sync.Mutex
		received := map[string]int{} // by webhook-id: the event's id
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			received[r.Header.Get("webhook-id")]++
			mu.Unlock()
		}))
		defer rc.Close()
		times := func(id string) int {
			mu.Lock()
			defer mu.Unlock()
			return received[id]
		}

		var h struct{ ID string }
		e.must(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rc.URL + "/hook", "types": []string{"user.created"}}, "", http.StatusCreated, &h)
		path := "/api/v1/webhooks/" + h.ID + "/deliveries"
		e.create("acme", "alice@acme.com")
		var ev string
		waitUntil(t, "the delivery of user.created", func() bool {
			ds := e.deliveries(path)
			if len(ds) == 1 && ds[0].Outcome == "delivered" {
				ev = ds[0].EventID
			}
			return ev != ""
		})

		e.must(http.MethodPost, path, map[string]string{"event_id": ev}, "", http.StatusAccepted, nil)
		waitUntil(t, "the resend", func() bool {
			ds := e.deliveries(path)
			return len(ds) == 2 && ds[0].EventID == ev && ds[0].Resend && ds[0].Outcome == "delivered"
		})
		if n := times(ev); n != 2 {
			t.Fatalf("the receiver got the event %d times; want 2", n)
		}

		var c struct{ ID string }
		e.must(http.MethodPost, "/api/v1/clients", map[string]any{"name": "Wiki", "redirect_uris": []string{"https://wiki.example/cb"},
			"backchannel_logout_uri": rc.URL + "/bc"}, "", http.StatusCreated, &c)
		if ds := e.deliveries("/api/v1/clients/" + c.ID + "/deliveries?outcome=gave_up"); len(ds) != 0 {
			t.Fatalf("a new client's back-channel deliveries: %+v", ds)
		}
		var noBC struct{ ID string }
		e.must(http.MethodPost, "/api/v1/clients", map[string]any{"name": "SPA", "redirect_uris": []string{"https://spa.example/cb"}}, "", http.StatusCreated, &noBC)

		before := e.snapshot()
		for _, tc := range []struct {
			name, path, body, ct string
			status               int
			code, want           string
		}{
			{"an event never sent there", path, `{"event_id":"evt_nope"}`, "", 404, "not_found", `"evt_nope" was never sent there`},
			{"another destination's event", "/api/v1/clients/" + c.ID + "/deliveries", `{"event_id":"` + ev + `"}`, "", 404, "not_found", "never sent there"},
			{"no event id", path, `{}`, "", 400, "invalid_request", "event_id: required"},
			{"an event id not a string", path, `{"event_id":7}`, "", 400, "invalid_request", "event_id must be a string"},
			{"an unknown field", path, `{"event_id":"` + ev + `","force":true}`, "", 400, "invalid_request", `"force"`},
			{"a long event id", path, `{"event_id":"` + strings.Repeat("e", 1000) + `"}`, "", 404, "not_found", "never sent there"},
			{"an event id with NUL", path, `{"event_id":"e\u0000"}`, "", 404, "not_found", "never sent there"},
			{"not JSON", path, `event_id=` + ev, "application/x-www-form-urlencoded", 415, "unsupported_media_type", "application/json"},
			{"a client's id as a webhook's", "/api/v1/webhooks/" + c.ID + "/deliveries", `{"event_id":"` + ev + `"}`, "", 404, "not_found", "no webhook"},
			{"a webhook's id as a client's", "/api/v1/clients/" + h.ID + "/deliveries", `{"event_id":"` + ev + `"}`, "", 404, "not_found", "no client"},
			{"a client without back-channel logout", "/api/v1/clients/" + noBC.ID + "/deliveries", `{"event_id":"` + ev + `"}`, "", 404, "not_found", "back-channel"},
		} {
			msg := apiError(t, tc.name, e.call(http.MethodPost, tc.path, "manage", tc.body, tc.ct), tc.status, tc.code)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %q lacks %q", tc.name, msg, tc.want)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("%s changed the store:\n%s\nwas\n%s", tc.name, after, before)
			}
		}
		// None of them queued a delivery: by the time a later event is delivered, the first has still
		// reached the receiver twice only (a queued resend would have been taken by then, most likely).
		e.create("acme", "bob@acme.com")
		waitUntil(t, "the next event", func() bool { return len(e.deliveries(path)) == 3 })
		if n := times(ev); n != 2 {
			t.Fatalf("after the refusals the receiver got the event %d times; want 2", n)
		}
	})
}
