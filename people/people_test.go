package people_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// The people's side of sign-in, driven over HTTP as a browser drives it: the email-first /login form,
// passwords for excluded users, the first sign-in form at /welcome, silent re-authentication after the
// soft timeout, and an admin's test sign-in. Every form is fetched, its CSRF field read from the page,
// and posted back.

// TestEmailFirstLogin: GET /login gives the email form and its CSRF cookie; POST /login finds the
// tenant by the email's domain and sends the browser to its IdP, or says clearly why not. Forged and
// cross-site posts are refused before anything is stored.
func TestEmailFirstLogin(t *testing.T) {
	h := newHarness(t, func(s *store.SSOSettings) { s.HardTimeout, s.MobileHardTimeout = 2*time.Hour, 30*24*time.Hour })

	t.Run("the login page", func(t *testing.T) {
		b := h.Browser()
		res, body := h.Send(b, http.MethodGet, "/login?return_to="+url.QueryEscape("/app/home"), nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /login: %d", res.StatusCode)
		}
		pageHeaders(t, "GET /login", res)
		c := setCookie(res, csrfCookie)
		if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" || len(c.Value) != 43 {
			t.Fatalf("CSRF cookie %+v", c)
		}
		f := h.FormIn("/login", body, "/login")
		if f.Values.Get("csrf") != c.Value || f.Values.Get("return_to") != "/app/home" || !f.Values.Has("email") || f.Values.Has("client") || f.Values.Has("password") {
			t.Fatalf("form values %v (cookie %s)", f.Values, c.Value)
		}
		// The same browser keeps its token: a second tab's form stays valid.
		res, body = h.Send(b, http.MethodGet, "/login", nil, nil)
		if setCookie(res, csrfCookie) != nil || h.FormIn("/login", body, "/login").Values.Get("csrf") != c.Value {
			t.Fatal("a second GET /login replaced the CSRF token")
		}
		// An offsite return_to is not carried in the form.
		res, body = h.Send(h.Browser(), http.MethodGet, "/login?return_to="+url.QueryEscape("//evil.com/x"), nil, nil)
		if f := h.FormIn("/login", body, "/login"); res.StatusCode != 200 || f.Values.Get("return_to") != "/me" {
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
			b := h.Browser()
			f := h.Form(b, "/login?return_to="+url.QueryEscape("/app/home"), "/login")
			f.Values.Set("email", tc.email)
			if tc.edit != nil {
				tc.edit(f.Values)
			}
			hdr := map[string]string{}
			for k, v := range tc.hdr {
				if v == "" && k == "Origin" {
					v = h.Srv.URL
				}
				hdr[k] = v
			}
			from := b
			if tc.noCookie {
				from = h.Browser()
			}
			res, body := h.Submit(from, f, hdr)
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
			id, passive := h.IdpRequest(res)
			if passive {
				t.Fatal("an interactive sign-in asked for IsPassive")
			}
			// The request was stored and bound to this browser: the IdP's answer signs in.
			first, _, _ := strings.Cut(tc.answer, "@")
			acs := h.Post(b, "acme", h.Response("acme", id, person(tc.answer, first, "X"), nil), "")
			if acs.StatusCode != http.StatusSeeOther || acs.Header.Get("Location") != tc.wantReturn {
				t.Fatalf("answer: %d to %q, want %s", acs.StatusCode, acs.Header.Get("Location"), tc.wantReturn)
			}
			if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 || m.User.UserName != tc.answer || m.Session.Mobile {
				t.Fatalf("/me %d %+v", res.StatusCode, m)
			}
		})
	}

	// signIn goes through /login?query with email and returns the session /me reports.
	signIn := func(t *testing.T, query, email string) meDoc {
		t.Helper()
		b := h.Browser()
		f := h.Form(b, "/login"+query, "/login")
		f.Values.Set("email", email)
		res, body := h.Submit(b, f, nil)
		if res.StatusCode != http.StatusFound {
			t.Fatalf("POST /login: %d\n%s", res.StatusCode, body)
		}
		id, _ := h.IdpRequest(res)
		if acs := h.Post(b, "acme", h.Response("acme", id, person(email, "M", "M"), nil), ""); acs.StatusCode != http.StatusSeeOther {
			t.Fatalf("answer: %d", acs.StatusCode)
		}
		res, m := h.MeAs(b, "application/json")
		if res.StatusCode != 200 || m.User.UserName != email {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
		return m
	}
	lifetime := func(m meDoc) time.Duration { return m.Session.ExpiresAt.Sub(m.Session.CreatedAt) }
	near := func(got, want time.Duration) bool { return got > want-time.Minute && got < want+time.Minute }

	t.Run("client=mobile makes a mobile session with the mobile hard timeout", func(t *testing.T) {
		if f := h.Form(h.Browser(), "/login?client=mobile", "/login"); f.Values.Get("client") != "mobile" {
			t.Fatalf("the mobile login form does not carry client=mobile: %v", f.Values)
		}
		if m := signIn(t, "?client=mobile", "mia@acme.com"); !m.Session.Mobile || !near(lifetime(m), 30*24*time.Hour) {
			t.Fatalf("mobile session %+v (lifetime %s)", m.Session, lifetime(m))
		}
		if m := signIn(t, "", "mia@acme.com"); m.Session.Mobile || !near(lifetime(m), 2*time.Hour) {
			t.Fatalf("browser session %+v (lifetime %s)", m.Session, lifetime(m))
		}
		h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.MobileHardTimeout = 0 })
		if m := signIn(t, "?client=mobile", "mia@acme.com"); !m.Session.Mobile || !near(lifetime(m), 2*time.Hour) {
			t.Fatalf("mobile session without a mobile hard timeout %+v (lifetime %s)", m.Session, lifetime(m))
		}
	})

	t.Run("SSO not active", func(t *testing.T) {
		for _, state := range []string{"off", "testing"} {
			h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.State = store.SSOState(state) })
			b := h.Browser()
			f := h.Form(b, "/login", "/login")
			f.Values.Set("email", "nils@acme.com")
			res, body := h.Submit(b, f, nil)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Single sign-on is not switched on for acme") || setCookie(res, bindingCookie) != nil {
				t.Fatalf("state %s: %d\n%s", state, res.StatusCode, body)
			}
		}
	})

	t.Run("not a form", func(t *testing.T) {
		b := h.Browser()
		f := h.Form(b, "/login", "/login")
		res, body := h.Send(b, http.MethodPost, "/login", nil, map[string]string{"Content-Type": "application/json"})
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
	admin := h.ScimUser("admin@acme.com", "", true)
	h.SetPassword(admin, pw)
	h.SetPassword(h.ScimUser("ops@acme.com", "", true), pw)
	h.SetPassword(h.ScimUser("svc@acme.com", "", true), pw)
	h.SetPassword(h.ScimUser("root@acme.com", "", false), pw) // deactivated
	h.SetPassword(h.ScimUser("bob@acme.com", "", true), pw)   // not excluded

	// passwordForm enters email in b's login form and returns the password form it gets.
	passwordForm := func(t *testing.T, b *http.Client, email string) samltest.Form {
		t.Helper()
		f := h.Form(b, "/login?return_to="+url.QueryEscape("/app/home"), "/login")
		f.Values.Set("email", email)
		res, body := h.Submit(b, f, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `type="password"`) {
			t.Fatalf("email %s: %d\n%s", email, res.StatusCode, body)
		}
		pageHeaders(t, "password form", res)
		pf := h.FormIn("/login", body, "/login")
		if pf.Values.Get("email") != email || !pf.Values.Has("password") || pf.Values.Get("return_to") != "/app/home" || pf.Values.Get("csrf") == "" {
			t.Fatalf("password form values %v", pf.Values)
		}
		return pf
	}
	// try posts the password form with pw; a refused attempt must leave b without a session.
	try := func(t *testing.T, email, password string, want int) (*http.Response, string) {
		t.Helper()
		b := h.Browser()
		f := passwordForm(t, b, email)
		f.Values.Set("password", password)
		res, body := h.Submit(b, f, nil)
		if res.StatusCode != want {
			t.Fatalf("%s with password %q: %d, want %d\n%s", email, password, res.StatusCode, want, body)
		}
		status, m := h.Me(b)
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
		b := h.Browser()
		f := h.Form(b, "/login", "/login")
		f.Values.Set("email", "bob@acme.com")
		f.Values.Set("password", pw)
		res, body := h.Submit(b, f, nil)
		if res.StatusCode != http.StatusFound || setCookie(res, sessionCookie) != nil || strings.Contains(body, `type="password"`) {
			t.Fatalf("non-excluded user with a password: %d\n%s", res.StatusCode, body)
		}
		h.IdpRequest(res)
		if status, _ := h.Me(b); status != http.StatusUnauthorized {
			t.Fatalf("/me %d", status)
		}
	})

	t.Run("excluded users sign in with SSO off", func(t *testing.T) {
		h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.State = "off" })
		defer h.Configure(h.Tenant, h.IdP, nil)
		try(t, "ops@acme.com", pw, http.StatusSeeOther)
	})

	t.Run("client=mobile makes a mobile password session", func(t *testing.T) {
		b := h.Browser()
		f := h.Form(b, "/login?client=mobile", "/login")
		f.Values.Set("email", "ops@acme.com")
		res, body := h.Submit(b, f, nil)
		pf := h.FormIn("/login", body, "/login")
		if res.StatusCode != http.StatusOK || pf.Values.Get("client") != "mobile" {
			t.Fatalf("mobile password form: %d %v", res.StatusCode, pf.Values)
		}
		pf.Values.Set("password", pw)
		if res, _ := h.Submit(b, pf, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" {
			t.Fatalf("mobile password sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 || !m.Session.Mobile || m.User.UserName != "ops@acme.com" {
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
		h.Skew.Add(int64(14 * time.Minute))
		try(t, "admin@acme.com", pw, http.StatusTooManyRequests)
		h.Skew.Add(int64(2 * time.Minute))
		try(t, "admin@acme.com", pw, http.StatusSeeOther)
	})

	t.Run("removed from the exclusion list: the stored password is no use", func(t *testing.T) {
		h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.Exclude = []string{"ops@acme.com"} })
		defer h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) {
			s.Exclude = []string{"admin@acme.com", "ops@acme.com", "root@acme.com", "ghost@acme.com", "svc@acme.com"}
		})
		b := h.Browser()
		f := h.Form(b, "/login", "/login")
		f.Values.Set("email", "admin@acme.com")
		f.Values.Set("password", pw)
		res, _ := h.Submit(b, f, nil)
		h.IdpRequest(res)
		if status, _ := h.Me(b); status != http.StatusUnauthorized {
			t.Fatalf("/me %d", status)
		}
	})

	t.Run("twenty failures from one address lock every account", func(t *testing.T) {
		h.Skew.Add(int64(16 * time.Minute)) // the failures above have aged out
		for _, email := range []string{"admin@acme.com", "ops@acme.com", "ghost@acme.com", "root@acme.com"} {
			for range 5 {
				try(t, email, "guess", http.StatusUnauthorized)
			}
		}
		if res, _ := try(t, "svc@acme.com", pw, http.StatusTooManyRequests); res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		h.Skew.Add(int64(16 * time.Minute))
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
			if err := h.St.CreateTeam(ctx, h.Tenant.ID, tm); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range seed {
			f(h)
		}
		if err := h.St.ReplaceDepartmentMap(ctx, h.Tenant.ID, []store.DepartmentMapping{{Department: "R&D", Team: "Engineering"}}); err != nil {
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
		h.T.Helper()
		res := h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/app/home"), attrs, dept(d)), "")
		if res.StatusCode != http.StatusSeeOther {
			h.T.Fatalf("ACS: %d", res.StatusCode)
		}
		return res.Header.Get("Location")
	}

	t.Run("no country, unmapped department: country and team asked", func(t *testing.T) {
		h := newWelcome(t, nil)
		if res, _ := h.Send(h.Browser(), http.MethodGet, "/welcome?return_to="+url.QueryEscape("/app/home"), nil, nil); res.StatusCode != http.StatusSeeOther ||
			res.Header.Get("Location") != "/login?return_to=%2Fapp%2Fhome" {
			t.Fatalf("/welcome without a session: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		b := h.Browser()
		if to := signIn(h, b, with(person("lea@acme.com", "Lea", "L"), claimCtry, ""), "Legal"); to != "/welcome?return_to=%2Fapp%2Fhome" {
			t.Fatalf("ACS sends to %q", to)
		}
		u := h.User("lea@acme.com")
		if u == nil || u.Country != "" || u.Team != "" || u.Department != "Legal" {
			t.Fatalf("JIT user %+v", u)
		}
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != http.StatusForbidden || m.Error != "first sign-in incomplete" || m.Welcome != "/welcome" {
			t.Fatalf("/me while pending: %d %+v", res.StatusCode, m)
		}
		if res, _ := h.MeAs(b, "text/html"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/welcome" {
			t.Fatalf("/me in a browser while pending: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}

		path := "/welcome?return_to=" + url.QueryEscape("/app/home")
		res, body := h.Send(b, http.MethodGet, path, nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /welcome: %d", res.StatusCode)
		}
		pageHeaders(t, "GET /welcome", res)
		f := h.FormIn(path, body, "/welcome")
		if f.Values.Get("csrf") != h.JarCookie(b, csrfCookie) || f.Values.Get("return_to") != "/app/home" || !f.Values.Has("country") || !f.Values.Has("team") {
			t.Fatalf("welcome form %v", f.Values)
		}
		if got := strings.Join(selectOptions(t, body, "team"), ","); got != ",Engineering,Sales" {
			t.Fatalf("teams offered %q, want Engineering and Sales only (not Board, not %s)", got, h.Tenant.Name)
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
			{"root team", "FR", h.Tenant.Name, "Choose your team from the list.", 400, false},
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
			res, body := h.Submit(b, samltest.Form{Action: f.Action, Method: f.Method, Values: v}, nil)
			if res.StatusCode != bad.status || !strings.Contains(body, bad.message) {
				t.Fatalf("%s: %d\n%s", bad.name, res.StatusCode, body)
			}
			if u := h.User("lea@acme.com"); u.Country != "" || u.Team != "" {
				t.Fatalf("%s: the user changed: %+v", bad.name, u)
			}
			if res, _ := h.MeAs(b, "application/json"); res.StatusCode != http.StatusForbidden {
				t.Fatalf("%s: /me %d", bad.name, res.StatusCode)
			}
		}
		// From another site, with this browser's token.
		f.Values.Set("country", "FR")
		f.Values.Set("team", "Sales")
		if res, _ := h.Submit(b, f, map[string]string{"Origin": "https://evil.example"}); res.StatusCode != http.StatusForbidden || h.User("lea@acme.com").Country != "" {
			t.Fatalf("cross-site welcome post: %d", res.StatusCode)
		}

		res, _ = h.Submit(b, f, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app/home" {
			t.Fatalf("welcome: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if u := h.User("lea@acme.com"); u.Country != "FR" || u.Team != "Sales" || u.Department != "Legal" {
			t.Fatalf("after welcome: %+v", u)
		}
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 || m.Session.Pending || m.User.Team != "Sales" || m.User.Country != "FR" {
			t.Fatalf("/me after welcome: %d %+v", res.StatusCode, m)
		}
		// Complete: /welcome moves on, and a second post changes nothing.
		if res, _ := h.Send(b, http.MethodGet, path, nil, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app/home" {
			t.Fatalf("/welcome when complete: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		f.Values.Set("team", "Engineering")
		h.Submit(b, f, nil)
		if u := h.User("lea@acme.com"); u.Team != "Sales" {
			t.Fatalf("a second welcome post changed the team: %+v", u)
		}
		// The next sign-in asks nothing.
		if to := signIn(h, h.Browser(), with(person("lea@acme.com", "Lea", "L"), claimCtry, ""), "Legal"); to != "/app/home" {
			t.Fatalf("second sign-in sends to %q", to)
		}
	})

	t.Run("mapped department and a country: placed in the team, nothing asked", func(t *testing.T) {
		h := newWelcome(t, nil)
		b := h.Browser()
		if to := signIn(h, b, person("raj@acme.com", "Raj", "R"), "r&d"); to != "/app/home" {
			t.Fatalf("ACS sends to %q", to)
		}
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 || m.Session.Pending || m.User.Team != "Engineering" || m.User.Department != "r&d" {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
		if u := h.User("raj@acme.com"); u.Team != "Engineering" || u.Country != "DE" {
			t.Fatalf("user %+v", u)
		}
	})

	// Users SCIM provisioned with a department before the department map was imported have no team yet.
	provisioned := func(h *harness) {
		for name, d := range map[string]string{"root@acme.com": "Legal", "kai@acme.com": "R&D", "lou@acme.com": "R&D"} {
			u := h.ScimUser(name, "", true)
			if _, err := h.St.UpdateUser(ctx, h.Tenant.ID, u.ID, 0, store.Audit{Operation: "patch"}, func(u *store.User) error { u.Department = d; return nil }); err != nil {
				h.T.Fatal(err)
			}
			h.SetPassword(u, "pw")
		}
	}
	excludeRootKai := func(s *store.SSOSettings) { s.Exclude = []string{"root@acme.com", "kai@acme.com"} }
	signInPW := func(h *harness, email string) (*http.Client, string) {
		h.T.Helper()
		b := h.Browser()
		f := h.Form(b, "/login?return_to="+url.QueryEscape("/app/home"), "/login")
		f.Values.Set("email", email)
		f.Values.Set("password", "pw")
		res, body := h.Submit(b, f, nil)
		if res.StatusCode != http.StatusSeeOther {
			h.T.Fatalf("password sign-in of %s: %d\n%s", email, res.StatusCode, body)
		}
		return b, res.Header.Get("Location")
	}

	t.Run("password sign-in with an unmapped department: the team is asked", func(t *testing.T) {
		h := newWelcome(t, excludeRootKai, provisioned)
		b, to := signInPW(h, "root@acme.com")
		if to != "/welcome?return_to=%2Fapp%2Fhome" {
			t.Fatalf("unmapped department: sent to %q", to)
		}
		f := h.Form(b, "/welcome?return_to="+url.QueryEscape("/app/home"), "/welcome")
		if f.Values.Has("country") || !f.Values.Has("team") { // the country came from SCIM
			t.Fatalf("welcome form %v", f.Values)
		}
		f.Values.Set("team", "Sales")
		if res, _ := h.Submit(b, f, nil); res.StatusCode != http.StatusSeeOther || h.User("root@acme.com").Team != "Sales" {
			t.Fatalf("welcome: %d, user %+v", res.StatusCode, h.User("root@acme.com"))
		}
	})

	t.Run("SSO sign-in of a provisioned user places it by the department map", func(t *testing.T) {
		h := newWelcome(t, excludeRootKai, provisioned)
		if u := h.User("lou@acme.com"); u.Team != "" {
			t.Fatalf("provisioned before the map, yet in team %q", u.Team)
		}
		b := h.Browser()
		if to := signIn(h, b, person("lou@acme.com", "Lou", "L"), "R&D"); to != "/app/home" {
			t.Fatalf("sent to %q", to)
		}
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 || m.User.Team != "Engineering" || h.User("lou@acme.com").Team != "Engineering" {
			t.Fatalf("/me %d %+v", res.StatusCode, m)
		}
	})

	t.Run("password sign-in of a provisioned user places it by the department map", func(t *testing.T) {
		h := newWelcome(t, excludeRootKai, provisioned)
		b, to := signInPW(h, "kai@acme.com")
		if to != "/app/home" {
			t.Fatalf("mapped department: sent to %q", to)
		}
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 || m.User.Team != "Engineering" || h.User("kai@acme.com").Team != "Engineering" {
			t.Fatalf("password user with a mapped department: /me %d, team %q, want Engineering", res.StatusCode, m.User.Team)
		}
	})

	t.Run("force-department asks the team even with a match", func(t *testing.T) {
		h := newWelcome(t, func(s *store.SSOSettings) { s.ForceDepartment = true })
		b := h.Browser()
		if to := signIn(h, b, person("sol@acme.com", "Sol", "S"), "R&D"); to != "/welcome?return_to=%2Fapp%2Fhome" {
			t.Fatalf("ACS sends to %q", to)
		}
		path := "/welcome?return_to=" + url.QueryEscape("/app/home")
		f := h.Form(b, path, "/welcome")
		if f.Values.Has("country") || f.Values.Get("team") != "Engineering" {
			t.Fatalf("force-department form %v: want the team only, the mapped one chosen", f.Values)
		}
		f.Values.Set("team", "Sales")
		if res, _ := h.Submit(b, f, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("welcome: %d", res.StatusCode)
		}
		if u := h.User("sol@acme.com"); u.Team != "Sales" || u.Country != "DE" {
			t.Fatalf("user %+v", u)
		}
		if to := signIn(h, h.Browser(), person("sol@acme.com", "Sol", "S"), "R&D"); to != "/app/home" {
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
		b := h.Browser()
		h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), alice, nil), "")
		res, before := h.MeAs(b, "application/json")
		if res.StatusCode != 200 {
			t.Fatalf("/me: %d", res.StatusCode)
		}
		h.Skew.Store(int64(61 * time.Minute))
		res, m := h.MeAs(b, "application/json")
		if res.StatusCode != http.StatusUnauthorized || m.Error != "re-authentication required" || m.Login != reauthURL {
			t.Fatalf("/me after the soft timeout: %d %+v", res.StatusCode, m)
		}
		res, _ = h.MeAs(b, "text/html")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != reauthURL {
			t.Fatalf("/me in a browser after the soft timeout: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		res, _ = h.Send(b, http.MethodGet, res.Header.Get("Location"), nil, nil)
		id, passive := h.IdpRequest(res)
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
			cookie := h.JarCookie(b, sessionCookie)
			// The IdP answers at the real time: crewjam checks an assertion's times against the real
			// clock (saml.TimeNow), not the server's skewed one.
			res := h.Post(b, "acme", h.Response("acme", id, tc.attrs, tc.mutate), "")
			if !tc.goesOn {
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
					t.Fatalf("failed re-authentication: %d to %q", res.StatusCode, res.Header.Get("Location"))
				}
				if c := setCookie(res, sessionCookie); c == nil || c.MaxAge >= 0 {
					t.Fatalf("the session cookie is not cleared: %+v", c)
				}
				if res, m := h.MeAs(b, "application/json"); res.StatusCode != http.StatusUnauthorized || m.Error != "not signed in" {
					t.Fatalf("/me after a failed re-authentication: %d %+v", res.StatusCode, m)
				}
				// Ended on the server: the old cookie, kept by a copy, is no use either.
				copyB := h.Browser()
				u, _ := url.Parse(h.Srv.URL)
				copyB.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: cookie, Path: "/"}})
				if res, m := h.MeAs(copyB, "application/json"); res.StatusCode != http.StatusUnauthorized || m.Error != "not signed in" {
					t.Fatalf("the ended session's cookie: /me %d %+v", res.StatusCode, m)
				}
				if us := h.Users(); len(us) != 1 || us[0].UserName != "alice@acme.com" {
					t.Fatalf("users after a failed re-authentication: %+v", us)
				}
				// Its idle time ran out and the IdP did not renew it: it timed out.
				if o := lastEnded(t, h); o.Reason != store.EndTimeout || o.ID != store.SessionID(store.HashSecret(cookie)) {
					t.Fatalf("session.ended after a failed re-authentication: %+v", o)
				}
				return
			}
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" {
				t.Fatalf("re-authentication: %d to %q (refusal %q)", res.StatusCode, res.Header.Get("Location"), h.Refusal())
			}
			if setCookie(res, sessionCookie) != nil || h.JarCookie(b, sessionCookie) != cookie {
				t.Fatal("re-authentication replaced the session cookie")
			}
			r2, m := h.MeAs(b, "application/json")
			if r2.StatusCode != 200 || m.User.ID != before.User.ID || !m.Session.CreatedAt.Equal(before.Session.CreatedAt) {
				t.Fatalf("/me after re-authentication: %d %+v", r2.StatusCode, m)
			}
			if moved := m.Session.LastSeenAt.Sub(before.Session.LastSeenAt); moved < 60*time.Minute {
				t.Fatalf("lastSeenAt moved by %s", moved)
			}
			if m.Session.ExpiresAt.Sub(m.Session.LastSeenAt) < 119*time.Minute {
				t.Fatalf("the hard expiry did not move: %+v", m.Session)
			}
			if len(h.Users()) != 1 {
				t.Fatalf("users: %+v", h.Users())
			}
		})
	}

	t.Run("use moves both timeouts; beyond the hard timeout the session is gone", func(t *testing.T) {
		h := newHarness(t, timeouts)
		b := h.Browser()
		h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), alice, nil), "")
		h.Skew.Store(int64(59 * time.Minute))
		if res, _ := h.MeAs(b, "application/json"); res.StatusCode != 200 {
			t.Fatalf("59 idle minutes: %d", res.StatusCode)
		}
		// 62 minutes after that use: past the soft timeout, and past the first hard expiry (2 h after
		// sign-in) had the use not moved it.
		h.Skew.Store(int64(121 * time.Minute))
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != http.StatusUnauthorized || m.Error != "re-authentication required" {
			t.Fatalf("62 minutes after the last use: %d %+v", res.StatusCode, m)
		}
		h.Skew.Store(int64(180 * time.Minute)) // 121 minutes after the last use
		res, m := h.MeAs(b, "application/json")
		if res.StatusCode != http.StatusUnauthorized || m.Error != "not signed in" || m.Login != "/login" {
			t.Fatalf("beyond the hard timeout: %d %+v", res.StatusCode, m)
		}
		if res, _ := h.MeAs(b, "text/html"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Fatalf("beyond the hard timeout in a browser: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		// reauth=1 without a live session is an ordinary interactive sign-in.
		res, _ = h.Send(b, http.MethodGet, reauthURL, nil, nil)
		if _, passive := h.IdpRequest(res); passive {
			t.Fatal("reauth=1 without a live session asked for IsPassive")
		}
	})

	t.Run("a password user is never sent to the IdP", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { timeouts(s); s.Exclude = []string{"admin@acme.com"} })
		h.SetPassword(h.ScimUser("admin@acme.com", "", true), "pw")
		b := h.Browser()
		f := h.Form(b, "/login", "/login")
		f.Values.Set("email", "admin@acme.com")
		f.Values.Set("password", "pw")
		if res, _ := h.Submit(b, f, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("password sign-in: %d", res.StatusCode)
		}
		h.Skew.Store(int64(61 * time.Minute))
		if res, m := h.MeAs(b, "application/json"); res.StatusCode != 200 {
			t.Fatalf("password session after the soft timeout: %d %+v", res.StatusCode, m)
		}
	})
}

