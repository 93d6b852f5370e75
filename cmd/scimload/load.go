package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimJSON    = "application/scim+json"
	userAgent   = "Okta SCIM Client 1.0.0 (scimload)"

	// oktaDeactivate is the PATCH Okta's OIN template sends to deactivate.
	oktaDeactivate = `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`
)

// op is a kind of request; each is reported as its own phase row.
type op int

const (
	opExists op = iota
	opCreate
	opFilter
	opPatch
	opResolve // untimed id lookups before a patch phase of an earlier run's users
	opSignIn
	opVerify
	opAuthorize // the oidc phase's GET /oidc/authorize with a session
	opToken     // its POST /oidc/token
	opRoundTrip // the two together
	opEvents    // the events phase's pages of GET /api/v1/events
	numOps
)

func (o op) String() string {
	switch o {
	case opExists:
		return "exists"
	case opCreate:
		return "create"
	case opFilter:
		return "filter"
	case opPatch:
		return "patch"
	case opResolve:
		return "resolve"
	case opSignIn:
		return "signin"
	case opVerify:
		return "verify"
	case opAuthorize:
		return "authz"
	case opToken:
		return "token"
	case opRoundTrip:
		return "oidc"
	case opEvents:
		return "events"
	}
	return "op" + strconv.Itoa(int(o))
}

// errFailed reports that some requests were not ok; the rows say which.
type errFailed struct{ notOK int }

func (e *errFailed) Error() string {
	return fmt.Sprintf("%d requests were not ok", e.notOK)
}

