package scimserver_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

func patch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchOp}, "Operations": list}
}

func wantStatus(t *testing.T, what string, res response, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, res.status, status, res.body)
	}
}

func wantSCIMError(t *testing.T, what string, res response, status int, scimType, detailHas string) {
	t.Helper()
	wantStatus(t, what, res, status)
	e := res.json(t)
	if e["status"] != fmt.Sprint(status) || e["detail"] == "" {
		t.Fatalf("%s: not a SCIM error document: %s", what, res.body)
	}
	if scimType != "" && e["scimType"] != scimType {
		t.Fatalf("%s: scimType %v, want %s: %s", what, e["scimType"], scimType, res.body)
	}
	if !strings.Contains(fmt.Sprint(e["detail"]), detailHas) {
		t.Fatalf("%s: detail %q does not mention %q", what, e["detail"], detailHas)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

func TestAuthFailuresAreIndistinguishable(t *testing.T) {
	h := newHarness(t)
	revoked := h.issue(h.acme, time.Time{})
	list, _ := h.st.ListTokens(context.Background(), h.acme.ID)
	if err := h.st.RevokeToken(context.Background(), h.acme.ID, list[0].ID); err != nil {
		t.Fatal(err)
	}
	expired := h.issue(h.acme, time.Now().Add(-time.Minute))
	cases := []struct{ name, token, slug, scheme string }{
		{"no token", "", "acme", ""},
		{"wrong token", "scimsso_nope", "acme", "Bearer "},
		{"revoked", revoked, "acme", "Bearer "},
		{"expired", expired, "acme", "Bearer "},
		{"other tenant's token", h.otherTok, "acme", "Bearer "},
		{"unknown tenant", h.token, "nosuch", "Bearer "},
		{"basic scheme", h.token, "acme", "Basic "},
	}
	var first []byte
	for _, c := range cases {
		res := h.doAs("", c.slug, "GET", "/Users", nil, "Authorization", c.scheme+c.token)
		wantSCIMError(t, c.name, res, http.StatusUnauthorized, "", "bearer token")
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: WWW-Authenticate %q", c.name, res.header.Get("WWW-Authenticate"))
		}
		if first == nil {
			first = res.body
		} else if string(res.body) != string(first) {
			t.Fatalf("%s: body differs from the other 401s:\n%s\n%s", c.name, res.body, first)
		}
	}
	// The scheme is case-insensitive (RFC 7235).
	wantStatus(t, "lower-case bearer", h.doAs("", "acme", "GET", "/Users", nil, "Authorization", "bearer "+h.token), http.StatusOK)
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	spc := h.do("GET", "/ServiceProviderConfig", nil)
	wantStatus(t, "ServiceProviderConfig", spc, http.StatusOK)
	m := spc.json(t)
	for path, want := range map[string]any{"patch.supported": true, "bulk.supported": false, "filter.supported": true, "etag.supported": true, "sort.supported": false} {
		parts := strings.Split(path, ".")
		if got := m[parts[0]].(map[string]any)[parts[1]]; got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if m["filter"].(map[string]any)["maxResults"] == nil {
		t.Error("filter.maxResults missing")
	}
	schemasRes := h.do("GET", "/Schemas", nil)
	wantStatus(t, "Schemas", schemasRes, http.StatusOK)
	for _, urn := range []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} {
		if !strings.Contains(string(schemasRes.body), urn) {
			t.Errorf("/Schemas lacks %s", urn)
		}
	}
	wantStatus(t, "Schemas/core", h.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil), http.StatusOK)
	wantStatus(t, "Schemas/unknown", h.do("GET", "/Schemas/urn:x", nil), http.StatusNotFound)
	rt := h.do("GET", "/ResourceTypes", nil)
	wantStatus(t, "ResourceTypes", rt, http.StatusOK)
	if !strings.Contains(string(rt.body), `"User"`) || strings.Contains(string(rt.body), "Group") {
		t.Errorf("ResourceTypes: %s", rt.body)
	}
	wantSCIMError(t, "Groups", h.do("GET", "/Groups", nil), http.StatusNotFound, "", "")
	wantSCIMError(t, "Bulk", h.do("POST", "/Bulk", map[string]any{}), http.StatusNotImplemented, "", "")
}

