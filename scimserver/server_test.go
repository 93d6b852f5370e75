package scimserver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/scimserver"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// harness is a running SCIM server on a real SQLite file with two tenants:
// acme (example.com) and other (other.example), each with a live token.
type harness struct {
	t        testing.TB
	srv      *httptest.Server
	st       store.Store
	acme     *store.Tenant
	other    *store.Tenant
	token    string // acme's
	otherTok string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{})
}

// harnessOptions vary the server a harness runs.
type harnessOptions struct {
	wrap func(store.Store) store.Store // the store the server uses, around the harness's own
	now  func() time.Time              // the server's clock
}

func newHarnessWith(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st}
	h.acme = h.tenant("acme", "example.com")
	h.other = h.tenant("other", "other.example")
	h.token = h.issue(h.acme, time.Time{})
	h.otherTok = h.issue(h.other, time.Time{})
	r := mux.NewRouter()
	h.srv = httptest.NewUnstartedServer(r)
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	logger := zaptest.NewLogger(t)
	if b, ok := t.(*testing.B); ok {
		_ = b
		logger = zapNop()
	}
	var served store.Store = st
	if o.wrap != nil {
		served = o.wrap(st)
	}
	s, err := scimserver.New(scimserver.Config{Store: served, Logger: logger, BaseURL: h.srv.URL, Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	s.Routes(r)
	return h
}

func (h *harness) tenant(slug, domain string) *store.Tenant {
	h.t.Helper()
	tn := &store.Tenant{Slug: slug, Name: slug, Domains: []string{domain}, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := h.st.CreateTenant(context.Background(), tn); err != nil {
		h.t.Fatal(err)
	}
	return tn
}

func (h *harness) issue(tn *store.Tenant, expires time.Time) string {
	h.t.Helper()
	tok := "scimsso_test_" + tn.Slug + "_" + time.Now().Format("150405.000000000")
	sum := sha256.Sum256([]byte(tok))
	rec := &store.Token{TenantID: tn.ID, Hash: sum[:], ExpiresAt: expires}
	if err := h.st.CreateToken(context.Background(), rec); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request to acme's SCIM base with acme's token; path may carry a raw query string.
func (h *harness) do(method, path string, body any, headers ...string) response {
	h.t.Helper()
	return h.doAs(h.token, "acme", method, path, body, headers...)
}

func (h *harness) doAs(token, slug, method, path string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+"/scim/v2/"+slug+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

// oktaUser is Okta's documented create body with the work country scimsso requires.
func oktaUser(name, ext string) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    name,
		"name":        map[string]any{"givenName": "Test", "familyName": "User"},
		"emails":      []any{map[string]any{"primary": true, "value": name, "type": "work"}},
		"displayName": "Test User",
		"locale":      "en-US",
		"externalId":  ext,
		"groups":      []any{},
		"password":    "1mz050nq",
		"active":      true,
		"addresses":   []any{map[string]any{"type": "work", "country": "US"}},
	}
}

func (h *harness) create(name, ext string) string {
	h.t.Helper()
	res := h.do("POST", "/Users", oktaUser(name, ext))
	if res.status != http.StatusCreated {
		h.t.Fatalf("create %s: %d %s", name, res.status, res.body)
	}
	return res.json(h.t)["id"].(string)
}

// snapshot is everything the store holds about acme's users, to prove a refused request changed nothing.
func (h *harness) snapshot() string {
	h.t.Helper()
	users, _, err := h.st.ListUsers(context.Background(), h.acme.ID, store.UserQuery{Limit: 10000})
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := json.Marshal(users)
	return string(b)
}