// run checks that the server at cfg.base answers and takes the token, then
// runs cfg's phases and writes their results to stdout. It returns an
// *errFailed when any request was not ok, and another error when the server
// is unreachable, refuses the token, its /proc cannot be read, or ctx ends.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	l := newLoader(cfg)
	rep := newReporter(cfg, stdout)
	if _, err := l.sample(); err != nil {
		return err
	}
	if err := l.preflight(ctx); err != nil {
		return err
	}
	if err := rep.start(); err != nil {
		return err
	}
	var hooks *hookReceiver
	if cfg.webhookListen != "" {
		var err error
		if hooks, err = startHookReceiver(cfg.webhookListen, cfg.webhookSecret, cfg.webhookTLS); err != nil {
			return err
		}
	}
	notOK := 0
	for _, phase := range []struct {
		on  bool
		run func(context.Context) ([]result, error)
	}{
		{cfg.phases.create, l.create},
		{cfg.phases.filter, l.filter},
		{cfg.phases.patch, l.patch},
		{cfg.phases.signin, l.signin},
		{cfg.phases.verify, l.verify},
		{cfg.phases.oidc, l.oidc},
		{cfg.phases.events, l.events},
	} {
		if !phase.on {
			continue
		}
		results, err := phase.run(ctx)
		for _, r := range results {
			notOK += r.NotOK
			if werr := rep.phase(r); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
	if hooks != nil {
		r := hooks.result(ctx, 3*time.Second, 2*time.Minute)
		notOK += r.NotOK
		if err := rep.phase(r); err != nil {
			return err
		}
	}
	if len(cfg.pids) > 0 {
		s, err := l.sample()
		if err != nil {
			return err
		}
		if err := rep.server(s); err != nil {
			return err
		}
	}
	if notOK > 0 {
		return &errFailed{notOK}
	}
	return nil
}

// loader holds what the phases of one run share.
type loader struct {
	cfg     config
	auth    string   // Authorization header value
	ids     []string // server ids of users 0..n-1, "" while unknown
	created bool     // the create phase ran: only users with an id exist
	fails   failures
}

func newLoader(cfg config) *loader {
	return &loader{cfg: cfg, auth: "Bearer " + cfg.token, ids: make([]string, cfg.n)}
}

func (l *loader) userName(i int) string {
	return l.cfg.prefix + "-" + strconv.Itoa(i) + "@" + l.cfg.domain
}

func (l *loader) externalID(i int) string {
	return "00u" + l.cfg.prefix + strconv.Itoa(i)
}

// filterURL is GET /Users?filter=ATTR eq "VALUE" encoded as Okta encodes it
// (%20 for spaces, %22 for quotes), followed by extra query parameters.
func (l *loader) filterURL(base, attr, value, extra string) string {
	f := url.QueryEscape(attr + ` eq "` + value + `"`)
	return base + "/Users?filter=" + strings.ReplaceAll(f, "+", "%20") + extra
}

// preflight sends Okta's test-connection request.
func (l *loader) preflight(ctx context.Context) error {
	w := &worker{l: l}
	defer w.closeConn()
	const path = "/Users?startIndex=1&count=2"
	status, err := w.do(ctx, http.MethodGet, l.cfg.base+path, nil)
	switch {
	case err != nil:
		return fmt.Errorf("server unreachable: %w", err)
	case status == http.StatusUnauthorized:
		return errors.New("GET " + path + ": 401: the server refused the token (-token or SCIMLOAD_TOKEN)")
	case status != http.StatusOK:
		return fmt.Errorf("GET %s: %d: %s", path, status, snippet(w.buf.Bytes()))
	}
	return nil
}

// create runs the create phase: per user an existence check (unless
// -seed-only) and a POST.
func (l *loader) create(ctx context.Context) ([]result, error) {
	l.created = true
	ops := []op{opExists, opCreate}
	if l.cfg.seedOnly {
		ops = ops[1:]
	}
	return l.measure(ctx, l.cfg.n, ops, func(ctx context.Context, w *worker, i int) {
		name := l.userName(i)
		if !l.cfg.seedOnly {
			u := l.filterURL(w.base, "userName", name, "&startIndex=1&count=100")
			start := time.Now()
			status, err := w.do(ctx, http.MethodGet, u, nil)
			d := time.Since(start)
			why := ""
			if err == nil {
				why = wantTotal(status, w.buf.Bytes(), 0)
			}
			w.finish(ctx, opExists, d, status, err, why)
		}
		body, err := json.Marshal(l.createBody(i))
		if err != nil {
			panic(err) // a fixed struct of strings always marshals
		}
		start := time.Now()
		status, err := w.do(ctx, http.MethodPost, w.base+"/Users", body)
		d := time.Since(start)
		why := ""
		if err == nil {
			var id string
			if id, why = createdID(status, w.buf.Bytes()); why == "" {
				l.ids[i] = id // only this job writes index i
			}
		}
		w.finish(ctx, opCreate, d, status, err, why)
	})
}

// createUser is Okta's documented create body, plus the work address's
// country that scimsso requires.
type createUser struct {
	Schemas     []string  `json:"schemas"`
	UserName    string    `json:"userName"`
	Name        name      `json:"name"`
	Emails      []email   `json:"emails"`
	DisplayName string    `json:"displayName"`
	Locale      string    `json:"locale"`
	ExternalID  string    `json:"externalId"`
	Groups      []string  `json:"groups"`
	Password    string    `json:"password"`
	Active      bool      `json:"active"`
	Addresses   []address `json:"addresses"`
}

type name struct {
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
}

type email struct {
	Primary bool   `json:"primary"`
	Value   string `json:"value"`
	Type    string `json:"type"`
}

type address struct {
	Type    string `json:"type"`
	Country string `json:"country"`
}

func (l *loader) createBody(i int) createUser {
	userName := l.userName(i)
	family := "User" + strconv.Itoa(i)
	return createUser{
		Schemas:     []string{userSchema},
		UserName:    userName,
		Name:        name{GivenName: "Load", FamilyName: family},
		Emails:      []email{{Primary: true, Value: userName, Type: "work"}},
		DisplayName: "Load " + family,
		Locale:      "en-US",
		ExternalID:  l.externalID(i),
		Groups:      []string{},
		Password:    "1mz050nq",
		Active:      true,
		Addresses:   []address{{Type: "work", Country: "US"}},
	}
}

// filter runs the filter phase: lookups of random users, alternating
// userName and externalId.
func (l *loader) filter(ctx context.Context) ([]result, error) {
	picks, err := l.pick(l.cfg.k)
	if err != nil {
		return nil, err
	}
	return l.measure(ctx, len(picks), []op{opFilter}, func(ctx context.Context, w *worker, j int) {
		i := picks[j]
		u := l.filterURL(w.base, "userName", l.userName(i), "")
		if j%2 == 1 {
			u = l.filterURL(w.base, "externalId", l.externalID(i), "")
		}
		start := time.Now()
		status, err := w.do(ctx, http.MethodGet, u, nil)
		d := time.Since(start)
		why := ""
		if err == nil {
			why = wantTotal(status, w.buf.Bytes(), 1)
		}
		w.finish(ctx, opFilter, d, status, err, why)
	})
}

type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value"`
}

