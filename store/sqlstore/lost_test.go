package sqlstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
)

// TestPostgresConnectionLostDuringList cuts the store's connection to PostgreSQL in the middle of
// every list (after its first row, so the break shows while the rows are read) and before its first
// row: each read must fail with store.ErrUnavailable, the documented 503, never a driver error that
// becomes a 500 or, worse, a short list without an error. The store then answers again.
func TestPostgresConnectionLostDuringList(t *testing.T) {
	ctx := context.Background()
	cut := &cutter{}
	// No sequencer goroutine: its queries would meet the cut meant for the list.
	s, err := OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t), dial: cut.dial, noSequencer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var acme *store.Tenant
	for _, slug := range []string{"acme", "beta"} {
		tn := &store.Tenant{Slug: slug, Name: slug, Domains: []string{slug + ".com", slug + ".io"}, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if acme == nil {
			acme = tn
		}
	}
	for i := range 3 {
		name := fmt.Sprintf("u%d@acme.com", i)
		u := &store.User{UserName: name, Emails: []store.Email{{Value: name, Primary: true}}, GivenName: "G", FamilyName: "F", Country: "DE", Active: true, Source: store.SourceSCIM}
		if err := s.CreateUser(ctx, acme.ID, u, store.Audit{Operation: "create"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, &store.Token{TenantID: acme.ID, Name: name, Hash: []byte(name)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTeam(ctx, acme.ID, &store.Team{Name: fmt.Sprintf("team %d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordLoginFailure(ctx, "acct:x"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIKey(ctx, &store.APIKey{Name: name, Scopes: []string{store.ScopeManage}, Hash: []byte(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReplaceDepartmentMap(ctx, acme.ID, []store.DepartmentMapping{{Department: "R&D", Team: "team 0"}, {Department: "Sales", Team: "team 1"}}); err != nil {
		t.Fatal(err)
	}

	if _, err := s.LastEventSeq(ctx, false); err != nil { // numbers the events, so ListEvents below only reads
		t.Fatal(err)
	}

	lists := []struct {
		name string
		rows int // the rows the list's queries return before the one to cut, counting from 1
		read func() error
	}{
		{"ListUsers", 1, func() error { _, _, err := s.ListUsers(ctx, acme.ID, store.UserQuery{Limit: 10}); return err }},
		{"ListUsers total", 2, func() error { _, _, err := s.ListUsers(ctx, acme.ID, store.UserQuery{Offset: 1, Limit: 1}); return err }},
		{"ListTokens", 1, func() error { _, err := s.ListTokens(ctx, acme.ID); return err }},
		{"ListTeams", 1, func() error { _, err := s.ListTeams(ctx, acme.ID); return err }},
		{"DepartmentMap", 1, func() error { _, err := s.DepartmentMap(ctx, acme.ID); return err }},
		{"ListAudit", 1, func() error { _, err := s.ListAudit(ctx, acme.ID, time.Time{}); return err }},
		{"ListTenants", 1, func() error { _, err := s.ListTenants(ctx); return err }},
		{"TenantBySlug domains", 2, func() error { _, err := s.TenantBySlug(ctx, "acme"); return err }},
		{"LoginFailures", 1, func() error { _, err := s.LoginFailures(ctx, "acct:x", time.Time{}); return err }},
		{"UsersAfter", 1, func() error { _, _, err := s.UsersAfter(ctx, acme.ID, 0, 10); return err }},
		{"ListAPIKeys", 1, func() error { _, err := s.ListAPIKeys(ctx); return err }},
		// The first row is that of the check for events still to number.
		{"ListEvents", 2, func() error { _, err := s.ListEvents(ctx, store.EventQuery{Limit: 10}); return err }},
	}
	for _, l := range lists {
		for _, where := range []struct {
			name  string
			after int
		}{{"after the first row", l.rows}, {"before the first row", 0}} {
			t.Run(l.name+" "+where.name, func(t *testing.T) {
				cut.arm(where.after)
				err := l.read()
				if !cut.fired() {
					t.Fatalf("the connection was not cut (err %v)", err)
				}
				if !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("err = %v, want store.ErrUnavailable", err)
				}
				if err := l.read(); err != nil {
					t.Fatalf("after the lost connection: %v", err)
				}
			})
		}
	}
}

// cutter breaks one of the store's connections to PostgreSQL once armed: after the server has sent
// the n-th DataRow since, or with n = 0 at the first answer to a query (ParseComplete, BindComplete
// or RowDescription; not a pool health check). What came before reaches the driver; then the
// connection reads end of file, as when a server or the network goes away.
type cutter struct {
	mu    sync.Mutex
	armed bool
	after int // DataRows still to let through; 0: cut at the next query answer
	seen  int
	done  bool
}

func (c *cutter) arm(after int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.after, c.seen, c.done = true, after, 0, false
}

func (c *cutter) fired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// message reports whether the connection breaks before a message of type typ (start) or after it.
func (c *cutter) message(typ byte, start bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return false
	}
	switch {
	case start && c.after == 0 && strings.IndexByte("12T", typ) >= 0:
	case !start && c.after > 0 && typ == 'D':
		if c.seen++; c.seen < c.after {
			return false
		}
	default:
		return false
	}
	c.armed, c.done = false, true
	return true
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: conn, c: c}, nil
}

// cutConn follows the server's messages (type byte, length) through its reads; the test URL has
// sslmode=disable, so what it reads is the protocol itself.
type cutConn struct {
	net.Conn
	c    *cutter
	hdr  []byte
	typ  byte
	left int // bytes of the current message still to come
	cut  bool
}

func (cc *cutConn) Read(p []byte) (int, error) {
	if cc.cut {
		return 0, io.EOF
	}
	n, err := cc.Conn.Read(p)
	for i := 0; i < n; i++ {
		if cc.left > 0 {
			if cc.left--; cc.left == 0 && cc.c.message(cc.typ, false) {
				return cc.breakAt(i + 1)
			}
			continue
		}
		if len(cc.hdr) == 0 && cc.c.message(p[i], true) {
			return cc.breakAt(i)
		}
		if cc.hdr = append(cc.hdr, p[i]); len(cc.hdr) == 5 {
			cc.typ, cc.left = cc.hdr[0], int(binary.BigEndian.Uint32(cc.hdr[1:]))-4
			cc.hdr = cc.hdr[:0]
		}
	}
	return n, err
}

// breakAt closes the connection and hands the driver the first n bytes of the last read.
func (cc *cutConn) breakAt(n int) (int, error) {
	cc.cut = true
	cc.Conn.Close()
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
