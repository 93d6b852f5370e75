package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// stateOf is what the console's pages can change of a tenant, as text: tokens (with their state),
// teams, the department map, admins, SSO settings' version, so a refused request can be shown to
// change none of it.
func (h *harness) stateOf(tn *store.Tenant) string {
	h.T.Helper()
	var b strings.Builder
	toks, err := h.St.ListTokens(ctx, tn.ID)
	if err != nil {
		h.T.Fatal(err)
	}
	for _, tk := range toks {
		fmt.Fprintf(&b, "token %s %q revoked=%v\n", tk.ID, tk.Name, !tk.RevokedAt.IsZero())
	}
	teams, _ := h.St.ListTeams(ctx, tn.ID)
	for _, tm := range teams {
		fmt.Fprintf(&b, "team %q hidden=%v\n", tm.Name, tm.Hidden)
	}
	m, _ := h.St.DepartmentMap(ctx, tn.ID)
	fmt.Fprintf(&b, "map %v\n", m)
	as, _ := h.St.ListAdmins(ctx, tn.ID)
	for _, a := range as {
		fmt.Fprintf(&b, "admin %s\n", a.UserName)
	}
	fmt.Fprintf(&b, "sso version %d exclude %v\n", h.settingsOf(tn).Version, h.settingsOf(tn).Exclude)
	return b.String()
}

// uploadFile posts file as the field of the multipart form of the page at pagePath that posts to
// action, as a browser does.
func (h *harness) uploadFile(b *http.Client, pagePath, action, field string, file []byte) (*http.Response, string) {
	h.T.Helper()
	h.get(b, pagePath) // the CSRF cookie
	return h.multipart(b, action, field, file)
}

// lastAction returns the tenant's newest admin audit entry.
func (h *harness) lastAction(tn *store.Tenant) store.AdminAction {
	h.T.Helper()
	as := h.actions(tn)
	if len(as) == 0 {
		h.T.Fatal("no admin action recorded")
	}
	return as[0]
}

// allowedStatus is what each console route answers the form of consoleRoutes when the session's
// scopes allow it: the handler's own answer (a page, a redirect after the change, or its refusal of
// that form's values), never the guard's. Where a route changes state, its second try may differ
// (the SSO state form's version is then stale, the team exists).
var allowedStatus = map[string][]int{
	"GET /": {200}, "GET /sso": {200}, "GET /scim": {200}, "GET /people": {200}, "GET /teams": {200}, "GET /signins": {200}, "GET /audit": {200},
	"POST /sso": {400}, "POST /sso/state": {303, 409}, "POST /sso/test": {400}, "POST /sso/metadata/file": {400},
	"POST /sso/metadata/url": {400}, "POST /sso/metadata": {400}, "POST /sso/metadata/refresh": {400},
	"POST /scim/tokens": {409}, "POST /scim/revoke": {404},
	"POST /people/exclude": {409}, "POST /teams": {303, 400}, "POST /teams/department-map": {400},
}

