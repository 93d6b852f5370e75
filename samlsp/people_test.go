package samlsp_test

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// The people's side of sign-in, driven over HTTP as a browser drives it: the email-first /login form,
// passwords for excluded users, the first sign-in form at /welcome, silent re-authentication after the
// soft timeout, and an admin's test sign-in. Every form is fetched, its CSRF field read from the page,
// and posted back.

const (
	claimDept     = "http://schemas.microsoft.com/ws/2008/06/identity/claims/department"
	csrfCookie    = "__Host-scimsso_csrf"
	sessionCookie = "__Host-scimsso_session" // BASE is https in these tests
	bindingCookie = "__Host-scimsso_binding"
	formExpired   = "This form has expired or did not come from this site."
)

// send makes one request in b (path relative to the server, or absolute) and returns the response
// with its body read. A non-nil form is posted urlencoded.
func (h *harness) send(b *http.Client, method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	if strings.HasPrefix(path, "/") {
		path = h.srv.URL + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res, string(raw)
}

// form fetches the page at path in b and returns its form that posts to action.
func (h *harness) form(b *http.Client, path, action string) samltest.Form {
	h.t.Helper()
	res, body := h.send(b, http.MethodGet, path, nil, nil)
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, body)
	}
	return h.formIn(path, body, action)
}

// formIn returns the form of a page (fetched from path) that posts to action.
func (h *harness) formIn(path, body, action string) samltest.Form {
	h.t.Helper()
	pageURL, _ := url.Parse(h.srv.URL + path)
	forms, err := samltest.Forms(pageURL, []byte(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range forms {
		if f.Method == http.MethodPost && f.Action.Path == action {
			return f
		}
	}
	h.t.Fatalf("no form posting to %s on %s:\n%s", action, path, body)
	return samltest.Form{}
}

// submit posts f from b as a browser does.
func (h *harness) submit(b *http.Client, f samltest.Form, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	return h.send(b, f.Method, f.Action.String(), f.Values, hdr)
}

// meDoc is /me's answer: the signed-in user and session, or the error and where to go.
type meDoc struct {
	Error, Login, Welcome string
	User                  struct{ ID, UserName, Country, Department, Team, Source string }
	Session               struct {
		CreatedAt, LastSeenAt, ExpiresAt time.Time
		Pending, Mobile                  bool
	}
}

// meAs asks /me with the given Accept header (a browser sends text/html).
func (h *harness) meAs(b *http.Client, accept string) (*http.Response, meDoc) {
	h.t.Helper()
	res, body := h.send(b, http.MethodGet, "/me", nil, map[string]string{"Accept": accept})
	var m meDoc
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			h.t.Fatalf("/me: %v\n%s", err, body)
		}
	}
	return res, m
}

// postACS posts a response to the ACS and returns the page it answers with.
func (h *harness) postACS(b *http.Client, slug string, doc []byte) (*http.Response, string) {
	h.t.Helper()
	return h.send(b, http.MethodPost, h.acs(slug), url.Values{"SAMLResponse": {samltest.Encode(doc)}}, nil)
}

// user returns the tenant's user with that userName, nil if there is none.
func (h *harness) user(name string) *store.User {
	for _, u := range h.users() {
		if u.UserName == name {
			return &u
		}
	}
	return nil
}

func (h *harness) setPassword(u *store.User, pw string) {
	h.t.Helper()
	hash, err := samlsp.HashPassword(pw)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.SetPassword(ctx, h.tenant.ID, u.ID, hash); err != nil {
		h.t.Fatal(err)
	}
}

// idpRequest checks that res redirects to the IdP and returns the AuthnRequest's ID and IsPassive.
func (h *harness) idpRequest(res *http.Response) (id string, passive bool) {
	h.t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.idp.SSOURL+"?SAMLRequest=") {
		h.t.Fatalf("want a redirect to the IdP, got %d to %q", res.StatusCode, loc)
	}
	id, acs, err := samltest.RequestOf(loc)
	if err != nil || id == "" || acs != h.acs("acme") {
		h.t.Fatalf("AuthnRequest: id %q acs %q: %v", id, acs, err)
	}
	u, _ := url.Parse(loc)
	raw, _ := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	doc, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		h.t.Fatal(err)
	}
	var req struct {
		IsPassive string `xml:"IsPassive,attr"`
	}
	if err := xml.Unmarshal(doc, &req); err != nil {
		h.t.Fatal(err)
	}
	return id, req.IsPassive == "true"
}

func setCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (h *harness) jarCookie(b *http.Client, name string) string {
	u, _ := url.Parse(h.srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// pageHeaders checks the headers every page of the people's flows carries. Referrer-Policy is same-origin:
// under no-referrer Chromium posts the page's own forms with "Origin: null" (seen in the browser tests).
func pageHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	want := map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %s is %q, want %q", what, k, got, v)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q", what, res.Header.Get("Content-Type"))
	}
}

