package platformapi

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// TestCursors: a cursor reads back as what made it, in the list and tenant that made it only.
func TestCursors(t *testing.T) {
	for _, pos := range []int64{1, 2, 450, 1 << 40, math.MaxInt64} {
		c := userCursor("tenant-a", pos)
		if got, err := parseUserCursor(c, "tenant-a"); err != nil || got != pos {
			t.Errorf("user cursor of %d reads back as %d, %v", pos, got, err)
		}
		if _, err := parseUserCursor(c, "tenant-b"); err != errBadCursor {
			t.Errorf("tenant a's cursor of %d read in tenant b: %v", pos, err)
		}
		if _, err := parseTenantCursor(c); err != errBadCursor {
			t.Errorf("a user cursor read as a tenants cursor: %v", err)
		}
		if len(c) > maxCursor {
			t.Errorf("cursor %q is longer than maxCursor", c)
		}
	}
	for _, slug := range []string{"ab", "acme", strings.Repeat("z", 63)} {
		c := tenantCursor(slug)
		if got, err := parseTenantCursor(c); err != nil || got != slug {
			t.Errorf("tenants cursor of %q reads back as %q, %v", slug, got, err)
		}
		if _, err := parseUserCursor(c, "tenant-a"); err != errBadCursor {
			t.Errorf("a tenants cursor read as a user cursor: %v", err)
		}
		if len(c) > maxCursor {
			t.Errorf("cursor %q is longer than maxCursor", c)
		}
	}
	for _, c := range []string{"", "x", "dQ", userCursor("tenant-a", 0), userCursor("tenant-a", -1), tenantCursor("A"), tenantCursor("a b"),
		userCursor("tenant-a", 5) + "=", strings.ToUpper(userCursor("tenant-a", 5)),
		userCursor("tenant-a", 5)[:4] + "\n" + userCursor("tenant-a", 5)[4:], tenantCursor("acme") + "\r\n"} {
		if _, err := parseUserCursor(c, "tenant-a"); err != errBadCursor {
			t.Errorf("parseUserCursor(%q) = %v, want errBadCursor", c, err)
		}
		if _, err := parseTenantCursor(c); err != errBadCursor {
			t.Errorf("parseTenantCursor(%q) = %v, want errBadCursor", c, err)
		}
	}
}

// TestParseEvents: the events list's query.
func TestParseEvents(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want store.EventQuery
		bad  string // part of the message when refused
	}{
		{raw: "", want: store.EventQuery{Limit: 100}},
		{raw: "after=&limit=&types=", want: store.EventQuery{Limit: 100}},
		{raw: "after=42&limit=500", want: store.EventQuery{After: 42, Limit: 500}},
		{raw: "after=9223372036854775807&limit=1", want: store.EventQuery{After: math.MaxInt64, Limit: 1}},
		{raw: "types=user.created,session.ended,user.created", want: store.EventQuery{Limit: 100, Types: []string{"user.created", "session.ended"}}},
		{raw: "types=user.created%2Cuser.updated", want: store.EventQuery{Limit: 100, Types: []string{"user.created", "user.updated"}}},
		{raw: "after=-1", bad: "after must be"},
		{raw: "after=9223372036854775808", bad: "after must be"},
		{raw: "after=0x10", bad: "after must be"},
		{raw: "limit=501", bad: "limit must be"},
		{raw: "limit=0", bad: "limit must be"},
		{raw: "types=user.created,", bad: `unknown event type ""`},
		{raw: "types=user.*", bad: `unknown event type "user.*"`},
		{raw: "type=user.created", bad: `Unknown query parameter "type"`},
		{raw: "after=1&after=2", bad: "given 2 times"},
		{raw: "after=%", bad: "malformed"},
	} {
		got, err := parseEvents(tt.raw)
		var ae *apiError
		switch {
		case tt.bad == "" && (err != nil || got.After != tt.want.After || got.Limit != tt.want.Limit || !slices.Equal(got.Types, tt.want.Types)):
			t.Errorf("parseEvents(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
		case tt.bad != "" && (!errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, tt.bad)):
			t.Errorf("parseEvents(%q) = %v; want a 400 saying %q", tt.raw, err, tt.bad)
		}
	}
}

// FuzzQuery: no query string makes the list parsers panic, accept a limit out of range, an unknown
// event type or a cursor that was not made here, or refuse with anything but a 400.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"", "cursor=&limit=", "limit=200", "limit=201", "cursor=" + userCursor("t1", 7), "cursor=" + tenantCursor("acme"),
		"after=5&limit=500&types=user.created,user.updated", "types=user.created,,", "after=-0", "limit=%2B5", "after=1&after=1", "a=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		check := func(what string, err error) {
			var ae *apiError
			if err != nil && (!errors.As(err, &ae) || ae.Status != http.StatusBadRequest) {
				t.Fatalf("%s(%q): %v, want a 400", what, raw, err)
			}
		}
		p, err := parsePage(raw)
		check("parsePage", err)
		if err == nil {
			if p.limit < 1 || p.limit > maxPage || len(p.cursor) > maxCursor {
				t.Fatalf("parsePage(%q) = %+v", raw, p)
			}
			if pos, err := parseUserCursor(p.cursor, "t1"); err == nil && (pos < 1 || userCursor("t1", pos) != p.cursor) {
				t.Fatalf("user cursor %q read as %d, which makes another cursor", p.cursor, pos)
			} else {
				check("parseUserCursor", err)
			}
			if slug, err := parseTenantCursor(p.cursor); err == nil && tenantCursor(slug) != p.cursor {
				t.Fatalf("tenants cursor %q read as %q, which makes another cursor", p.cursor, slug)
			} else {
				check("parseTenantCursor", err)
			}
		}
		q, err := parseEvents(raw)
		check("parseEvents", err)
		if err == nil {
			if q.After < 0 || q.Limit < 1 || q.Limit > maxEventPage {
				t.Fatalf("parseEvents(%q) = %+v", raw, q)
			}
			for _, ty := range q.Types {
				if !slices.Contains(store.EventTypes, ty) {
					t.Fatalf("parseEvents(%q) accepted the type %q", raw, ty)
				}
			}
		}
	})
}