func TestCreate(t *testing.T) {
	h := newHarness(t)
	for _, ct := range []string{"application/scim+json", "application/json", "application/scim+json; charset=utf-8"} {
		name := "ct" + fmt.Sprint(len(ct)) + "@example.com"
		res := h.do("POST", "/Users", oktaUser(name, ""), "Content-Type", ct)
		wantStatus(t, ct, res, http.StatusCreated)
		u := res.json(t)
		meta := u["meta"].(map[string]any)
		if loc := res.header.Get("Location"); loc == "" || loc != meta["location"] || !strings.HasPrefix(loc, h.srv.URL+"/scim/v2/acme/Users/") {
			t.Fatalf("Location %q, meta.location %v", loc, meta["location"])
		}
		if res.header.Get("ETag") == "" || res.header.Get("ETag") != meta["version"] {
			t.Fatalf("ETag %q, meta.version %v", res.header.Get("ETag"), meta["version"])
		}
		if _, ok := u["password"]; ok || strings.Contains(string(res.body), "1mz050nq") {
			t.Fatalf("password echoed: %s", res.body)
		}
		if !strings.HasPrefix(res.header.Get("Content-Type"), "application/scim+json") {
			t.Fatalf("Content-Type %q", res.header.Get("Content-Type"))
		}
		got := h.do("GET", "/Users/"+u["id"].(string), nil)
		wantStatus(t, "GET created", got, http.StatusOK)
		if strings.Contains(string(got.body), "1mz050nq") {
			t.Fatal("password stored and returned")
		}
	}
	wantSCIMError(t, "text/plain", h.do("POST", "/Users", oktaUser("tp@example.com", ""), "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "", "")
	// Entra's "active":"True" on create.
	body := oktaUser("entra@example.com", "")
	body["active"] = "True"
	res := h.do("POST", "/Users", body)
	wantStatus(t, "string active", res, http.StatusCreated)
	if res.json(t)["active"] != true {
		t.Fatalf("active: %s", res.body)
	}
}

func TestCreateRefusals(t *testing.T) {
	h := newHarness(t)
	h.create("taken@example.com", "ext-taken")
	with := func(mod func(map[string]any)) map[string]any {
		b := oktaUser("new@example.com", "")
		mod(b)
		return b
	}
	addr := func(as ...map[string]any) func(map[string]any) {
		return func(b map[string]any) {
			l := make([]any, len(as))
			for i, a := range as {
				l[i] = a
			}
			b["addresses"] = l
		}
	}
	cases := []struct {
		name      string
		body      any
		status    int
		scimType  string
		detailHas string
	}{
		{"no country", with(func(b map[string]any) { delete(b, "addresses") }), 400, "invalidValue", `addresses[type eq "work"].country`},
		{"alpha-3", with(addr(map[string]any{"type": "work", "country": "USA"})), 400, "invalidValue", `use "US"`},
		{"country name", with(addr(map[string]any{"type": "work", "country": "United States"})), 400, "invalidValue", `use "US"`},
		{"validator name", with(addr(map[string]any{"type": "work", "country": "Namibia"})), 400, "invalidValue", `use "NA"`},
		{"user-assigned", with(addr(map[string]any{"type": "work", "country": "XX"})), 400, "invalidValue", `"XX"`},
		{"empty country", with(addr(map[string]any{"type": "work", "country": ""})), 400, "invalidValue", "country"},
		{"userName not an email", with(func(b map[string]any) { b["userName"] = "jdoe" }), 400, "invalidValue", "userName"},
		{"foreign domain", with(func(b map[string]any) { b["userName"] = "x@other.example" }), 400, "invalidValue", "example.com"},
		// Emails are what sign-in accepts (store.ParseEmail), at most 254 characters with a local part of
		// at most 64 (RFC 5321): longer ones could never be named by a filter (1,024 bytes at most).
		{"look-alike userName", with(func(b map[string]any) { b["userName"], b["emails"] = "jösé@example.com", nil }), 400, "invalidValue", "userName"},
		{"Cyrillic look-alike userName", with(func(b map[string]any) { b["userName"], b["emails"] = "аlice@example.com", nil }), 400, "invalidValue", "look-alike"},
		{"5,000-character local part", with(func(b map[string]any) { b["userName"], b["emails"] = strings.Repeat("x", 5000)+"@example.com", nil }), 400, "invalidValue", "userName"},
		{"65-character local part", with(func(b map[string]any) { b["userName"], b["emails"] = strings.Repeat("x", 65)+"@example.com", nil }), 400, "invalidValue", "64"},
		{"255-character userName", with(func(b map[string]any) {
			b["userName"], b["emails"] = "x@"+strings.Repeat("a.", 122)+"example.com", nil
		}), 400, "invalidValue", "254"},
		{"long email value", with(func(b map[string]any) {
			b["emails"] = []any{map[string]any{"value": strings.Repeat("y", 300) + "@example.com", "type": "work"}}
		}), 400, "invalidValue", "emails.value"},
		{"look-alike email value", with(func(b map[string]any) {
			b["emails"] = []any{map[string]any{"value": "jösé@example.com", "type": "work"}}
		}), 400, "invalidValue", "emails.value"},
		{"foreign email", with(func(b map[string]any) {
			b["emails"] = []any{map[string]any{"value": "x@other.example", "type": "work"}}
		}), 400, "invalidValue", "emails"},
		{"no givenName", with(func(b map[string]any) { b["name"] = map[string]any{"familyName": "U"} }), 400, "invalidValue", "givenName"},
		{"no familyName", with(func(b map[string]any) { b["name"] = map[string]any{"givenName": "T"} }), 400, "invalidValue", "familyName"},
		{"no userName", with(func(b map[string]any) { delete(b, "userName") }), 400, "invalidValue", ""},
		{"duplicate in other case", with(func(b map[string]any) { b["userName"] = "TAKEN@example.com" }), 409, "uniqueness", ""},
		{"duplicate externalId", with(func(b map[string]any) { b["externalId"] = "ext-taken" }), 409, "uniqueness", ""},
		{"malformed JSON", `{"acve": tre, "userName"`, 400, "invalidSyntax", ""},
		{"empty body", "", 400, "", ""},
		{"over 1 MiB", `{"userName":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "", "1 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.snapshot()
			wantSCIMError(t, c.name, h.do("POST", "/Users", c.body), c.status, c.scimType, c.detailHas)
			if h.snapshot() != before {
				t.Fatal("a refused create changed the store")
			}
		})
	}
}

func TestCountryChoice(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		addrs []any
		want  string
	}{
		{[]any{map[string]any{"type": "work", "country": "de"}}, "DE"},
		{[]any{map[string]any{"type": "home", "country": "FR"}, map[string]any{"type": "work", "country": "DE"}}, "DE"},
		{[]any{map[string]any{"type": "other", "country": "FR", "primary": true}, map[string]any{"type": "work", "country": "DE"}}, "FR"},
		{[]any{map[string]any{"type": "home", "country": "it"}}, "IT"},
	}
	for i, c := range cases {
		b := oktaUser(fmt.Sprintf("c%d@example.com", i), "")
		b["addresses"] = c.addrs
		res := h.do("POST", "/Users", b)
		wantStatus(t, "create", res, http.StatusCreated)
		u, err := h.st.UserByID(context.Background(), h.acme.ID, res.json(t)["id"].(string))
		if err != nil || u.Country != c.want {
			t.Errorf("case %d: country %q, want %s (%v)", i, u.Country, c.want, err)
		}
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- h.do("POST", "/Users", oktaUser("race@example.com", "")).status
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != 7 {
		t.Fatalf("statuses %v, want one 201 and seven 409", count)
	}
}

func TestReadsAndFilters(t *testing.T) {
	h := newHarness(t)
	id := h.create("test.user@example.com", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
	for i := range 4 {
		h.create(fmt.Sprintf("u%d@example.com", i), "")
	}
	otherID := func() string {
		res := h.doAs(h.otherTok, "other", "POST", "/Users", oktaUser("o@other.example", ""))
		wantStatus(t, "other create", res, 201)
		return res.json(t)["id"].(string)
	}()
	get := h.do("GET", "/Users/"+id, nil)
	wantStatus(t, "GET", get, 200)
	if get.header.Get("ETag") != `W/"1"` {
		t.Fatalf("ETag %q", get.header.Get("ETag"))
	}
	wantSCIMError(t, "unknown id", h.do("GET", "/Users/00000000000000000000", nil), 404, "", "")
	wantSCIMError(t, "other tenant's user", h.do("GET", "/Users/"+otherID, nil), 404, "", "")

	count := func(filter string) int {
		t.Helper()
		res := h.do("GET", "/Users?filter="+url.QueryEscape(filter), nil)
		wantStatus(t, filter, res, 200)
		m := res.json(t)
		if len(m["Resources"].([]any)) != int(m["totalResults"].(float64)) {
			t.Fatalf("%s: totalResults does not match Resources", filter)
		}
		return int(m["totalResults"].(float64))
	}
	filters := map[string]int{
		`userName eq "test.user@example.com"`:                          1,
		`userName eq "TEST.USER@EXAMPLE.COM"`:                          1,
		`USERNAME Eq "test.user@example.com"`:                          1,
		`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`:         1,
		`externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`:         0,
		`id eq "` + id + `"`:                                           1,
		`emails.value eq "test.user@example.com"`:                      1,
		`emails[type eq "work"].value eq "test.user@example.com"`:      1,
		`emails[type eq "home"].value eq "test.user@example.com"`:      0,
		`emails[type eq "work" and value eq "u1@example.com"]`:         1,
		`userName eq "nobody@example.com"`:                             0,
		`userName eq "3f2504e0-4f89-11d3-9a0c-0305e82c3301"`:           0,
		`userName eq "o@other.example"`:                                0,
		`id eq "` + otherID + `"`:                                      0,
		`userName sw "u"`:                                              4,
		`userName eq "u1@example.com" or userName eq "u2@example.com"`: 2,
		`not (userName sw "u")`:                                        1,
		`active eq true`:                                               5,
		`userName eq "x' OR '1'='1"`:                                   0,
	}
	for f, want := range filters {
		if got := count(f); got != want {
			t.Errorf("filter %s: %d results, want %d", f, got, want)
		}
	}
	for _, bad := range []string{`nosuch eq "x"`, `userName eq`, `externalId eq jyoung`, `userName eq "` + strings.Repeat("x", 2000) + `"`} {
		wantSCIMError(t, bad[:min(len(bad), 30)], h.do("GET", "/Users?filter="+url.QueryEscape(bad), nil), 400, "invalidFilter", "")
	}
	// Trailing slash and Entra's '+' encoding.
	wantStatus(t, "trailing slash", h.do("GET", "/Users/?filter=userName+eq+%22test.user%40example.com%22", nil), 200)

	// Paging: 5 users.
	page := func(q string) map[string]any {
		res := h.do("GET", "/Users?"+q, nil)
		wantStatus(t, q, res, 200)
		return res.json(t)
	}
	if p := page("startIndex=1&count=2"); p["totalResults"].(float64) != 5 || len(p["Resources"].([]any)) != 2 || p["itemsPerPage"].(float64) != 2 {
		t.Errorf("page 1: %v", p)
	}
	if p := page("startIndex=5&count=2"); len(p["Resources"].([]any)) != 1 {
		t.Errorf("last page: %v", p)
	}
	if p := page("startIndex=0&count=1"); p["startIndex"].(float64) != 1 {
		t.Errorf("startIndex 0: %v", p)
	}
	if p := page("count=0"); p["totalResults"].(float64) != 5 || len(p["Resources"].([]any)) != 0 {
		t.Errorf("count 0: %v", p)
	}
	wantSCIMError(t, "count=abc", h.do("GET", "/Users?count=abc", nil), 400, "", "count")

	// attributes / excludedAttributes.
	res := h.do("GET", "/Users/"+id+"?attributes=userName,emails.value", nil)
	m := res.json(t)
	if m["userName"] == nil || m["id"] == nil || m["name"] != nil || m["emails"].([]any)[0].(map[string]any)["type"] != nil {
		t.Errorf("attributes: %s", res.body)
	}
	res = h.do("GET", "/Users?filter="+url.QueryEscape(`id eq "`+id+`"`)+"&excludedAttributes=emails,name.familyName", nil)
	u := res.json(t)["Resources"].([]any)[0].(map[string]any)
	if u["emails"] != nil || u["name"].(map[string]any)["familyName"] != nil || u["name"].(map[string]any)["givenName"] == nil {
		t.Errorf("excludedAttributes: %s", res.body)
	}
}

func TestPatchShapes(t *testing.T) {
	h := newHarness(t)
	id := h.create("pat@example.com", "ext-p")
	path := "/Users/" + id
	steps := []struct {
		name   string
		body   any
		status int
		check  func(u *store.User) bool
	}{
		{"okta no-path deactivate", patch(map[string]any{"op": "replace", "value": map[string]any{"active": false}}), 200, func(u *store.User) bool { return !u.Active }},
		{"okta reactivate", patch(map[string]any{"op": "replace", "value": map[string]any{"active": true}}), 200, func(u *store.User) bool { return u.Active }},
		{"entra string False", patch(map[string]any{"op": "Replace", "path": "active", "value": "False"}), 200, func(u *store.User) bool { return !u.Active }},
		{"entra string True", patch(map[string]any{"op": "Replace", "path": "active", "value": "True"}), 200, func(u *store.User) bool { return u.Active }},
		{"op in upper case", patch(map[string]any{"op": "REPLACE", "path": "active", "value": false}), 200, func(u *store.User) bool { return !u.Active }},
		{"work email", patch(map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "new@example.com"}), 200,
			func(u *store.User) bool {
				return len(u.Emails) == 1 && u.Emails[0].Value == "new@example.com" && u.Emails[0].Type == "work"
			}},
		{"primary email", patch(map[string]any{"op": "replace", "path": `emails[primary eq true].value`, "value": "new2@example.com"}), 200,
			func(u *store.User) bool { return len(u.Emails) == 1 && u.Emails[0].Value == "new2@example.com" }},
		{"add home email creates it", patch(map[string]any{"op": "Add", "path": `emails[type eq "home"].value`, "value": "h@example.com"}), 200,
			func(u *store.User) bool {
				return len(u.Emails) == 2 && u.Emails[1].Type == "home" && u.Emails[1].Value == "h@example.com"
			}},
		// A sub-attribute path without a filter names every email (RFC 7644 §3.5.2.3): making both
		// primary is refused, and both emails stay (found in review: the list became one map and the
		// user was left with only userName's email, answered 200).
		{"every email made primary", patch(map[string]any{"op": "replace", "path": "emails.primary", "value": true}), 400,
			func(u *store.User) bool { return len(u.Emails) == 2 && u.Emails[1].Value == "h@example.com" }},
		{"every email's type", patch(map[string]any{"op": "replace", "path": "emails.type", "value": "work"}), 200,
			func(u *store.User) bool {
				return len(u.Emails) == 2 && u.Emails[0].Type == "work" && u.Emails[1].Type == "work" && u.Emails[1].Value == "h@example.com"
			}},
		{"userName", patch(map[string]any{"op": "Replace", "path": "userName", "value": "renamed@example.com"}), 200, func(u *store.User) bool { return u.UserName == "renamed@example.com" }},
		{"same country in lower case", patch(map[string]any{"op": "Replace", "path": `addresses[type eq "work"].country`, "value": "us"}), 200, func(u *store.User) bool { return u.Country == "US" }},
		{"same names, flag shape", patch(map[string]any{"op": "replace", "value": map[string]any{"name.givenName": "Test", "name.familyName": "User", "displayName": "Test User"}}), 200, func(u *store.User) bool { return u.GivenName == "Test" }},
	}
	for _, s := range steps {
		res := h.do("PATCH", path, s.body)
		wantStatus(t, s.name, res, s.status)
		u, _ := h.st.UserByID(context.Background(), h.acme.ID, id)
		if !s.check(u) {
			t.Fatalf("%s: user after PATCH: %+v", s.name, u)
		}
	}
	refused := []struct {
		name      string
		body      any
		status    int
		scimType  string
		detailHas string
	}{
		{"email with a name change", patch(
			map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "atomic@example.com"},
			map[string]any{"op": "Replace", "path": "name.familyName", "value": "Other"}), 400, "mutability", "name.familyName"},
		{"flag no-path names", patch(map[string]any{"op": "replace", "value": map[string]any{"name.givenName": "Kkom"}}), 400, "mutability", "name.givenName"},
		{"country", patch(map[string]any{"op": "Replace", "path": `addresses[type eq "work"].country`, "value": "FR"}), 400, "mutability", "country"},
		{"department", patch(map[string]any{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}), 400, "mutability", "department"},
		{"externalId", patch(map[string]any{"op": "Replace", "path": "externalId", "value": "other"}), 400, "mutability", "externalId"},
		{"id", patch(map[string]any{"op": "Replace", "path": "id", "value": "x"}), 400, "", ""},
		{"foreign email", patch(map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "x@other.example"}), 400, "invalidValue", "example.com"},
		{"look-alike userName", patch(map[string]any{"op": "Replace", "path": "userName", "value": "jösé@example.com"}), 400, "invalidValue", "userName"},
		{"5,000-character userName", patch(map[string]any{"op": "Replace", "path": "userName", "value": strings.Repeat("x", 5000) + "@example.com"}), 400, "invalidValue", "userName"},
		{"look-alike work email", patch(map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "jösé@example.com"}), 400, "invalidValue", "emails.value"},
		{"remove without path", patch(map[string]any{"op": "remove"}), 400, "", ""},
		{"remove active", patch(map[string]any{"op": "remove", "path": "active"}), 400, "mutability", "active=false"},
		{"Remove active by URN", patch(map[string]any{"op": "Remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active"}), 400, "mutability", "active=false"},
		{"remove active after a change", patch(
			map[string]any{"op": "replace", "path": "active", "value": false},
			map[string]any{"op": "remove", "path": "ACTIVE"}), 400, "mutability", "active=false"},
		{"no operations", map[string]any{"schemas": []string{patchOp}, "Operations": []any{}}, 400, "", ""},
		{"no schemas", map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}}}, 400, "", ""},
		{"op move", patch(map[string]any{"op": "move", "path": "active", "value": true}), 400, "", ""},
	}
	for _, r := range refused {
		before := h.snapshot()
		wantSCIMError(t, r.name, h.do("PATCH", path, r.body), r.status, r.scimType, r.detailHas)
		if h.snapshot() != before {
			t.Fatalf("%s: refused PATCH changed the store", r.name)
		}
	}
	wantSCIMError(t, "unknown id", h.do("PATCH", "/Users/nope", patch(map[string]any{"op": "replace", "path": "active", "value": true})), 404, "", "")
}

func TestIfMatch(t *testing.T) {
	h := newHarness(t)
	id := h.create("v@example.com", "")
	res := h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "active", "value": false}), "If-Match", `W/"1"`)
	wantStatus(t, "current version", res, 200)
	if res.header.Get("ETag") != `W/"2"` {
		t.Fatalf("new ETag %q", res.header.Get("ETag"))
	}
	before := h.snapshot()
	wantSCIMError(t, "stale version", h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "active", "value": true}), "If-Match", `W/"1"`), 412, "", "")
	wantSCIMError(t, "stale PUT", h.do("PUT", "/Users/"+id, oktaUser("v@example.com", ""), "If-Match", `"1"`), 412, "", "")
	wantSCIMError(t, "foreign etag", h.do("PUT", "/Users/"+id, oktaUser("v@example.com", ""), "If-Match", `"abc"`), 412, "", "")
	if h.snapshot() != before {
		t.Fatal("a 412 changed the store")
	}
	// A no-op keeps the version, so Entra's repeated equal PATCHes do not churn ETags.
	res = h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "active", "value": "False"}))
	if res.header.Get("ETag") != `W/"2"` {
		t.Fatalf("no-op changed the ETag to %q", res.header.Get("ETag"))
	}
}

func TestPut(t *testing.T) {
	h := newHarness(t)
	id := h.create("put@example.com", "ext-put")
	// Okta's read-modify-write PUT with id, meta, groups and an empty middleName, changing the email.
	body := oktaUser("put2@example.com", "ext-put")
	body["id"], body["meta"] = id, map[string]any{"resourceType": "User"}
	body["name"] = map[string]any{"givenName": "Test", "familyName": "User", "middleName": ""}
	delete(body, "addresses")
	res := h.do("PUT", "/Users/"+id, body)
	wantStatus(t, "PUT email change", res, 200)
	u, _ := h.st.UserByID(context.Background(), h.acme.ID, id)
	if u.UserName != "put2@example.com" || u.Country != "US" || strings.Contains(string(res.body), "1mz050nq") {
		t.Fatalf("after PUT: %+v\n%s", u, res.body)
	}
	body["active"] = false
	wantStatus(t, "PUT deactivate", h.do("PUT", "/Users/"+id, body), 200)
	// SCIM's primary defaults to false: saying so explicitly is no change.
	body["addresses"] = []any{map[string]any{"type": "work", "country": "us", "primary": false}}
	wantStatus(t, "PUT with primary false", h.do("PUT", "/Users/"+id, body), 200)
	delete(body, "addresses")
	before := h.snapshot()
	body["name"] = map[string]any{"givenName": "Test", "familyName": "User", "middleName": "Excited"}
	wantSCIMError(t, "PUT adds middleName", h.do("PUT", "/Users/"+id, body), 400, "mutability", "name.middleName")
	if h.snapshot() != before {
		t.Fatal("refused PUT changed the store")
	}
}

func TestDeleteIsRefused(t *testing.T) {
	h := newHarness(t)
	id := h.create("del@example.com", "")
	for _, p := range []string{"/Users/" + id, "/Users", "/Users/unknown"} {
		res := h.do("DELETE", p, nil)
		wantSCIMError(t, "DELETE "+p, res, http.StatusMethodNotAllowed, "", "active=false")
		if res.header.Get("Allow") != "GET, PUT, PATCH" {
			t.Fatalf("Allow %q", res.header.Get("Allow"))
		}
	}
	wantStatus(t, "GET after DELETE", h.do("GET", "/Users/"+id, nil), 200)
}

func TestDeactivationEndsSessions(t *testing.T) {
	h := newHarness(t)
	id := h.create("s@example.com", "")
	sum := sha256.Sum256([]byte("cookie"))
	if err := h.st.CreateSession(context.Background(), &store.Session{IDHash: sum[:], TenantID: h.acme.ID, UserID: id}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deactivate", h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "Replace", "path": "active", "value": "False"})), 200)
	if _, err := h.st.SessionByHash(context.Background(), sum[:]); err == nil {
		t.Fatal("session survived deactivation")
	}
}

func TestAuditRecordsEveryWrite(t *testing.T) {
	h := newHarness(t)
	start := time.Now().Add(-time.Second)
	id := h.create("a@example.com", "")
	h.do("POST", "/Users", oktaUser("a@example.com", ""))                                                                     // 409
	h.do("POST", "/Users", `{bad`)                                                                                            // 400
	h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "active", "value": false}))                     // 200
	h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "name.givenName", "value": "X"}))               // 400
	h.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "active", "value": true}), "If-Match", `W/"1"`) // 412
	h.do("DELETE", "/Users/"+id, nil)                                                                                         // 405
	h.do("PUT", "/Users/"+id, oktaUser("a@example.com", ""))                                                                  // 200
	entries, err := h.st.ListAudit(context.Background(), h.acme.ID, start)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.TokenID == "" {
			t.Errorf("audit entry without token id: %+v", e)
		}
		got = append(got, e.Operation+"/"+e.Outcome)
	}
	want := "[create/201 create/409 create/400 patch/200 patch/400 patch/412 delete/405 replace/200]"
	if fmt.Sprint(got) != want {
		t.Fatalf("audit %v\nwant  %s", got, want)
	}
	for _, e := range entries {
		if e.Operation != "create" || e.Outcome == "201" {
			if e.UserID != id {
				t.Errorf("audit entry %s/%s has user %q", e.Operation, e.Outcome, e.UserID)
			}
		}
	}
}

// POST .search (RFC 7644 §3.4.3) is not supported, at the root and under /Users alike: a 501 SCIM error
// pointing at GET with a filter, not a 405 for a user whose id is ".search".
func TestSearchIsNotImplemented(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `userName eq "a@example.com"`}
	for _, path := range []string{"/.search", "/Users/.search", "/Users/.search/"} {
		before := h.snapshot()
		wantSCIMError(t, "POST "+path, h.do("POST", path, body), http.StatusNotImplemented, "", "GET /Users?filter=")
		if h.snapshot() != before {
			t.Fatalf("POST %s changed the store", path)
		}
	}
}

// At most one email is primary (RFC 7643 §2.4): a create or replace naming two is refused, and a PATCH
// that makes an email primary makes the others non-primary (RFC 7644 §3.5.2).
func TestOnePrimaryEmail(t *testing.T) {
	h := newHarness(t)
	id := h.create("prim@example.com", "")
	two := []any{
		map[string]any{"value": "prim@example.com", "type": "work", "primary": true},
		map[string]any{"value": "prim.home@example.com", "type": "home", "primary": "True"},
	}
	create := oktaUser("prim2@example.com", "")
	create["emails"] = two
	replace := oktaUser("prim@example.com", "")
	replace["emails"] = two
	for _, c := range []struct {
		name, method, path string
		body               any
	}{
		{"create with two primaries", "POST", "/Users", create},
		{"replace with two primaries", "PUT", "/Users/" + id, replace},
		{"patch adding two primaries", "PATCH", "/Users/" + id, patch(map[string]any{"op": "add", "path": "emails", "value": []any{
			map[string]any{"value": "p1@example.com", "primary": true}, map[string]any{"value": "p2@example.com", "primary": true}}})},
	} {
		before := h.snapshot()
		wantSCIMError(t, c.name, h.do(c.method, c.path, c.body), http.StatusBadRequest, "invalidValue", "primary")
		if h.snapshot() != before {
			t.Fatalf("%s: a refused write changed the store", c.name)
		}
	}

	primaries := func() []string {
		t.Helper()
		u, err := h.st.UserByID(context.Background(), h.acme.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		var p []string
		for _, e := range u.Emails {
			if e.Primary {
				p = append(p, e.Value)
			}
		}
		return p
	}
	steps := []struct {
		name string
		body any
		want string
	}{
		{"add a new primary", patch(map[string]any{"op": "add", "path": "emails", "value": []any{
			map[string]any{"value": "prim.home@example.com", "type": "home", "primary": true}}}), "[prim.home@example.com]"},
		{"make the work email primary by filter", patch(map[string]any{"op": "replace", "path": `emails[type eq "work"].primary`, "value": "True"}), "[prim@example.com]"},
		{"no-path add of a primary", patch(map[string]any{"op": "add", "value": map[string]any{"emails": []any{
			map[string]any{"value": "prim.other@example.com", "type": "other", "primary": true}}}}), "[prim.other@example.com]"},
		{"a non-primary add keeps the primary", patch(map[string]any{"op": "add", "path": "emails", "value": []any{
			map[string]any{"value": "prim.x@example.com", "type": "x"}}}), "[prim.other@example.com]"},
	}
	for _, s := range steps {
		wantStatus(t, s.name, h.do("PATCH", "/Users/"+id, s.body), http.StatusOK)
		if got := fmt.Sprint(primaries()); got != s.want {
			t.Fatalf("%s: primary emails %s, want %s", s.name, got, s.want)
		}
	}
}

// emails[].display is kept as sent at create and replace, and returned (RFC 7643 §4.1.2), like every
// other attribute the client sends.
func TestEmailDisplayKept(t *testing.T) {
	h := newHarness(t)
	body := oktaUser("disp@example.com", "")
	body["emails"] = []any{
		map[string]any{"value": "disp@example.com", "type": "work", "primary": true, "display": "Disp (work)"},
		map[string]any{"value": "disp.home@example.com", "type": "home"},
	}
	res := h.do("POST", "/Users", body)
	wantStatus(t, "create", res, http.StatusCreated)
	id := res.json(t)["id"].(string)
	displays := func(what string, res response) string {
		t.Helper()
		wantStatus(t, what, res, http.StatusOK)
		var out []string
		for _, e := range res.json(t)["emails"].([]any) {
			out = append(out, fmt.Sprint(e.(map[string]any)["display"]))
		}
		return fmt.Sprint(out)
	}
	if got := displays("created", h.do("GET", "/Users/"+id, nil)); got != "[Disp (work) <nil>]" {
		t.Fatalf("after create: displays %s", got)
	}
	body["emails"] = []any{
		map[string]any{"value": "disp@example.com", "type": "work", "primary": true, "display": "Disp at work"},
		map[string]any{"value": "disp.home@example.com", "type": "home", "display": "Disp at home"},
	}
	if got := displays("PUT", h.do("PUT", "/Users/"+id, body)); got != "[Disp at work Disp at home]" {
		t.Fatalf("PUT answered displays %s", got)
	}
	if got := displays("after PUT", h.do("GET", "/Users/"+id, nil)); got != "[Disp at work Disp at home]" {
		t.Fatalf("after PUT: displays %s", got)
	}
	p := patch(map[string]any{"op": "replace", "path": `emails[type eq "home"].display`, "value": "Home"})
	if got := displays("PATCH", h.do("PATCH", "/Users/"+id, p)); got != "[Disp at work Home]" {
		t.Fatalf("PATCH answered displays %s", got)
	}
	// The same document again is no change: the version stays.
	res = h.do("PATCH", "/Users/"+id, p)
	if got := res.header.Get("ETag"); got != `W/"3"` {
		t.Fatalf("a repeated PATCH moved the version to %s", got)
	}
}

// A user stored before the email rules held (a look-alike email, two primaries) can still be
// de-provisioned and edited: only what a request changes is checked against the rules.
func TestLegacyEmailsStillWritable(t *testing.T) {
	h := newHarness(t)
	u := &store.User{UserName: "legacy@example.com", GivenName: "L", FamilyName: "E", Country: "US", Active: true, Source: store.SourceSCIM,
		Emails: []store.Email{{Value: "legacy@example.com", Type: "work", Primary: true}, {Value: "jösé@example.com", Type: "home", Primary: true}}}
	if err := h.st.CreateUser(context.Background(), h.acme.ID, u, store.Audit{}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deactivate", h.do("PATCH", "/Users/"+u.ID, patch(map[string]any{"op": "replace", "path": "active", "value": false})), http.StatusOK)
	got, _ := h.st.UserByID(context.Background(), h.acme.ID, u.ID)
	if got.Active {
		t.Fatal("still active")
	}
	// Adding a new email is checked: the new one must follow the rule, the stored ones may stay.
	wantStatus(t, "add an email", h.do("PATCH", "/Users/"+u.ID, patch(map[string]any{"op": "add", "path": "emails", "value": []any{
		map[string]any{"value": "legacy.other@example.com", "type": "other"}}})), http.StatusOK)
	wantSCIMError(t, "add a look-alike", h.do("PATCH", "/Users/"+u.ID, patch(map[string]any{"op": "add", "path": "emails", "value": []any{
		map[string]any{"value": "jösé2@example.com", "type": "other"}}})), http.StatusBadRequest, "invalidValue", "emails.value")
}