// selectOptions returns the option values of the select named name on an HTML page.
func selectOptions(t *testing.T, body, name string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var out []string
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n.Type == html.ElementNode {
			if v, _ := attr(n, "name"); n.Data == "select" && v == name {
				in = true
			}
			if v, ok := attr(n, "value"); in && n.Data == "option" && ok {
				out = append(out, v)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	return out
}

// TestEmailFirstLogin: GET /login gives the email form and its CSRF cookie; POST /login finds the
// tenant by the email's domain and sends the browser to its IdP, or says clearly why not. Forged and
// cross-site posts are refused before anything is stored.
func TestEmailFirstLogin(t *testing.T) {
	h := newHarness(t, func(s *store.SSOSettings) { s.HardTimeout, s.MobileHardTimeout = 2*time.Hour, 30*24*time.Hour })

	t.Run("the login page", func(t *testing.T) {
		b := h.browser()
		res, body := h.send(b, http.MethodGet, "/login?return_to="+url.QueryEscape("/app/home"), nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /login: %d", res.StatusCode)
		}
		pageHeaders(t, "GET /login", res)
		c := setCookie(res, csrfCookie)
		if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" || len(c.Value) != 43 {
			t.Fatalf("CSRF cookie %+v", c)
		}
		f := h.formIn("/login", body, "/login")
		if f.Values.Get("csrf") != c.Value || f.Values.Get("return_to") != "/app/home" || !f.Values.Has("email") || f.Values.Has("client") || f.Values.Has("password") {
			t.Fatalf("form values %v (cookie %s)", f.Values, c.Value)
		}
		// The same browser keeps its token: a second tab's form stays valid.
		res, body = h.send(b, http.MethodGet, "/login", nil, nil)
		if setCookie(res, csrfCookie) != nil || h.formIn("/login", body, "/login").Values.Get("csrf") != c.Value {
			t.Fatal("a second GET /login replaced the CSRF token")
		}
		// An offsite return_to is not carried in the form.
		res, body = h.send(h.browser(), http.MethodGet, "/login?return_to="+url.QueryEscape("//evil.com/x"), nil, nil)
		if f := h.formIn("/login", body, "/login"); res.StatusCode != 200 || f.Values.Get("return_to") != "/me" {
			t.Fatalf("offsite return_to: %d, form %v", res.StatusCode, f.Values)
		}
	})

	otherToken := strings.Repeat("A", 43) // the shape of a token, not this browser's
	cases := []struct {
		name       string
		email      string
		edit       func(url.Values)
		hdr        map[string]string
		noCookie   bool   // posted from a browser that never got the CSRF cookie
		status     int    // 302: to the IdP
		message    string // on the page when refused
		answer     string // the IdP's email for the user, when sent to the IdP
		wantReturn string
	}{
		{name: "acme.com address goes to the IdP", email: "alice@acme.com", status: http.StatusFound, answer: "alice@acme.com", wantReturn: "/app/home"},
		{name: "second domain, mixed case and blanks", email: "  Dora@ACME.De ", status: http.StatusFound, answer: "dora@acme.de", wantReturn: "/app/home"},
		{name: "same-origin Origin and Sec-Fetch-Site", email: "eric@acme.com", hdr: map[string]string{"Origin": "", "Sec-Fetch-Site": "same-origin"},
			status: http.StatusFound, answer: "eric@acme.com", wantReturn: "/app/home"},
		{name: "offsite return_to lands on /me", email: "finn@acme.com", edit: func(v url.Values) { v.Set("return_to", "https://evil.com/") },
			status: http.StatusFound, answer: "finn@acme.com", wantReturn: "/me"},
		{name: "unknown domain", email: "gus@unknown.example", status: http.StatusNotFound,
			message: "No organisation signs in here with @unknown.example addresses"},
		{name: "not an email", email: "gus", status: http.StatusBadRequest, message: "Enter your work email address"},
		{name: "two @", email: "gus@x@acme.com", status: http.StatusBadRequest, message: "Enter your work email address"},
		{name: "look-alike letter", email: "gus@аcme.com", status: http.StatusBadRequest, message: "Enter your work email address"},
		{name: "local part over 64 characters (RFC 5321)", email: strings.Repeat("g", 65) + "@acme.com", status: http.StatusBadRequest, message: "Enter your work email address"},
		{name: "no CSRF field", email: "gus@acme.com", edit: func(v url.Values) { v.Del("csrf") }, status: http.StatusForbidden, message: formExpired},
		{name: "wrong CSRF field", email: "gus@acme.com", edit: func(v url.Values) { v.Set("csrf", otherToken) }, status: http.StatusForbidden, message: formExpired},
		{name: "no CSRF cookie", email: "gus@acme.com", noCookie: true, status: http.StatusForbidden, message: formExpired},
		{name: "cross-site Origin with a valid token", email: "gus@acme.com", hdr: map[string]string{"Origin": "https://evil.example"},
			status: http.StatusForbidden, message: formExpired},
		{name: "Origin null", email: "gus@acme.com", hdr: map[string]string{"Origin": "null"}, status: http.StatusForbidden, message: formExpired},
		{name: "Sec-Fetch-Site cross-site", email: "gus@acme.com", hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: http.StatusForbidden, message: formExpired},
		{name: "Sec-Fetch-Site same-site (a sibling subdomain)", email: "gus@acme.com", hdr: map[string]string{"Sec-Fetch-Site": "same-site"},
			status: http.StatusForbidden, message: formExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := h.browser()
			f := h.form(b, "/login?return_to="+url.QueryEscape("/app/home"), "/login")
			f.Values.Set("email", tc.email)
			if tc.edit != nil {
				tc.edit(f.Values)
			}
			hdr := map[string]string{}
			for k, v := range tc.hdr {
				if v == "" && k == "Origin" {
					v = h.srv.URL
				}
				hdr[k] = v
			}
			from := b
			if tc.noCookie {
				from = h.browser()
			}
			res, body := h.submit(from, f, hdr)
			if res.StatusCode != tc.status {
				t.Fatalf("POST /login: %d, want %d\n%s", res.StatusCode, tc.status, body)
			}
			if tc.status != http.StatusFound {
				pageHeaders(t, "refusal", res)
				if !strings.Contains(body, tc.message) {
					t.Fatalf("the page does not say %q:\n%s", tc.message, body)
				}
				if setCookie(res, bindingCookie) != nil || res.Header.Get("Location") != "" {
					t.Fatal("a refused POST /login started a sign-in")
				}
				return
			}
			if res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("redirect to the IdP: Referrer-Policy %q, Cache-Control %q", res.Header.Get("Referrer-Policy"), res.Header.Get("Cache-Control"))
			}
			if c := setCookie(res, bindingCookie); c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteNoneMode {
				t.Fatalf("binding cookie %+v", c)
			}
			id, passive := h.idpRequest(res)
			if passive {
				t.Fatal("an interactive sign-in asked for IsPassive")
			}
			// The request was stored and bound to this browser: the IdP's answer signs in.
			first, _, _ := strings.Cut(tc.answer, "@")
			acs := h.post(b, "acme", h.response("acme", id, person(tc.answer, first, "X"), nil), "")
			if acs.StatusCode != http.StatusSeeOther || acs.Header.Get("Location") != tc.wantReturn {
				t.Fatalf("answer: %d to %q, want %s", acs.StatusCode, acs.Header.Get("Location"), tc.wantReturn)
			}
			if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 || m.User.UserName != tc.answer || m.Session.Mobile {
				t.Fatalf("/me %d %+v", res.StatusCode, m)
			}
		})
	}

	// signIn goes through /login?query with email and returns the session /me reports.
	signIn := func(t *testing.T, query, email string) meDoc {
		t.Helper()
		b := h.browser()
		f := h.form(b, "/login"+query, "/login")
		f.Values.Set("email", email)
		res, body := h.submit(b, f, nil)
		if res.StatusCode != http.StatusFound {
			t.Fatalf("POST /login: %d\n%s", res.StatusCode, body)
		}
		id, _ := h.idpRequest(res)
		if acs := h.post(b, "acme", h.response("acme", id, person(email, "M", "M"), nil), ""); acs.StatusCode != http.StatusSeeOther {
			t.Fatalf("answer: %d", acs.StatusCode)
		}
		res, m := h.meAs(b, "application/json")
		if res.StatusCode != 200 || m.User.UserName != email {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
		return m
	}
	lifetime := func(m meDoc) time.Duration { return m.Session.ExpiresAt.Sub(m.Session.CreatedAt) }
	near := func(got, want time.Duration) bool { return got > want-time.Minute && got < want+time.Minute }

	t.Run("client=mobile makes a mobile session with the mobile hard timeout", func(t *testing.T) {
		if f := h.form(h.browser(), "/login?client=mobile", "/login"); f.Values.Get("client") != "mobile" {
			t.Fatalf("the mobile login form does not carry client=mobile: %v", f.Values)
		}
		if m := signIn(t, "?client=mobile", "mia@acme.com"); !m.Session.Mobile || !near(lifetime(m), 30*24*time.Hour) {
			t.Fatalf("mobile session %+v (lifetime %s)", m.Session, lifetime(m))
		}
		if m := signIn(t, "", "mia@acme.com"); m.Session.Mobile || !near(lifetime(m), 2*time.Hour) {
			t.Fatalf("browser session %+v (lifetime %s)", m.Session, lifetime(m))
		}
		h.configure(h.tenant, h.idp, func(s *store.SSOSettings) { s.MobileHardTimeout = 0 })
		if m := signIn(t, "?client=mobile", "mia@acme.com"); !m.Session.Mobile || !near(lifetime(m), 2*time.Hour) {
			t.Fatalf("mobile session without a mobile hard timeout %+v (lifetime %s)", m.Session, lifetime(m))
		}
	})

	t.Run("SSO not active", func(t *testing.T) {
		for _, state := range []string{"off", "testing"} {
			h.configure(h.tenant, h.idp, func(s *store.SSOSettings) { s.State = store.SSOState(state) })
			b := h.browser()
			f := h.form(b, "/login", "/login")
			f.Values.Set("email", "nils@acme.com")
			res, body := h.submit(b, f, nil)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Single sign-on is not switched on for acme") || setCookie(res, bindingCookie) != nil {
				t.Fatalf("state %s: %d\n%s", state, res.StatusCode, body)
			}
		}
	})

	t.Run("not a form", func(t *testing.T) {
		b := h.browser()
		f := h.form(b, "/login", "/login")
		res, body := h.send(b, http.MethodPost, "/login", nil, map[string]string{"Content-Type": "application/json"})
		if res.StatusCode != http.StatusBadRequest || f.Values.Get("csrf") == "" {
			t.Fatalf("JSON body: %d\n%s", res.StatusCode, body)
		}
	})
}