// TestPageScopes: each page's routes refuse a console session without their scope (403, nothing
// changed), and the nav offers only what the session may use.
func TestPageScopes(t *testing.T) {
	h := newHarness(t)
	sso := regexp.MustCompile(`^/(sso|teams|signins|people/exclude)`)
	scim := regexp.MustCompile(`^/scim`)
	admins := regexp.MustCompile(`^/people/admins`)
	for _, c := range []struct {
		scopes  []string
		refused []*regexp.Regexp
		nav     []string
	}{
		{[]string{store.AdminScopeSCIM}, []*regexp.Regexp{sso, admins}, []string{"Overview", "SCIM", "People", "Audit"}},
		{[]string{store.AdminScopeSSO}, []*regexp.Regexp{scim, admins}, []string{"Overview", "SSO", "People", "Teams", "Sign-in log", "Audit"}},
		{[]string{store.AdminScopeSSO, store.AdminScopeSCIM}, []*regexp.Regexp{admins}, []string{"Overview", "SSO", "SCIM", "People", "Teams", "Sign-in log", "Audit"}},
	} {
		t.Run(strings.Join(c.scopes, "+"), func(t *testing.T) {
			b := h.consoleOf(h.Tenant, c.scopes...)
			_, body := h.get(b, "/admin/acme/")
			wantNav(t, body, c.nav...)
			n := 0
			for _, rt := range consoleRoutes {
				if rt.path == "/signout" {
					continue
				}
				refused := false
				for _, re := range c.refused {
					refused = refused || re.MatchString(rt.path)
				}
				res, body := h.Send(b, rt.method, "/admin/acme"+rt.path, formOf(h, b, rt.form), h.same())
				if refused {
					n++
					if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "does not include this page") {
						t.Errorf("%s %s: %d, want 403", rt.method, rt.path, res.StatusCode)
					}
				} else if want := allowedStatus[rt.method+" "+rt.path]; !slices.Contains(want, res.StatusCode) {
					t.Errorf("%s %s: %d for scopes %v, want one of %v", rt.method, rt.path, res.StatusCode, c.scopes, want)
				}
			}
			if n == 0 {
				t.Fatal("no route tried")
			}
		})
	}
	// Refused routes change nothing: tried again on a fresh session of each single scope.
	before := h.stateOf(h.Tenant)
	for _, scope := range []string{store.AdminScopeSCIM, store.AdminScopeSSO} {
		b := h.consoleOf(h.Tenant, scope)
		for _, rt := range consoleRoutes {
			if rt.method == http.MethodPost && ((scope == store.AdminScopeSCIM && (sso.MatchString(rt.path) || admins.MatchString(rt.path))) ||
				(scope == store.AdminScopeSSO && (scim.MatchString(rt.path) || admins.MatchString(rt.path)))) {
				h.Send(b, rt.method, "/admin/acme"+rt.path, formOf(h, b, rt.form), h.same())
			}
		}
	}
	if after := h.stateOf(h.Tenant); after != before {
		t.Errorf("refused requests changed acme:\n%s\n→\n%s", before, after)
	}
}

