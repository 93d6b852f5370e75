package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/scimsso/scimsso/internal/pgtest"
)

// The OpenID provider on two replicas (two scimsso serve processes on one PostgreSQL): what one
// replica stores (requests, codes, tokens, keys) the other uses.

// tokenAt redeems code at base's token endpoint as client id:secret; it returns the status and the
// response's tokens.
func tokenAt(t *testing.T, base, id, secret, code string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oidc/token", strings.NewReader(url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {appCallback}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// userinfoAt is the status of userinfo at base with the access token, and the subject it names.
func userinfoAt(t *testing.T, base, access string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c struct{ Sub string }
	json.NewDecoder(res.Body).Decode(&c)
	return res.StatusCode, c.Sub
}

// codeOf requests u with the cookies and returns the code of its redirect to the application, failing
// the test on anything else.
func codeOf(t *testing.T, u string, cookies ...*http.Cookie) string {
	t.Helper()
	res, body := do(t, http.MethodGet, u, nil, cookies...)
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), appCallback+"?") || loc.Query().Get("code") == "" {
		t.Fatalf("want a redirect to %s with a code, got %d %q\n%s", appCallback, res.StatusCode, loc, body)
	}
	return loc.Query().Get("code")
}

// kids are the key ids of base's published key set.
func kids(t *testing.T, base string) []string {
	t.Helper()
	res, body := do(t, http.MethodGet, base+"/oidc/jwks", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("jwks at %s: %d", base, res.StatusCode)
	}
	var set struct{ Keys []struct{ Kid string } }
	json.Unmarshal([]byte(body), &set)
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func TestReplicasOIDC(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	idp, tok := ssoTenant(t, db)
	out, _ := mustRun(t, db, "client", "add", "Wiki", "--redirect-uri", appCallback)
	client := kv(out)
	a, b := startServer(t, db), startServer(t, db)
	aliceID := createUser(t, a.url, "acme", tok, "alice@acme.com")
	_, session := postResponse(t, a.url, samlResponse(t, idp, "", "alice@acme.com"))
	if session == nil {
		t.Fatalf("sign-in on A refused\n%s", a.logs(t))
	}
	authorizeURL := func(base, state string) string {
		return base + "/oidc/authorize?" + url.Values{"client_id": {client["client_id"]}, "redirect_uri": {appCallback},
			"response_type": {"code"}, "scope": {"openid email"}, "state": {state}, "nonce": {"n-" + state}}.Encode()
	}
	// Every replica is the one issuer, --base-url; the relying party verifies against either's keys.
	ctx := context.Background()
	verifier := func(base string) *gooidc.IDTokenVerifier {
		return gooidc.NewVerifier(spBase, gooidc.NewRemoteKeySet(ctx, base+"/oidc/jwks"), &gooidc.Config{ClientID: client["client_id"]})
	}

	t.Run("authorize on A, token on B, userinfo on A", func(t *testing.T) {
		code := codeOf(t, authorizeURL(a.url, "s1"), session)
		status, toks := tokenAt(t, b.url, client["client_id"], client["client_secret"], code)
		if status != http.StatusOK {
			t.Fatalf("token on B for A's code: %d %v\n%s", status, toks, b.logs(t))
		}
		raw, _ := toks["id_token"].(string)
		for name, s := range map[string]*server{"A": a, "B": b} {
			idt, err := verifier(s.url).Verify(ctx, raw)
			if err != nil || idt.Subject != aliceID || idt.Nonce != "n-s1" {
				t.Errorf("B's ID token against %s's keys: %+v, %v", name, idt, err)
			}
		}
		access, _ := toks["access_token"].(string)
		if status, sub := userinfoAt(t, a.url, access); status != http.StatusOK || sub != aliceID {
			t.Errorf("userinfo on A with B's access token: %d %q, want 200 %s", status, sub, aliceID)
		}
		// The code used on B is a reuse on A: refused, and what B issued is revoked.
		if status, _ := tokenAt(t, a.url, client["client_id"], client["client_secret"], code); status != http.StatusBadRequest {
			t.Errorf("the code again on A: %d, want 400", status)
		}
		if status, _ := userinfoAt(t, b.url, access); status != http.StatusUnauthorized {
			t.Errorf("userinfo on B after the code's reuse on A: %d, want 401", status)
		}
	})

	t.Run("a request stored on A is answered on B", func(t *testing.T) {
		// Not signed in on A: the request is stored and the browser sent to the resume step; the person
		// signs in and comes back through B.
		res, body := do(t, http.MethodGet, authorizeURL(a.url, "s2"), nil)
		resume := res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(resume, "/oidc/authorize/resume?id=") {
			t.Fatalf("authorize on A without a session: %d %q\n%s", res.StatusCode, resume, body)
		}
		binding := cookieOf(t, res, "scimsso_oidc")
		code := codeOf(t, b.url+resume, binding, session)
		if status, toks := tokenAt(t, a.url, client["client_id"], client["client_secret"], code); status != http.StatusOK || toks["id_token"] == nil {
			t.Errorf("token on A for B's code: %d %v", status, toks)
		}
	})

	t.Run("a key rotation reaches the other replica's key set", func(t *testing.T) {
		before := kids(t, b.url) // B has the keys cached
		out, _ := mustRun(t, db, "oidc", "rotate-key")
		var rs256 string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 5 && f[1] == "RS256" {
				rs256 = f[4]
			}
		}
		if rs256 == "" {
			t.Fatalf("oidc rotate-key printed %q", out)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(strings.Join(kids(t, b.url), " "), rs256) {
			if time.Now().After(deadline) {
				t.Fatalf("B's key set 10 s after the rotation: %v (before %v), want the new key %s", kids(t, b.url), before, rs256)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got := kids(t, b.url); len(got) != 4 {
			t.Errorf("B's key set after the rotation: %v, want the new pair and the old (kept until retired)", got)
		}
		// A signs with the new key within its own key cache's lifetime (each replica reads the keys on
		// its own timer, so B's set showing the key says nothing of A's); B's published set verifies it.
		var raw string
		deadline = time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			code := codeOf(t, authorizeURL(b.url, fmt.Sprint("s3-", i)), session)
			status, toks := tokenAt(t, a.url, client["client_id"], client["client_secret"], code)
			if status != http.StatusOK {
				t.Fatalf("token on A after the rotation: %d %v", status, toks)
			}
			raw, _ = toks["id_token"].(string)
			if jwtHeaderKid(t, raw) == rs256 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("A still signs with %s 10 s after the rotation, want %s", jwtHeaderKid(t, raw), rs256)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := verifier(b.url).Verify(ctx, raw); err != nil {
			t.Errorf("A's new ID token against B's key set: %v", err)
		}
	})
}

// jwtHeaderKid is the kid in a JWT's header.
func jwtHeaderKid(t *testing.T, raw string) string {
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("not a JWT: %q", raw)
	}
	var h struct{ Kid string }
	json.Unmarshal(b, &h)
	return h.Kid
}