// TestPasswordSignIn: users on the exclusion list sign in with a password, within the failed-attempt
// limits; a password stored for anyone else is never usable.
func TestPasswordSignIn(t *testing.T) {
	h := newHarness(t, func(s *store.SSOSettings) {
		s.Exclude = []string{"admin@acme.com", "ops@acme.com", "root@acme.com", "ghost@acme.com", "svc@acme.com"}
	})
	const pw = "correct horse battery staple"
	admin := h.scimUser("admin@acme.com", "", true)
	h.setPassword(admin, pw)
	h.setPassword(h.scimUser("ops@acme.com", "", true), pw)
	h.setPassword(h.scimUser("svc@acme.com", "", true), pw)
	h.setPassword(h.scimUser("root@acme.com", "", false), pw) // deactivated
	h.setPassword(h.scimUser("bob@acme.com", "", true), pw)   // not excluded

	// passwordForm enters email in b's login form and returns the password form it gets.
	passwordForm := func(t *testing.T, b *http.Client, email string) samltest.Form {
		t.Helper()
		f := h.form(b, "/login?return_to="+url.QueryEscape("/app/home"), "/login")
		f.Values.Set("email", email)
		res, body := h.submit(b, f, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `type="password"`) {
			t.Fatalf("email %s: %d\n%s", email, res.StatusCode, body)
		}
		pageHeaders(t, "password form", res)
		pf := h.formIn("/login", body, "/login")
		if pf.Values.Get("email") != email || !pf.Values.Has("password") || pf.Values.Get("return_to") != "/app/home" || pf.Values.Get("csrf") == "" {
			t.Fatalf("password form values %v", pf.Values)
		}
		return pf
	}
	// try posts the password form with pw; a refused attempt must leave b without a session.
	try := func(t *testing.T, email, password string, want int) (*http.Response, string) {
		t.Helper()
		b := h.browser()
		f := passwordForm(t, b, email)
		f.Values.Set("password", password)
		res, body := h.submit(b, f, nil)
		if res.StatusCode != want {
			t.Fatalf("%s with password %q: %d, want %d\n%s", email, password, res.StatusCode, want, body)
		}
		status, m := h.me(b)
		switch {
		case want == http.StatusSeeOther && (res.Header.Get("Location") != "/app/home" || status != 200 || m.User.UserName != email):
			t.Fatalf("%s signed in: to %q, /me %d %+v", email, res.Header.Get("Location"), status, m)
		case want != http.StatusSeeOther && (status != http.StatusUnauthorized || setCookie(res, sessionCookie) != nil):
			t.Fatalf("%s refused with %d, yet /me %d", email, want, status)
		}
		return res, body
	}

	t.Run("right and wrong password", func(t *testing.T) {
		if _, body := try(t, "admin@acme.com", "wrong", http.StatusUnauthorized); !strings.Contains(body, "The email or password is not right.") {
			t.Fatalf("wrong password page:\n%s", body)
		}
		try(t, "admin@acme.com", "", http.StatusUnauthorized)
		try(t, "ADMIN@acme.com", pw+" ", http.StatusUnauthorized)
		res, _ := try(t, "admin@acme.com", pw, http.StatusSeeOther)
		if c := setCookie(res, sessionCookie); c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie %+v", c)
		}
	})

	t.Run("deactivated, unknown or not excluded: never signed in with the password", func(t *testing.T) {
		try(t, "root@acme.com", pw, http.StatusUnauthorized)  // deactivated
		try(t, "ghost@acme.com", pw, http.StatusUnauthorized) // excluded, no such user
		// bob is not excluded: email and password go to the IdP, the password is not even looked at.
		b := h.browser()
		f := h.form(b, "/login", "/login")
		f.Values.Set("email", "bob@acme.com")
		f.Values.Set("password", pw)
		res, body := h.submit(b, f, nil)
		if res.StatusCode != http.StatusFound || setCookie(res, sessionCookie) != nil || strings.Contains(body, `type="password"`) {
			t.Fatalf("non-excluded user with a password: %d\n%s", res.StatusCode, body)
		}
		h.idpRequest(res)
		if status, _ := h.me(b); status != http.StatusUnauthorized {
			t.Fatalf("/me %d", status)
		}
	})

	t.Run("excluded users sign in with SSO off", func(t *testing.T) {
		h.configure(h.tenant, h.idp, func(s *store.SSOSettings) { s.State = "off" })
		defer h.configure(h.tenant, h.idp, nil)
		try(t, "ops@acme.com", pw, http.StatusSeeOther)
	})

	t.Run("client=mobile makes a mobile password session", func(t *testing.T) {
		b := h.browser()
		f := h.form(b, "/login?client=mobile", "/login")
		f.Values.Set("email", "ops@acme.com")
		res, body := h.submit(b, f, nil)
		pf := h.formIn("/login", body, "/login")
		if res.StatusCode != http.StatusOK || pf.Values.Get("client") != "mobile" {
			t.Fatalf("mobile password form: %d %v", res.StatusCode, pf.Values)
		}
		pf.Values.Set("password", pw)
		if res, _ := h.submit(b, pf, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" {
			t.Fatalf("mobile password sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 || !m.Session.Mobile || m.User.UserName != "ops@acme.com" {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
	})

	t.Run("five failures lock the account for 15 minutes", func(t *testing.T) {
		for range 5 {
			try(t, "admin@acme.com", "guess", http.StatusUnauthorized)
		}
		res, body := try(t, "admin@acme.com", pw, http.StatusTooManyRequests)
		if res.Header.Get("Retry-After") != "900" || !strings.Contains(body, "Too many failed attempts") {
			t.Fatalf("429: Retry-After %q\n%s", res.Header.Get("Retry-After"), body)
		}
		pageHeaders(t, "429", res)
		try(t, "ops@acme.com", pw, http.StatusSeeOther) // the limit is the account's
		h.skew.Add(int64(14 * time.Minute))
		try(t, "admin@acme.com", pw, http.StatusTooManyRequests)
		h.skew.Add(int64(2 * time.Minute))
		try(t, "admin@acme.com", pw, http.StatusSeeOther)
	})

	t.Run("removed from the exclusion list: the stored password is no use", func(t *testing.T) {
		h.configure(h.tenant, h.idp, func(s *store.SSOSettings) { s.Exclude = []string{"ops@acme.com"} })
		defer h.configure(h.tenant, h.idp, func(s *store.SSOSettings) {
			s.Exclude = []string{"admin@acme.com", "ops@acme.com", "root@acme.com", "ghost@acme.com", "svc@acme.com"}
		})
		b := h.browser()
		f := h.form(b, "/login", "/login")
		f.Values.Set("email", "admin@acme.com")
		f.Values.Set("password", pw)
		res, _ := h.submit(b, f, nil)
		h.idpRequest(res)
		if status, _ := h.me(b); status != http.StatusUnauthorized {
			t.Fatalf("/me %d", status)
		}
	})

	t.Run("twenty failures from one address lock every account", func(t *testing.T) {
		h.skew.Add(int64(16 * time.Minute)) // the failures above have aged out
		for _, email := range []string{"admin@acme.com", "ops@acme.com", "ghost@acme.com", "root@acme.com"} {
			for range 5 {
				try(t, email, "guess", http.StatusUnauthorized)
			}
		}
		if res, _ := try(t, "svc@acme.com", pw, http.StatusTooManyRequests); res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		h.skew.Add(int64(16 * time.Minute))
		try(t, "svc@acme.com", pw, http.StatusSeeOther)
	})
}

// TestWelcome: a first sign-in that lacks the country or the team signs in to /welcome only, which
// offers the countries and the visible teams and refuses anything else.
func TestWelcome(t *testing.T) {
	// newWelcome is a harness whose tenant has teams and a department map; seed, if not nil, runs
	// before the map is imported.
	newWelcome := func(t *testing.T, configure func(*store.SSOSettings), seed ...func(*harness)) *harness {
		h := newHarness(t, configure)
		for _, tm := range []*store.Team{{Name: "Sales"}, {Name: "Engineering"}, {Name: "Board", Hidden: true}} {
			if err := h.st.CreateTeam(ctx, h.tenant.ID, tm); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range seed {
			f(h)
		}
		if err := h.st.ReplaceDepartmentMap(ctx, h.tenant.ID, []store.DepartmentMapping{{Department: "R&D", Team: "Engineering"}}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	dept := func(d string) func(*samltest.Response) {
		return func(r *samltest.Response) {
			r.Attrs = append(r.Attrs, samltest.Attr{Name: claimDept, Values: []string{d}})
		}
	}
	// signIn signs attrs in through the IdP with department d, and returns where the ACS sent the browser.
	signIn := func(h *harness, b *http.Client, attrs map[string]string, d string) string {
		h.t.Helper()
		res := h.post(b, "acme", h.response("acme", h.login(b, "acme", "/app/home"), attrs, dept(d)), "")
		if res.StatusCode != http.StatusSeeOther {
			h.t.Fatalf("ACS: %d", res.StatusCode)
		}
		return res.Header.Get("Location")
	}

	t.Run("no country, unmapped department: country and team asked", func(t *testing.T) {
		h := newWelcome(t, nil)
		if res, _ := h.send(h.browser(), http.MethodGet, "/welcome?return_to="+url.QueryEscape("/app/home"), nil, nil); res.StatusCode != http.StatusSeeOther ||
			res.Header.Get("Location") != "/login?return_to=%2Fapp%2Fhome" {
			t.Fatalf("/welcome without a session: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		b := h.browser()
		if to := signIn(h, b, with(person("lea@acme.com", "Lea", "L"), claimCtry, ""), "Legal"); to != "/welcome?return_to=%2Fapp%2Fhome" {
			t.Fatalf("ACS sends to %q", to)
		}
		u := h.user("lea@acme.com")
		if u == nil || u.Country != "" || u.Team != "" || u.Department != "Legal" {
			t.Fatalf("JIT user %+v", u)
		}
		if res, m := h.meAs(b, "application/json"); res.StatusCode != http.StatusForbidden || m.Error != "first sign-in incomplete" || m.Welcome != "/welcome" {
			t.Fatalf("/me while pending: %d %+v", res.StatusCode, m)
		}
		if res, _ := h.meAs(b, "text/html"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/welcome" {
			t.Fatalf("/me in a browser while pending: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}

		path := "/welcome?return_to=" + url.QueryEscape("/app/home")
		res, body := h.send(b, http.MethodGet, path, nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /welcome: %d", res.StatusCode)
		}
		pageHeaders(t, "GET /welcome", res)
		f := h.formIn(path, body, "/welcome")
		if f.Values.Get("csrf") != h.jarCookie(b, csrfCookie) || f.Values.Get("return_to") != "/app/home" || !f.Values.Has("country") || !f.Values.Has("team") {
			t.Fatalf("welcome form %v", f.Values)
		}
		if got := strings.Join(selectOptions(t, body, "team"), ","); got != ",Engineering,Sales" {
			t.Fatalf("teams offered %q, want Engineering and Sales only (not Board, not %s)", got, h.tenant.Name)
		}
		countries := "," + strings.Join(selectOptions(t, body, "country"), ",") + ","
		if !strings.Contains(countries, ",FR,") || !strings.Contains(countries, ",DE,") || !strings.HasPrefix(countries, ",,") || len(countries) < 200*3 {
			t.Fatalf("countries offered %q", countries)
		}

		for _, bad := range []struct {
			name, country, team, message string
			status                       int
			csrf                         bool
		}{
			{"alpha-3 country", "USA", "Sales", "Choose your country from the list.", 400, false},
			{"country name", "France", "Sales", "Choose your country from the list.", 400, false},
			{"unknown code", "XX", "Sales", "Choose your country from the list.", 400, false},
			{"no country", "", "Sales", "Choose your country from the list.", 400, false},
			{"hidden team", "FR", "Board", "Choose your team from the list.", 400, false},
			{"root team", "FR", h.tenant.Name, "Choose your team from the list.", 400, false},
			{"no such team", "FR", "Marketing", "Choose your team from the list.", 400, false},
			{"no team", "FR", "", "Choose your team from the list.", 400, false},
			{"team name in another case", "FR", "sales", "Choose your team from the list.", 400, false},
			{"no CSRF field", "FR", "Sales", formExpired, 403, true},
		} {
			v := url.Values{}
			for k := range f.Values {
				v.Set(k, f.Values.Get(k))
			}
			v.Set("country", bad.country)
			v.Set("team", bad.team)
			if bad.csrf {
				v.Del("csrf")
			}
			res, body := h.submit(b, samltest.Form{Action: f.Action, Method: f.Method, Values: v}, nil)
			if res.StatusCode != bad.status || !strings.Contains(body, bad.message) {
				t.Fatalf("%s: %d\n%s", bad.name, res.StatusCode, body)
			}
			if u := h.user("lea@acme.com"); u.Country != "" || u.Team != "" {
				t.Fatalf("%s: the user changed: %+v", bad.name, u)
			}
			if res, _ := h.meAs(b, "application/json"); res.StatusCode != http.StatusForbidden {
				t.Fatalf("%s: /me %d", bad.name, res.StatusCode)
			}
		}
		// From another site, with this browser's token.
		f.Values.Set("country", "FR")
		f.Values.Set("team", "Sales")
		if res, _ := h.submit(b, f, map[string]string{"Origin": "https://evil.example"}); res.StatusCode != http.StatusForbidden || h.user("lea@acme.com").Country != "" {
			t.Fatalf("cross-site welcome post: %d", res.StatusCode)
		}

		res, _ = h.submit(b, f, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app/home" {
			t.Fatalf("welcome: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if u := h.user("lea@acme.com"); u.Country != "FR" || u.Team != "Sales" || u.Department != "Legal" {
			t.Fatalf("after welcome: %+v", u)
		}
		if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 || m.Session.Pending || m.User.Team != "Sales" || m.User.Country != "FR" {
			t.Fatalf("/me after welcome: %d %+v", res.StatusCode, m)
		}
		// Complete: /welcome moves on, and a second post changes nothing.
		if res, _ := h.send(b, http.MethodGet, path, nil, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app/home" {
			t.Fatalf("/welcome when complete: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		f.Values.Set("team", "Engineering")
		h.submit(b, f, nil)
		if u := h.user("lea@acme.com"); u.Team != "Sales" {
			t.Fatalf("a second welcome post changed the team: %+v", u)
		}
		// The next sign-in asks nothing.
		if to := signIn(h, h.browser(), with(person("lea@acme.com", "Lea", "L"), claimCtry, ""), "Legal"); to != "/app/home" {
			t.Fatalf("second sign-in sends to %q", to)
		}
	})

	t.Run("mapped department and a country: placed in the team, nothing asked", func(t *testing.T) {
		h := newWelcome(t, nil)
		b := h.browser()
		if to := signIn(h, b, person("raj@acme.com", "Raj", "R"), "r&d"); to != "/app/home" {
			t.Fatalf("ACS sends to %q", to)
		}
		if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 || m.Session.Pending || m.User.Team != "Engineering" || m.User.Department != "r&d" {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
		if u := h.user("raj@acme.com"); u.Team != "Engineering" || u.Country != "DE" {
			t.Fatalf("user %+v", u)
		}
	})

	// Users SCIM provisioned with a department before the department map was imported have no team yet.
	provisioned := func(h *harness) {
		for name, d := range map[string]string{"root@acme.com": "Legal", "kai@acme.com": "R&D", "lou@acme.com": "R&D"} {
			u := h.scimUser(name, "", true)
			if _, err := h.st.UpdateUser(ctx, h.tenant.ID, u.ID, 0, store.Audit{Operation: "patch"}, func(u *store.User) error { u.Department = d; return nil }); err != nil {
				h.t.Fatal(err)
			}
			h.setPassword(u, "pw")
		}
	}
	excludeRootKai := func(s *store.SSOSettings) { s.Exclude = []string{"root@acme.com", "kai@acme.com"} }
	signInPW := func(h *harness, email string) (*http.Client, string) {
		h.t.Helper()
		b := h.browser()
		f := h.form(b, "/login?return_to="+url.QueryEscape("/app/home"), "/login")
		f.Values.Set("email", email)
		f.Values.Set("password", "pw")
		res, body := h.submit(b, f, nil)
		if res.StatusCode != http.StatusSeeOther {
			h.t.Fatalf("password sign-in of %s: %d\n%s", email, res.StatusCode, body)
		}
		return b, res.Header.Get("Location")
	}

	t.Run("password sign-in with an unmapped department: the team is asked", func(t *testing.T) {
		h := newWelcome(t, excludeRootKai, provisioned)
		b, to := signInPW(h, "root@acme.com")
		if to != "/welcome?return_to=%2Fapp%2Fhome" {
			t.Fatalf("unmapped department: sent to %q", to)
		}
		f := h.form(b, "/welcome?return_to="+url.QueryEscape("/app/home"), "/welcome")
		if f.Values.Has("country") || !f.Values.Has("team") { // the country came from SCIM
			t.Fatalf("welcome form %v", f.Values)
		}
		f.Values.Set("team", "Sales")
		if res, _ := h.submit(b, f, nil); res.StatusCode != http.StatusSeeOther || h.user("root@acme.com").Team != "Sales" {
			t.Fatalf("welcome: %d, user %+v", res.StatusCode, h.user("root@acme.com"))
		}
	})

	t.Run("SSO sign-in of a provisioned user places it by the department map", func(t *testing.T) {
		h := newWelcome(t, excludeRootKai, provisioned)
		if u := h.user("lou@acme.com"); u.Team != "" {
			t.Fatalf("provisioned before the map, yet in team %q", u.Team)
		}
		b := h.browser()
		if to := signIn(h, b, person("lou@acme.com", "Lou", "L"), "R&D"); to != "/app/home" {
			t.Fatalf("sent to %q", to)
		}
		if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 || m.User.Team != "Engineering" || h.user("lou@acme.com").Team != "Engineering" {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
	})

	t.Run("password sign-in of a provisioned user places it by the department map", func(t *testing.T) {
		h := newWelcome(t, excludeRootKai, provisioned)
		b, to := signInPW(h, "kai@acme.com")
		if to != "/app/home" {
			t.Fatalf("mapped department: sent to %q", to)
		}
		if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 || m.User.Team != "Engineering" || h.user("kai@acme.com").Team != "Engineering" {
			t.Fatalf("password user with a mapped department: /me %d, team %q, want Engineering", res.StatusCode, m.User.Team)
		}
	})

	t.Run("force-department asks the team even with a match", func(t *testing.T) {
		h := newWelcome(t, func(s *store.SSOSettings) { s.ForceDepartment = true })
		b := h.browser()
		if to := signIn(h, b, person("sol@acme.com", "Sol", "S"), "R&D"); to != "/welcome?return_to=%2Fapp%2Fhome" {
			t.Fatalf("ACS sends to %q", to)
		}
		path := "/welcome?return_to=" + url.QueryEscape("/app/home")
		f := h.form(b, path, "/welcome")
		if f.Values.Has("country") || f.Values.Get("team") != "Engineering" {
			t.Fatalf("force-department form %v: want the team only, the mapped one chosen", f.Values)
		}
		f.Values.Set("team", "Sales")
		if res, _ := h.submit(b, f, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("welcome: %d", res.StatusCode)
		}
		if u := h.user("sol@acme.com"); u.Team != "Sales" || u.Country != "DE" {
			t.Fatalf("user %+v", u)
		}
		if to := signIn(h, h.browser(), person("sol@acme.com", "Sol", "S"), "R&D"); to != "/app/home" {
			t.Fatalf("second sign-in sends to %q: force-department asks at the first only", to)
		}
	})
}

// TestSoftTimeout: a session idle beyond the soft timeout goes on only when the IdP silently vouches
// for the same user again; anything else ends it. Beyond the hard timeout it is gone.
func TestSoftTimeout(t *testing.T) {
	timeouts := func(s *store.SSOSettings) { s.SoftTimeout, s.HardTimeout = time.Hour, 2*time.Hour }
	alice := person("alice@acme.com", "Alice", "A")
	reauthURL := "/saml/acme/login?reauth=1&return_to=%2Fme"

	// idle signs alice in, lets the soft timeout pass, checks what /me answers, and starts the silent
	// re-authentication as the browser does. It returns the browser, the session before, and the
	// request ID.
	idle := func(t *testing.T, h *harness) (*http.Client, meDoc, string) {
		b := h.browser()
		h.post(b, "acme", h.response("acme", h.login(b, "acme", "/"), alice, nil), "")
		res, before := h.meAs(b, "application/json")
		if res.StatusCode != 200 {
			t.Fatalf("/me: %d", res.StatusCode)
		}
		h.skew.Store(int64(61 * time.Minute))
		res, m := h.meAs(b, "application/json")
		if res.StatusCode != http.StatusUnauthorized || m.Error != "re-authentication required" || m.Login != reauthURL {
			t.Fatalf("/me after the soft timeout: %d %+v", res.StatusCode, m)
		}
		res, _ = h.meAs(b, "text/html")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != reauthURL {
			t.Fatalf("/me in a browser after the soft timeout: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		res, _ = h.send(b, http.MethodGet, res.Header.Get("Location"), nil, nil)
		id, passive := h.idpRequest(res)
		if !passive {
			t.Fatal("the re-authentication request is not IsPassive")
		}
		return b, before, id
	}

	evil, err := samltest.New("https://idp.example/acme", "https://idp.example/sso", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		attrs  map[string]string
		mutate func(*samltest.Response)
		goesOn bool
	}{
		{name: "the same user: the session goes on", attrs: alice, goesOn: true},
		{name: "the same user, email in another case", attrs: with(alice, claimEmail, "Alice@ACME.com"), goesOn: true},
		{name: "another user: the session ends", attrs: person("bob@acme.com", "Bob", "B")},
		{name: "IdP answers NoPassive (status Responder)", attrs: alice, mutate: func(r *samltest.Response) {
			r.Status = "urn:oasis:names:tc:SAML:2.0:status:Responder"
		}},
		{name: "signed by another key", attrs: alice, mutate: func(r *samltest.Response) { r.Signer = evil }},
		{name: "answered for another audience", attrs: alice, mutate: func(r *samltest.Response) { r.Audience = "https://other.example/sp" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, timeouts)
			b, before, id := idle(t, h)
			cookie := h.jarCookie(b, sessionCookie)
			// The IdP answers at the real time: crewjam checks an assertion's times against the real
			// clock (saml.TimeNow), not the server's skewed one.
			res := h.post(b, "acme", h.response("acme", id, tc.attrs, tc.mutate), "")
			if !tc.goesOn {
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
					t.Fatalf("failed re-authentication: %d to %q", res.StatusCode, res.Header.Get("Location"))
				}
				if c := setCookie(res, sessionCookie); c == nil || c.MaxAge >= 0 {
					t.Fatalf("the session cookie is not cleared: %+v", c)
				}
				if res, m := h.meAs(b, "application/json"); res.StatusCode != http.StatusUnauthorized || m.Error != "not signed in" {
					t.Fatalf("/me after a failed re-authentication: %d %+v", res.StatusCode, m)
				}
				// Ended on the server: the old cookie, kept by a copy, is no use either.
				copyB := h.browser()
				u, _ := url.Parse(h.srv.URL)
				copyB.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: cookie, Path: "/"}})
				if res, m := h.meAs(copyB, "application/json"); res.StatusCode != http.StatusUnauthorized || m.Error != "not signed in" {
					t.Fatalf("the ended session's cookie: /me %d %+v", res.StatusCode, m)
				}
				if us := h.users(); len(us) != 1 || us[0].UserName != "alice@acme.com" {
					t.Fatalf("users after a failed re-authentication: %+v", us)
				}
				return
			}
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" {
				t.Fatalf("re-authentication: %d to %q (refusal %q)", res.StatusCode, res.Header.Get("Location"), h.refusal())
			}
			if setCookie(res, sessionCookie) != nil || h.jarCookie(b, sessionCookie) != cookie {
				t.Fatal("re-authentication replaced the session cookie")
			}
			r2, m := h.meAs(b, "application/json")
			if r2.StatusCode != 200 || m.User.ID != before.User.ID || !m.Session.CreatedAt.Equal(before.Session.CreatedAt) {
				t.Fatalf("/me after re-authentication: %d %+v", r2.StatusCode, m)
			}
			if moved := m.Session.LastSeenAt.Sub(before.Session.LastSeenAt); moved < 60*time.Minute {
				t.Fatalf("lastSeenAt moved by %s", moved)
			}
			if m.Session.ExpiresAt.Sub(m.Session.LastSeenAt) < 119*time.Minute {
				t.Fatalf("the hard expiry did not move: %+v", m.Session)
			}
			if len(h.users()) != 1 {
				t.Fatalf("users: %+v", h.users())
			}
		})
	}

	t.Run("use moves both timeouts; beyond the hard timeout the session is gone", func(t *testing.T) {
		h := newHarness(t, timeouts)
		b := h.browser()
		h.post(b, "acme", h.response("acme", h.login(b, "acme", "/"), alice, nil), "")
		h.skew.Store(int64(59 * time.Minute))
		if res, _ := h.meAs(b, "application/json"); res.StatusCode != 200 {
			t.Fatalf("59 idle minutes: %d", res.StatusCode)
		}
		// 62 minutes after that use: past the soft timeout, and past the first hard expiry (2 h after
		// sign-in) had the use not moved it.
		h.skew.Store(int64(121 * time.Minute))
		if res, m := h.meAs(b, "application/json"); res.StatusCode != http.StatusUnauthorized || m.Error != "re-authentication required" {
			t.Fatalf("62 minutes after the last use: %d %+v", res.StatusCode, m)
		}
		h.skew.Store(int64(180 * time.Minute)) // 121 minutes after the last use
		res, m := h.meAs(b, "application/json")
		if res.StatusCode != http.StatusUnauthorized || m.Error != "not signed in" || m.Login != "/login" {
			t.Fatalf("beyond the hard timeout: %d %+v", res.StatusCode, m)
		}
		if res, _ := h.meAs(b, "text/html"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Fatalf("beyond the hard timeout in a browser: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		// reauth=1 without a live session is an ordinary interactive sign-in.
		res, _ = h.send(b, http.MethodGet, reauthURL, nil, nil)
		if _, passive := h.idpRequest(res); passive {
			t.Fatal("reauth=1 without a live session asked for IsPassive")
		}
	})

	t.Run("a password user is never sent to the IdP", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { timeouts(s); s.Exclude = []string{"admin@acme.com"} })
		h.setPassword(h.scimUser("admin@acme.com", "", true), "pw")
		b := h.browser()
		f := h.form(b, "/login", "/login")
		f.Values.Set("email", "admin@acme.com")
		f.Values.Set("password", "pw")
		if res, _ := h.submit(b, f, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("password sign-in: %d", res.StatusCode)
		}
		h.skew.Store(int64(61 * time.Minute))
		if res, m := h.meAs(b, "application/json"); res.StatusCode != 200 {
			t.Fatalf("password session after the soft timeout: %d %+v", res.StatusCode, m)
		}
	})
}

// TestTestMode: a test sign-in (opened from a one-time link, see TestTestLink) reports what the IdP
// sent and what scimsso would do, and stores nothing, while the tenant is testing or active.
func TestTestMode(t *testing.T) {
	sam := person("sam@acme.com", "Sam", "S")
	// start begins a test sign-in in b from a one-time test link and returns the request ID.
	start := func(h *harness, b *http.Client) string {
		h.t.Helper()
		return h.startTest(b, h.testLink("acme", time.Hour))
	}
	// report posts a test answer and checks it got a report page that stored nothing.
	report := func(t *testing.T, h *harness, b *http.Client, doc []byte) string {
		t.Helper()
		before := h.users()
		res, body := h.postACS(b, "acme", doc)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Nothing was stored") {
			t.Fatalf("test answer: %d\n%s", res.StatusCode, body)
		}
		pageHeaders(t, "report", res)
		if setCookie(res, sessionCookie) != nil {
			t.Fatal("a test answer set a session cookie")
		}
		if status, _ := h.me(b); status != http.StatusUnauthorized {
			t.Fatalf("a test answer made a session: /me %d", status)
		}
		after := h.users()
		if len(after) != len(before) {
			t.Fatalf("a test answer changed the users: %+v", after)
		}
		for i := range after {
			if after[i].Version != before[i].Version {
				t.Fatalf("a test answer changed user %s", after[i].UserName)
			}
		}
		return body
	}
	evil, err := samltest.New("https://idp.example/acme", "https://idp.example/sso", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	for _, state := range []string{"testing", "active"} {
		t.Run("state "+state, func(t *testing.T) {
			h := newHarness(t, func(s *store.SSOSettings) { s.State = store.SSOState(state) })
			b := h.browser()
			body := report(t, h, b, h.response("acme", start(h, b), sam, nil))
			fp := sha256.Sum256(h.idp.Cert.Raw)
			for _, want := range []string{
				h.idp.EntityID, "<code>sam@acme.com</code>", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
				claimEmail, claimFirst, claimLast, claimCtry,
				"scimsso would create user sam@acme.com just in time",
				fmt.Sprintf("SHA-256 fingerprint %X", fp),
				"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("the report lacks %q", want)
				}
			}
			if t.Failed() {
				t.Fatalf("report:\n%s", body)
			}

			sue := h.scimUser("sue@acme.com", "", true)
			body = report(t, h, b, h.response("acme", start(h, b), person("sue@acme.com", "Sue", "S"), nil))
			if want := "scimsso would sign in user " + sue.ID + " (sue@acme.com), matched by email"; !strings.Contains(body, want) {
				t.Fatalf("the report lacks %q:\n%s", want, body)
			}

			for _, bad := range []struct {
				name, code string
				mutate     func(*samltest.Response)
			}{
				{"another audience", "invalid", func(r *samltest.Response) { r.Audience = "https://other.example/sp" }},
				{"signed by another key", "invalid", func(r *samltest.Response) { r.Signer = evil }},
				{"status Responder", "status", func(r *samltest.Response) { r.Status = "urn:oasis:names:tc:SAML:2.0:status:Responder" }},
				{"expired", "invalid", func(r *samltest.Response) { r.Now = time.Now().Add(-20 * time.Minute) }},
			} {
				body := report(t, h, b, h.response("acme", start(h, b), sam, bad.mutate))
				if want := "scimsso would refuse this sign-in (" + bad.code + ")"; !strings.Contains(body, want) {
					t.Fatalf("%s: the report lacks %q:\n%s", bad.name, want, body)
				}
			}

			// The answer to a test request posted by another browser gets no report and no detail.
			doc := h.response("acme", start(h, b), sam, func(r *samltest.Response) { r.Audience = "https://other.example/sp" })
			res, body := h.postACS(h.browser(), "acme", doc)
			if res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") || strings.Contains(body, "other.example") {
				t.Fatalf("a test answer from another browser: %d\n%s", res.StatusCode, body)
			}
			// An unsolicited answer that fails validation is no test: the usual refusal, no detail.
			doc = h.response("acme", "", sam, func(r *samltest.Response) { r.Audience = "https://other.example/sp" })
			res, body = h.postACS(b, "acme", doc)
			if res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") || strings.Contains(body, "other.example") {
				t.Fatalf("an unsolicited refused answer: %d\n%s", res.StatusCode, body)
			}
			if len(h.users()) != 1 {
				t.Fatalf("users: %+v", h.users())
			}
		})
	}

	t.Run("interactive sign-in is off while testing", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "testing" })
		if res, _ := h.send(h.browser(), http.MethodGet, "/saml/acme/login", nil, nil); res.StatusCode != http.StatusForbidden {
			t.Fatalf("/saml/acme/login while testing: %d", res.StatusCode)
		}
	})

	t.Run("state off", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "off" })
		res, body := h.send(h.browser(), http.MethodGet, "/saml/acme/test", nil, nil)
		if res.StatusCode != http.StatusForbidden || setCookie(res, bindingCookie) != nil || !strings.Contains(body, "Single sign-on is off") {
			t.Fatalf("/saml/acme/test with SSO off: %d\n%s", res.StatusCode, body)
		}
		if res, _ := h.send(h.browser(), http.MethodGet, "/saml/nosuch/test", nil, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("/saml/nosuch/test: %d", res.StatusCode)
		}
	})
}
