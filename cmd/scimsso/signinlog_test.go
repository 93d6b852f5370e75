package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// openStore opens db (a SQLite file or a PostgreSQL URL) beside a running server, closed at the end.
func openStore(t *testing.T, db string) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if strings.HasPrefix(db, "postgres") {
		st, err = sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: db})
	} else {
		st, err = sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var shownRef = regexp.MustCompile(`give them this reference: <code>([^<]+)</code>`)

// postForm posts form to u as a browser does (no redirects followed, cookies given) and returns the
// response, its body and the reference id the page shows the person ("" when it shows none).
func postForm(t *testing.T, u string, form url.Values, cookies ...*http.Cookie) (*http.Response, string, string) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	res, err := noRedirects.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	ref := ""
	if m := shownRef.FindStringSubmatch(string(b)); m != nil {
		ref = m[1]
	}
	return res, string(b), ref
}

// TestSignInLog drives real sign-ins at a running server, on SQLite and PostgreSQL, and reads each back
// from the tenant's sign-in log: an accepted SAML sign-in, refusals (wrong audience, expired, unsigned,
// replayed, another tenant's, garbage) with their codes, reasons and the reference the person saw,
// password sign-ins refused and accepted. Another tenant's refusal lands in that tenant's log only.
func TestSignInLog(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, db string) {
		idp, _ := ssoTenant(t, db)
		createTenant(t, db, "beta", "beta.com")
		meta := filepath.Join(t.TempDir(), "idp.xml")
		if err := os.WriteFile(meta, idp.Metadata(), 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, db, "sso", "set", "--tenant", "beta", "--metadata-file", meta, "--state", "active", "--exclude", "ops@beta.com")
		mustRun(t, db, "sso", "set", "--tenant", "acme", "--exclude", "ops@acme.com")
		st := openStore(t, db)
		acme, _ := st.TenantBySlug(context.Background(), "acme")
		beta, _ := st.TenantBySlug(context.Background(), "beta")
		ops := &store.User{UserName: "ops@acme.com", Emails: []store.Email{{Value: "ops@acme.com", Primary: true}}, GivenName: "O", FamilyName: "P",
			Country: "DE", Active: true, Source: store.SourceSCIM}
		if err := st.CreateUser(context.Background(), acme.ID, ops, store.Audit{Operation: "create"}); err != nil {
			t.Fatal(err)
		}
		const pw = "correct horse battery staple"
		if _, msg, code := runStdin(t, pw+"\n", "user", "set-password", "--tenant", "acme", "ops@acme.com", "--db", db); code != 0 {
			t.Fatalf("set-password: %s", msg)
		}
		srv := serveInProcess(t, db)
		acs := func(slug string) string { return srv.url + "/saml/" + slug + "/acs" }
		make := func(mutate func(*samltest.Response)) string {
			r := samltest.Response{ACS: spBase + "/saml/acme/acs", Audience: spBase + "/saml/acme/metadata", NameID: "pat@acme.com",
				Attrs: []samltest.Attr{{Name: samltest.ClaimEmail, Values: []string{"pat@acme.com"}}, {Name: samltest.ClaimCountry, Values: []string{"DE"}},
					{Name: "FirstName", Values: []string{"Pat"}}, {Name: "LastName", Values: []string{"P"}}}}
			if mutate != nil {
				mutate(&r)
			}
			doc, err := idp.Make(r)
			if err != nil {
				t.Fatal(err)
			}
			return samltest.Encode(doc)
		}

		// Accepted: the record carries the request's id (the X-Request-Id every answer carries).
		good := make(nil)
		res, body, _ := postForm(t, acs("acme"), url.Values{"SAMLResponse": {good}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("accepted sign-in: %d\n%s", res.StatusCode, body)
		}
		okRef := res.Header.Get("X-Request-Id")

		type want struct {
			name, slug, code, reason string
			verified                 bool
			ref                      string
		}
		var wants []want
		for _, tc := range []struct {
			name, slug, resp, code, reason string
			verified                       bool
		}{
			{"wrong audience", "acme", make(func(r *samltest.Response) { r.Audience = "https://other.example/sp" }), "invalid", "audience", true},
			{"expired", "acme", make(func(r *samltest.Response) { r.Now = time.Now().Add(-20 * time.Minute) }), "invalid", "expired", false},
			{"unsigned", "acme", make(func(r *samltest.Response) { r.Sign = "none" }), "invalid", "signature", false},
			{"replayed", "acme", good, "replay", "already used", true},
			{"another tenant's", "beta", make(nil), "invalid", "", false},
			// Refused before the tenant's settings are read: nothing verifiable, so nothing recorded.
			{"garbage", "acme", samltest.Encode([]byte("<hello/>")), "", "", false},
			{"not base64", "acme", "%%%", "", "", false},
		} {
			res, body, ref := postForm(t, acs(tc.slug), url.Values{"SAMLResponse": {tc.resp}})
			if res.StatusCode < 400 || res.StatusCode >= 500 || ref == "" || ref != res.Header.Get("X-Request-Id") {
				t.Fatalf("%s: status %d, reference %q shown\n%s", tc.name, res.StatusCode, ref, body)
			}
			wants = append(wants, want{tc.name, tc.slug, tc.code, tc.reason, tc.verified, ref})
		}

		// Password sign-ins: a wrong password, then the right one.
		csrf, tok := csrfPair()
		login := func(password string) (*http.Response, string, string) {
			return postForm(t, srv.url+"/login", url.Values{"email": {"ops@acme.com"}, "password": {password}, "csrf": {tok}, "return_to": {"/me"}}, csrf)
		}
		res, body, pwRef := login("hunter2-not-it")
		if res.StatusCode != http.StatusUnauthorized || pwRef == "" {
			t.Fatalf("wrong password: %d, ref %q\n%s", res.StatusCode, pwRef, body)
		}
		res, body, _ = login(pw)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("right password: %d\n%s", res.StatusCode, body)
		}
		pwOKRef := res.Header.Get("X-Request-Id")

		recs, err := st.ListSignIns(context.Background(), store.SignInQuery{TenantID: acme.ID})
		if err != nil {
			t.Fatal(err)
		}
		byRef := map[string]store.SignInRecord{}
		for _, r := range recs {
			byRef[r.Ref] = r
		}
		betaRecs, err := st.ListSignIns(context.Background(), store.SignInQuery{TenantID: beta.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range betaRecs {
			byRef["beta:"+r.Ref] = r
		}
		if len(recs) != 7 || len(betaRecs) != 1 {
			t.Errorf("acme has %d records (want 7), beta %d (want 1): %+v", len(recs), len(betaRecs), recs)
		}
		if r, ok := byRef[okRef]; !ok || r.Outcome != store.SignInAccepted || r.Method != store.SignInSAML || r.Email != "pat@acme.com" ||
			r.UserID == "" || !r.Verified || r.Issuer != "https://idp.test/acme" || r.ClientAddr != "127.0.0.1" || r.Code != "" {
			t.Errorf("accepted sign-in %s: %+v", okRef, r)
		}
		for _, w := range wants {
			key := w.ref
			if w.slug == "beta" {
				key = "beta:" + w.ref
			}
			r, ok := byRef[key]
			if w.code == "" {
				if ok {
					t.Errorf("%s: recorded %+v, want nothing", w.name, r)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: no record under reference %s", w.name, w.ref)
				continue
			}
			if r.Outcome != store.SignInRefused || r.Method != store.SignInSAML || r.Code != w.code || !strings.Contains(r.Reason, w.reason) ||
				r.Verified != w.verified || r.UserID != "" || r.ClientAddr != "127.0.0.1" {
				t.Errorf("%s: %+v; want code %s, reason with %q, verified %v", w.name, r, w.code, w.reason, w.verified)
			}
			if strings.Contains(r.Reason, "<") || len(r.Reason) > store.MaxSignInReason {
				t.Errorf("%s: the reason holds markup or is too long: %q", w.name, r.Reason)
			}
		}
		if r := byRef[pwRef]; r.Outcome != store.SignInRefused || r.Method != store.SignInPassword || r.Code != "password" ||
			r.Email != "ops@acme.com" || r.Reason != "the password is wrong" {
			t.Errorf("refused password sign-in %s: %+v", pwRef, r)
		}
		if r := byRef[pwOKRef]; r.Outcome != store.SignInAccepted || r.Method != store.SignInPassword || r.UserID != ops.ID {
			t.Errorf("accepted password sign-in %s: %+v", pwOKRef, r)
		}
		for _, r := range recs {
			for _, secret := range []string{pw, "hunter2-not-it", good[:40]} {
				if strings.Contains(r.Reason+r.Email+r.Issuer, secret) {
					t.Errorf("record %s holds %q", r.Ref, secret)
				}
			}
		}
	})
}

// TestSSORefreshMetadata: sso refresh-metadata fetches a tenant's metadata URL now and reports what
// changed, or why nothing did; serve fetches it by itself when due.
func TestSSORefreshMetadata(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, db string) {
		createTenant(t, db, "acme", "acme.com")
		createTenant(t, db, "beta", "beta.com")
		now := time.Now()
		a, err := samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", now.Add(-time.Hour), now.Add(365*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		b, err := samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", now.Add(-time.Hour), now.Add(400*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		idp := samltest.NewMetadataURL(a.Metadata(), false)
		defer idp.Close()
		mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-url", idp.URL+"/md", "--state", "active", "--allow-http-loopback-metadata")

		idp.Serve(a.Metadata(b.Cert))
		if line := mustFail(t, db, "sso", "refresh-metadata", "--tenant", "acme"); !strings.Contains(line, "loopback") {
			t.Errorf("refresh without the loopback setting: %q", line)
		}
		out, _ := mustRun(t, db, "sso", "refresh-metadata", "--tenant", "acme", "--allow-http-loopback-metadata")
		if out != "refreshed IdP metadata of tenant acme: settings changed: 1 certificate(s) added\n" {
			t.Errorf("refresh-metadata: %q", out)
		}
		ssoShow := func(slug, field string) string {
			out, _ := mustRun(t, db, "sso", "show", "--tenant", slug)
			for _, l := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(l, field+":"); ok {
					return strings.TrimSpace(v)
				}
			}
			return ""
		}
		if s := ssoShow("acme", "IdP certificate 2"); s == "" {
			t.Errorf("the new certificate is not shown")
		}
		idp.Fail(http.StatusBadGateway)
		if line := mustFail(t, db, "sso", "refresh-metadata", "--tenant", "acme", "--allow-http-loopback-metadata"); !strings.Contains(line, "HTTP 502; nothing changed") {
			t.Errorf("refresh of a failing server: %q", line)
		}
		if s := ssoShow("acme", "IdP metadata refresh"); !strings.Contains(s, "failed: fetching the metadata: HTTP 502") {
			t.Errorf("sso show after a failed refresh: %q", s)
		}
		if line := mustFail(t, db, "sso", "refresh-metadata", "--tenant", "beta"); !strings.Contains(line, "not given by URL") {
			t.Errorf("refresh of a tenant without a URL: %q", line)
		}

		// serve refreshes by itself: a tenant set up by URL and never claimed is due at once.
		idp.Serve(b.Metadata())
		mustRun(t, db, "sso", "set", "--tenant", "beta", "--metadata-url", idp.URL+"/md", "--state", "testing", "--allow-http-loopback-metadata")
		before := idp.Fetches.Load()
		st := openStore(t, db)
		beta, _ := st.TenantBySlug(context.Background(), "beta")
		srv := startServer(t, db, "--metadata-refresh", "1m", "--allow-http-loopback-metadata")
		defer func() {
			if t.Failed() {
				t.Log(srv.logs(t))
			}
		}()
		waitFor(t, "serve's refresh of beta", 20*time.Second, func() bool {
			f, err := st.MetadataFetch(context.Background(), beta.ID)
			return err == nil && !f.LastOKAt.IsZero()
		})
		if idp.Fetches.Load() == before {
			t.Error("serve recorded a fetch it did not make")
		}
	})
}

