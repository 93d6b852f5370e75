package scimserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// The fuzz targets drive the real server over HTTP on a real SQLite file. Their seeds are the vendor
// corpora of testdata/scim plus the files of testdata/fuzz/scim (see its README), both at the repo root.

// fuzzSeedDir holds the hand-written seeds shared by the fuzz targets.
var fuzzSeedDir = filepath.Join("..", "testdata", "fuzz", "scim")

// fuzzLogTB stands in for the *testing.F a fuzz harness is built with. The server's zaptest logger
// writes to it from handler goroutines, where calling the F's Logf would panic once f.Fuzz runs; it
// keeps the lines instead, and the fuzz function fails the input that made the server log. The server
// logs only errors, so any line is a finding.
type fuzzLogTB struct {
	testing.TB
	mu   sync.Mutex
	logs []string
}

func (l *fuzzLogTB) Logf(format string, args ...any) { l.keep(fmt.Sprintf(format, args...)) }
func (l *fuzzLogTB) Log(args ...any)                 { l.keep(fmt.Sprint(args...)) }
func (l *fuzzLogTB) Errorf(format string, args ...any) {
	l.keep("error: " + fmt.Sprintf(format, args...))
}
func (l *fuzzLogTB) Fail() { l.keep("zap marked the test failed") }

func (l *fuzzLogTB) keep(s string) {
	l.mu.Lock()
	l.logs = append(l.logs, s)
	l.mu.Unlock()
}

// take returns and clears what the server logged since the last call.
func (l *fuzzLogTB) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.logs
	l.logs = nil
	return out
}

// fuzzHarness is a harness built once per fuzz target; bind gives each input its own *testing.T.
type fuzzHarness struct {
	h   *harness
	log *fuzzLogTB
}

func newFuzzHarness(tb testing.TB) *fuzzHarness {
	tb.Helper()
	log := &fuzzLogTB{TB: tb}
	h := newHarness(log)
	h.t = tb
	return &fuzzHarness{h: h, log: log}
}

// bind returns a copy of the harness whose helpers report to t, and clears the server log.
func (fh *fuzzHarness) bind(t *testing.T) *harness {
	t.Helper()
	fh.log.take()
	h := *fh.h
	h.t = t
	return &h
}

// checkServerLog fails t if the server logged anything while serving the input.
func (fh *fuzzHarness) checkServerLog(t *testing.T) {
	t.Helper()
	if logs := fh.log.take(); len(logs) > 0 {
		t.Errorf("the server logged while serving this input:\n%s", strings.Join(logs, "\n"))
	}
}

// boundMinimize caps the time the fuzzer spends minimizing an input, unless -fuzzminimizetime is given.
// Minimizing costs up to n² runs for an n-byte input, and one run of these targets is a ~2 ms HTTP
// round trip with SQLite writes; with the default 60 s, every new-coverage input stalls both workers and
// a 30 s run fuzzes nothing.
func boundMinimize(f *testing.F) {
	f.Helper()
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", "2s"); err != nil {
			f.Fatal(err)
		}
	}
}

// seedFiles returns the contents of testdata/fuzz/scim/<pattern>, sorted by name.
func seedFiles(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(fuzzSeedDir, pattern))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no seed files %s in %s: %v", pattern, fuzzSeedDir, err)
	}
	sort.Strings(names)
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// corpusRequests returns the request bodies of the vendor corpus steps with the given method, from the
// files of testdata/scim/{okta,entra} matching glob.
func corpusRequests(tb testing.TB, glob, method string) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("..", "testdata", "scim", "*", glob))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no corpus files %s: %v", glob, err)
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		for _, st := range readCorpus(tb, n).Steps {
			if st.Method == method && len(st.Request) > 0 {
				out = append(out, []byte(st.Request))
			}
		}
	}
	return out
}

func readCorpus(tb testing.TB, name string) corpusFile {
	tb.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	var cf corpusFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return cf
}

// corpusFilters returns the filter query parameters of every GET in the vendor corpora.
func corpusFilters(tb testing.TB) []string {
	tb.Helper()
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "scim", "*", "*.json"))
	var out []string
	for _, n := range names {
		for _, st := range readCorpus(tb, n).Steps {
			_, rawQuery, ok := strings.Cut(st.Path, "?")
			if st.Method != http.MethodGet || !ok {
				continue
			}
			q, err := url.ParseQuery(rawQuery)
			if err == nil && q.Get("filter") != "" {
				out = append(out, q.Get("filter"))
			}
		}
	}
	return out
}

