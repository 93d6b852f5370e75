package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestBackchannelRequests: a client's destination is sent one form POST with a fresh logout token,
// for its client's sub and sid, for a session.ended event naming the client among its clients, and
// nothing for any other event, another client's session, or a client removed since; a token that
// cannot be made, or an event that does not read, fails the attempt.
func TestBackchannelRequests(t *testing.T) {
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &store.OIDCClient{Name: "wiki", RedirectURIs: []string{"https://wiki.test/cb"}, BackchannelLogoutURI: "https://wiki.test/bc?x=1"}
	gone := &store.OIDCClient{Name: "gone", RedirectURIs: []string{"https://gone.test/cb"}, BackchannelLogoutURI: "https://gone.test/bc"}
	for _, cl := range []*store.OIDCClient{c, gone} {
		if err := st.CreateOIDCClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteOIDCClient(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	made := 0
	b := &Backchannel{Store: st, Token: func(_ context.Context, got *store.OIDCClient, sub, sid string) (string, error) {
		if sub == "fail" {
			return "", errors.New("no signing key")
		}
		made++
		return got.ID + "|" + sub + "|" + sid + "|" + string(rune('0'+made)), nil
	}}
	ended := func(userID string, clients ...string) *store.Event {
		d, _ := json.Marshal(store.SessionObject{ID: "sid-1", Tenant: "acme", UserID: userID, Reason: store.EndLogout, Clients: clients})
		return &store.Event{ID: "ev", Type: store.EventSessionEnded, Data: d}
	}
	for _, tc := range []struct {
		name  string
		ref   string
		ev    *store.Event
		token string // the logout_token of the one request; "" no request
		err   string
	}{
		{"its session", c.ID, ended("u1", "other", c.ID), c.ID + "|u1|sid-1|1", ""},
		{"again: a new token", c.ID, ended("u1", c.ID), c.ID + "|u1|sid-1|2", ""},
		{"another client's session", c.ID, ended("u1", "other"), "", ""},
		{"a session with no clients", c.ID, ended("u1"), "", ""},
		{"a removed client", gone.ID, ended("u1", gone.ID), "", ""},
		{"another type", c.ID, &store.Event{Type: store.EventSessionStarted, Data: []byte(`{"clients":["` + c.ID + `"]}`)}, "", ""},
		{"no token", c.ID, ended("fail", c.ID), "", "no signing key"},
		{"unreadable data", c.ID, &store.Event{ID: "ev9", Type: store.EventSessionEnded, Data: []byte(`{"clients":`)}, "", "ev9"},
	} {
		reqs, err := b.Requests(ctx, &store.Webhook{Kind: store.KindBackchannelLogout, Ref: tc.ref}, tc.ev, time.Now())
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || len(reqs) != 0 {
				t.Errorf("%s: %d requests, %v; want an error saying %q", tc.name, len(reqs), err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.token == "" {
			if len(reqs) != 0 {
				t.Errorf("%s: %d requests, want none", tc.name, len(reqs))
			}
			continue
		}
		if len(reqs) != 1 {
			t.Errorf("%s: %d requests, want one", tc.name, len(reqs))
			continue
		}
		r := reqs[0]
		form, err := url.ParseQuery(string(r.Body))
		if r.URL != c.BackchannelLogoutURI || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || err != nil ||
			len(form) != 1 || form.Get("logout_token") != tc.token {
			t.Errorf("%s: POST %s %q %q, want %s, a form with logout_token=%s", tc.name, r.URL, r.Header.Get("Content-Type"), r.Body,
				c.BackchannelLogoutURI, tc.token)
		}
	}
}
