package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The HTTP edge as a client meets it: which address a request is counted under, where /metrics is
// served, and the headers every response carries. Each test runs the real scimsso serve.

// badTokens sends n SCIM requests for tenant acme with a wrong token, each claiming in X-Forwarded-For
// to come from xff ("" sends no header), and returns their statuses.
func badTokens(t *testing.T, s *server, n int, xff string) []int {
	t.Helper()
	var got []int
	for i := range n {
		r := scimRequest(t, http.MethodGet, s.url+"/scim/v2/acme/Users", fmt.Sprintf("scimsso_wrong-%d", i), "")
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		res, _ := send(t, r)
		got = append(got, res.StatusCode)
	}
	return got
}

// statuses is n times status.
func statuses(n, status int) []int {
	return slices.Repeat([]int{status}, n)
}

// Behind a trusted proxy, the bad-token throttle counts each client under the address the proxy
// forwards; from a peer that is not trusted, X-Forwarded-For is the client's to forge and is ignored.
// The start-up log says which proxies are trusted.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")

	t.Run("trusted", func(t *testing.T) {
		s := startServer(t, db, "--trusted-proxies", "10.9.0.0/16, 127.0.0.1")
		if got := fmt.Sprint(listening(t, s)["trusted_proxies"]); got != "[10.9.0.0/16 127.0.0.1/32]" {
			t.Errorf("listening: trusted_proxies %s, want [10.9.0.0/16 127.0.0.1/32]", got)
		}
		if got := badTokens(t, s, 10, "203.0.113.5"); !slices.Equal(got, statuses(10, http.StatusUnauthorized)) {
			t.Fatalf("ten bad tokens from 203.0.113.5 through the proxy: %v, want ten 401", got)
		}
		if got := badTokens(t, s, 1, "198.51.100.1, 203.0.113.5"); got[0] != http.StatusTooManyRequests {
			t.Errorf("the 11th from 203.0.113.5 (a forged entry to its left): %d, want 429", got[0])
		}
		if got := badTokens(t, s, 1, "203.0.113.6"); got[0] != http.StatusUnauthorized {
			t.Errorf("another client through the proxy: %d, want 401 (its own count)", got[0])
		}
		if got := badTokens(t, s, 1, ""); got[0] != http.StatusUnauthorized {
			t.Errorf("the proxy itself: %d, want 401 (its own count)", got[0])
		}
		if !slices.Contains(accessClients(t, s), "203.0.113.5") {
			t.Errorf("no access log line names the forwarded client 203.0.113.5: %v", accessClients(t, s))
		}
	})

	t.Run("untrusted", func(t *testing.T) {
		s := startServer(t, db)
		if got := fmt.Sprint(listening(t, s)["trusted_proxies"]); got != "[]" {
			t.Errorf("listening: trusted_proxies %s, want [] by default", got)
		}
		if got := badTokens(t, s, 10, "203.0.113.5"); !slices.Equal(got, statuses(10, http.StatusUnauthorized)) {
			t.Fatalf("ten bad tokens: %v, want ten 401", got)
		}
		if got := badTokens(t, s, 1, "203.0.113.6"); got[0] != http.StatusTooManyRequests {
			t.Errorf("a forged X-Forwarded-For from an untrusted peer: %d, want 429 (counted under the peer)", got[0])
		}
		if clients := accessClients(t, s); slices.ContainsFunc(clients, func(c string) bool { return c != "127.0.0.1" }) {
			t.Errorf("access log clients %v, want only the peer 127.0.0.1", clients)
		}
	})
}

// listening is the server's "listening" log line.
func listening(t *testing.T, s *server) map[string]any {
	t.Helper()
	for _, l := range s.logLines(t) {
		if l["msg"] == "listening" {
			return l
		}
	}
	t.Fatal("no listening line")
	return nil
}

// accessClients lists the client field of every access log line so far.
func accessClients(t *testing.T, s *server) []string {
	t.Helper()
	var out []string
	for _, l := range s.logLines(t) {
		if l["msg"] == "request" {
			c, _ := l["client"].(string)
			out = append(out, c)
		}
	}
	return out
}

