package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// demoOutput is what `scimsso demo` printed, read line by line: every line is either used by TestDemo
// or fails it, so the demo cannot print an instruction nobody follows.
type demoOutput struct {
	scim, token, spLogin, idpLogin, me string
	curl                               string // the printed provisioning command, lines joined as a shell reads them
	users                              []demoUser
	// The OpenID Connect client's lines.
	discovery, clientID, clientSecret, redirect, authorize, tokenCurl string
}

type demoUser struct{ id, email, password string }

var demoUserLine = regexp.MustCompile(`^  (\S+)\s+(\S+@\S+)\s+password (\S+)$`)

// readDemoOutput reads the demo's stdout up to its last line ("Ctrl-C stops …") and fails the test on
// any line it does not know.
func readDemoOutput(t *testing.T, lines <-chan string, logPath string) demoOutput {
	t.Helper()
	var out demoOutput
	fields := map[string]*string{
		"SCIM base URL": &out.scim, "SCIM token": &out.token, "Sign in (SP-initiated)": &out.spLogin,
		"Sign in (IdP-initiated)": &out.idpLogin, "Signed-in user": &out.me,
	}
	oidcFields := map[string]*string{
		"Discovery": &out.discovery, "Client ID": &out.clientID, "Client secret": &out.clientSecret, "Redirect URI": &out.redirect,
		"Authorize": &out.authorize, "Token": &out.tokenCurl,
	}
	deadline := time.After(20 * time.Second)
	section := ""
	for {
		var l string
		select {
		case x, ok := <-lines:
			if !ok {
				b, _ := os.ReadFile(logPath)
				t.Fatalf("demo exited early, having printed %+v:\n%s", out, b)
			}
			l = x
		case <-deadline:
			t.Fatalf("demo printed %+v and no last line within 20s", out)
		}
		switch {
		case strings.HasPrefix(l, "Ctrl-C stops the demo"):
			for k, v := range fields {
				if *v == "" {
					t.Fatalf("demo printed no %q line", k)
				}
			}
			for k, v := range oidcFields {
				if *v == "" {
					t.Fatalf("demo printed no OpenID Connect %q line", k)
				}
			}
			if out.curl == "" || len(out.users) == 0 {
				t.Fatalf("demo printed no provisioning command or no users: %+v", out)
			}
			return out
		case l == "":
			section = ""
		case strings.HasPrefix(l, "scimsso demo is running"):
		case l == "Provision a user:":
			section = "curl"
		case l == "Demo IdP users:":
			section = "users"
		case strings.HasPrefix(l, "Connect an application (OpenID Connect"):
			section = "oidc"
		case section == "oidc":
			k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
			if p := oidcFields[k]; ok && p != nil && strings.HasPrefix(l, "  ") {
				*p = strings.TrimSpace(v)
				continue
			}
			t.Fatalf("demo printed an OpenID Connect line TestDemo does not follow: %q", l)
		case section == "curl" && strings.HasPrefix(l, "  "):
			// A shell joins a line ending in a backslash with the next one.
			out.curl += strings.TrimSuffix(strings.TrimSpace(l), "\\") + " "
		case section == "users":
			m := demoUserLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("demo user line %q is not \"  ID  EMAIL  password PASSWORD\"", l)
			}
			out.users = append(out.users, demoUser{m[1], m[2], m[3]})
		default:
			k, v, ok := strings.Cut(l, ":")
			if p := fields[k]; ok && p != nil {
				*p = strings.TrimSpace(v)
				continue
			}
			t.Fatalf("demo printed a line TestDemo does not follow: %q", l)
		}
	}
}

