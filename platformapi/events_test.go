package platformapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// apiEvent is an event as the events API lists it.
type apiEvent struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	Tenant     string          `json:"tenant"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// eventPage is the events API's answer, each event kept as the bytes it was sent as.
type eventPage struct {
	Data      []json.RawMessage `json:"data"`
	NextAfter *int64            `json:"next_after"`
}

// events reads one page of the events API with the key named name.
func (e *env) events(name, query string) (page eventPage, events []apiEvent) {
	e.t.Helper()
	e.ok(name, "/api/v1/events?"+query, &page)
	if page.Data == nil || page.NextAfter == nil {
		e.t.Fatalf("GET /api/v1/events?%s: data or next_after missing", query)
	}
	for _, raw := range page.Data {
		var ev apiEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			e.t.Fatal(err)
		}
		events = append(events, ev)
	}
	return page, events
}

// lastSeq is the seq of the last event now.
func (e *env) lastSeq() int64 {
	e.t.Helper()
	n, err := e.st.LastEventSeq(context.Background(), false)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestEvents: the events of real SCIM requests and of SCIM tokens issued and revoked are read back
// in seq order, whole or a page at a time, filtered by type; each is the bytes store.EventJSON makes
// (what a webhook is sent), its data the object after the change.
func TestEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		start := e.lastSeq()
		type step struct {
			what   string
			do     func() string // returns the subject's id: a user, or a token
			types  []string
			tenant string
		}
		var alice, bob scimUser
		var tok store.Token
		steps := []step{
			{"create alice", func() string { alice = e.create("acme", "alice@acme.com"); return alice.ID }, []string{store.EventUserCreated}, "acme"},
			{"create carol in beta", func() string { return e.create("beta", "carol@beta.com").ID }, []string{store.EventUserCreated}, "beta"},
			{"create bob", func() string { bob = e.create("acme", "bob@acme.com"); return bob.ID }, []string{store.EventUserCreated}, "acme"},
			{"PATCH an email added to alice", func() string {
				e.scim("acme", http.MethodPatch, "/Users/"+alice.ID, map[string]any{
					"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "add", "path": "emails",
						"value": []any{map[string]any{"value": "alice.other@acme.com", "type": "other"}}}},
				}, http.StatusOK)
				return alice.ID
			}, []string{store.EventUserUpdated}, "acme"},
			{"PATCH alice's userName and primary email", func() string {
				e.scim("acme", http.MethodPatch, "/Users/"+alice.ID, map[string]any{
					"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "replace", "path": "userName", "value": "alicia@acme.com"},
						map[string]any{"op": "replace", "path": "emails[primary eq true].value", "value": "alicia@acme.com"}},
				}, http.StatusOK)
				return alice.ID
			}, []string{store.EventUserEmailChanged}, "acme"},
			{"deactivate bob", func() string { e.deactivate("acme", bob.ID); return bob.ID }, []string{store.EventUserDeactivated}, "acme"},
			{"a refused PATCH", func() string {
				e.scim("acme", http.MethodPatch, "/Users/"+bob.ID, map[string]any{
					"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "remove", "path": "active"}},
				}, http.StatusBadRequest)
				return ""
			}, nil, ""},
			{"reactivate bob", func() string {
				e.scim("acme", http.MethodPatch, "/Users/"+bob.ID, map[string]any{
					"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}},
				}, http.StatusOK)
				return bob.ID
			}, []string{store.EventUserReactivated}, "acme"},
			{"issue a SCIM token", func() string {
				_, hash, _ := store.NewSecret(store.TokenPrefix)
				tok = store.Token{TenantID: e.acme.ID, Name: "entra", Hash: hash}
				if err := e.st.CreateToken(ctx, &tok); err != nil {
					t.Fatal(err)
				}
				return tok.ID
			}, []string{store.EventSCIMTokenIssued}, "acme"},
			{"revoke it", func() string {
				if err := e.st.RevokeToken(ctx, e.acme.ID, tok.ID); err != nil {
					t.Fatal(err)
				}
				return tok.ID
			}, []string{store.EventSCIMTokenRevoked}, "acme"},
		}
		type want struct{ typ, tenant, subject string }
		var wants []want
		for _, s := range steps {
			subject := s.do()
			for _, typ := range s.types {
				wants = append(wants, want{typ, s.tenant, subject})
			}
		}

		// The whole log after start, in seq order, each event as the store's EventJSON makes it.
		page, evs := e.events("all", fmt.Sprintf("after=%d&limit=500", start))
		if len(evs) != len(wants) {
			t.Fatalf("%d events after %d, want %d: %s", len(evs), start, len(wants), page.Data)
		}
		stored, err := e.st.ListEvents(ctx, store.EventQuery{After: start, Limit: 500})
		if err != nil || len(stored) != len(evs) {
			t.Fatalf("ListEvents: %d events, %v", len(stored), err)
		}
		ids := map[string]bool{}
		for i, ev := range evs {
			w := wants[i]
			if ev.Type != w.typ || ev.Tenant != w.tenant || ev.Seq <= start || (i > 0 && ev.Seq <= evs[i-1].Seq) || ev.ID == "" || ids[ev.ID] ||
				ev.OccurredAt.IsZero() || ev.OccurredAt.Location() != time.UTC {
				t.Fatalf("event %d: %s; want %s of %s after seq %d", i, page.Data[i], w.typ, w.tenant, start)
			}
			ids[ev.ID] = true
			var subject struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(ev.Data, &subject) != nil || subject.ID != w.subject {
				t.Fatalf("event %d (%s): data %s; want the object %s", i, ev.Type, ev.Data, w.subject)
			}
			if b, err := store.EventJSON(stored[i]); err != nil || string(b) != string(page.Data[i]) {
				t.Fatalf("event %d: the API sent\n%s\nEventJSON (a webhook's body) is\n%s", i, page.Data[i], b)
			}
		}
		if *page.NextAfter != evs[len(evs)-1].Seq {
			t.Fatalf("next_after %d, want the last seq %d", *page.NextAfter, evs[len(evs)-1].Seq)
		}
		// A user event's data is the user after the change: the last of alice's is alice now.
		var now, last store.UserObject
		e.ok("directory", "/api/v1/tenants/acme/users/"+alice.ID, &now)
		for _, ev := range evs {
			if ev.Type == store.EventUserEmailChanged {
				if err := json.Unmarshal(ev.Data, &last); err != nil {
					t.Fatal(err)
				}
			}
		}
		if last.UserName != "alicia@acme.com" || len(last.Emails) != 3 || !jsonEqual(t, last, now) {
			t.Fatalf("user.email_changed data %+v;\nalice now %+v", last, now)
		}

		// Page by page from next_after: the same events, none twice, and an empty last page that
		// keeps next_after where it was.
		var walked []apiEvent
		after := start
		for pages := 0; ; pages++ {
			if pages > len(wants) {
				t.Fatal("the walk does not end")
			}
			page, evs := e.events("events", fmt.Sprintf("after=%d&limit=3", after))
			if len(evs) > 3 {
				t.Fatalf("limit=3 gave %d events", len(evs))
			}
			walked = append(walked, evs...)
			if len(evs) == 0 {
				if *page.NextAfter != after {
					t.Fatalf("an empty page's next_after is %d, want after=%d", *page.NextAfter, after)
				}
				break
			}
			after = *page.NextAfter
		}
		if !slices.EqualFunc(walked, evs, func(a, b apiEvent) bool { return a.ID == b.ID && a.Seq == b.Seq }) {
			t.Fatalf("paging read %d events, the whole list %d", len(walked), len(evs))
		}

		// Filters by type keep seq order; no match is an empty page at the same after.
		_, got := e.events("events", fmt.Sprintf("after=%d&types=%s,%s", start, store.EventUserReactivated, store.EventUserDeactivated))
		if len(got) != 2 || got[0].Type != store.EventUserDeactivated || got[1].Type != store.EventUserReactivated || got[0].Seq >= got[1].Seq {
			t.Fatalf("deactivated and reactivated: %+v", got)
		}
		_, got = e.events("events", fmt.Sprintf("after=%d&types=%s&limit=1", start, store.EventUserCreated))
		if len(got) != 1 || got[0].Type != store.EventUserCreated || got[0].Seq != evs[0].Seq {
			t.Fatalf("the first user.created: %+v", got)
		}
		// A filter that matches nothing has looked at the whole log: next_after moves to its end, so a
		// client polling a rare type does not scan the same events again at every poll.
		page, got = e.events("events", fmt.Sprintf("after=%d&types=%s", start, store.EventSessionStarted))
		if len(got) != 0 || *page.NextAfter != evs[len(evs)-1].Seq || !strings.Contains(fmt.Sprint(page.Data), "[]") {
			t.Fatalf("no session.started: %v, next_after %d, want the last seq %d", got, *page.NextAfter, evs[len(evs)-1].Seq)
		}
		// A full filtered page stops at its last event: the rest may hold more matches.
		page, got = e.events("events", fmt.Sprintf("after=%d&types=%s&limit=1", start, store.EventUserDeactivated))
		if len(got) != 1 || *page.NextAfter != got[0].Seq {
			t.Fatalf("a full filtered page: %v, next_after %d", got, *page.NextAfter)
		}
		// Past the end, and the default page of 100.
		page, got = e.events("events", fmt.Sprintf("after=%d", evs[len(evs)-1].Seq+1000))
		if len(got) != 0 || *page.NextAfter != evs[len(evs)-1].Seq+1000 {
			t.Fatalf("past the end: %d events, next_after %d", len(got), *page.NextAfter)
		}
		for i := range 120 {
			e.create("beta", fmt.Sprintf("bulk%d@beta.com", i))
		}
		if _, got = e.events("events", fmt.Sprintf("after=%d", start)); len(got) != 100 {
			t.Fatalf("the default page: %d events, want 100", len(got))
		}
		// One match followed by other events: a page that is not full ends at the log's end, not at
		// the match.
		lastSeq, err := e.st.LastEventSeq(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		page, got = e.events("events", fmt.Sprintf("after=%d&types=%s", start, store.EventUserReactivated))
		if len(got) != 1 || *page.NextAfter != lastSeq || lastSeq <= got[0].Seq {
			t.Fatalf("one match: %v, next_after %d, want the log's last seq %d", got, *page.NextAfter, lastSeq)
		}
	})
}

// jsonEqual compares two values by their JSON.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}

// BenchmarkListEvents: a reader catching up, a page of 500 events per request over HTTP, on SQLite;
// events/s is the figure the issue asks for (at least 20,000), here without the load tool's share of
// the machine.
func BenchmarkListEvents(b *testing.B) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(b.TempDir(), "scimsso.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e := newEnv(b, st)
	ctx := context.Background()
	for i := range 2000 {
		u := &store.User{UserName: fmt.Sprintf("u%d@acme.com", i), Emails: []store.Email{{Value: fmt.Sprintf("u%d@acme.com", i), Type: "work", Primary: true}},
			GivenName: "Given", FamilyName: "Family", Country: "DE", Active: true, Source: store.SourceSCIM}
		if err := st.CreateUser(ctx, e.acme.ID, u, store.Audit{Operation: "create"}); err != nil {
			b.Fatal(err)
		}
	}
	client := e.srv.Client()
	b.ResetTimer()
	events := 0
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/events?after=%d&limit=500", e.srv.URL, (i%4)*500), nil)
		req.Header.Set("Authorization", "Bearer "+e.keys["events"])
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page eventPage
		if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("%d, %v", res.StatusCode, err)
		}
		res.Body.Close()
		events += len(page.Data)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