// TestSCIMTokens: the SCIM page shows the base URL; a token is issued with a name (refused without
// one, or with a bad expiry, storing nothing), shown once on the answer to the POST and never again
// (nor its hash); it is live in the store; revoking asks first, then revokes; another tenant's token
// id is the page-not-found and stays live; recent SCIM requests are listed newest first.
func TestSCIMTokens(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Tenant, store.AdminScopeSCIM)
	res, body := h.get(b, "/admin/acme/scim")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /scim: %d", res.StatusCode)
	}
	contains(t, "SCIM page", body, `value="`+h.Srv.URL+`/scim/v2/acme"`, "No tokens yet.")

	before := h.stateOf(h.Tenant)
	for name, c := range map[string]struct {
		form  url.Values
		field string
	}{
		"no name":     {url.Values{"name": {""}}, "e-token-name"},
		"bad name":    {url.Values{"name": {"a\x01b"}}, "e-token-name"},
		"long name":   {url.Values{"name": {strings.Repeat("n", 201)}}, "e-token-name"},
		"bad expiry":  {url.Values{"name": {"okta"}, "expires": {"soon"}}, "e-token-expires"},
		"negative":    {url.Values{"name": {"okta"}, "expires": {"-1d"}}, "e-token-expires"},
		"zero expiry": {url.Values{"name": {"okta"}, "expires": {"0s"}}, "e-token-expires"},
	} {
		res, body := h.post(b, "/admin/acme/scim", "/admin/acme/scim/tokens", c.form)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="`+c.field+`"`) || !strings.Contains(body, "No token was issued.") ||
			strings.Contains(body, store.TokenPrefix) {
			t.Errorf("%s: %d\n%s", name, res.StatusCode, body)
		}
	}
	if after := h.stateOf(h.Tenant); after != before {
		t.Fatalf("refused issues stored:\n%s", after)
	}

	issue := h.Form(b, "/admin/acme/scim", "/admin/acme/scim/tokens")
	issue.Values.Set("name", "Okta provisioning")
	issue.Values.Set("expires", "90d")
	res, body = h.Submit(b, issue, h.same())
	tok := regexp.MustCompile(`id="new-token" class="copy" readonly value="(` + store.TokenPrefix + `[^"]+)"`).FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || tok == nil || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Location") != "" {
		t.Fatalf("issue: %d %v\n%s", res.StatusCode, res.Header, body)
	}
	rec, err := h.St.TokenByHash(ctx, store.HashSecret(tok[1]))
	if err != nil || rec.TenantID != h.Tenant.ID || rec.Name != "Okta provisioning" || !rec.Live(time.Now()) ||
		rec.ExpiresAt.Sub(time.Now()) < 89*24*time.Hour || rec.ExpiresAt.Sub(time.Now()) > 91*24*time.Hour {
		t.Fatalf("stored %+v, %v", rec, err)
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionSCIMTokenIssued || a.Actor.Kind != store.ActorSetupLink || a.Target != rec.ID ||
		strings.Contains(a.After, tok[1]) {
		t.Fatalf("audit %+v", a)
	}
	// A reload of the answer posts the same form again: refused, nothing issued, no token shown.
	issued := h.stateOf(h.Tenant)
	if res, body := h.Submit(b, issue, h.same()); res.StatusCode != http.StatusConflict || !strings.Contains(body, "already issued") ||
		strings.Contains(body, store.TokenPrefix) {
		t.Fatalf("reloaded issue: %d\n%s", res.StatusCode, body)
	}
	if after := h.stateOf(h.Tenant); after != issued {
		t.Fatalf("a reload issued another token:\n%s", after)
	}
	// Never again: not on the page, not its hash.
	_, body = h.get(b, "/admin/acme/scim")
	if strings.Contains(body, tok[1]) || strings.Contains(body, fmt.Sprintf("%x", rec.Hash)) || strings.Contains(body, "new-token") {
		t.Fatalf("the token shown again:\n%s", body)
	}
	contains(t, "token list", body, "Okta provisioning", ">live<")

	// Recent SCIM requests, newest first; not the sign-ins, which the audit log holds too.
	u := &store.User{UserName: "ada@acme.com", Active: true, Source: store.SourceSCIM}
	if err := h.St.CreateUser(ctx, h.Tenant.ID, u, store.Audit{TokenID: rec.ID, Operation: "create", Outcome: "201"}); err != nil {
		t.Fatal(err)
	}
	if err := h.St.RecordAudit(ctx, store.Audit{TenantID: h.Tenant.ID, TokenID: rec.ID, Operation: "patch", UserID: u.ID, Outcome: "400", Detail: "bad country"}); err != nil {
		t.Fatal(err)
	}
	if err := h.St.RecordAudit(ctx, store.Audit{TenantID: h.Tenant.ID, Operation: "sso-signin", UserID: u.ID, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	_, body = h.get(b, "/admin/acme/scim")
	table := regexp.MustCompile(`(?s)<table id="scim-requests">.*?</table>`).FindString(body)
	if i, j := strings.Index(table, "patch"), strings.Index(table, "create"); i < 0 || j < 0 || i > j || !strings.Contains(table, "bad country") || !strings.Contains(table, u.ID) ||
		strings.Contains(table, "sso-signin") {
		t.Fatalf("recent requests:\n%s", table)
	}

	// Revoke: another tenant's token is not found and stays live.
	other, _, err := store.IssueToken(ctx, h.St, h.Other.ID, "globex's", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	otherRec, _ := h.St.TokenByHash(ctx, store.HashSecret(other))
	for _, confirm := range []string{"", "yes"} {
		res, body := h.Send(b, http.MethodPost, "/admin/acme/scim/revoke", url.Values{"csrf": {h.csrfOf(b)}, "id": {otherRec.ID}, "confirm": {confirm}}, h.same())
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, notFoundText) {
			t.Fatalf("revoke globex's token (confirm %q): %d\n%s", confirm, res.StatusCode, body)
		}
	}
	if got, _ := h.St.TokenByHash(ctx, store.HashSecret(other)); !got.RevokedAt.IsZero() {
		t.Fatal("globex's token was revoked from acme's console")
	}
	// The list's Revoke asks first and revokes nothing.
	res, body = h.post(b, "/admin/acme/scim", "/admin/acme/scim/revoke", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Revoke the token") {
		t.Fatalf("revoke without confirmation: %d\n%s", res.StatusCode, body)
	}
	if got, _ := h.St.TokenByHash(ctx, rec.Hash); !got.RevokedAt.IsZero() {
		t.Fatal("revoked before the confirmation")
	}
	f := h.FormIn("/admin/acme/scim/revoke", body, "/admin/acme/scim/revoke")
	res, _ = h.Submit(b, f, h.same())
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed revoke: %d", res.StatusCode)
	}
	if got, _ := h.St.TokenByHash(ctx, rec.Hash); got.RevokedAt.IsZero() {
		t.Fatal("not revoked")
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionSCIMTokenRevoked || a.Target != rec.ID || a.Actor.Kind != store.ActorSetupLink {
		t.Fatalf("audit %+v", a)
	}
	_, body = h.get(b, "/admin/acme/scim?done=revoked")
	contains(t, "after revoke", body, "The token is revoked.", ">revoked ")
}

// TestPeople: the users list with search and pages, showing source, last sign-in and active; the
// exclusion list saved through the SSO settings' rules (bad input and a stale form store nothing);
// tenant admins added by email and removed, by a tenant admin only.
func TestPeople(t *testing.T) {
	h := newHarness(t)
	for i := range 55 {
		h.ScimUser(fmt.Sprintf("user%02d@acme.com", i), "", i != 3)
	}
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	res, body := h.get(b, "/admin/acme/people")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /people: %d", res.StatusCode)
	}
	contains(t, "first page", body, "1–50 of 55 users", "user00@acme.com", "user49@acme.com", `rel="next"`, ">scim<", ">never<")
	if strings.Contains(body, "user50@acme.com") || strings.Contains(body, "Tenant admins") {
		t.Fatalf("first page:\n%s", body)
	}
	_, body = h.get(b, "/admin/acme/people?page=2")
	contains(t, "second page", body, "51–55 of 55 users", "user54@acme.com", `rel="prev"`)
	_, body = h.get(b, "/admin/acme/people?q=USER03")
	contains(t, "search", body, "1–1 of 1 users", "user03@acme.com", `<span class="error">no</span>`)
	_, body = h.get(b, "/admin/acme/people?q=nobody")
	contains(t, "empty search", body, "No users match")
	// A term over 200 bytes is cut on a character boundary: still a search, given back whole.
	long := "user0" + strings.Repeat("é", 150)
	if res, body := h.get(b, "/admin/acme/people?"+url.Values{"q": {long}}.Encode()); res.StatusCode != http.StatusOK ||
		!strings.Contains(body, `value="user0`+strings.Repeat("é", 97)+`"`) {
		t.Errorf("long search: %d\n%s", res.StatusCode, body)
	}
	for _, q := range []string{"q=%00", "q=user%00", "q=%ff", "q=user0%c3"} {
		if res, body := h.get(b, "/admin/acme/people?"+q); res.StatusCode != http.StatusOK || !strings.Contains(body, "No users match") {
			t.Errorf("?%s: %d\n%s", q, res.StatusCode, body)
		}
	}
	for _, q := range []string{"email=%00", "email=p%ff@acme.com"} {
		if res, _ := h.get(b, "/admin/acme/signins?"+q); res.StatusCode != http.StatusOK {
			t.Errorf("signins ?%s: %d", q, res.StatusCode)
		}
	}
	for _, q := range []string{"page=-1", "page=x", "q=" + strings.Repeat("%25", 300)} {
		if res, _ := h.get(b, "/admin/acme/people?"+q); res.StatusCode != http.StatusOK {
			t.Errorf("?%s: %d", q, res.StatusCode)
		}
	}

	// The exclusion list.
	before := h.stateOf(h.Tenant)
	res, body = h.post(b, "/admin/acme/people", "/admin/acme/people/exclude", url.Values{"exclude": {"ok@acme.com, not-an-email"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="e-exclude"`) || !strings.Contains(body, "not-an-email") {
		t.Fatalf("bad exclusion: %d\n%s", res.StatusCode, body)
	}
	if after := h.stateOf(h.Tenant); after != before {
		t.Fatalf("a bad exclusion list stored:\n%s\n→\n%s", before, after)
	}
	stale := h.Form(b, "/admin/acme/people", "/admin/acme/people/exclude")
	res, _ = h.post(b, "/admin/acme/people", "/admin/acme/people/exclude", url.Values{"exclude": {"Ada@Acme.com, bob@acme.com"}})
	if res.StatusCode != http.StatusSeeOther || fmt.Sprint(h.settingsOf(h.Tenant).Exclude) != "[ada@acme.com bob@acme.com]" {
		t.Fatalf("exclusion: %d %v", res.StatusCode, h.settingsOf(h.Tenant).Exclude)
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionSSOSettingsChanged || a.Actor.Kind != store.ActorSetupLink || !strings.Contains(a.After, "bob@acme.com") {
		t.Fatalf("audit %+v", a)
	}
	stale.Values.Set("exclude", "eve@acme.com")
	if res, body := h.Submit(b, stale, h.same()); res.StatusCode != http.StatusConflict || !strings.Contains(body, "changed meanwhile") {
		t.Fatalf("stale form: %d\n%s", res.StatusCode, body)
	}
	if got := fmt.Sprint(h.settingsOf(h.Tenant).Exclude); got != "[ada@acme.com bob@acme.com]" {
		t.Fatalf("stale form stored %s", got)
	}
	if after := h.stateOf(h.Tenant); after == before {
		t.Fatal("the exclusion list was not stored")
	}

	// Tenant admins: a setup link's session may not; a tenant admin may.
	if res, _ := h.Send(b, http.MethodPost, "/admin/acme/people/admins", url.Values{"csrf": {h.csrfOf(b)}, "email": {"user01@acme.com"}}, h.same()); res.StatusCode != http.StatusForbidden {
		t.Fatalf("setup link adds an admin: %d", res.StatusCode)
	}
	ab, ada := h.signIn("ada@acme.com")
	if err := h.St.SetAdmin(ctx, h.Tenant.ID, ada.ID, true); err != nil {
		t.Fatal(err)
	}
	_, body = h.get(ab, "/admin/acme/people")
	contains(t, "admin's people page", body, "Tenant admins", "ada@acme.com", ">you<")
	globexUser := &store.User{UserName: "gina@globex.com", Active: true, Source: store.SourceSCIM}
	if err := h.St.CreateUser(ctx, h.Other.ID, globexUser, store.Audit{Operation: "create"}); err != nil {
		t.Fatal(err)
	}
	before = h.stateOf(h.Tenant)
	for email, want := range map[string]string{
		"":                    "Give the email",
		"nobody@acme.com":     "No user of acme has this email",
		"gina@globex.com":     "No user of acme has this email",
		"user03@acme.com":     "deactivated",
		"user01\x00@acme.com": "Give the email",
		"user01@acme.com\xff": "Give the email",
	} {
		res, body := h.post(ab, "/admin/acme/people", "/admin/acme/people/admins", url.Values{"email": {email}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, want) || !strings.Contains(body, `id="e-admin"`) {
			t.Errorf("add %q: %d\n%s", email, res.StatusCode, body)
		}
	}
	if res, _ := h.Send(ab, http.MethodPost, "/admin/acme/people/admins/remove", url.Values{"csrf": {h.csrfOf(ab)}, "id": {ada.ID}}, h.same()); res.StatusCode != http.StatusBadRequest {
		t.Errorf("remove oneself: %d", res.StatusCode)
	}
	for _, id := range []string{globexUser.ID, "nope", "\xff\xfe", "a\x00b"} {
		res, _ := h.Send(ab, http.MethodPost, "/admin/acme/people/admins/remove", url.Values{"csrf": {h.csrfOf(ab)}, "id": {id}}, h.same())
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("remove %s: %d", id, res.StatusCode)
		}
	}
	if after := h.stateOf(h.Tenant); after != before {
		t.Fatalf("refused admin changes stored:\n%s", after)
	}
	res, _ = h.post(ab, "/admin/acme/people", "/admin/acme/people/admins", url.Values{"email": {"User01@acme.com"}})
	u1 := h.User("user01@acme.com")
	if is, _ := h.St.IsAdmin(ctx, h.Tenant.ID, u1.ID); res.StatusCode != http.StatusSeeOther || !is {
		t.Fatalf("add: %d admin=%v", res.StatusCode, is)
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionAdminAdded || a.Actor.Kind != store.ActorAdmin || a.Actor.ID != ada.ID || a.Target != u1.ID {
		t.Fatalf("audit %+v", a)
	}
	_, body = h.get(ab, "/admin/acme/people")
	f := h.FormIn("/admin/acme/people", body, "/admin/acme/people/admins/remove")
	if f.Values.Get("id") != u1.ID {
		t.Fatalf("the remove form is for %s", f.Values.Get("id"))
	}
	res, _ = h.Submit(ab, f, h.same())
	if is, _ := h.St.IsAdmin(ctx, h.Tenant.ID, u1.ID); res.StatusCode != http.StatusSeeOther || is {
		t.Fatalf("remove: %d admin=%v", res.StatusCode, is)
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionAdminRemoved || a.Actor.ID != ada.ID {
		t.Fatalf("audit %+v", a)
	}
}

// TestTeamsAndDepartmentMap: teams are added (hidden or not; a bad or taken name stores nothing); a
// department map file with bad lines is refused listing each by its number, and one naming a team the
// tenant lacks is refused too, both importing nothing; a good file replaces the map.
func TestTeamsAndDepartmentMap(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	res, _ := h.post(b, "/admin/acme/teams", "/admin/acme/teams", url.Values{"name": {"Board"}, "hidden": {"true"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", res.StatusCode)
	}
	h.post(b, "/admin/acme/teams", "/admin/acme/teams", url.Values{"name": {"Engineering"}})
	if got := h.stateOf(h.Tenant); !strings.Contains(got, `team "Board" hidden=true`) || !strings.Contains(got, `team "Engineering" hidden=false`) {
		t.Fatalf("teams:\n%s", got)
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionTeamCreated || a.Actor.Kind != store.ActorSetupLink {
		t.Fatalf("audit %+v", a)
	}
	before := h.stateOf(h.Tenant)
	for _, name := range []string{"", "Board", "a\x01b", strings.Repeat("x", 201)} {
		res, body := h.post(b, "/admin/acme/teams", "/admin/acme/teams", url.Values{"name": {name}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="e-team-name"`) {
			t.Errorf("add %q: %d\n%s", name, res.StatusCode, body)
		}
	}
	if after := h.stateOf(h.Tenant); after != before {
		t.Fatalf("refused teams stored:\n%s", after)
	}

	bad, _ := os.ReadFile(filepath.Join("testdata", "department-map-bad.csv"))
	res, body := h.uploadFile(b, "/admin/acme/teams", "/admin/acme/teams/department-map", "map", bad)
	lines := regexp.MustCompile(`<li>line (\d+):`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, l := range lines {
		got = append(got, l[1])
	}
	if res.StatusCode != http.StatusBadRequest || fmt.Sprint(got) != "[3 5]" || !strings.Contains(body, "Nothing was imported") {
		t.Fatalf("bad file: %d lines %v\n%s", res.StatusCode, got, body)
	}
	unknown := []byte("department,team\nR&D,Engineering\nSales,Nope\n")
	res, body = h.uploadFile(b, "/admin/acme/teams", "/admin/acme/teams/department-map", "map", unknown)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "has no team") {
		t.Fatalf("unknown team: %d\n%s", res.StatusCode, body)
	}
	if res, body := h.uploadFile(b, "/admin/acme/teams", "/admin/acme/teams/department-map", "nofile", []byte("x")); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "Choose the department map file") {
		t.Fatalf("no file: %d", res.StatusCode)
	}
	if after := h.stateOf(h.Tenant); after != before {
		t.Fatalf("refused maps stored:\n%s", after)
	}
	good, _ := os.ReadFile(filepath.Join("testdata", "department-map-good.csv"))
	res, _ = h.uploadFile(b, "/admin/acme/teams", "/admin/acme/teams/department-map", "map", good)
	m, _ := h.St.DepartmentMap(ctx, h.Tenant.ID)
	if res.StatusCode != http.StatusSeeOther || fmt.Sprint(m) != "[{Board Board} {R&D Engineering}]" {
		t.Fatalf("good file: %d %v", res.StatusCode, m)
	}
	if a := h.lastAction(h.Tenant); a.Action != store.ActionDepartmentMapReplaced || a.Actor.Kind != store.ActorSetupLink {
		t.Fatalf("audit %+v", a)
	}
	_, body = h.get(b, "/admin/acme/teams?done=map")
	contains(t, "teams page", body, "The department map is replaced.", "<td>R&amp;D</td><td>Engineering</td>")
}

// TestSignInLogAndAudit: the sign-in log lists the tenant's records newest first with code, reason
// and reference, filters by outcome and email, pages by its cursor; the audit page lists the tenant's
// admin actions with who and before → after, paged; neither shows another tenant's.
func TestSignInLogAndAudit(t *testing.T) {
	h := newHarness(t)
	for i := range 60 {
		r := &store.SignInRecord{TenantID: h.Tenant.ID, Outcome: store.SignInAccepted, Method: store.SignInSAML, Email: fmt.Sprintf("p%02d@acme.com", i), Count: 1}
		if i%2 == 1 {
			r.Outcome, r.Code, r.Reason, r.Ref = store.SignInRefused, "audience", fmt.Sprintf("audience mismatch %02d", i), fmt.Sprintf("ref-%02d", i)
		}
		if err := h.St.RecordSignIn(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.St.RecordSignIn(ctx, &store.SignInRecord{TenantID: h.Other.ID, Outcome: store.SignInRefused, Method: store.SignInSAML, Email: "gina@globex.com", Code: "replay", Reason: "globex secret"}); err != nil {
		t.Fatal(err)
	}
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	res, body := h.get(b, "/admin/acme/signins")
	if res.StatusCode != http.StatusOK || strings.Contains(body, "globex") {
		t.Fatalf("sign-in log: %d\n%s", res.StatusCode, body)
	}
	contains(t, "sign-in log", body, "p59@acme.com", "audience mismatch 59", "ref-59", "p10@acme.com", `rel="next"`)
	if strings.Contains(body, "p09@acme.com") || strings.Index(body, "p59@") > strings.Index(body, "p58@") {
		t.Fatalf("first page is not the newest 50 in order")
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	_, body = h.get(b, strings.ReplaceAll(next[1], "&amp;", "&"))
	contains(t, "second page", body, "p09@acme.com", "p00@acme.com")
	_, body = h.get(b, "/admin/acme/signins?outcome=refused")
	if strings.Contains(body, "p58@acme.com") || !strings.Contains(body, "p57@acme.com") {
		t.Fatalf("refused only:\n%s", body)
	}
	_, body = h.get(b, "/admin/acme/signins?email=P07@acme.com")
	if strings.Count(body, "@acme.com</td>") != 1 || !strings.Contains(body, "audience mismatch 07") {
		t.Fatalf("by email:\n%s", body)
	}
	_, body = h.get(b, "/admin/acme/signins?ref=+ref-07+")
	if strings.Count(body, "@acme.com</td>") != 1 || !strings.Contains(body, "audience mismatch 07") || !strings.Contains(body, `value="ref-07"`) {
		t.Fatalf("by reference:\n%s", body)
	}
	_, body = h.get(b, "/admin/acme/signins?ref=ref-08")
	contains(t, "unknown reference", body, "match the filter")
	for _, q := range []string{"outcome=nope", "before=-5", "before=x", "email=" + strings.Repeat("a", 400), "ref=%00", "ref=" + strings.Repeat("%ff", 200)} {
		if res, _ := h.get(b, "/admin/acme/signins?"+q); res.StatusCode != http.StatusOK {
			t.Errorf("?%s: %d", q, res.StatusCode)
		}
	}

	// The audit page: every console session, the tenant's entries only.
	for i := range 55 {
		if _, err := store.AddTeam(store.WithActor(ctx, store.Actor{Kind: store.ActorAPIKey, ID: "k1", Name: "ops key"}), h.St, h.Tenant, fmt.Sprintf("Team %02d", i), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.AddTeam(ctx, h.St, h.Other, "Globex secret team", false); err != nil {
		t.Fatal(err)
	}
	s := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	res, body = h.get(s, "/admin/acme/audit")
	if res.StatusCode != http.StatusOK || strings.Contains(body, "Globex secret team") {
		t.Fatalf("audit: %d\n%s", res.StatusCode, body)
	}
	contains(t, "audit page", body, "management API key ops key", "team.created", "Team 54", `rel="next"`)
	next = regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	_, body = h.get(s, next[1])
	contains(t, "audit page 2", body, "Team 00")
	if strings.Contains(body, "Team 54") {
		t.Fatal("page 2 repeats page 1")
	}
}

// TestAuditScopes: the Audit page shows each entry only to sessions whose scopes cover its action; a
// SCIM-only setup link reads neither the SSO settings' exclusion list nor who the admins are, even
// when the entries it may see lie beyond many it may not.
func TestAuditScopes(t *testing.T) {
	h := newHarness(t)
	ab, u := h.signIn("ada@acme.com")
	actor := store.WithActor(ctx, store.Actor{Kind: store.ActorAPIKey, ID: "k1", Name: "ops key"})
	if err := h.St.SetAdmin(actor, h.Tenant.ID, u.ID, true); err != nil {
		t.Fatal(err)
	}
	set := h.settingsOf(h.Tenant)
	if err := set.Set("exclude", "secret-exclusion@acme.com"); err != nil {
		t.Fatal(err)
	}
	if err := h.St.PutSSOSettings(actor, h.Tenant.ID, set); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := store.AddTeam(actor, h.St, h.Tenant, fmt.Sprintf("Team %02d", i), false); err != nil {
			t.Fatal(err)
		}
	}
	sc := h.consoleOf(h.Tenant, store.AdminScopeSCIM)
	h.post(sc, "/admin/acme/scim", "/admin/acme/scim/tokens", url.Values{"name": {"Okta token"}})
	for _, c := range []struct {
		scopes     []string
		want, hide []string
	}{
		{[]string{store.AdminScopeSCIM}, []string{"scim_token.issued", "Okta token", "tenant.created"},
			[]string{"secret-exclusion", "sso.settings_changed", "admin.added", u.ID, "team.created", "setup_link"}},
		{[]string{store.AdminScopeSSO}, []string{"sso.settings_changed", "secret-exclusion", "team.created"},
			[]string{"scim_token", "admin.added", "setup_link"}},
		{[]string{store.AdminScopeAdmins}, []string{"admin.added", "scim_token.issued", "team.created", "setup_link.used", "secret-exclusion"}, nil},
	} {
		b := sc
		switch c.scopes[0] {
		case store.AdminScopeSSO:
			b = h.consoleOf(h.Tenant, c.scopes...)
		case store.AdminScopeAdmins:
			b = ab
		}
		var all string
		for path := "/admin/acme/audit"; path != ""; {
			res, body := h.get(b, path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%v %s: %d", c.scopes, path, res.StatusCode)
			}
			all += body
			path = ""
			if m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		contains(t, fmt.Sprint(c.scopes), all, c.want...)
		for _, x := range c.hide {
			if strings.Contains(all, x) {
				t.Errorf("%v sees %q", c.scopes, x)
			}
		}
	}
}

// TestAdminsRemoveEachOther: two tenant admins removing each other at the same moment leave one
// admin: one removal succeeds (303), the other is refused (409 from the store, or the guard's 404
// once the loser's session has ended), never both.
func TestAdminsRemoveEachOther(t *testing.T) {
	h := newHarness(t)
	ab, ada := h.signIn("ada@acme.com")
	bb, bob := h.signIn("bob@acme.com")
	for round := range 8 {
		for _, u := range []*store.User{ada, bob} {
			if err := h.St.SetAdmin(ctx, h.Tenant.ID, u.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		forms := make([]samltest.Form, 2)
		for i, c := range []struct {
			b     *http.Client
			other *store.User
		}{{ab, bob}, {bb, ada}} {
			_, body := h.get(c.b, "/admin/acme/people")
			if forms[i] = h.FormIn("/admin/acme/people", body, "/admin/acme/people/admins/remove"); forms[i].Values.Get("id") != c.other.ID {
				t.Fatalf("round %d: the remove form is for %s", round, forms[i].Values.Get("id"))
			}
		}
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, b := range []*http.Client{ab, bb} {
			wg.Go(func() {
				res, _ := h.Submit(b, forms[i], h.same())
				codes[i] = res.StatusCode
			})
		}
		wg.Wait()
		as, _ := h.St.ListAdmins(ctx, h.Tenant.ID)
		slices.Sort(codes)
		if len(as) != 1 || codes[0] != http.StatusSeeOther || (codes[1] != http.StatusConflict && codes[1] != http.StatusNotFound) {
			t.Fatalf("round %d: answers %v, %d admins left", round, codes, len(as))
		}
	}
}
