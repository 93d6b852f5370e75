package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
)

// localhostJar is a cookie jar that, like browsers, treats http://localhost as a secure context, so the
// SameSite=None; Secure binding cookie is kept and sent there as it is by Chromium and Firefox.
type localhostJar struct{ *cookiejar.Jar }

func secureLocal(u *url.URL) *url.URL {
	if u.Scheme == "http" && u.Hostname() == "localhost" {
		c := *u
		c.Scheme = "https"
		return &c
	}
	return u
}

func (j localhostJar) SetCookies(u *url.URL, cs []*http.Cookie) { j.Jar.SetCookies(secureLocal(u), cs) }
func (j localhostJar) Cookies(u *url.URL) []*http.Cookie        { return j.Jar.Cookies(secureLocal(u)) }

// formOf returns the page's only form, as a browser submits it.
func formOf(t *testing.T, page *url.URL, body []byte) samltest.Form {
	t.Helper()
	forms, err := samltest.Forms(page, body)
	if err != nil || len(forms) != 1 {
		t.Fatalf("want one form in the page (%v):\n%s", err, body)
	}
	return forms[0]
}

// TestDemo runs `scimsso demo` as a newcomer would and follows its printed instructions: provision a
// user with the printed token, sign in as that user through the built-in IdP's login form, and sign
// in as a user nobody provisioned (created just in time).
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binPath, "demo", "--addr", "127.0.0.1:0", "--idp-addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = []string{"TMPDIR=" + dir}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(dir, "stderr.log"))
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	printed := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for printed["Signed-in user"] == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
				t.Fatalf("demo exited early:\n%s", b)
			}
			if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") {
				printed[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		case <-deadline:
			t.Fatalf("demo printed %v within 20s", printed)
		}
	}
	go func() {
		for range lines {
		}
	}()
	scim, token, login := printed["SCIM base URL"], printed["SCIM token"], printed["Sign in (SP-initiated)"]
	if !strings.HasPrefix(scim, "http://localhost:") || !strings.HasPrefix(token, "scimsso_") || !strings.HasSuffix(login, "/saml/demo/login") {
		t.Fatalf("printed %v", printed)
	}
	base := strings.TrimSuffix(scim, "/scim/v2/demo")
	req, _ := http.NewRequest(http.MethodPost, scim+"/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com",
		"name":{"givenName":"Alice","familyName":"Anders"},"emails":[{"value":"alice@example.com","primary":true}],"addresses":[{"type":"work","country":"DE"}],"active":true}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("provisioning alice: %d", res.StatusCode)
	}

	for _, tc := range []struct{ user, password, wantID, wantSource string }{
		{"alice", "alice-demo-password", created.ID, "scim"},
		{"carol", "carol-demo-password", "", "sso"},
	} {
		jar, _ := cookiejar.New(nil)
		b := &http.Client{Jar: localhostJar{jar}, Timeout: 10 * time.Second}
		// The login URL redirects to the IdP, which shows its login form.
		res, err := b.Get(login + "?return_to=/me")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		// The form has no action: it posts back to the page it is on.
		login := formOf(t, res.Request.URL, page)
		login.Values.Set("user", tc.user)
		login.Values.Set("password", tc.password)
		res, err = b.PostForm(login.Action.String(), login.Values)
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(page), "SAMLResponse") {
			t.Fatalf("%s: the IdP did not answer with a response form: %d\n%s", tc.user, res.StatusCode, page)
		}
		// The IdP answers with its auto-post form to scimsso's ACS; the browser submits it and lands on /me.
		post := formOf(t, res.Request.URL, page)
		if !strings.HasPrefix(post.Action.String(), base+"/saml/demo/acs") {
			t.Fatalf("IdP posts to %q", post.Action)
		}
		res, err = b.PostForm(post.Action.String(), post.Values)
		if err != nil {
			t.Fatal(err)
		}
		if res.Request.URL.Path == "/welcome" {
			// carol's IdP sends no country: her first sign-in asks for it before anything else.
			page, _ = io.ReadAll(res.Body)
			res.Body.Close()
			forms, err := samltest.Forms(res.Request.URL, page)
			if err != nil || len(forms) != 2 || forms[0].Action.Path != "/welcome" {
				t.Fatalf("%s: /welcome forms %+v, %v\n%s", tc.user, forms, err, page)
			}
			forms[0].Values.Set("country", "DE")
			if res, err = b.PostForm(forms[0].Action.String(), forms[0].Values); err != nil {
				t.Fatal(err)
			}
		}
		var me struct {
			User struct{ ID, UserName, Source string }
		}
		json.NewDecoder(res.Body).Decode(&me)
		res.Body.Close()
		if res.StatusCode != 200 || res.Request.URL.Path != "/me" || me.User.UserName != tc.user+"@example.com" || me.User.Source != tc.wantSource ||
			(tc.wantID != "" && me.User.ID != tc.wantID) {
			logs, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
			t.Fatalf("%s: %d at %s, me %+v\n%s", tc.user, res.StatusCode, res.Request.URL, me, logs)
		}
	}
}