// filterSeeds returns the filters of testdata/fuzz/scim/filters*.txt, one per line.
func filterSeeds(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, file := range seedFiles(tb, "filters*.txt") {
		for _, line := range bytes.Split(file, []byte("\n")) {
			if len(line) > 0 {
				out = append(out, string(line))
			}
		}
	}
	return out
}

// deepJSON is a create body with an attribute nested n arrays deep.
func deepJSON(n int) []byte {
	return []byte(`{"userName":"deep@example.com","name":{"givenName":"D","familyName":"Eep"},"addresses":[{"country":"US"}],"x":` +
		strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
}

// hugeStrings is a create body with long values where the server reads strings.
func hugeStrings(n int) []byte {
	long := strings.Repeat("a", n)
	return []byte(`{"userName":"` + long + `@example.com","name":{"givenName":"` + long + `","familyName":"H"},` +
		`"displayName":"` + long + `","addresses":[{"type":"work","country":"` + long + `"}],"externalId":"` + long + `"}`)
}

// checkSCIMDocument requires a JSON SCIM document of the right media type: never a 5xx, an error
// document with the status as a string for errors. It returns the decoded body.
func checkSCIMDocument(t *testing.T, res response) map[string]any {
	t.Helper()
	if res.status >= 500 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type")); err != nil || mt != "application/scim+json" {
		t.Errorf("status %d with Content-Type %q, want application/scim+json", res.status, res.header.Get("Content-Type"))
	}
	d := json.NewDecoder(bytes.NewReader(res.body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		t.Fatalf("status %d: the body is not a JSON object (%v): %q", res.status, err, res.body)
	}
	list, _ := m["schemas"].([]any)
	if len(list) == 0 {
		t.Fatalf("status %d: no schemas in %s", res.status, res.body)
	}
	if res.status >= 400 {
		if len(list) != 1 || list[0] != schemas.ErrorURN {
			t.Errorf("status %d: schemas %v, want [%s]", res.status, list, schemas.ErrorURN)
		}
		if m["status"] != strconv.Itoa(res.status) {
			t.Errorf("status %d: the error document says status %#v, want the string %q", res.status, m["status"], strconv.Itoa(res.status))
		}
		if s, _ := m["detail"].(string); s == "" {
			t.Errorf("status %d: the error document has no detail: %s", res.status, res.body)
		}
	}
	return m
}

// hasKeyFold reports whether m has key k in any case.
func hasKeyFold(m map[string]any, k string) bool {
	for x := range m {
		if strings.EqualFold(x, k) {
			return true
		}
	}
	return false
}

// checkTenantEmail requires an address of the acme tenant's one domain, example.com.
func checkTenantEmail(t *testing.T, field, v string) {
	t.Helper()
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.EqualFold(store.EmailDomain(v), "example.com") {
		t.Errorf("%s %q is not an email address in example.com", field, v)
	}
}

// createTarget is the FuzzCreateBody check, also run on inputs too large to be fuzzing seeds.
type createTarget struct {
	fh    *fuzzHarness
	snap  string // the store as it must be until the next 201
	count int    // acme's users then; the snapshot shows at most 10 000 of them
}

func newCreateTarget(tb testing.TB) *createTarget {
	tb.Helper()
	fh := newFuzzHarness(tb)
	fh.h.create("fuzz.one@example.com", "fuzz-ext-1")
	fh.h.create("fuzz.two@example.com", "fuzz-ext-2")
	return &createTarget{fh: fh, snap: fh.h.snapshot(), count: userCount(fh.h)}
}

// userCount is the number of acme's users.
func userCount(h *harness) int {
	h.t.Helper()
	_, n, err := h.st.ListUsers(context.Background(), h.acme.ID, store.UserQuery{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (c *createTarget) run(t *testing.T, body []byte) {
	h := c.fh.bind(t)
	res := h.do(http.MethodPost, "/Users", body)
	if res.status != http.StatusCreated {
		before, after := c.snap, h.snapshot()
		countBefore, count := c.count, userCount(h)
		c.snap, c.count = after, count // blame only this input
		c.fh.checkServerLog(t)
		doc := checkSCIMDocument(t, res)
		if after != before {
			t.Fatalf("a refused create (%d) changed the store:\nresponse: %s\nbefore: %s\nafter:  %s", res.status, res.body, before, after)
		}
		if count != countBefore {
			t.Fatalf("a refused create (%d) changed the number of users from %d to %d: %s", res.status, countBefore, count, res.body)
		}
		if doc["id"] != nil {
			t.Errorf("a refused create (%d) answers with an id: %s", res.status, res.body)
		}
		return
	}
	before, countBefore := c.snap, c.count
	c.snap, c.count = h.snapshot(), userCount(h)
	c.fh.checkServerLog(t)
	doc := checkSCIMDocument(t, res)
	// A create adds one user at the end and leaves the others as they were.
	if c.count != countBefore+1 || !strings.HasPrefix(c.snap, strings.TrimSuffix(before, "]")) {
		t.Errorf("a create changed more than one new user (%d users, then %d):\nbefore: %s\nafter:  %s", countBefore, c.count, before, c.snap)
	}
	if hasKeyFold(doc, "password") {
		t.Errorf("the 201 response carries a password: %s", res.body)
	}
	id, _ := doc["id"].(string)
	if id == "" {
		t.Fatalf("201 without an id: %s", res.body)
	}
	if loc := res.header.Get("Location"); !strings.HasSuffix(loc, "/scim/v2/acme/Users/"+id) {
		t.Errorf("201 with Location %q for id %s", loc, id)
	}
	got := h.do(http.MethodGet, "/Users/"+id, nil)
	if got.status != http.StatusOK {
		t.Fatalf("GET of the created user: %d %s", got.status, got.body)
	}
	if hasKeyFold(checkSCIMDocument(t, got), "password") {
		t.Errorf("GET of the created user carries a password: %s", got.body)
	}
	u, err := h.st.UserByID(context.Background(), h.acme.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	checkTenantEmail(t, "userName", u.UserName)
	for _, e := range u.Emails {
		checkTenantEmail(t, "emails.value", e.Value)
	}
	if code, err := schemas.NormalizeCountry(u.Country); err != nil || code != u.Country {
		t.Errorf("stored country %q is not a normalised ISO 3166-1 alpha-2 code", u.Country)
	}
	if u.GivenName == "" || u.FamilyName == "" {
		t.Errorf("stored user without a full name: %q %q", u.GivenName, u.FamilyName)
	}
}

// FuzzCreateBody posts arbitrary bytes as a new user. Whatever the body, the answer is a SCIM document
// and never a 5xx; a refused create leaves the store as it was; an accepted one is readable, in the
// tenant's domain, with a real country, and never returns a password.
func FuzzCreateBody(f *testing.F) {
	boundMinimize(f)
	for _, b := range corpusRequests(f, "03-create-user.json", http.MethodPost) {
		f.Add(b)
	}
	for _, b := range seedFiles(f, "create-*.seed") {
		f.Add(b)
	}
	f.Add(deepJSON(500))
	f.Add(hugeStrings(300))
	f.Add([]byte{})
	f.Add([]byte("null"))
	f.Add([]byte(`[]`))
	c := newCreateTarget(f)
	f.Fuzz(c.run)
}

// patchTarget is the FuzzPatchBody check: a PATCH of Entra's tutorial user, restored before every input.
type patchTarget struct {
	fh      *fuzzHarness
	id      string
	orig    *store.User
	bystand *store.User // another user, who no PATCH of id may touch
}

func newPatchTarget(tb testing.TB) *patchTarget {
	tb.Helper()
	fh := newFuzzHarness(tb)
	h := fh.h
	p := &patchTarget{fh: fh}
	bystand := h.create("fuzz.one@example.com", "fuzz-ext-1")
	for _, b := range corpusRequests(tb, "03-create-user.json", http.MethodPost) {
		res := h.do(http.MethodPost, "/Users", b)
		if res.status != http.StatusCreated {
			tb.Fatalf("create %s: %d %s", b, res.status, res.body)
		}
		if bytes.Contains(b, []byte("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")) {
			p.id = res.json(tb)["id"].(string)
		}
	}
	if p.id == "" {
		tb.Fatal("the Entra tutorial user is not among the corpus creates")
	}
	var err error
	if p.orig, err = h.st.UserByID(context.Background(), h.acme.ID, p.id); err != nil {
		tb.Fatal(err)
	}
	if p.bystand, err = h.st.UserByID(context.Background(), h.acme.ID, bystand); err != nil {
		tb.Fatal(err)
	}
	return p
}

func (p *patchTarget) run(t *testing.T, body []byte) {
	h := p.fh.bind(t)
	ctx := context.Background()
	restore := store.Audit{Operation: "fuzz-restore", Outcome: "ok"}
	if _, err := h.st.UpdateUser(ctx, h.acme.ID, p.id, 0, restore, func(u *store.User) error {
		*u = *p.orig.Clone()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := h.snapshot()
	res := h.do(http.MethodPatch, "/Users/"+p.id, body)
	if res.status != http.StatusNoContent {
		p.fh.checkServerLog(t)
		doc := checkSCIMDocument(t, res)
		if res.status != http.StatusOK {
			if after := h.snapshot(); after != before {
				t.Fatalf("a refused PATCH (%d) changed the store:\nresponse: %s\nbefore: %s\nafter:  %s", res.status, res.body, before, after)
			}
			return
		}
		if hasKeyFold(doc, "password") {
			t.Errorf("the PATCH response carries a password: %s", res.body)
		}
	}
	p.fh.checkServerLog(t)
	u, err := h.st.UserByID(ctx, h.acme.ID, p.id)
	if err != nil {
		t.Fatal(err)
	}
	checkTenantEmail(t, "userName", u.UserName)
	for _, e := range u.Emails {
		checkTenantEmail(t, "emails.value", e.Value)
	}
	// Only userName, emails and active may differ from what was stored.
	want := p.orig.Clone()
	want.UserName, want.Emails, want.Active = u.UserName, u.Emails, u.Active
	if !want.Equal(u) {
		t.Errorf("an accepted PATCH (%d) changed more than userName, emails and active:\nbefore: %+v\nafter:  %+v\nextra before: %s\nextra after:  %s",
			res.status, *p.orig, *u, p.orig.Extra, u.Extra)
	}
	if b, err := h.st.UserByID(ctx, h.acme.ID, p.bystand.ID); err != nil || !b.Equal(p.bystand) || b.Version != p.bystand.Version {
		t.Errorf("a PATCH of %s changed another user: %+v (%v)", p.id, b, err)
	}
	got := h.do(http.MethodGet, "/Users/"+p.id, nil)
	if got.status != http.StatusOK {
		t.Fatalf("GET after an accepted PATCH: %d %s", got.status, got.body)
	}
	if hasKeyFold(checkSCIMDocument(t, got), "password") {
		t.Errorf("GET after PATCH carries a password: %s", got.body)
	}
}

// FuzzPatchBody sends arbitrary bytes as a PATCH of an existing user. Never a 5xx; a refused PATCH
// leaves the store as it was; an accepted one changes nothing but userName, emails and active, and
// leaves them valid.
func FuzzPatchBody(f *testing.F) {
	boundMinimize(f)
	for _, b := range corpusRequests(f, "*.json", http.MethodPatch) {
		f.Add(b)
	}
	for _, b := range seedFiles(f, "patch-*.seed") {
		f.Add(b)
	}
	f.Add([]byte{})
	p := newPatchTarget(f)
	f.Fuzz(p.run)
}

// TestFuzzTargetsOnLargeInputs runs the create and PATCH checks on inputs too large to fuzz from:
// the fuzzer mutates and minimizes seeds byte by byte, so these would slow every run.
func TestFuzzTargetsOnLargeInputs(t *testing.T) {
	c := newCreateTarget(t)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"deep-10000", deepJSON(10000)},
		{"deep-10001", deepJSON(10001)},
		{"strings-200KiB", hugeStrings(200 << 10)},
		{"over-1MiB", hugeStrings(1 << 20)},
		{"many-addresses", []byte(`{"userName":"many@example.com","name":{"givenName":"M","familyName":"A"},"addresses":[` + strings.Repeat(`{"type":"home","country":"XX"},`, 20000) + `{"type":"work","country":"US"}]}`)},
		{"long-email-list", []byte(`{"userName":"list@example.com","name":{"givenName":"L","familyName":"E"},"addresses":[{"country":"US"}],"emails":[` + strings.Repeat(`{"value":"list@example.com"},`, 20000) + `{"value":"list@example.com"}]}`)},
	} {
		t.Run("create/"+tc.name, func(t *testing.T) { c.run(t, tc.body) })
	}
	p := newPatchTarget(t)
	op := func(v string) []byte {
		return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + v + `]}`)
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"email-100KiB", op(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"` + strings.Repeat("x", 100<<10) + `@example.com"}`)},
		{"10000-ops", op(strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"active","value":"False"},`, 10000), ","))},
		{"deep-value", op(`{"op":"add","path":"nickName","value":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`)},
		{"deep-value-map", op(`{"op":"replace","value":{"x":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `}}`)},
	} {
		t.Run("patch/"+tc.name, func(t *testing.T) { p.run(t, tc.body) })
	}
}

// filterTarget is the FuzzFilter check.
type filterTarget struct {
	fh      *fuzzHarness
	acme    map[string]bool
	otherID string
}

func newFilterTarget(tb testing.TB) *filterTarget {
	tb.Helper()
	fh := newFuzzHarness(tb)
	h := fh.h
	ft := &filterTarget{fh: fh, acme: map[string]bool{
		h.create("fuzz.one@example.com", "fuzz-ext-1"): true,
		h.create("Fuzz.Two@example.com", "fuzz-ext-2"): true,
	}}
	// The other tenant's user shares an externalId and a local part with acme's first user.
	res := h.doAs(h.otherTok, "other", http.MethodPost, "/Users", oktaUser("fuzz.one@other.example", "fuzz-ext-1"))
	if res.status != http.StatusCreated {
		tb.Fatalf("create in tenant other: %d %s", res.status, res.body)
	}
	ft.otherID = res.json(tb)["id"].(string)
	return ft
}

func (ft *filterTarget) run(t *testing.T, filter string) {
	h := ft.fh.bind(t)
	res := h.do(http.MethodGet, "/Users?filter="+url.QueryEscape(filter), nil)
	ft.fh.checkServerLog(t)
	doc := checkSCIMDocument(t, res)
	switch res.status {
	case http.StatusOK:
	case http.StatusBadRequest:
		return
	default:
		t.Fatalf("status %d, want 200 or 400: %s", res.status, res.body)
	}
	if list, _ := doc["schemas"].([]any); len(list) != 1 || list[0] != schemas.ListResponseURN {
		t.Errorf("schemas %v, want [%s]", list, schemas.ListResponseURN)
	}
	resources, ok := doc["Resources"].([]any)
	if !ok {
		t.Fatalf("no Resources list: %s", res.body)
	}
	total, err := doc["totalResults"].(json.Number).Int64()
	if err != nil || int(total) < len(resources) || total > int64(len(ft.acme)) {
		t.Errorf("totalResults %v with %d resources; acme has %d users", doc["totalResults"], len(resources), len(ft.acme))
	}
	for _, r := range resources {
		m, _ := r.(map[string]any)
		id, _ := m["id"].(string)
		if id == ft.otherID {
			t.Fatalf("the other tenant's user %s is in acme's list: %s", ft.otherID, res.body)
		}
		if !ft.acme[id] {
			t.Fatalf("resource %q is not one of acme's users: %s", id, res.body)
		}
	}
}

// FuzzFilter sends an arbitrary filter on GET /Users. The answer is 200 or 400 and nothing else; a 200
// is a ListResponse of acme's users only, never the other tenant's.
func FuzzFilter(f *testing.F) {
	boundMinimize(f)
	for _, s := range corpusFilters(f) {
		f.Add(s)
	}
	for _, s := range filterSeeds(f) {
		f.Add(s)
	}
	f.Add(strings.Repeat(`userName eq "a" or `, 60) + `id pr`) // over maxFilter
	f.Add(`userName eq "` + strings.Repeat("x", 1000) + `"`)
	f.Add(strings.Repeat("(", 100) + "userName pr" + strings.Repeat(")", 100))
	f.Add(strings.Repeat("not (", 150) + "id pr" + strings.Repeat(")", 150))
	ft := newFilterTarget(f)
	f.Fuzz(ft.run)
}

// TestFilterFuzzFindings runs the FuzzFilter check, by name, on the inputs of filters-found.txt that
// failed it over HTTP.
func TestFilterFuzzFindings(t *testing.T) {
	ft := newFilterTarget(t)
	for _, s := range []string{
		`meta.created co "2026-01-02T15:04:05Z"`,
		`meta.lastModified sw "2026-01-02T15:04:05Z"`,
		`meta.created ew "2026-01-02T15:04:05Z"`,
	} {
		t.Run(s, func(t *testing.T) { ft.run(t, s) })
	}
}