// /metrics is served on its own listener (--metrics-addr), never on the public one, and that listener
// serves nothing else; --metrics-addr off (or empty) serves no metrics at all.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	s := startServer(t, db)
	if s.metricsURL == "" {
		t.Fatal("the listening line has no metrics_addr")
	}
	for _, tt := range []struct {
		name, method, url string
		status            int
		has               string
	}{
		{"public /metrics", http.MethodGet, s.url + "/metrics", http.StatusNotFound, ""},
		{"public /metrics/", http.MethodGet, s.url + "/metrics/", http.StatusNotFound, ""},
		{"metrics listener", http.MethodGet, s.metricsURL + "/metrics", http.StatusOK, "scimsso_http_requests_total"},
		{"metrics listener, other path", http.MethodGet, s.metricsURL + "/healthz", http.StatusNotFound, ""},
		{"metrics listener, POST", http.MethodPost, s.metricsURL + "/metrics", http.StatusMethodNotAllowed, ""},
	} {
		res, body := do(t, tt.method, tt.url, nil)
		if res.StatusCode != tt.status || !strings.Contains(body, tt.has) {
			t.Errorf("%s: %d, want %d with %q\n%.200s", tt.name, res.StatusCode, tt.status, tt.has, body)
		}
	}
	// The public 404 was counted, under no route: the listener is the one that serves metrics.
	if got := metricValue(t, s.metricsURL, `scimsso_http_requests_total{method="GET",route="unmatched",status="404"}`); got != 2 {
		t.Errorf("public 404s counted %v times, want 2", got)
	}

	for _, v := range []string{"", "off"} {
		off := startServer(t, db, "--metrics-addr", v)
		if off.metricsURL != "" || listening(t, off)["metrics_addr"] != "" {
			t.Errorf("--metrics-addr %q: metrics at %q, want none", v, off.metricsURL)
		}
		if res, _ := do(t, http.MethodGet, off.url+"/metrics", nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("--metrics-addr %q: public /metrics %d, want 404", v, res.StatusCode)
		}
	}
}

// Every response carries X-Content-Type-Options: nosniff, so no browser reads a JSON or XML answer
// (which may echo a client's value) as HTML or script: health, SCIM JSON and its errors, SAML
// metadata, pages, people's JSON, the router's 404 and 405, and the metrics.
func TestNoSniffEverywhere(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	_, tok := ssoTenant(t, db)
	s := startServer(t, db)
	get := func(u, token string) func() *http.Response {
		return func() *http.Response {
			res, _ := send(t, scimRequest(t, http.MethodGet, u, token, ""))
			return res
		}
	}
	for _, tt := range []struct {
		name   string
		req    func() *http.Response
		status int
		ctype  string // prefix of the Content-Type
	}{
		{"healthz", get(s.url+"/healthz", ""), 200, "text/plain"},
		{"readyz", get(s.url+"/readyz", ""), 200, "text/plain"},
		{"SCIM list", get(s.url+"/scim/v2/acme/Users", tok), 200, "application/scim+json"},
		{"SCIM discovery", get(s.url+"/scim/v2/acme/ServiceProviderConfig", tok), 200, "application/scim+json"},
		{"SCIM 401", get(s.url+"/scim/v2/acme/Users", "scimsso_wrong"), 401, "application/scim+json"},
		{"SCIM 404", get(s.url+"/scim/v2/acme/Users/nosuch", tok), 404, "application/scim+json"},
		{"SCIM create", func() *http.Response {
			res, _ := send(t, scimRequest(t, http.MethodPost, s.url+"/scim/v2/acme/Users", tok, userBody("a@acme.com", "A")))
			return res
		}, 201, "application/scim+json"},
		{"SAML metadata", get(s.url+"/saml/acme/metadata", ""), 200, "application/samlmetadata+xml"},
		{"SAML metadata, unknown tenant", get(s.url+"/saml/nosuch/metadata", ""), 404, ""},
		{"login page", func() *http.Response {
			r := scimRequest(t, http.MethodGet, s.url+"/login", "", "")
			r.Header.Set("Accept", "text/html")
			res, _ := send(t, r)
			return res
		}, 200, "text/html"},
		{"/me, JSON 401", func() *http.Response { res, _ := do(t, http.MethodGet, s.url+"/me", nil); return res }, 401, "application/json"},
		{"ACS refusal page", func() *http.Response {
			res, _ := do(t, http.MethodPost, s.url+"/saml/acme/acs", url.Values{"SAMLResponse": {"not base64!"}})
			return res
		}, 400, "text/html"},
		{"router 404", get(s.url+"/nosuch", ""), 404, "text/plain"},
		{"router 405", func() *http.Response { res, _ := do(t, http.MethodPost, s.url+"/healthz", nil); return res }, 405, ""},
		{"metrics", get(s.metricsURL+"/metrics", ""), 200, "text/plain"},
	} {
		res := tt.req()
		if res.StatusCode != tt.status || !strings.HasPrefix(res.Header.Get("Content-Type"), tt.ctype) {
			t.Errorf("%s: %d %q, want %d %s…", tt.name, res.StatusCode, res.Header.Get("Content-Type"), tt.status, tt.ctype)
		}
		if got := res.Header.Values("X-Content-Type-Options"); !slices.Equal(got, []string{"nosniff"}) {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff once", tt.name, got)
		}
	}
}