// patch runs the patch phase: PATCHes of random users, alternating Okta's
// deactivation and Entra's work email replacement.
func (l *loader) patch(ctx context.Context) ([]result, error) {
	picks, err := l.pick(l.cfg.m)
	if err != nil {
		return nil, err
	}
	if err := l.resolve(ctx, picks); err != nil {
		return nil, err
	}
	okta := []byte(oktaDeactivate)
	return l.measure(ctx, len(picks), []op{opPatch}, func(ctx context.Context, w *worker, j int) {
		i := picks[j]
		body := okta
		if j%2 == 1 {
			var err error
			body, err = json.Marshal(patchRequest{
				Schemas: []string{patchSchema},
				Operations: []patchOp{{
					Op:    "Replace",
					Path:  `emails[type eq "work"].value`,
					Value: fmt.Sprintf("%s-%d-m%d@%s", l.cfg.prefix, i, j, l.cfg.domain),
				}},
			})
			if err != nil {
				panic(err) // a fixed struct of strings always marshals
			}
		}
		u := w.base + "/Users/" + url.PathEscape(l.ids[i])
		start := time.Now()
		status, err := w.do(ctx, http.MethodPatch, u, body)
		d := time.Since(start)
		why := ""
		if err == nil && status != http.StatusOK && status != http.StatusNoContent {
			why = "want 200 or 204"
		}
		w.finish(ctx, opPatch, d, status, err, why)
	})
}

// pick returns count random indices of users that exist: those created in
// this run, or all of 0..n-1 when create did not run.
func (l *loader) pick(count int) ([]int, error) {
	var cands []int
	for i, id := range l.ids {
		if id != "" || !l.created {
			cands = append(cands, i)
		}
	}
	if count > 0 && len(cands) == 0 {
		return nil, errors.New("no user was created; not running filter or patch")
	}
	picks := make([]int, count)
	for j := range picks {
		picks[j] = cands[rand.IntN(len(cands))]
	}
	return picks, nil
}

