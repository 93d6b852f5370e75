package platformapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/platformapi"
	"github.com/scimsso/scimsso/scimserver"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// env is a running server as cmd wires it for these tests: SCIM and the platform API on one router,
// on a real store (a SQLite file or a PostgreSQL database), with two tenants and their SCIM tokens,
// and API keys of every kind.
type env struct {
	t          testing.TB
	st         store.Store
	srv        *httptest.Server
	acme, beta *store.Tenant
	scimTokens map[string]string // slug → SCIM token
	// keys: "all" (directory:read, events:read), "directory", "events", "manage", "revoked" (had
	// every scope).
	keys map[string]string
}

// backends runs fn once on SQLite and once on PostgreSQL (skipped without one, unless required).
func backends(t *testing.T, fn func(t *testing.T, e *env)) { backendsLoopback(t, true, fn) }

// backendsLoopback is backends with webhooks and back-channel URIs to loopback over http allowed
// (serve --allow-http-loopback-webhooks) or not.
func backendsLoopback(t *testing.T, allowLoopback bool, fn func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store {
			s, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"postgres", func(t *testing.T) store.Store {
			s, err := sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: pgtest.URL(t)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			t.Cleanup(func() { st.Close() })
			fn(t, newEnvLoopback(t, st, allowLoopback))
		})
	}
}

func newEnv(t testing.TB, st store.Store) *env { return newEnvLoopback(t, st, true) }