// TestLogout: a signed-out session's cookie stops working, also when presented again by a copy.
func TestLogout(t *testing.T) {
	h := newHarness(t, nil)
	b := h.Browser()
	h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), person("oli@acme.com", "Oli", "O"), nil), "")
	u, _ := url.Parse(h.Srv.URL)
	stolen := b.Jar.Cookies(u)
	if status, _ := h.Me(b); status != 200 {
		t.Fatalf("/me %d", status)
	}
	// A form post without the CSRF field signs nobody out; a JSON client's post does.
	res, err := b.Post(h.Srv.URL+"/logout", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if status, _ := h.Me(b); res.StatusCode != http.StatusForbidden || status != 200 {
		t.Fatalf("logout form without CSRF field: %d, then /me %d", res.StatusCode, status)
	}
	cookie := h.JarCookie(b, sessionCookie)
	res, err = b.Post(h.Srv.URL+"/logout", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if status, _ := h.Me(b); status != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", status)
	}
	if o := lastEnded(t, h); o.Reason != store.EndLogout || o.ID != store.SessionID(store.HashSecret(cookie)) {
		t.Fatalf("session.ended after logout: %+v", o)
	}
	thief := h.Browser()
	thief.Jar.SetCookies(u, stolen)
	if status, _ := h.Me(thief); status != http.StatusUnauthorized {
		t.Fatalf("copied cookie after logout: %d", status)
	}
}

// lastEnded is the last session.ended event the store recorded.
func lastEnded(t *testing.T, h *harness) store.SessionObject {
	t.Helper()
	es, err := h.St.ListEvents(context.Background(), store.EventQuery{Types: []string{store.EventSessionEnded}, Limit: 500})
	if err != nil || len(es) == 0 {
		t.Fatalf("no session.ended event (%v)", err)
	}
	var o store.SessionObject
	if err := json.Unmarshal(es[len(es)-1].Data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}