// resolve finds the ids of the picked users whose id is unknown (users of an
// earlier run) with untimed userName filters.
func (l *loader) resolve(ctx context.Context, picks []int) error {
	var need []int
	seen := make(map[int]bool)
	for _, i := range picks {
		if l.ids[i] == "" && !seen[i] {
			seen[i] = true
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	t, _ := l.runJobs(ctx, len(need), []op{opResolve}, func(ctx context.Context, w *worker, j int) {
		i := need[j]
		status, err := w.do(ctx, http.MethodGet, l.filterURL(w.base, "userName", l.userName(i), ""), nil)
		why := ""
		if err == nil {
			var id string
			if id, why = foundID(status, w.buf.Bytes()); why == "" {
				l.ids[i] = id // need holds each index once
			}
		}
		w.finish(ctx, opResolve, 0, status, err, why)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if r := t[opResolve]; r.notOK > 0 {
		first := l.fails.get(opResolve)[0]
		return fmt.Errorf("patch: %d of %d users of prefix %q not found by userName (first: %d %s); pass the -prefix and -n of the run that created them",
			r.notOK, len(need), l.cfg.prefix, first.Status, first.Body)
	}
	return nil
}

// measure runs n jobs as one phase and returns a result per op in ops. With
// -pid, the server's CPU over the phase divided by the last op's requests
// and its RSS after the phase go on the last op's row. It returns an error
// when ctx ended, /proc could not be read, or no request got a response.
func (l *loader) measure(ctx context.Context, n int, ops []op, job func(context.Context, *worker, int)) ([]result, error) {
	before, err := l.sample()
	if err != nil {
		return nil, err
	}
	tallies, elapsed := l.runJobs(ctx, n, ops, job)
	after, serr := l.sample()
	results := make([]result, len(ops))
	answered := false
	for x, o := range ops {
		t := &tallies[o]
		results[x] = summarize(o.String(), t, elapsed, l.fails.get(o))
		answered = answered || t.ok+t.notOK > t.transport
		if x == len(ops)-1 && len(l.cfg.pids) > 0 && serr == nil {
			if reqs := t.ok + t.notOK; reqs > 0 {
				cpu := ms((after.cpu - before.cpu) / time.Duration(reqs))
				results[x].ServerCPUMsOp = &cpu
			}
			rss := mb(after.rssKB)
			results[x].ServerRSSMB = &rss
		}
	}
	switch {
	case ctx.Err() != nil:
		return results, ctx.Err()
	case serr != nil:
		return results, serr
	case n > 0 && !answered:
		return results, fmt.Errorf("server unreachable during %s", ops[len(ops)-1])
	}
	return results, nil
}

// runJobs runs job(ctx, w, j) for every j in [0, n) on cfg.c workers that
// share one queue, until done or ctx ends. It returns the workers' tallies
// for ops merged, with latencies sorted, and the wall time.
func (l *loader) runJobs(ctx context.Context, n int, ops []op, job func(context.Context, *worker, int)) ([numOps]tally, time.Duration) {
	c := max(1, min(l.cfg.c, n))
	per := n/c + n/(4*c) + 16 // room for an uneven share without growing
	workers := make([]*worker, c)
	for x := range workers {
		// Workers take the replicas in turn, as a round-robin load balancer would.
		w := &worker{l: l, id: x, base: l.cfg.bases[x%len(l.cfg.bases)]}
		for _, o := range ops {
			w.tallies[o].lat = make([]time.Duration, 0, per)
		}
		workers[x] = w
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				j := int(next.Add(1) - 1)
				if j >= n {
					return
				}
				job(ctx, w, j)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, w := range workers {
		w.closeConn()
	}

	var all [numOps]tally
	for _, o := range ops {
		t := &all[o]
		t.lat = make([]time.Duration, 0, n)
		for _, w := range workers {
			wt := &w.tallies[o]
			t.lat = append(t.lat, wt.lat...)
			t.ok += wt.ok
			t.notOK += wt.notOK
			t.transport += wt.transport
			t.items += wt.items
		}
		slices.Sort(t.lat)
	}
	return all, elapsed
}

// tally counts one op's requests.
type tally struct {
	lat       []time.Duration // of ok requests
	ok, notOK int
	transport int // not ok for want of a response (counted in notOK too)
	items     int // what the ok requests carried (the events phase: events read)
}

// worker is one goroutine's client state. Only that goroutine uses it.
type worker struct {
	l       *loader
	id      int    // its index among the phase's workers
	base    string // the SCIM base URL this worker sends to
	tallies [numOps]tally
	buf     bytes.Buffer // the last response body
	hdr     http.Header  // the last response's header
	conn    *conn        // its keep-alive connection, nil until the first request
}

// do sends one SCIM request, as Okta does, through send.
func (w *worker) do(ctx context.Context, method, u string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", w.l.auth)
	req.Header.Set("Accept", scimJSON)
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", scimJSON)
	}
	return w.send(req)
}

// finish counts one request of kind o that took d: ok when err is nil and
// why is empty. why says what was wrong with a response. A request cut
// short because ctx ended is not counted.
func (w *worker) finish(ctx context.Context, o op, d time.Duration, status int, err error, why string) {
	t := &w.tallies[o]
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		t.notOK++
		t.transport++
		w.l.fails.add(o, 0, err.Error())
	case why != "":
		t.notOK++
		w.l.fails.add(o, status, why+": "+snippet(w.buf.Bytes()))
	default:
		t.ok++
		t.lat = append(t.lat, d)
	}
}

// wantTotal checks a ListResponse: status 200 and totalResults want.
func wantTotal(status int, body []byte, want int) string {
	if status != http.StatusOK {
		return "want 200"
	}
	var lr struct {
		TotalResults *int `json:"totalResults"`
	}
	if err := json.Unmarshal(body, &lr); err != nil || lr.TotalResults == nil {
		return "want a ListResponse"
	}
	if *lr.TotalResults != want {
		return fmt.Sprintf("totalResults %d, want %d", *lr.TotalResults, want)
	}
	return ""
}

// createdID checks a create response, status 201 with an id, and returns
// the id.
func createdID(status int, body []byte) (id, why string) {
	if status != http.StatusCreated {
		return "", "want 201"
	}
	var u struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &u); err != nil || u.ID == "" {
		return "", "want a User with an id"
	}
	return u.ID, ""
}

// foundID checks a ListResponse with one resource and returns its id.
func foundID(status int, body []byte) (id, why string) {
	if why := wantTotal(status, body, 1); why != "" {
		return "", why
	}
	var lr struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(body, &lr); err != nil || len(lr.Resources) != 1 || lr.Resources[0].ID == "" {
		return "", "want one resource with an id"
	}
	return lr.Resources[0].ID, ""
}

// sample is one not-ok request kept for diagnosis.
type sample struct {
	Status int    `json:"status"` // 0: no response
	Body   string `json:"body"`   // what was wrong and the body's start, or the transport error
}

// failures keeps, per op, the first 3 samples with distinct status codes.
// It is safe for concurrent use.
type failures struct {
	mu   sync.Mutex
	byOp [numOps][]sample
}

func (f *failures) add(o op, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.byOp[o]
	if len(list) >= 3 {
		return
	}
	for _, s := range list {
		if s.Status == status {
			return
		}
	}
	f.byOp[o] = append(list, sample{Status: status, Body: body})
}

func (f *failures) get(o op) []sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.byOp[o])
}

// snippet returns the start of a response body on one line.
func snippet(b []byte) string {
	const limit = 200
	cut := len(b) > limit
	if cut {
		b = b[:limit]
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
	if cut {
		s += "…"
	}
	return s
}

// sample reads the server's /proc figures; with no -pid it returns zeros.
func (l *loader) sample() (procSample, error) {
	var sum procSample
	for _, pid := range l.cfg.pids {
		s, err := readProc(pid)
		if err != nil {
			return procSample{}, err
		}
		sum.cpu += s.cpu
		sum.rssKB += s.rssKB
		sum.peakKB += s.peakKB
	}
	return sum, nil
}