func newEnvLoopback(t testing.TB, st store.Store, allowLoopback bool) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, st: st, scimTokens: map[string]string{}, keys: map[string]string{}}
	r := mux.NewRouter()
	// As cmd's middleware does: every request has an id, which a 500 names.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(w, req.WithContext(requestid.With(req.Context(), "req-1")))
	}))
	t.Cleanup(e.srv.Close)
	log := zaptest.NewLogger(t)
	scim, err := scimserver.New(scimserver.Config{Store: st, Logger: log.Named("scim"), BaseURL: e.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	scim.Routes(r)
	api, err := platformapi.New(manageConfig(st, log.Named("api"), e.srv.URL, allowLoopback))
	if err != nil {
		t.Fatal(err)
	}
	api.Routes(r)

	for _, tn := range []**store.Tenant{&e.acme, &e.beta} {
		slug := "acme"
		if tn == &e.beta {
			slug = "beta"
		}
		*tn = &store.Tenant{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:] + " Inc", Domains: []string{slug + ".com"},
			SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		if err := st.CreateTenant(ctx, *tn); err != nil {
			t.Fatal(err)
		}
		tok, hash, _ := store.NewSecret(store.TokenPrefix)
		if err := st.CreateToken(ctx, &store.Token{TenantID: (*tn).ID, Name: "okta", Hash: hash}); err != nil {
			t.Fatal(err)
		}
		e.scimTokens[slug] = tok
	}
	for name, scopes := range map[string][]string{
		"all":       {store.ScopeDirectoryRead, store.ScopeEventsRead},
		"directory": {store.ScopeDirectoryRead},
		"events":    {store.ScopeEventsRead},
		"manage":    {store.ScopeManage},
		"revoked":   store.APIKeyScopes,
	} {
		key, hash, _ := store.NewSecret(store.APIKeyPrefix)
		k := &store.APIKey{Name: name, Scopes: scopes, Hash: hash}
		if err := st.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if name == "revoked" {
			if err := st.RevokeAPIKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
		e.keys[name] = key
	}
	return e
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (e *env) send(method, path, auth string, body io.Reader, contentType string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// get asks the platform API with the key named name.
func (e *env) get(name, path string) response {
	e.t.Helper()
	return e.send(http.MethodGet, path, "Bearer "+e.keys[name], nil, "")
}

// ok asks the platform API with the key named name and decodes a 200's JSON into v.
func (e *env) ok(name, path string, v any) {
	e.t.Helper()
	res := e.get(name, path)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" || res.header.Get("Cache-Control") != "no-store" {
		e.t.Fatalf("GET %s: %v (Content-Type %q, Cache-Control %q); want 200 application/json, no-store", path, res,
			res.header.Get("Content-Type"), res.header.Get("Cache-Control"))
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, res.body)
	}
}

// refused asks the platform API and checks that the answer is the error status with code, and
// returns its message.
func (e *env) refused(auth, path string, status int, code string) string {
	e.t.Helper()
	res := e.send(http.MethodGet, path, auth, nil, "")
	var b struct{ Error, Message string }
	if res.status != status || json.Unmarshal(res.body, &b) != nil || b.Error != code || b.Message == "" ||
		res.header.Get("Content-Type") != "application/json" {
		e.t.Fatalf("GET %s: %v; want %d {\"error\":%q,\"message\":…}", path, res, status, code)
	}
	return b.Message
}

// scimUser is what SCIM answered for a user it created or changed.
type scimUser struct {
	ID         string `json:"id"`
	UserName   string `json:"userName"`
	ExternalID string `json:"externalId"`
	Active     bool   `json:"active"`
	Name       struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value   string `json:"value"`
		Type    string `json:"type"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	Addresses []struct {
		Type    string `json:"type"`
		Country string `json:"country"`
	} `json:"addresses"`
	Enterprise struct {
		Department string `json:"department"`
	} `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	Meta struct {
		Created      time.Time `json:"created"`
		LastModified time.Time `json:"lastModified"`
	} `json:"meta"`
}

// scim sends a SCIM request to the tenant with its token, as Okta would, and decodes the user answered.
func (e *env) scim(slug, method, path string, body any, want int) scimUser {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	res := e.send(method, "/scim/v2/"+slug+path, "Bearer "+e.scimTokens[slug], strings.NewReader(string(raw)), "application/scim+json")
	if res.status != want {
		e.t.Fatalf("SCIM %s %s: %v, want %d", method, path, res, want)
	}
	var u scimUser
	if err := json.Unmarshal(res.body, &u); err != nil {
		e.t.Fatalf("SCIM %s %s: %v: %s", method, path, err, res.body)
	}
	return u
}

// create provisions a user through SCIM, Okta's create body with a department.
func (e *env) create(slug, name string) scimUser {
	e.t.Helper()
	return e.scim(slug, http.MethodPost, "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"userName": name,
		"name":     map[string]any{"givenName": "Given " + name, "familyName": "Family"},
		"emails": []any{map[string]any{"primary": true, "value": name, "type": "work"},
			map[string]any{"value": "home." + name, "type": "home"}},
		"externalId": "00u" + strings.ReplaceAll(name, "@", "."),
		"active":     true,
		"addresses":  []any{map[string]any{"type": "work", "country": "DE"}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D"},
	}, http.StatusCreated)
}

// deactivate PATCHes the user inactive, as Okta does.
func (e *env) deactivate(slug, id string) scimUser {
	e.t.Helper()
	return e.scim(slug, http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	}, http.StatusOK)
}

// sameUser checks that the platform API's object is the user SCIM wrote.
func sameUser(t *testing.T, got store.UserObject, slug string, want scimUser) {
	t.Helper()
	var emails []store.EmailObject
	for _, m := range want.Emails {
		emails = append(emails, store.EmailObject{Value: m.Value, Type: m.Type, Primary: m.Primary})
	}
	country := ""
	for _, a := range want.Addresses {
		if a.Type == "work" {
			country = a.Country
		}
	}
	if got.ID != want.ID || got.Tenant != slug || got.UserName != want.UserName || !slices.Equal(got.Emails, emails) ||
		got.GivenName != want.Name.GivenName || got.FamilyName != want.Name.FamilyName || got.Country != country ||
		got.Department != want.Enterprise.Department || got.ExternalID != want.ExternalID || got.Active != want.Active ||
		// SCIM's meta times are whole seconds; the platform API's keep the store's microseconds.
		got.Source != store.SourceSCIM || !got.CreatedAt.Truncate(time.Second).Equal(want.Meta.Created) ||
		!got.UpdatedAt.Truncate(time.Second).Equal(want.Meta.LastModified) ||
		got.LastSignInAt != nil {
		t.Fatalf("platform API user:\n%+v\nSCIM wrote:\n%+v", got, want)
	}
}

// userList is a page of users.
type userList struct {
	Data       []store.UserObject `json:"data"`
	NextCursor *string            `json:"next_cursor"`
}

// TestAuthentication: every route refuses a missing, malformed, unknown or revoked key with the same
// 401 and a Bearer challenge, and a key without the route's scope with a 403 naming the scope.
func TestAuthentication(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		u := e.create("acme", "alice@acme.com")
		unknown, _, _ := store.NewSecret(store.APIKeyPrefix)
		routes := []struct {
			path  string
			scope string
			key   string // a key with the scope
			also  string // another key allowed, by another scope
		}{
			{"/api/v1/tenants", store.ScopeDirectoryRead, "directory", "manage"},
			{"/api/v1/tenants/acme/users", store.ScopeDirectoryRead, "directory", ""},
			{"/api/v1/tenants/acme/users?limit=1", store.ScopeDirectoryRead, "directory", ""},
			{"/api/v1/tenants/acme/users/" + u.ID, store.ScopeDirectoryRead, "directory", ""},
			{"/api/v1/events", store.ScopeEventsRead, "events", ""},
			{"/api/v1/events?after=0&limit=5", store.ScopeEventsRead, "events", ""},
		}
		for _, rt := range routes {
			t.Run(strings.ReplaceAll(rt.path, u.ID, "{id}"), func(t *testing.T) {
				var first response
				for i, auth := range []string{
					"",
					"Bearer",
					"Bearer ",
					"Basic " + e.keys["all"],
					"Bearer " + e.keys["all"] + "x",
					"Bearer " + e.keys["all"][:len(e.keys["all"])-1],
					"Bearer " + e.scimTokens["acme"], // a SCIM token is no API key
					"Bearer " + unknown,
					"Bearer " + e.keys["revoked"],
				} {
					res := e.send(http.MethodGet, rt.path, auth, nil, "")
					if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("Authorization %q: %v, WWW-Authenticate %q; want 401 with a Bearer challenge", auth, res, res.header.Get("WWW-Authenticate"))
					}
					if i == 0 {
						first = res
						e.refused(auth, rt.path, http.StatusUnauthorized, "unauthorized")
					} else if string(res.body) != string(first.body) {
						t.Fatalf("Authorization %q: body %s differs from the missing key's %s", auth, res.body, first.body)
					}
				}
				for name := range e.keys {
					if name == "revoked" || name == rt.key || name == rt.also || name == "all" {
						continue
					}
					msg := e.refused("Bearer "+e.keys[name], rt.path, http.StatusForbidden, "forbidden")
					if !strings.Contains(msg, rt.scope) {
						t.Errorf("key %s: 403 %q does not name the scope %s", name, msg, rt.scope)
					}
				}
				// The scheme is case-insensitive (RFC 7235).
				if res := e.send(http.MethodGet, rt.path, "bearer "+e.keys[rt.key], nil, ""); res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
					t.Errorf("a key with the scope, scheme in lower case: %v", res)
				}
			})
		}
		// Unknown paths under /api/v1 ask for a key first, then are JSON 404s; other methods are 405s.
		e.refused("", "/api/v1/nothing", http.StatusUnauthorized, "unauthorized")
		e.refused("Bearer "+e.keys["manage"], "/api/v1/nothing", http.StatusNotFound, "not_found")
		e.refused("Bearer "+e.keys["all"], "/api/v1/tenants/", http.StatusNotFound, "not_found")
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			res := e.send(method, "/api/v1/tenants/acme/users/"+u.ID, "Bearer "+e.keys["all"], strings.NewReader("{}"), "application/json")
			if res.status != http.StatusMethodNotAllowed || !strings.Contains(string(res.body), `"error":"method_not_allowed"`) || res.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s: %v, Allow %q; want 405 method_not_allowed", method, res, res.header.Get("Allow"))
			}
		}
		if got, _ := e.st.UserByID(context.Background(), e.acme.ID, u.ID); got == nil || got.Version != 1 {
			t.Errorf("a refused request changed the user: %+v", got)
		}
	})
}