// TestSignInLogCountsEveryRefusal: refusals past the log's cap, counted in memory, are all in the log
// once serve has stopped, with no refusal after them to write them: the meter is flushed at shutdown
// (and every few seconds while serving).
func TestSignInLogCountsEveryRefusal(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	idp, _ := ssoTenant(t, db)
	srv := serveInProcess(t, db)
	const n = store.MaxRefusalsPerMinute + 12
	for i := range n {
		doc, err := idp.Make(samltest.Response{ACS: spBase + "/saml/acme/acs", Audience: "https://other.example/sp", NameID: "pat@acme.com",
			Attrs: []samltest.Attr{{Name: samltest.ClaimEmail, Values: []string{"pat@acme.com"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if res, body, _ := postForm(t, srv.url+"/saml/acme/acs", url.Values{"SAMLResponse": {samltest.Encode(doc)}}); res.StatusCode != http.StatusForbidden &&
			res.StatusCode != http.StatusBadRequest {
			t.Fatalf("refusal %d: %d\n%s", i, res.StatusCode, body)
		}
	}
	if err := srv.m.Close(); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, db)
	acme, err := st.TenantBySlug(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.ListSignIns(context.Background(), store.SignInQuery{TenantID: acme.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range recs {
		total += r.Count
	}
	if total != n {
		t.Fatalf("the log counts %d refusals in %d records; %d were made", total, len(recs), n)
	}
}

// TestShutdownFinishesRefresh: serve stopped (SIGTERM) while its periodic refresh waits on an IdP's
// metadata URL records the fetch as interrupted, due again soon, before the store closes: shutdown
// waits for its background work instead of closing the store under it. (The race it guards is
// narrow in a real process, where the store's close comes well after the cancelled fetch: this shows
// the outcome, and rarely the race.)
func TestShutdownFinishesRefresh(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		db := newDB(t)
		createTenant(t, db, "acme", "acme.com")
		idp, err := samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		md := samltest.NewMetadataURL(idp.Metadata(), false)
		defer md.Close()
		mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-url", md.URL+"/md", "--state", "testing", "--allow-http-loopback-metadata")
		started, release := make(chan struct{}), make(chan struct{})
		var releaseOnce sync.Once
		free := func() { releaseOnce.Do(func() { close(release) }) }
		defer free() // before md.Close, which waits for the hanging handler, on any failure
		var once sync.Once
		hang := func() {
			once.Do(func() { close(started) })
			<-release
		}
		md.OnFetch.Store(&hang)
		srv := startServer(t, db, "--metadata-refresh", "1m", "--allow-http-loopback-metadata")
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: serve did not fetch the metadata\n%s", round, srv.logs(t))
		}
		srv.signal(t, syscall.SIGTERM)
		if code := srv.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("round %d: serve exited %d\n%s", round, code, srv.logs(t))
		}
		free()
		st := openStore(t, db)
		acme, _ := st.TenantBySlug(context.Background(), "acme")
		f, err := st.MetadataFetch(context.Background(), acme.ID)
		if err != nil || !strings.HasPrefix(f.LastError, "interrupted") || f.NextAt.After(time.Now().Add(time.Minute)) {
			t.Fatalf("round %d: after a refresh cut by shutdown: %+v, %v\n%s", round, f, err, srv.logs(t))
		}
	}
}
