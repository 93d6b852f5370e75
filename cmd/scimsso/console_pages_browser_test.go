package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scimsso/scimsso/store"
)

// TestBrowserConsolePages: an IT admin with a setup link (SSO and SCIM) uses the console's other
// pages at phone and desktop width: issues a SCIM token, shown once, that a SCIM client then uses to
// create a user, who appears on the People page; adds a team, uploads a department map with a bad
// line (its line number shown, nothing imported) then a good one; puts an email on the exclusion
// list, whose wrong password is refused at /login, and finds that refusal, with the reference the
// person was shown, in the sign-in log; reads it all in the audit log. Every page is screenshotted
// (go test -artifacts keeps them) and checked for labels and sideways scrolling.
func TestBrowserConsolePages(t *testing.T) {
	for _, width := range []int64{390, 1280} {
		t.Run(fmt.Sprintf("width %d", width), func(t *testing.T) {
			e := newBrowserEnv(t)
			if width != 390 {
				e.run(chromedp.EmulateViewport(width, 900))
			}
			ctx := context.Background()
			e.openSetupLink(store.AdminScopeSSO, store.AdminScopeSCIM)

			// SCIM: a token, shown once, used by a SCIM client.
			e.leave()
			e.run(chromedp.Click(`nav.console a[href="/admin/demo/scim"]`, chromedp.NodeVisible))
			e.at(e.base, "/admin/demo/scim")
			var baseURL string
			e.run(chromedp.Value(`#scim-base`, &baseURL))
			if baseURL != e.base+"/scim/v2/demo" {
				t.Fatalf("SCIM base URL shown %q", baseURL)
			}
			e.page("scim")
			e.run(chromedp.SendKeys(`#token-name`, "Okta provisioning"), chromedp.SendKeys(`#token-expires`, "90d"))
			e.submit(`#token-name`)
			e.at(e.base, "/admin/demo/scim/tokens")
			var token string
			e.run(chromedp.Value(`#new-token`, &token))
			e.page("scim-token-issued")
			if !strings.HasPrefix(token, store.TokenPrefix) {
				t.Fatalf("token shown %q", token)
			}
			res, body := e.scimCreate(baseURL, token, "sam.scim@example.com")
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("SCIM create with the console's token: %d %s", res.StatusCode, body)
			}
			e.navigate(e.base + "/admin/demo/scim")
			e.at(e.base, "/admin/demo/scim")
			if body := e.page("scim-after"); strings.Contains(body, token) || !strings.Contains(body, "Okta provisioning") || !strings.Contains(body, "create") {
				t.Fatalf("SCIM page after: %s", body)
			}

			// People: the user the SCIM client created.
			e.leave()
			e.run(chromedp.Click(`nav.console a[href="/admin/demo/people"]`, chromedp.NodeVisible))
			e.at(e.base, "/admin/demo/people")
			e.run(chromedp.SendKeys(`#q`, "sam.scim"))
			e.submit(`#q`)
			e.at(e.base, "/admin/demo/people")
			var users string
			e.run(chromedp.Text(`#users`, &users))
			e.page("people-search")
			if !strings.Contains(users, "sam.scim@example.com") || !strings.Contains(users, "scim") || !strings.Contains(users, "never") {
				t.Fatalf("people: %s", users)
			}

			// The exclusion list, then a refused password sign-in of it.
			e.run(chromedp.SetValue(`#exclude`, "ops@example.com", chromedp.ByQuery))
			e.submit(`#exclude`)
			e.at(e.base, "/admin/demo/people")
			if body := e.page("people-excluded"); !strings.Contains(body, "The exclusion list is saved.") {
				t.Fatalf("exclusion: %s", body)
			}
			e.emailFirst("ops@example.com")
			e.run(chromedp.WaitVisible(`#password`))
			e.run(chromedp.SendKeys(`#password`, "not the password"))
			e.submit(`#password`)
			e.at(e.base, "/login")
			var shown string
			e.run(chromedp.WaitVisible(`#email-error`), chromedp.Text(`main`, &shown))
			ref := shownReference(shown)
			if ref == "" {
				t.Fatalf("no reference on the refusal: %s", shown)
			}

			// Teams and the department map.
			e.navigate(e.base + "/admin/demo/teams")
			e.at(e.base, "/admin/demo/teams")
			e.run(chromedp.SendKeys(`#team-name`, "Engineering"))
			e.submit(`#team-name`)
			e.at(e.base, "/admin/demo/teams")
			e.page("teams-added")
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.csv")
			good := filepath.Join(dir, "good.csv")
			os.WriteFile(bad, []byte("department,team\nR&D,Engineering\nSales,Nope,Extra\n"), 0o644)
			os.WriteFile(good, []byte("department,team\nR&D,Engineering\n"), 0o644)
			e.run(chromedp.SetUploadFiles(`#map-file`, []string{bad}, chromedp.ByQuery))
			e.submit(`#map-file`)
			e.at(e.base, "/admin/demo/teams/department-map")
			var lines string
			e.run(chromedp.Text(`#map-lines`, &lines))
			e.page("map-bad")
			if !strings.Contains(lines, "line 3:") {
				t.Fatalf("bad map: %s", lines)
			}
			if m, err := e.st.DepartmentMap(ctx, e.tenant.ID); err != nil || len(m) != 0 {
				t.Fatalf("a bad map imported %v, %v", m, err)
			}
			e.run(chromedp.SetUploadFiles(`#map-file`, []string{good}, chromedp.ByQuery))
			e.submit(`#map-file`)
			e.at(e.base, "/admin/demo/teams")
			var table string
			e.run(chromedp.Text(`#department-map`, &table))
			e.page("map-good")
			if m, err := e.st.DepartmentMap(ctx, e.tenant.ID); err != nil || len(m) != 1 || !strings.Contains(table, "R&D") {
				t.Fatalf("good map: stored %v, %v; shown %s", m, err, table)
			}

			// The sign-in log: the refused sign-in, with the reference the person saw.
			e.leave()
			e.run(chromedp.Click(`nav.console a[href="/admin/demo/signins"]`, chromedp.NodeVisible))
			e.at(e.base, "/admin/demo/signins")
			e.run(chromedp.SetValue(`#f-outcome`, "refused", chromedp.ByQuery))
			e.submit(`#f-outcome`)
			e.at(e.base, "/admin/demo/signins")
			var log string
			e.run(chromedp.Text(`#signins`, &log))
			e.page("signins-refused")
			if !strings.Contains(log, "ops@example.com") || !strings.Contains(log, "refused") || !strings.Contains(log, "password") || !strings.Contains(log, ref) {
				t.Fatalf("sign-in log lacks the refusal (ref %s): %s", ref, log)
			}

			// The audit log: every change above, by the setup link.
			e.leave()
			e.run(chromedp.Click(`nav.console a[href="/admin/demo/audit"]`, chromedp.NodeVisible))
			e.at(e.base, "/admin/demo/audit")
			var audit string
			e.run(chromedp.Text(`#audit`, &audit))
			e.page("audit")
			for _, want := range []string{"scim_token.issued", "sso.settings_changed", "team.created", "department_map.replaced", "setup link "} {
				if !strings.Contains(audit, want) {
					t.Errorf("audit lacks %q: %s", want, audit)
				}
			}
		})
	}
}

// shownReference returns the reference id a page's text shows the person.
func shownReference(text string) string {
	const lead = "give them this reference: "
	i := strings.Index(text, lead)
	if i < 0 {
		return ""
	}
	return strings.Fields(text[i+len(lead):] + " ")[0]
}

// scimCreate is a SCIM client: it creates a user at baseURL with token, reaching the server's name
// (sp.test) on loopback as Chromium does.
func (e *browserEnv) scimCreate(baseURL, token, email string) (*http.Response, string) {
	e.t.Helper()
	u, _ := url.Parse(baseURL)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test server's own certificate
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+u.Port())
		},
	}}
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/Users", strings.NewReader(userBody(email, "Sam")))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}