// TestTenants: the tenants in slug order, a page at a time.
func TestTenants(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var all struct {
			Data []struct {
				Slug, Name string
				Domains    []string
				CreatedAt  time.Time `json:"created_at"`
			}
			NextCursor *string `json:"next_cursor"`
		}
		e.ok("directory", "/api/v1/tenants", &all)
		if len(all.Data) != 2 || all.NextCursor != nil || all.Data[0].Slug != "acme" || all.Data[0].Name != "Acme Inc" ||
			!slices.Equal(all.Data[0].Domains, []string{"acme.com"}) || !all.Data[0].CreatedAt.Equal(e.acme.CreatedAt) || all.Data[1].Slug != "beta" {
			t.Fatalf("tenants: %+v", all)
		}
		// Slugs with a hyphen: byte order, which the cursor compares, even where the database's
		// collation ignores punctuation (it would put "ab" before "a-c").
		for _, slug := range []string{"gamma", "aaa", "delta", "ab", "a-c"} {
			if err := e.st.CreateTenant(context.Background(), &store.Tenant{Slug: slug, Name: slug, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}); err != nil {
				t.Fatal(err)
			}
		}
		var seen []string
		path := "/api/v1/tenants?limit=2"
		for pages := 0; ; pages++ {
			if pages > 4 {
				t.Fatalf("more pages than tenants: %v", seen)
			}
			e.ok("directory", path, &all)
			for _, d := range all.Data {
				seen = append(seen, d.Slug)
				if d.Domains == nil {
					t.Fatalf("tenant %s: domains null, want []", d.Slug)
				}
			}
			if all.NextCursor == nil {
				break
			}
			path = "/api/v1/tenants?limit=2&cursor=" + url.QueryEscape(*all.NextCursor)
		}
		if want := []string{"a-c", "aaa", "ab", "acme", "beta", "delta", "gamma"}; !slices.Equal(seen, want) {
			t.Fatalf("walked %v, want %v", seen, want)
		}
	})
}

