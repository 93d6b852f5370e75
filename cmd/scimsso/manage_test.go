package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// manageCall sends a management API request with key to the server at base and decodes its JSON.
func manageCall(t *testing.T, base, key, method, path, body string, v any) int {
	t.Helper()
	r := mustRequest(t, method, base+path, body)
	r.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	res, b := send(t, r)
	if v != nil && len(b) > 0 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// TestManageAPIServeWiring: serve hands the management API the CLI's metadata fetch and refresh under
// its own --allow-http-loopback-metadata, and the CLI's resend on its delivery's queue: metadata by
// URL from an IdP on this machine is fetched and refreshed only by a server given the flag, and an
// event resent over the API reaches the receiver again.
func TestManageAPIServeWiring(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")
	out, _ := mustRun(t, db, "apikey", "create", "--name", "ops", "--scope", "manage")
	key := strings.TrimSpace(out)
	_, doc := writeIdPMetadata(t)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(doc)) }))
	defer idp.Close()
	patch := `{"metadata_url":"` + idp.URL + `/federationmetadata.xml","state":"testing"}`

	strict := startServer(t, db)
	var e struct{ Error, Message string }
	if code := manageCall(t, strict.url, key, http.MethodPatch, "/api/v1/tenants/acme/sso", patch, &e); code != http.StatusBadRequest ||
		!strings.Contains(e.Message, "--allow-http-loopback-metadata") {
		t.Fatalf("a loopback metadata URL without the flag: %d %+v", code, e)
	}
	// Stopped before the other starts: a replica without --allow-http-loopback-webhooks on the same
	// store would take delivery jobs and fail them (refused loopback), as a misconfigured replica does.
	strict.signal(t, syscall.SIGTERM)
	if code := strict.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("the strict server exited %d", code)
	}

	s := startServer(t, db, "--allow-http-loopback-metadata", "--allow-http-loopback-webhooks")
	defer func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", s.logs(t))
		}
	}()
	var sso struct {
		IdP struct {
			MetadataURL string `json:"metadata_url"`
		} `json:"idp"`
	}
	if code := manageCall(t, s.url, key, http.MethodPatch, "/api/v1/tenants/acme/sso", patch, &sso); code != http.StatusOK ||
		sso.IdP.MetadataURL != idp.URL+"/federationmetadata.xml" {
		t.Fatalf("PATCH with metadata_url: %d %+v", code, sso)
	}
	// A test link made over the API opens the server's test page (its button starts the sign-in);
	// a forged one does not.
	var link struct{ URL string }
	if code := manageCall(t, s.url, key, http.MethodPost, "/api/v1/tenants/acme/sso/test-links", `{"expires":"10m"}`, &link); code != http.StatusCreated ||
		!strings.HasPrefix(link.URL, "http://127.0.0.1/saml/acme/test?token=") {
		t.Fatalf("test link: %d %+v", code, link)
	}
	testPage := func(u string) bool {
		t.Helper()
		res, body := send(t, mustRequest(t, http.MethodGet, strings.Replace(u, "http://127.0.0.1", s.url, 1), ""))
		return res.StatusCode == http.StatusOK && strings.Contains(string(body), `name="token"`)
	}
	if !testPage(link.URL) || testPage(link.URL[:len(link.URL)-2]+"xx") {
		t.Fatalf("the test link %s does not open the test page, or a forged one does", link.URL)
	}

	var rr struct {
		Changed bool `json:"changed"`
		SSO     struct {
			IdP struct {
				MetadataRefresh *struct {
					LastError string `json:"last_error"`
				} `json:"metadata_refresh"`
			} `json:"idp"`
		} `json:"sso"`
	}
	if code := manageCall(t, s.url, key, http.MethodPost, "/api/v1/tenants/acme/sso/refresh-metadata", "", &rr); code != http.StatusOK ||
		rr.Changed || rr.SSO.IdP.MetadataRefresh == nil || rr.SSO.IdP.MetadataRefresh.LastError != "" {
		t.Fatalf("refresh: %d %+v", code, rr)
	}

	h := newHookReceiver(t)
	var hook struct{ ID, Secret string }
	if code := manageCall(t, s.url, key, http.MethodPost, "/api/v1/webhooks", `{"url":"`+h.srv.URL+`","types":["user.created"]}`, &hook); code != http.StatusCreated {
		t.Fatalf("POST webhooks: %d", code)
	}
	h.mu.Lock()
	h.secret = hook.Secret // the receiver checks every signature
	h.mu.Unlock()
	createUser(t, s.url, "acme", tok, "ada@acme.com")
	waitFor(t, "the delivery", 30*time.Second, func() bool { return len(h.requests()) == 1 })
	ev := h.requests()[0].id
	// A resend needs the delivery recorded, which the drain writes after the receiver answered.
	waitFor(t, "the delivery's record", 30*time.Second, func() bool {
		var ds struct {
			Data []struct {
				EventID string `json:"event_id"`
			} `json:"data"`
		}
		manageCall(t, s.url, key, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/deliveries", "", &ds)
		return len(ds.Data) > 0 && ds.Data[0].EventID == ev
	})
	if code := manageCall(t, s.url, key, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/deliveries", `{"event_id":"`+ev+`"}`, nil); code != http.StatusAccepted {
		t.Fatalf("resend: %d", code)
	}
	waitFor(t, "the resend", 30*time.Second, func() bool { return len(h.requests()) == 2 })
	if got := h.requests(); got[1].id != ev || got[1].status/100 != 2 {
		t.Fatalf("the second request: %+v; want event %s again", got[1], ev)
	}
}