// TestDemo runs `scimsso demo` as a newcomer would and follows every line it prints: the printed curl
// provisions a user with the printed token; each printed sign-in link (SP- and IdP-initiated) signs in
// each printed IdP user with their printed password through the IdP's login form, in a browser-like
// client of its own, and the printed /me link then shows that user — the provisioned one as SCIM made
// them, the others created just in time (their first sign-in asks /welcome for the country).
func TestDemo(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: the demo's printed provisioning command cannot be run")
	}
	dir := t.TempDir()
	cmd := exec.Command(binPath, "demo", "--addr", "127.0.0.1:0", "--idp-addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = []string{"TMPDIR=" + dir}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "stderr.log")
	logf, _ := os.Create(logPath)
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	printed := readDemoOutput(t, lines, logPath)
	go func() {
		for range lines {
		}
	}()
	fail := func(t *testing.T, format string, args ...any) {
		t.Helper()
		logs, _ := os.ReadFile(logPath)
		t.Fatalf(format+"\ndemo log:\n%s", append(args, logs)...)
	}
	if !strings.HasPrefix(printed.scim, "http://localhost:") || !strings.HasPrefix(printed.token, "scimsso_") ||
		!strings.HasSuffix(printed.spLogin, "/saml/demo/login") || !strings.HasSuffix(printed.me, "/me") {
		t.Fatalf("printed %+v", printed)
	}
	base := strings.TrimSuffix(printed.scim, "/scim/v2/demo")

	// The printed command, run by a shell as pasted.
	sh := exec.Command("bash", "-c", printed.curl)
	sh.Env = []string{"PATH=" + filepath.Dir(curl)}
	body, err := sh.Output()
	if err != nil {
		fail(t, "the printed provisioning command %s: %v\n%s", printed.curl, err, body)
	}
	var created struct{ ID, UserName string }
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
		fail(t, "the printed provisioning command answered %s (%v)", body, err)
	}

	// The printed discovery URL: the provider at the demo's base URL.
	res, err := http.Get(printed.discovery)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer string `json:"issuer"`
		Auth   string `json:"authorization_endpoint"`
		Token  string `json:"token_endpoint"`
	}
	json.NewDecoder(res.Body).Decode(&disc)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || disc.Issuer != base || !strings.HasPrefix(printed.authorize, disc.Auth+"?") || !strings.HasSuffix(printed.tokenCurl, " "+disc.Token) {
		fail(t, "the printed discovery URL answered %d %+v; the printed authorize link is %s, token command %s", res.StatusCode, disc, printed.authorize, printed.tokenCurl)
	}

	signedIn := map[string]bool{}
	for _, link := range []struct{ name, url string }{{"SP-initiated", printed.spLogin}, {"IdP-initiated", printed.idpLogin}} {
		for _, u := range printed.users {
			t.Run(link.name+"/"+u.id, func(t *testing.T) {
				provisioned := u.email == created.UserName
				jar, _ := cookiejar.New(nil)
				b := &http.Client{Jar: localhostJar{jar}, Timeout: 10 * time.Second}
				// The link (via a redirect for SP-initiated) shows the IdP's login form.
				res, err := b.Get(link.url)
				if err != nil {
					t.Fatal(err)
				}
				page, _ := io.ReadAll(res.Body)
				res.Body.Close()
				// The form has no action: it posts back to the page it is on.
				login := formOf(t, res.Request.URL, page)
				login.Values.Set("user", u.id)
				login.Values.Set("password", u.password)
				res, err = b.PostForm(login.Action.String(), login.Values)
				if err != nil {
					t.Fatal(err)
				}
				page, _ = io.ReadAll(res.Body)
				res.Body.Close()
				if !strings.Contains(string(page), "SAMLResponse") {
					fail(t, "%s as %s: the IdP did not answer the right password with a response form: %d\n%s", link.name, u.id, res.StatusCode, page)
				}
				// The IdP answers with its auto-post form to scimsso's ACS; the browser submits it.
				post := formOf(t, res.Request.URL, page)
				if !strings.HasPrefix(post.Action.String(), base+"/saml/demo/acs") {
					t.Fatalf("IdP posts to %q", post.Action)
				}
				res, err = b.PostForm(post.Action.String(), post.Values)
				if err != nil {
					t.Fatal(err)
				}
				page, _ = io.ReadAll(res.Body)
				res.Body.Close()
				// A user nobody provisioned has no country: their first sign-in asks for it, once.
				wantWelcome := !provisioned && !signedIn[u.id]
				if got := res.Request.URL.Path == "/welcome"; got != wantWelcome {
					fail(t, "%s as %s: landed on %s (%d), want /welcome: %t\n%s", link.name, u.id, res.Request.URL, res.StatusCode, wantWelcome, page)
				}
				if wantWelcome {
					forms, err := samltest.Forms(res.Request.URL, page)
					if err != nil || len(forms) != 2 || forms[0].Action.Path != "/welcome" {
						t.Fatalf("%s: /welcome forms %+v, %v\n%s", u.id, forms, err, page)
					}
					forms[0].Values.Set("country", "DE")
					if res, err = b.PostForm(forms[0].Action.String(), forms[0].Values); err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
				}
				if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/me" {
					fail(t, "%s as %s: %d at %s, want /me", link.name, u.id, res.StatusCode, res.Request.URL)
				}
				signedIn[u.id] = true
				// The printed /me link shows who is signed in.
				res, err = b.Get(printed.me)
				if err != nil {
					t.Fatal(err)
				}
				var me struct {
					User struct{ ID, UserName, Source string }
				}
				json.NewDecoder(res.Body).Decode(&me)
				res.Body.Close()
				wantSource := map[bool]string{true: "scim", false: "sso"}[provisioned]
				if res.StatusCode != http.StatusOK || me.User.UserName != u.email || me.User.Source != wantSource || (provisioned && me.User.ID != created.ID) {
					fail(t, "%s as %s: %s answered %d %+v, want %s from %s", link.name, u.id, printed.me, res.StatusCode, me, u.email, wantSource)
				}
				// The printed authorize link, signed in: straight back to the printed redirect URI with a
				// code, which the printed token command exchanges for an ID token naming this person.
				res, err = b.Get(printed.authorize)
				if err != nil {
					t.Fatal(err)
				}
				page, _ = io.ReadAll(res.Body)
				res.Body.Close()
				code := res.Request.URL.Query().Get("code")
				if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Request.URL.String(), printed.redirect+"?") || code == "" ||
					!strings.Contains(string(page), "code="+code) {
					fail(t, "%s as %s: the authorize link ended at %s (%d)\n%s", link.name, u.id, res.Request.URL, res.StatusCode, page)
				}
				sh := exec.Command("bash", "-c", strings.Replace(printed.tokenCurl, "code=CODE", "code="+code, 1))
				sh.Env = []string{"PATH=" + filepath.Dir(curl)}
				body, err := sh.Output()
				var toks struct {
					IDToken string `json:"id_token"`
				}
				if err != nil || json.Unmarshal(body, &toks) != nil || strings.Count(toks.IDToken, ".") != 2 {
					fail(t, "%s as %s: the printed token command: %v\n%s", link.name, u.id, err, body)
				}
				payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(toks.IDToken, ".")[1])
				var claims struct {
					Iss, Sub, Email, Nonce string
					Aud                    []string
				}
				json.Unmarshal(payload, &claims)
				if claims.Iss != base || claims.Sub != me.User.ID || claims.Email != u.email || claims.Nonce != "demo-nonce" || len(claims.Aud) != 1 || claims.Aud[0] != printed.clientID {
					fail(t, "%s as %s: ID token claims %+v, want %s (%s) for client %s", link.name, u.id, claims, u.email, me.User.ID, printed.clientID)
				}
			})
		}
	}
}