// TestUsers: a user as SCIM wrote it, by id and in the tenant's list; 404 for an unknown tenant or
// user, or another tenant's user.
func TestUsers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice := e.create("acme", "alice@acme.com")
		bob := e.create("acme", "bob@acme.com")
		bob = e.deactivate("acme", bob.ID)
		carol := e.create("beta", "carol@beta.com")

		var got store.UserObject
		e.ok("directory", "/api/v1/tenants/acme/users/"+alice.ID, &got)
		sameUser(t, got, "acme", alice)
		e.ok("directory", "/api/v1/tenants/acme/users/"+bob.ID, &got)
		sameUser(t, got, "acme", bob)
		e.ok("all", "/api/v1/tenants/beta/users/"+carol.ID, &got)
		sameUser(t, got, "beta", carol)
		res := e.get("directory", "/api/v1/tenants/acme/users/"+alice.ID)
		for _, field := range []string{"id", "tenant", "user_name", "emails", "given_name", "family_name", "country", "department", "team",
			"external_id", "active", "source", "created_at", "updated_at", "last_sign_in_at"} {
			if !strings.Contains(string(res.body), `"`+field+`":`) {
				t.Errorf("the user object lacks %q: %s", field, res.body)
			}
		}

		var list userList
		e.ok("directory", "/api/v1/tenants/acme/users", &list)
		if len(list.Data) != 2 || list.NextCursor != nil {
			t.Fatalf("acme's users: %d, next %v", len(list.Data), list.NextCursor)
		}
		sameUser(t, list.Data[0], "acme", alice)
		sameUser(t, list.Data[1], "acme", bob)
		if res := e.get("directory", "/api/v1/tenants/acme/users?cursor=&limit="); res.status != http.StatusOK || !strings.Contains(string(res.body), `"next_cursor":null`) {
			t.Fatalf("empty cursor and limit (a first page of the default size): %v", res)
		}
		e.ok("directory", "/api/v1/tenants/beta/users?limit=1", &list)
		if len(list.Data) != 1 || list.Data[0].ID != carol.ID || list.NextCursor != nil {
			t.Fatalf("beta's users: %+v", list)
		}

		for _, path := range []string{
			"/api/v1/tenants/nope/users",
			"/api/v1/tenants/nope/users/" + alice.ID,
			"/api/v1/tenants/NOT%20A%20SLUG/users",
			"/api/v1/tenants/" + strings.Repeat("a", 300) + "/users",
			"/api/v1/tenants/acme/users/" + carol.ID, // beta's user
			"/api/v1/tenants/beta/users/" + alice.ID,
			"/api/v1/tenants/acme/users/no-such-user",
			"/api/v1/tenants/acme/users/" + strings.Repeat("x", 1000),
			"/api/v1/tenants/acme/users/%00",    // PostgreSQL refuses NUL in text: still not found
			"/api/v1/tenants/acme/users/%FF%FE", // and invalid UTF-8
		} {
			e.refused("Bearer "+e.keys["directory"], path, http.StatusNotFound, "not_found")
		}
	})
}

