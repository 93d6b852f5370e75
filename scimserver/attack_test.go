package scimserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// The attack suite: each case builds the attack for real, over HTTP against a running server on a real
// SQLite file, and asserts the refusal and that the store is unchanged. Two tenants: acme (example.com,
// the attacker's own) and other (other.example, the victim).

// ---- the store as it must stay ----

// storeState is what the store holds that an attack could change: every tenant's users (id@version)
// and every tenant's audit log.
type storeState struct {
	users map[string][]string      // tenant slug → sorted "id@version"
	audit map[string][]store.Audit // tenant slug → entries, oldest first
}

func (h *harness) state() storeState {
	h.t.Helper()
	ctx := context.Background()
	s := storeState{users: map[string][]string{}, audit: map[string][]store.Audit{}}
	tenants, err := h.st.ListTenants(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, tn := range tenants {
		users, _, err := h.st.ListUsers(ctx, tn.ID, store.UserQuery{Limit: 100000})
		if err != nil {
			h.t.Fatal(err)
		}
		list := []string{}
		for _, u := range users {
			list = append(list, u.ID+"@"+strconv.FormatInt(u.Version, 10))
		}
		sort.Strings(list)
		s.users[tn.Slug] = list
		if s.audit[tn.Slug], err = h.st.ListAudit(ctx, tn.ID, time.Time{}); err != nil {
			h.t.Fatal(err)
		}
	}
	return s
}

// wantUnchanged requires every tenant's users as before and every audit log as before, except that
// a refused write through acme adds at most one acme entry whose outcome is the refusal's status.
func wantUnchanged(t *testing.T, h *harness, what string, before storeState, refusedWrite int) {
	t.Helper()
	after := h.state()
	if fmt.Sprint(after.users) != fmt.Sprint(before.users) {
		t.Fatalf("%s changed the users:\nbefore %v\nafter  %v", what, before.users, after.users)
	}
	for slug, was := range before.audit {
		now := after.audit[slug]
		if slug == "acme" && refusedWrite != 0 {
			if len(now) < len(was) || len(now) > len(was)+1 {
				t.Fatalf("%s: acme's audit went from %d to %d entries", what, len(was), len(now))
			}
			for _, a := range now[len(was):] {
				if a.Outcome != strconv.Itoa(refusedWrite) {
					t.Fatalf("%s: audit entry %+v, want outcome %d", what, a, refusedWrite)
				}
			}
			now = now[:len(was)]
		}
		if fmt.Sprint(now) != fmt.Sprint(was) {
			t.Fatalf("%s changed %s's audit log:\nbefore %v\nafter  %v", what, slug, was, after.audit[slug])
		}
	}
}

// ---- requests ----

// attack is one hostile request. The zero value is an authenticated GET of acme's /Users from 127.0.0.1.
// Bodies over 1 MiB are written on a raw connection while the answer is read: the server answers 413
// and closes without reading them, and a client that waits to finish writing would see only the reset.
type attack struct {
	from    string // source address on the loopback network; "" is 127.0.0.1
	token   string // "" sends acme's token; "-" sends none
	slug    string // "" is acme
	method  string // "" is GET
	path    string // "" is /Users
	body    []byte
	chunked bool   // send the body without a Content-Length
	ctype   string // "" is application/scim+json when there is a body; "-" sends none
	headers []string
	timeout time.Duration // the longest the server may take; 0 is 30s
}

var (
	clientsMu sync.Mutex
	clients   = map[string]*http.Client{}
)

// clientFrom returns a client whose connections come from the loopback address ip, so tests can be
// several clients to the throttle; it never follows redirects.
func clientFrom(ip string) *http.Client {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[ip]; ok {
		return c
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	clients[ip] = c
	return c
}

func (h *harness) send(t *testing.T, a attack) response {
	t.Helper()
	if a.from == "" {
		a.from = "127.0.0.1"
	}
	switch a.token {
	case "":
		a.token = h.token
	case "-":
		a.token = ""
	}
	if a.slug == "" {
		a.slug = "acme"
	}
	if a.method == "" {
		a.method = http.MethodGet
	}
	if a.path == "" {
		a.path = "/Users"
	}
	if a.timeout == 0 {
		a.timeout = 30 * time.Second
	}
	var rd io.Reader
	if a.body != nil {
		rd = bytes.NewReader(a.body)
		if a.chunked {
			rd = io.MultiReader(rd) // hides the length: the client sends Transfer-Encoding: chunked
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, a.method, h.srv.URL+"/scim/v2/"+a.slug+a.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if a.body != nil && a.ctype == "" {
		a.ctype = "application/scim+json"
	}
	if a.ctype != "" && a.ctype != "-" {
		req.Header.Set("Content-Type", a.ctype)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(a.headers); i += 2 {
		req.Header.Set(a.headers[i], a.headers[i+1])
	}
	if len(a.body) > 1<<20 {
		return h.sendRaw(t, req, a.from)
	}
	resp, err := clientFrom(a.from).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v (a hang shows as a deadline exceeded)", a.method, a.path[:min(len(a.path), 80)], a.from, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

// sendRaw writes req on its own connection from the loopback address from, without waiting for the
// write to finish before reading the response.
func (h *harness) sendRaw(t *testing.T, req *http.Request, from string) response {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.DialContext(req.Context(), "tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline, _ := req.Context().Deadline()
	conn.SetDeadline(deadline)
	req.Close = true
	go req.Write(conn) // fails once the server has answered and closed: that is expected
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s: reading the response: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

// wantRefusal requires a SCIM error document with status and, when given, scimType.
func wantRefusal(t *testing.T, what string, res response, status int, scimType string) {
	t.Helper()
	if res.status >= 500 {
		t.Fatalf("%s: status %d: %s", what, res.status, res.body)
	}
	wantSCIMError(t, what, res, status, scimType, "")
	if m := res.json(t); fmt.Sprint(m["schemas"]) != "["+schemas.ErrorURN+"]" {
		t.Fatalf("%s: schemas %v", what, m["schemas"])
	}
}

// ---- the world the attacks run in ----

type world struct {
	*harness
	acmeIDs  map[string]bool
	bID      string // other's user
	bExt     string // other's user's externalId
	bName    string
	bTenant  string // other's tenant id
	sharedID string // acme's user with the same externalId as other's second user
}

func newWorld(t *testing.T, o harnessOptions) *world {
	t.Helper()
	h := newHarnessWith(t, o)
	w := &world{harness: h, acmeIDs: map[string]bool{}, bExt: "ext-b-1", bName: "b.one@other.example", bTenant: h.other.ID}
	for _, n := range []string{"a.one@example.com", "a.two@example.com"} {
		w.acmeIDs[h.create(n, "ext-"+strings.Split(n, "@")[0])] = true
	}
	w.sharedID = h.create("shared@example.com", "ext-shared")
	w.acmeIDs[w.sharedID] = true
	otherCreate := func(name, ext string) string {
		res := h.doAs(h.otherTok, "other", http.MethodPost, "/Users", oktaUser(name, ext))
		if res.status != http.StatusCreated {
			t.Fatalf("create in other: %d %s", res.status, res.body)
		}
		return res.json(t)["id"].(string)
	}
	w.bID = otherCreate(w.bName, w.bExt)
	otherCreate("shared@other.example", "ext-shared")
	return w
}

// otherLeaks fails if a response shows anything of tenant other.
func (w *world) otherLeaks(t *testing.T, what string, res response) {
	t.Helper()
	for _, s := range []string{w.bID, w.bExt, w.bName, "other.example", w.bTenant} {
		if bytes.Contains(bytes.ToLower(res.body), []byte(strings.ToLower(s))) {
			t.Fatalf("%s: the response shows other's %q: %s", what, s, res.body)
		}
	}
}

// ---- cross-tenant ----

// A token of one tenant opens nothing of another: on the other's URL it gets the very 401 an unknown
// tenant and an unknown token get, for reads and writes, and nothing is written or audited anywhere.
func TestAttackCrossTenantToken(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	cases := []struct {
		name string
		a    attack
	}{
		{"unknown token on acme", attack{token: "scimsso_" + strings.Repeat("A", 43)}},
		{"acme's token on unknown tenant", attack{slug: "nosuch"}},
		{"acme's token on other's list", attack{slug: "other", path: "/Users"}},
		{"acme's token on other's user", attack{slug: "other", path: "/Users/" + w.bID}},
		{"acme's token on other's filter", attack{slug: "other", path: "/Users?filter=" + url.QueryEscape(`userName eq "`+w.bName+`"`)}},
		{"acme's token creating in other", attack{slug: "other", method: "POST", path: "/Users", body: mustJSON(oktaUser("evil@other.example", ""))}},
		{"acme's token patching other's user", attack{slug: "other", method: "PATCH", path: "/Users/" + w.bID,
			body: mustJSON(patch(map[string]any{"op": "replace", "path": "active", "value": false}))}},
		{"acme's token replacing other's user", attack{slug: "other", method: "PUT", path: "/Users/" + w.bID, body: mustJSON(oktaUser(w.bName, w.bExt))}},
		{"acme's token on other's discovery", attack{slug: "other", path: "/ServiceProviderConfig"}},
		{"other's token on acme", attack{token: w.otherTok, path: "/Users/" + w.bID}},
		{"slug in other case", attack{slug: "OTHER", token: w.otherTok}},
	}
	var first response
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.a.from = fmt.Sprintf("127.0.1.%d", i+1) // one address each: the throttle is tested on its own
			before := w.state()
			res := w.send(t, c.a)
			wantRefusal(t, c.name, res, http.StatusUnauthorized, "")
			w.otherLeaks(t, c.name, res)
			wantUnchanged(t, w.harness, c.name, before, 0)
			if i == 0 {
				first = res
				return
			}
			sameResponse(t, c.name, first, res)
		})
	}
}

// sameResponse requires two responses to be the same bytes: status, body and every header but Date.
func sameResponse(t *testing.T, what string, want, got response) {
	t.Helper()
	if got.status != want.status || !bytes.Equal(got.body, want.body) {
		t.Fatalf("%s: %d %s\ndiffers from %d %s", what, got.status, got.body, want.status, want.body)
	}
	keys := func(h http.Header) []string {
		var k []string
		for name, v := range h {
			if name != "Date" {
				k = append(k, name+": "+strings.Join(v, ","))
			}
		}
		sort.Strings(k)
		return k
	}
	if g, w := keys(got.header), keys(want.header); !slices.Equal(g, w) {
		t.Fatalf("%s: headers %q\ndiffer from %q", what, g, w)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Another tenant's user id through one's own URL is "not found", the same answer as an id that does
// not exist anywhere, for GET, HEAD, PUT and PATCH; the refused writes are audited in acme, as every
// refused write is, and nothing else changes.
func TestAttackCrossTenantUserID(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	random := uuid.NewString()
	bodies := map[string][]byte{
		"PUT":   mustJSON(oktaUser("taken.over@example.com", "")),
		"PATCH": mustJSON(patch(map[string]any{"op": "replace", "path": "active", "value": false})),
	}
	for _, method := range []string{"GET", "HEAD", "PUT", "PATCH"} {
		for _, ifMatch := range []string{"", `W/"1"`} {
			name := method
			if ifMatch != "" {
				name += " If-Match"
			}
			t.Run(name, func(t *testing.T) {
				status := 0
				if method == "PUT" || method == "PATCH" {
					status = http.StatusNotFound
				}
				var hdr []string
				if ifMatch != "" {
					hdr = []string{"If-Match", ifMatch}
				}
				before := w.state()
				theirs := w.send(t, attack{method: method, path: "/Users/" + w.bID, body: bodies[method], headers: hdr})
				wantUnchanged(t, w.harness, name+" of other's user", before, status)
				before = w.state()
				nobody := w.send(t, attack{method: method, path: "/Users/" + random, body: bodies[method], headers: hdr})
				wantUnchanged(t, w.harness, name+" of a random id", before, status)
				if method != "HEAD" {
					wantRefusal(t, name, theirs, http.StatusNotFound, "")
				} else if theirs.status != http.StatusNotFound {
					t.Fatalf("HEAD: status %d", theirs.status)
				}
				// The detail names the id asked for; with it masked the answers are the same bytes.
				theirs.body = bytes.ReplaceAll(theirs.body, []byte(w.bID), []byte("{id}"))
				nobody.body = bytes.ReplaceAll(nobody.body, []byte(random), []byte("{id}"))
				sameResponse(t, name, nobody, theirs)
				w.otherLeaks(t, name, theirs)
			})
		}
	}
	// The refused writes through acme were audited in acme, with the same shape for both ids.
	entries, err := w.st.ListAudit(context.Background(), w.acme.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	shape := map[string]int{}
	for _, e := range entries {
		if e.UserID == w.bID || e.UserID == random {
			if e.Outcome != "404" {
				t.Errorf("audit entry %+v, want outcome 404", e)
			}
			shape[e.Operation+"/"+strings.ReplaceAll(strings.ReplaceAll(e.Detail, w.bID, "{id}"), random, "{id}")]++
		}
	}
	for k, n := range shape {
		if n%2 != 0 {
			t.Errorf("audit entries differ between other's id and a random id: %s ×%d", k, n)
		}
	}
}

// Filters cannot reach past the tenant: naming the tenant column is an unknown attribute, and any
// expression, however broad, lists only acme's users.
func TestAttackCrossTenantFilters(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	nAcme := len(w.acmeIDs)
	cases := []struct {
		filter string
		want   int // -1: 400 invalidFilter
	}{
		{`userName eq "x" or tenant_id ne ""`, -1},
		{`tenant_id eq "` + w.bTenant + `"`, -1},
		{`users.tenant_id pr`, -1},
		{`userName eq "x" or 1 eq 1`, -1},
		{`userName eq "x") or (id pr`, -1},
		{`userName eq "x" or "1"="1"`, -1},
		{`id eq "` + w.bID + `"`, 0},
		{`id eq "` + strings.ToUpper(w.bID) + `"`, 0},
		{`externalId eq "` + w.bExt + `"`, 0},
		{`externalId eq "ext-shared"`, 1}, // both tenants have it: acme's only
		{`userName eq "` + w.bName + `"`, 0},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "` + w.bName + `"`, 0},
		{`emails.value co "@other.example"`, 0},
		{`emails.value eq "` + w.bName + `"`, 0},
		{`emails[value co "other.example"]`, 0},
		{`emails[type eq "work"].value ew "other.example"`, 0},
		{`userName ew "other.example"`, 0},
		{`userName co "@"`, nAcme},
		{`id pr`, nAcme},
		{`not (id eq "` + w.bID + `")`, nAcme},
		{`userName eq "` + w.bName + `" or id pr`, nAcme},
		{`not (userName eq "nobody") or id eq "` + w.bID + `"`, nAcme},
		{`meta.created gt "2000-01-01T00:00:00Z"`, nAcme},
		{`active eq true or active eq false`, nAcme},
		{`externalId pr or not (externalId pr)`, nAcme},
	}
	for _, c := range cases {
		for _, page := range []string{"", "&startIndex=1&count=100000", "&startIndex=4"} {
			name := c.filter + page
			t.Run(name, func(t *testing.T) {
				before := w.state()
				res := w.send(t, attack{path: "/Users?filter=" + url.QueryEscape(c.filter) + page})
				wantUnchanged(t, w.harness, name, before, 0)
				w.otherLeaks(t, name, res)
				if c.want < 0 {
					wantRefusal(t, name, res, http.StatusBadRequest, "invalidFilter")
					return
				}
				wantStatus(t, name, res, http.StatusOK)
				m := res.json(t)
				if got := int(m["totalResults"].(float64)); got != c.want {
					t.Fatalf("totalResults %d, want %d: %s", got, c.want, res.body)
				}
				for _, r := range m["Resources"].([]any) {
					if id := r.(map[string]any)["id"].(string); !w.acmeIDs[id] {
						t.Fatalf("resource %s is not acme's: %s", id, res.body)
					}
				}
			})
		}
	}
}

// ---- SQL metacharacters ----

// metaUser is a user whose values are SQL and LIKE metacharacters: stored and returned as data.
type metaUser struct {
	userName, externalID, givenName string
}

var metaUsers = []metaUser{
	{"o'brien@example.com", `' OR 1=1 --`, `Robert'); DROP TABLE users;--`},
	{"a_b@example.com", `100%`, `50%_off\`},
	{"axb@example.com", `back\slash"quote`, `Plain`},
	{"semicolon@example.com", "nul\x00byte", `semi;--colon`},
	{"semi;colon@example.com", `;--`, `x`}, // not an email address: refused with invalidValue
	{"pct%sign@example.com", `_`, `%`},
}

// metaValues are the filter and body values tried: every metacharacter of SQL and of LIKE.
var metaValues = []string{
	`'`, `"`, `;--`, `%`, `_`, `\`, "\x00", `' OR 1=1 --`, `' OR '1'='1`, `" OR ""="`, `%' OR '%'='`,
	`*`, `a%`, `a_b`, `a\_b`, `\%`, `%%`, `100%`, `' OR 1=1 --`, `50%_off\`, `o'brien`, "nul\x00byte",
	`1; DELETE FROM users`, `') OR ('a'='a`, `Robert'); DROP TABLE users;--`, `@`,
}

// filterString quotes v as a filter's JSON string literal.
func filterLiteral(v string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.Encode(v)
	return strings.TrimSpace(b.String())
}

// Values full of SQL and LIKE metacharacters are data: users made of them are created and read back
// exactly, and filters with them match exactly what a literal comparison matches — never more rows,
// never another tenant's, never a 500.
func TestAttackSQLMetacharacters(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	ctx := context.Background()
	// Bodies: each metacharacter user is created as sent, or refused with invalidValue.
	var made []*store.User
	for _, m := range metaUsers {
		body := oktaUser(m.userName, m.externalID)
		body["name"] = map[string]any{"givenName": m.givenName, "familyName": `'; --`}
		before := w.state()
		res := w.send(t, attack{method: "POST", path: "/Users", body: mustJSON(body)})
		if res.status != http.StatusCreated {
			t.Logf("create %q refused: %s", m.userName, res.body)
			wantRefusal(t, "create "+m.userName, res, http.StatusBadRequest, "invalidValue")
			wantUnchanged(t, w.harness, "refused create "+m.userName, before, http.StatusBadRequest)
			continue
		}
		id := res.json(t)["id"].(string)
		u, err := w.st.UserByID(ctx, w.acme.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.UserName != m.userName || u.ExternalID != m.externalID || u.GivenName != m.givenName || u.FamilyName != `'; --` {
			t.Fatalf("stored %q %q %q %q, sent %+v", u.UserName, u.ExternalID, u.GivenName, u.FamilyName, m)
		}
		got := w.send(t, attack{path: "/Users/" + id}).json(t)
		if got["userName"] != m.userName || got["externalId"] != m.externalID || got["name"].(map[string]any)["givenName"] != m.givenName {
			t.Fatalf("read back %v, sent %+v", got, m)
		}
		w.acmeIDs[id] = true
		made = append(made, u)
		after := w.state()
		if len(after.users["other"]) != len(before.users["other"]) || fmt.Sprint(after.users["other"]) != fmt.Sprint(before.users["other"]) {
			t.Fatal("a create in acme changed other's users")
		}
	}
	if len(made) == 0 {
		t.Fatal("no metacharacter user was accepted; the filter checks below would prove nothing")
	}
	all, _, err := w.st.ListUsers(ctx, w.acme.ID, store.UserQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// The literal semantics: userName, emails and names compare case-insensitively, externalId eq
	// exactly; co/sw/ew are substring tests.
	match := func(op, have, v string, fold bool) bool {
		if fold {
			have, v = strings.ToLower(have), strings.ToLower(v)
		}
		switch op {
		case "eq":
			return have == v
		case "co":
			return strings.Contains(have, v)
		case "sw":
			return strings.HasPrefix(have, v)
		case "ew":
			return strings.HasSuffix(have, v)
		}
		panic(op)
	}
	attrs := []struct {
		name string
		get  func(u *store.User) []string
		fold func(op string) bool
	}{
		{"userName", func(u *store.User) []string { return []string{u.UserName} }, func(string) bool { return true }},
		{"externalId", func(u *store.User) []string { return []string{u.ExternalID} }, func(op string) bool { return op != "eq" }},
		{"emails.value", func(u *store.User) []string {
			var out []string
			for _, e := range u.Emails {
				out = append(out, e.Value)
			}
			return out
		}, func(string) bool { return true }},
		{"name.givenName", func(u *store.User) []string { return []string{u.GivenName} }, func(string) bool { return true }},
	}
	for _, v := range metaValues {
		for _, a := range attrs {
			for _, op := range []string{"eq", "co", "sw", "ew"} {
				f := a.name + " " + op + " " + filterLiteral(v)
				want := 0
				for i := range all {
					for _, have := range a.get(&all[i]) {
						if match(op, have, v, a.fold(op)) {
							want++
							break
						}
					}
				}
				t.Run(fmt.Sprintf("%s %s %q", a.name, op, v), func(t *testing.T) {
					before := w.state()
					res := w.send(t, attack{path: "/Users?filter=" + url.QueryEscape(f)})
					wantUnchanged(t, w.harness, f, before, 0)
					w.otherLeaks(t, f, res)
					if res.status == http.StatusBadRequest {
						wantRefusal(t, f, res, http.StatusBadRequest, "invalidFilter")
						return
					}
					wantStatus(t, f, res, http.StatusOK)
					if got := int(res.json(t)["totalResults"].(float64)); got != want {
						t.Fatalf("%s: %d results, want %d: %s", f, got, want, res.body)
					}
				})
			}
		}
	}
	// Metacharacters spliced into the filter's syntax instead of quoted: a parse error, never a query.
	for _, f := range []string{
		`userName eq "x" OR 1=1 --"`, `userName eq "x"; DROP TABLE users; --"`, `userName eq 'x' or '1'='1'`,
		`userName eq "x" /* */ or id pr`, `userName eq x or 1=1`, "userName eq \"x\"\x00 or id pr",
		`userName eq "x" -- "`, `userName eq "x" UNION SELECT * FROM users`,
	} {
		t.Run("spliced "+f, func(t *testing.T) {
			before := w.state()
			res := w.send(t, attack{path: "/Users?filter=" + url.QueryEscape(f)})
			wantRefusal(t, f, res, http.StatusBadRequest, "invalidFilter")
			wantUnchanged(t, w.harness, f, before, 0)
		})
	}
	// Metacharacters in update bodies: an email that is no email is refused, a valid one is data.
	target := made[0]
	for _, v := range metaValues {
		t.Run(fmt.Sprintf("patch email %q", v), func(t *testing.T) {
			before := w.state()
			res := w.send(t, attack{method: "PATCH", path: "/Users/" + target.ID, body: mustJSON(patch(
				map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": v}))})
			wantRefusal(t, "patch email", res, http.StatusBadRequest, "invalidValue")
			wantUnchanged(t, w.harness, "patch email", before, http.StatusBadRequest)
		})
		t.Run(fmt.Sprintf("patch userName with %q", v), func(t *testing.T) {
			before := w.state()
			res := w.send(t, attack{method: "PATCH", path: "/Users/" + target.ID, body: mustJSON(patch(
				map[string]any{"op": "replace", "path": "userName", "value": v + "@other.example"}))})
			wantRefusal(t, "patch userName", res, http.StatusBadRequest, "invalidValue")
			wantUnchanged(t, w.harness, "patch userName", before, http.StatusBadRequest)
		})
	}
}

// ---- hostile bodies and filters ----

// hostile is a body (or filter) that must be refused with a 4xx, quickly, without a change.
type hostile struct {
	name     string
	a        attack
	status   int
	scimType string
}

func runHostile(t *testing.T, w *world, cases []hostile) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := w.state()
			res := w.send(t, c.a)
			wantRefusal(t, c.name, res, c.status, c.scimType)
			write := 0
			if c.a.method != "" && c.a.method != "GET" {
				write = c.status
			}
			wantUnchanged(t, w.harness, c.name, before, write)
		})
	}
}

// Oversized, deeply nested, malformed, mistyped and invalid UTF-8 bodies on every write: a 4xx SCIM
// error, never a 500, never a change but the refusal's audit entry.
func TestAttackHostileBodies(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	id := ""
	for k := range w.acmeIDs {
		if k != w.sharedID {
			id = k
			break
		}
	}
	valid := func(mod string) []byte { // a create/replace body with mod spliced in as the first member
		b := mustJSON(oktaUser("hostile@example.com", ""))
		return append([]byte("{"+mod), b[1:]...)
	}
	big := bytes.Repeat([]byte("a"), 1<<20)
	bodies := []struct {
		name     string
		body     []byte
		chunked  bool
		ctype    string
		status   int
		scimType string
	}{
		{"over 1 MiB", valid(`"displayName":"` + string(big) + `",`), false, "", 413, ""},
		{"over 1 MiB chunked", valid(`"displayName":"` + string(big) + `",`), true, "", 413, ""},
		{"8 MiB chunked", bytes.Repeat([]byte(" "), 8<<20), true, "", 413, ""},
		{"100k [ unclosed", bytes.Repeat([]byte("["), 100000), false, "", 400, "invalidSyntax"},
		{"100k [ ] as a value", valid(`"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `,`), false, "", 400, "invalidSyntax"},
		{"100k nested objects", valid(`"x":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000) + `,`), false, "", 400, "invalidSyntax"},
		{"invalid UTF-8 in userName", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"h\xffx@example.com","name":{"givenName":"H","familyName":"X"},"addresses":[{"type":"work","country":"US"}]}`), false, "", 400, ""},
		{"invalid UTF-8 in displayName", valid("\"displayName\":\"\xc3\x28\","), false, "", 400, ""},
		{"overlong UTF-8 slash", valid("\"displayName\":\"\xc0\xaf\","), false, "", 400, ""},
		{"NUL in givenName", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"nul@example.com","name":{"givenName":"A\u0000B","familyName":"X"},"addresses":[{"type":"work","country":"US"}]}`), false, "", 400, "invalidValue"},
		{"UTF-16 surrogate bytes", valid("\"displayName\":\"\xed\xa0\x80\","), false, "", 400, ""},
		{"invalid UTF-8 in a key", valid("\"x\xfe\":1,"), false, "", 400, ""},
		{"malformed", []byte(`{"userName": "a@example.com",`), false, "", 400, "invalidSyntax"},
		{"not an object", []byte(`["userName"]`), false, "", 400, ""},
		{"null", []byte(`null`), false, "", 400, ""},
		{"string", []byte(`"x"`), false, "", 400, ""},
		{"trailing garbage", append(valid(""), []byte(`{"active":false}`)...), false, "", 400, ""},
		{"byte order mark", append([]byte("\xef\xbb\xbf"), valid("")...), false, "", 400, ""},
		{"NUL bytes", bytes.Repeat([]byte{0}, 1000), false, "", 400, ""},
		{"empty", []byte{}, false, "", 400, ""},
		{"text/plain", valid(""), false, "text/plain", 415, ""},
		{"form", []byte("userName=hostile%40example.com"), false, "application/x-www-form-urlencoded", 415, ""},
		{"multipart", valid(""), false, "multipart/form-data; boundary=x", 415, ""},
		{"xml", []byte(`<User><userName>hostile@example.com</userName></User>`), false, "application/xml", 415, ""},
		{"malformed media type", valid(""), false, "application/json; charset", 415, ""},
		{"json look-alike", valid(""), false, "application/jsonp", 415, ""},
	}
	var cases []hostile
	for _, target := range []struct{ method, path string }{{"POST", "/Users"}, {"PUT", "/Users/" + id}, {"PATCH", "/Users/" + id}} {
		for _, b := range bodies {
			body := b.body
			if target.method == "PATCH" && bytes.HasPrefix(body, []byte(`{"`)) && b.status != 413 {
				// The same hostile bytes inside a PATCH operation's value.
				body = append([]byte(`{"schemas":["`+patchOp+`"],"Operations":[{"op":"replace","value":`), body...)
				body = append(body, "}]}"...)
			}
			cases = append(cases, hostile{
				name:   target.method + " " + b.name,
				a:      attack{method: target.method, path: target.path, body: body, chunked: b.chunked, ctype: b.ctype},
				status: b.status, scimType: b.scimType,
			})
		}
	}
	runHostile(t, w, cases)
}

// Huge, deep and invalid filters are refused with 400 invalidFilter before any parsing that could be
// slow: the server bounds a filter to 1024 bytes (maxFilter in server.go), which also bounds its terms
// to about a hundred. A hang fails the request's deadline.
func TestAttackHostileFilters(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	q := func(f string) string { return "/Users?filter=" + url.QueryEscape(f) }
	fast := 10 * time.Second
	cases := []hostile{
		{"100 KB value", attack{path: q(`userName eq "` + strings.Repeat("x", 100<<10) + `"`), timeout: fast}, 400, "invalidFilter"},
		{"10k or terms", attack{path: q(strings.TrimSuffix(strings.Repeat(`userName eq "a" or `, 10000), " or ")), timeout: fast}, 400, "invalidFilter"},
		{"10k and terms", attack{path: q(strings.TrimSuffix(strings.Repeat(`userName eq "a" and `, 10000), " and ")), timeout: fast}, 400, "invalidFilter"},
		{"one byte over the limit", attack{path: q(`userName eq "` + strings.Repeat("x", 1024-13) + `"`), timeout: fast}, 400, "invalidFilter"},
		{"10k parentheses", attack{path: q(strings.Repeat("(", 10000) + "id pr" + strings.Repeat(")", 10000)), timeout: fast}, 400, "invalidFilter"},
		{"10k not", attack{path: q(strings.Repeat("not (", 10000) + "id pr" + strings.Repeat(")", 10000)), timeout: fast}, 400, "invalidFilter"},
		{"10k value paths", attack{path: q(strings.Repeat("emails[", 10000) + "value pr" + strings.Repeat("]", 10000)), timeout: fast}, 400, "invalidFilter"},
		{"invalid UTF-8 in a value", attack{path: "/Users?filter=userName%20eq%20%22%FF%22", timeout: fast}, 400, "invalidFilter"},
		{"invalid UTF-8 in co", attack{path: "/Users?filter=userName%20co%20%22%C0%AF%22", timeout: fast}, 400, "invalidFilter"},
		{"invalid UTF-8 in the attribute", attack{path: "/Users?filter=user%FFName%20eq%20%22x%22", timeout: fast}, 400, "invalidFilter"},
		{"invalid UTF-8 on the fast path", attack{path: "/Users?filter=externalId%20eq%20%22%ED%A0%80%22", timeout: fast}, 400, "invalidFilter"},
		{"escaped NUL in co", attack{path: q(`userName co "\u0000"`), timeout: fast}, 400, "invalidFilter"},
		{"escaped NUL in an email value path", attack{path: q(`emails[value ew "\u0000"]`), timeout: fast}, 400, "invalidFilter"},
		{"raw NUL", attack{path: "/Users?filter=userName%20eq%20%22a%00b%22", timeout: fast}, 400, "invalidFilter"},
		{"unterminated", attack{path: q(`userName eq "abc`), timeout: fast}, 400, "invalidFilter"},
		{"only an operator", attack{path: q(`eq`), timeout: fast}, 400, "invalidFilter"},
	}
	runHostile(t, w, cases)
	// Within the limit, the deepest shapes still answer (200 or 400, never a 500) and show only acme.
	for _, f := range []string{
		strings.Repeat("(", 500) + "id pr" + strings.Repeat(")", 500),
		strings.Repeat("not (", 150) + "id pr" + strings.Repeat(")", 150),
		strings.TrimSuffix(strings.Repeat(`id pr or `, 113), " or "),
		strings.TrimSuffix(strings.Repeat(`userName co "a" and `, 50), " and "),
	} {
		t.Run(fmt.Sprintf("%d bytes within the limit", len(f)), func(t *testing.T) {
			if len(f) > 1024 {
				t.Fatalf("case is %d bytes, over the limit", len(f))
			}
			before := w.state()
			res := w.send(t, attack{path: q(f), timeout: fast})
			wantUnchanged(t, w.harness, "deep filter", before, 0)
			w.otherLeaks(t, "deep filter", res)
			if res.status != http.StatusOK {
				wantRefusal(t, "deep filter", res, http.StatusBadRequest, "invalidFilter")
			}
		})
	}
}

// Path tricks that try to reach another tenant's rows through acme's token: never a 200 with other's
// data, never a 500, never a change.
func TestAttackPathTricks(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	for _, p := range []string{
		"/Users/" + w.bID + "/..",
		"/Users/..%2F..%2Fother%2FUsers%2F" + w.bID,
		"/Users/%2E%2E/%2E%2E/other/Users/" + w.bID,
		"/../other/Users/" + w.bID,
		"/Users/" + url.PathEscape(w.bID+"' OR '1'='1"),
		"/Users/" + url.PathEscape("' OR 1=1 --"),
		"/Users/%00",
		"/Users/%FF%FE",
		"/Users/" + strings.Repeat("a", 100<<10),
	} {
		t.Run(p[:min(len(p), 60)], func(t *testing.T) {
			before := w.state()
			res := w.send(t, attack{path: p})
			if res.status >= 500 || res.status == http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			// A 404 may echo the id asked for; nothing else of other's may show.
			for _, s := range []string{w.bExt, w.bName, "other.example", w.bTenant} {
				if bytes.Contains(res.body, []byte(s)) {
					t.Fatalf("the response shows other's %q: %s", s, res.body)
				}
			}
			wantUnchanged(t, w.harness, p, before, 0)
		})
	}
}

// ---- token guessing ----

// countingStore records the store calls the server makes.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) note(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) TenantToken(ctx context.Context, slug string, hash []byte) (*store.Tenant, *store.Token, error) {
	c.note("TenantToken")
	return c.Store.TenantToken(ctx, slug, hash)
}
func (c *countingStore) TenantBySlug(ctx context.Context, slug string) (*store.Tenant, error) {
	c.note("TenantBySlug")
	return c.Store.TenantBySlug(ctx, slug)
}
func (c *countingStore) TenantByID(ctx context.Context, id string) (*store.Tenant, error) {
	c.note("TenantByID")
	return c.Store.TenantByID(ctx, id)
}
func (c *countingStore) TenantByDomain(ctx context.Context, d string) (*store.Tenant, error) {
	c.note("TenantByDomain")
	return c.Store.TenantByDomain(ctx, d)
}
func (c *countingStore) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	c.note("ListTenants")
	return c.Store.ListTenants(ctx)
}
func (c *countingStore) TokenByHash(ctx context.Context, hash []byte) (*store.Token, error) {
	c.note("TokenByHash")
	return c.Store.TokenByHash(ctx, hash)
}
func (c *countingStore) ListTokens(ctx context.Context, id string) ([]store.Token, error) {
	c.note("ListTokens")
	return c.Store.ListTokens(ctx, id)
}
func (c *countingStore) TenantSSOVersion(ctx context.Context, slug string) (*store.Tenant, int64, error) {
	c.note("TenantSSOVersion")
	return c.Store.TenantSSOVersion(ctx, slug)
}
func (c *countingStore) UserByID(ctx context.Context, tenantID, id string) (*store.User, error) {
	c.note("UserByID")
	return c.Store.UserByID(ctx, tenantID, id)
}
func (c *countingStore) ListUsers(ctx context.Context, tenantID string, q store.UserQuery) ([]store.User, int, error) {
	c.note("ListUsers")
	return c.Store.ListUsers(ctx, tenantID, q)
}
func (c *countingStore) RecordAudit(ctx context.Context, a store.Audit) error {
	c.note("RecordAudit")
	return c.Store.RecordAudit(ctx, a)
}
func (c *countingStore) Ping(ctx context.Context) error {
	c.note("Ping")
	return c.Store.Ping(ctx)
}

// The three 401s a guesser can tell apart if anything differs — a wrong token on a real tenant, a real
// token on the wrong tenant, any token on an unknown tenant — are the same bytes, and each costs the
// same single store query (TenantToken), so the work done, and with it the timing, does not depend on
// whether the tenant exists.
func TestAttackTokenGuessingIndistinguishable(t *testing.T) {
	cs := &countingStore{}
	h := newHarnessWith(t, harnessOptions{wrap: func(s store.Store) store.Store { cs.Store = s; return cs }})
	cases := []struct {
		name string
		a    attack
	}{
		{"wrong token, valid tenant", attack{token: "scimsso_" + strings.Repeat("x", 43)}},
		{"valid token, wrong tenant", attack{slug: "other"}},
		{"unknown tenant", attack{slug: "nosuch"}},
		{"unknown tenant, wrong token", attack{slug: "nosuch", token: "guess"}},
		{"empty bearer, valid tenant", attack{token: "-", headers: []string{"Authorization", "Bearer "}}},
		{"no credentials, unknown tenant", attack{slug: "nosuch", token: "-"}},
	}
	var first response
	for i, c := range cases {
		c.a.from = fmt.Sprintf("127.0.2.%d", i+1)
		cs.take()
		res := h.send(t, c.a)
		wantRefusal(t, c.name, res, http.StatusUnauthorized, "")
		if res.header.Get("WWW-Authenticate") != `Bearer realm="scimsso"` {
			t.Fatalf("%s: WWW-Authenticate %q", c.name, res.header.Get("WWW-Authenticate"))
		}
		if calls := cs.take(); fmt.Sprint(calls) != "[TenantToken]" {
			t.Fatalf("%s: store calls %v, want exactly one TenantToken", c.name, calls)
		}
		if i == 0 {
			first = res
			continue
		}
		sameResponse(t, c.name, first, res)
	}
	// A success costs the same lookup first.
	h.send(t, attack{from: "127.0.2.100", path: "/ServiceProviderConfig"})
	if calls := cs.take(); fmt.Sprint(calls) != "[TenantToken]" {
		t.Fatalf("a valid request: store calls %v", calls)
	}
}

// fakeClock is an injectable, advanceable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A guesser cannot lock anyone out: Okta's and Entra's provisioning comes from shared egress addresses,
// and behind a proxy that is not trusted every client has the proxy's address. From one address, 50 bad
// tokens for acme are answered 401 and then 429, yet a valid token for acme and one for other, from
// that same address and in the middle of the refusal, are looked up and served.
func TestAttackGuessingLocksOutNoValidToken(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{})
	const shared = "127.0.4.1"
	for i := range 50 {
		res := h.send(t, attack{from: shared, token: fmt.Sprintf("scimsso_guess-%d", i)})
		want := http.StatusUnauthorized
		if i >= 10 {
			want = http.StatusTooManyRequests
		}
		wantRefusal(t, fmt.Sprintf("bad token %d", i+1), res, want, "")
	}
	wantStatus(t, "acme's valid token from the guessing address", h.send(t, attack{from: shared}), http.StatusOK)
	wantStatus(t, "other's valid token from the guessing address", h.send(t, attack{from: shared, slug: "other", token: h.otherTok}), http.StatusOK)
	// Other's own failures from that address are other's: its first bad token is an honest 401.
	wantRefusal(t, "a bad token for other from the guessing address", h.send(t, attack{from: shared, slug: "other", token: "scimsso_typo"}), http.StatusUnauthorized, "")
	wantRefusal(t, "acme's guesses go on being refused", h.send(t, attack{from: shared, token: "scimsso_more"}), http.StatusTooManyRequests, "")
}

// Repeated bad tokens from one address for one tenant are answered 429: ten failed bearer checks in a
// minute, then 429 with Retry-After for that address and tenant, until a minute after the tenth. Every
// request is still looked up once, and a valid token is served throughout; other tenants and other
// addresses keep their own count; X-Forwarded-For is not believed (no proxy is trusted here); requests
// without credentials and successes do not count.
func TestAttackTokenGuessingThrottled(t *testing.T) {
	cs := &countingStore{}
	clock := &fakeClock{now: time.Now()}
	h := newHarnessWith(t, harnessOptions{wrap: func(s store.Store) store.Store { cs.Store = s; return cs }, now: clock.Now})
	const guesser = "127.0.3.1"
	bad := []attack{
		{token: "guess-1"}, {token: h.otherTok}, {token: "guess-2", path: "/Users/x"},
		{token: "guess-3", method: "POST", path: "/Users", body: mustJSON(oktaUser("g@example.com", ""))},
		{token: "guess-4"}, {token: "guess-5"}, {token: "guess-6"}, {token: "guess-7"}, {token: "guess-8"},
		{token: "guess-9", headers: []string{"X-Forwarded-For", "203.0.113.7"}},
	}
	before := h.state()
	for i, a := range bad {
		a.from = guesser
		wantRefusal(t, fmt.Sprintf("guess %d", i+1), h.send(t, a), http.StatusUnauthorized, "")
	}
	// looked asserts that the request sent by do was looked up in the store exactly once.
	looked := func(what string, do func() response) response {
		t.Helper()
		cs.take()
		res := do()
		if calls := cs.take(); len(calls) == 0 || calls[0] != "TenantToken" || slices.Index(calls[1:], "TenantToken") >= 0 {
			t.Fatalf("%s: store calls %v, want one TenantToken first", what, calls)
		}
		return res
	}
	throttled := func(what, from string, a attack, retry int) {
		t.Helper()
		a.from = from
		res := looked(what, func() response { return h.send(t, a) })
		wantRefusal(t, what, res, http.StatusTooManyRequests, "")
		if got := res.header.Get("Retry-After"); got != strconv.Itoa(retry) {
			t.Fatalf("%s: Retry-After %q, want %d", what, got, retry)
		}
	}
	served := func(what string, a attack) {
		t.Helper()
		wantStatus(t, what, looked(what, func() response { return h.send(t, a) }), http.StatusOK)
	}
	throttled("the 11th guess", guesser, attack{token: "guess-10"}, 60)
	throttled("a forged X-Forwarded-For", guesser, attack{token: "guess-11", headers: []string{"X-Forwarded-For", "127.0.0.1"}}, 60)
	served("a good token from the guessing address", attack{from: guesser})
	served("another tenant's good token from the guessing address", attack{from: guesser, slug: "other", token: h.otherTok})
	wantRefusal(t, "another tenant's bad token from the guessing address", h.send(t, attack{from: guesser, slug: "other", token: "typo"}), http.StatusUnauthorized, "")
	wantRefusal(t, "no credentials from the guessing address", h.send(t, attack{from: guesser, token: "-"}), http.StatusUnauthorized, "")
	wantUnchanged(t, h, "guessing", before, 0)
	// Another address is answered 401, even when it claims to be the guesser.
	wantRefusal(t, "another address", h.send(t, attack{from: "127.0.3.2", token: "guess"}), http.StatusUnauthorized, "")
	wantRefusal(t, "another address claiming the guesser's", h.send(t, attack{from: "127.0.3.3", token: "guess", headers: []string{"X-Forwarded-For", guesser}}), http.StatusUnauthorized, "")
	// Until the window has passed; the refused failures did not extend it.
	clock.Advance(59*time.Second + 500*time.Millisecond)
	throttled("half a second before the end", guesser, attack{token: "late"}, 1)
	clock.Advance(500 * time.Millisecond)
	for i := range 9 {
		wantRefusal(t, fmt.Sprintf("new window, guess %d", i+1), h.send(t, attack{from: guesser, token: "again"}), http.StatusUnauthorized, "")
	}

	// Requests without credentials cannot succeed, so they guess nothing and do not count.
	for i := range 30 {
		res := h.send(t, attack{from: "127.0.3.4", token: "-"})
		wantRefusal(t, fmt.Sprintf("no credentials %d", i+1), res, http.StatusUnauthorized, "")
	}
	wantRefusal(t, "a guess after requests without credentials", h.send(t, attack{from: "127.0.3.4", token: "nope"}), http.StatusUnauthorized, "")
	// Successes neither count nor wipe the count: 9 guesses, 20 successes, 1 guess, then refused.
	const mixed = "127.0.3.5"
	for i := range 9 {
		wantRefusal(t, fmt.Sprintf("mixed guess %d", i+1), h.send(t, attack{from: mixed, token: "nope"}), http.StatusUnauthorized, "")
	}
	for range 20 {
		wantStatus(t, "mixed success", h.send(t, attack{from: mixed}), http.StatusOK)
	}
	wantRefusal(t, "mixed guess 10", h.send(t, attack{from: mixed, token: "nope"}), http.StatusUnauthorized, "")
	throttled("mixed, after 10 guesses", mixed, attack{token: "nope"}, 60)
	served("mixed, a success while refused", attack{from: mixed})
	// Failures spread over more than a window do not add up.
	const slow = "127.0.3.6"
	for i := range 30 {
		wantRefusal(t, fmt.Sprintf("slow guess %d", i+1), h.send(t, attack{from: slow, token: "slow"}), http.StatusUnauthorized, "")
		if i%9 == 8 {
			clock.Advance(time.Minute)
		}
	}
}

// TestAttackStoreSubstringWithNUL: SQLite reads a LIKE pattern only up to its first NUL, so a NUL in a
// co/sw/ew value once matched every user of the tenant. The SCIM edge refuses such filters (parseFilter);
// the store refuses them too, so the edge's guard is not the only thing between a NUL and every row.
func TestAttackStoreSubstringWithNUL(t *testing.T) {
	w := newWorld(t, harnessOptions{})
	ctx := context.Background()
	for _, f := range []*store.Filter{
		{Op: store.OpCo, Attr: store.AttrUserName, Value: "\x00"},
		{Op: store.OpEw, Attr: store.AttrUserName, Value: "\x00"},
		{Op: store.OpCo, Attr: store.AttrExternalID, Value: "\x00"},
		{Op: store.OpCo, Attr: store.AttrGivenName, Value: "\x00"},
		{Op: store.OpCo, Attr: store.AttrUserName, Value: "a.one\x00zzz"},
		{Op: store.OpSw, Attr: store.AttrUserName, Value: "a.one\x00zzz"},
		{Op: store.OpHas, Sub: &store.Filter{Op: store.OpCo, Attr: store.AttrEmailValue, Value: "\x00"}},
	} {
		users, total, err := w.st.ListUsers(ctx, w.acme.ID, store.UserQuery{Filter: f, Limit: 100})
		if err == nil && (total != 0 || len(users) != 0) {
			t.Errorf("op %d %s %q (sub %+v): %d users, want none (or an error)", f.Op, f.Attr, f.Value, f.Sub, total)
		}
	}
}