// TestListRefusals: a cursor this list did not make, a limit out of range, a parameter unknown or
// given twice are 400s that say so.
func TestListRefusals(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for i := range 3 {
			e.create("acme", fmt.Sprintf("a%d@acme.com", i))
			e.create("beta", fmt.Sprintf("b%d@beta.com", i))
		}
		cursor := func(slug string) string {
			var l userList
			e.ok("directory", "/api/v1/tenants/"+slug+"/users?limit=1", &l)
			if l.NextCursor == nil {
				t.Fatal("no next cursor")
			}
			return *l.NextCursor
		}
		acmeCursor, betaCursor := cursor("acme"), cursor("beta")
		var tenants struct {
			NextCursor *string `json:"next_cursor"`
		}
		e.ok("directory", "/api/v1/tenants?limit=1", &tenants)
		q := url.QueryEscape
		for _, tt := range []struct {
			path, code string
		}{
			{"/api/v1/tenants/acme/users?cursor=" + q(betaCursor), "invalid_cursor"}, // another tenant's
			{"/api/v1/tenants/acme/users?cursor=" + q(*tenants.NextCursor), "invalid_cursor"},
			{"/api/v1/tenants?cursor=" + q(acmeCursor), "invalid_cursor"},
			{"/api/v1/tenants/acme/users?cursor=garbage", "invalid_cursor"},
			{"/api/v1/tenants/acme/users?cursor=" + q(acmeCursor[:len(acmeCursor)-2]), "invalid_cursor"},
			{"/api/v1/tenants/acme/users?cursor=" + q(acmeCursor+"A"), "invalid_cursor"},
			{"/api/v1/tenants/acme/users?cursor=" + q(strings.Repeat("A", 5000)), "invalid_cursor"},
			{"/api/v1/tenants/acme/users?cursor=%FF%FE", "invalid_cursor"},
			{"/api/v1/tenants?cursor=dA", "invalid_cursor"},
			{"/api/v1/tenants/acme/users?limit=0", "invalid_request"},
			{"/api/v1/tenants/acme/users?limit=201", "invalid_request"},
			{"/api/v1/tenants/acme/users?limit=-1", "invalid_request"},
			{"/api/v1/tenants/acme/users?limit=ten", "invalid_request"},
			{"/api/v1/tenants/acme/users?limit=99999999999999999999", "invalid_request"},
			{"/api/v1/tenants?limit=201", "invalid_request"},
			{"/api/v1/tenants/acme/users?limit=1&limit=2", "invalid_request"},
			{"/api/v1/tenants/acme/users?count=5", "invalid_request"},
			{"/api/v1/tenants/acme/users?cursor=%zz", "invalid_request"},
			{"/api/v1/events?after=-1", "invalid_request"},
			{"/api/v1/events?after=abc", "invalid_request"},
			{"/api/v1/events?after=1.5", "invalid_request"},
			{"/api/v1/events?after=99999999999999999999", "invalid_request"},
			{"/api/v1/events?limit=0", "invalid_request"},
			{"/api/v1/events?limit=501", "invalid_request"},
			{"/api/v1/events?types=user.created,user.exploded", "invalid_request"},
			{"/api/v1/events?types=user.created,", "invalid_request"},
			{"/api/v1/events?types=USER.CREATED", "invalid_request"},
			{"/api/v1/events?since=0", "invalid_request"},
		} {
			e.refused("Bearer "+e.keys["all"], tt.path, http.StatusBadRequest, tt.code)
		}
		// The limits at their bounds are served.
		for _, path := range []string{"/api/v1/tenants/acme/users?limit=1", "/api/v1/tenants/acme/users?limit=200", "/api/v1/tenants?limit=200"} {
			if res := e.get("directory", path); res.status != http.StatusOK {
				t.Errorf("GET %s: %v", path, res)
			}
		}
	})
}

// TestUsersWalk: a client pages through a tenant of 450 users, created through SCIM, while more are
// created and others change between its pages; it sees every user that existed when it began exactly
// once, in creation order, and each as it is when its page is read.
func TestUsersWalk(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var want []string
		for i := range 450 {
			want = append(want, e.create("acme", fmt.Sprintf("u%03d@acme.com", i)).ID)
			if i%50 == 0 {
				e.create("beta", fmt.Sprintf("u%03d@beta.com", i)) // interleaved, never listed in acme
			}
		}
		var seen []string
		seenSet := map[string]bool{}
		path, pages := "/api/v1/tenants/acme/users?limit=60", 0
		var deactivated string
		for {
			var l userList
			e.ok("directory", path, &l)
			pages++
			for _, u := range l.Data {
				if seenSet[u.ID] {
					t.Fatalf("page %d repeats %s", pages, u.UserName)
				}
				if u.Tenant != "acme" {
					t.Fatalf("page %d holds %s of %s", pages, u.UserName, u.Tenant)
				}
				if u.ID == deactivated && u.Active {
					t.Fatalf("%s was deactivated before its page was read, and is listed active", u.UserName)
				}
				seenSet[u.ID] = true
				seen = append(seen, u.ID)
			}
			if l.NextCursor == nil {
				break
			}
			if pages > 20 {
				t.Fatal("the walk does not end")
			}
			// Between pages, as a busy IdP would: new users, one seen already and one not yet seen
			// deactivated.
			for j := range 3 {
				want = append(want, e.create("acme", fmt.Sprintf("new%d-%d@acme.com", pages, j)).ID)
			}
			e.deactivate("acme", seen[len(seen)-1])
			if len(seen)+5 < 450 {
				deactivated = want[len(seen)+5]
				e.deactivate("acme", deactivated)
			}
			path = "/api/v1/tenants/acme/users?limit=60&cursor=" + url.QueryEscape(*l.NextCursor)
		}
		if !slices.Equal(seen, want) {
			t.Fatalf("the walk saw %d users in %d pages, want the %d created, in creation order", len(seen), pages, len(want))
		}
		// The default page is 50, the largest 200.
		var l userList
		e.ok("directory", "/api/v1/tenants/acme/users", &l)
		if len(l.Data) != 50 || l.NextCursor == nil {
			t.Fatalf("default page: %d users", len(l.Data))
		}
		e.ok("directory", "/api/v1/tenants/acme/users?limit=200", &l)
		if len(l.Data) != 200 {
			t.Fatalf("limit=200: %d users", len(l.Data))
		}
	})
}

// TestDatabaseDown: while the database is unreachable every request is a 503, which a client retries,
// never a 401 that would make it think its key was revoked; once it is back, the same request is
// served. (Its Retry-After comes from cmd's middleware: TestPostgresDownEveryRoute checks it.)
func TestDatabaseDown(t *testing.T) {
	srv := pgtest.Start(t)
	st, err := sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	alice := e.create("acme", "alice@acme.com")
	paths := []string{"/api/v1/tenants", "/api/v1/tenants/acme/users", "/api/v1/tenants/acme/users/" + alice.ID, "/api/v1/nothing"}
	srv.Stop()
	for _, path := range paths {
		e.refused("Bearer "+e.keys["all"], path, http.StatusServiceUnavailable, "unavailable")
	}
	srv.Restart()
	var got store.UserObject
	e.ok("directory", "/api/v1/tenants/acme/users/"+alice.ID, &got)
	sameUser(t, got, "acme", alice)
}
