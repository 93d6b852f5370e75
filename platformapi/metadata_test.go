package platformapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// metadataServer is an IdP's metadata URL on loopback over http, which the env's policy allows (as
// serve --allow-http-loopback-metadata): it answers doc, or status when set.
type metadataServer struct {
	srv     *httptest.Server
	doc     atomic.Pointer[[]byte]
	status  atomic.Int64
	fetches atomic.Int64
}

func newMetadataServer(t *testing.T) *metadataServer {
	m := &metadataServer{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.fetches.Add(1)
		if s := m.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		w.Write(*m.doc.Load())
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *metadataServer) serve(doc []byte) { m.doc.Store(&doc); m.status.Store(0) }

func (m *metadataServer) url() string { return m.srv.URL + "/federationmetadata.xml" }

// newTestIdP is a real test IdP (samltest) whose signing certificate is valid until notAfter.
func newTestIdP(t *testing.T, notAfter time.Time) *samltest.IdP {
	t.Helper()
	idp, err := samltest.New("https://sts.example/tenant/", "https://login.example/saml2", time.Now().Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return idp
}

// metadataRefreshJSON is GET sso's idp.metadata_refresh.
type metadataRefreshJSON struct {
	URL       string     `json:"url"`
	NextAt    *time.Time `json:"next_at"`
	LastAt    *time.Time `json:"last_at"`
	LastOKAt  *time.Time `json:"last_ok_at"`
	LastError string     `json:"last_error"`
}

// ssoURLJSON is GET sso's answer with what metadata by URL adds.
type ssoURLJSON struct {
	Version  int64          `json:"version"`
	Settings map[string]any `json:"settings"`
	IdP      struct {
		EntityID     string `json:"entity_id"`
		MetadataURL  string `json:"metadata_url"`
		Certificates []struct {
			SHA256 string `json:"sha256"`
		} `json:"certificates"`
		MetadataRefresh *metadataRefreshJSON `json:"metadata_refresh"`
	} `json:"idp"`
}

// withoutFetch is a snapshot without the metadata fetch's state, which a failed refresh records (the
// console and GET show it) while it changes nothing else.
func withoutFetch(snapshot string) string {
	var keep []string
	for _, l := range strings.Split(snapshot, "\n") {
		if !strings.HasPrefix(l, "  fetch ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestManageMetadataURL: IdP metadata given by URL in the SSO PATCH, fetched at once through
// safefetch as `sso set --metadata-url` fetches it, the URL kept; a URL that gives no metadata stores
// nothing; "refresh now" applies the IdP's new key as `sso refresh-metadata` does, and its failure is
// a 502 naming the reason GET then shows, with the settings unchanged.
func TestManageMetadataURL(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		old := newTestIdP(t, time.Now().Add(365*24*time.Hour))
		rolled := newTestIdP(t, time.Now().Add(2*365*24*time.Hour))
		md := newMetadataServer(t)
		md.serve(old.Metadata())

		var s ssoURLJSON
		e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]any{"metadata_url": md.url(), "state": "testing"}, "", http.StatusOK, &s)
		if s.Version != 1 || s.Settings["state"] != "testing" || s.IdP.MetadataURL != md.url() || s.IdP.EntityID != "https://sts.example/tenant/" ||
			len(s.IdP.Certificates) != 1 || s.IdP.Certificates[0].SHA256 != old.Fingerprint() || s.IdP.MetadataRefresh != nil {
			t.Fatalf("after PATCH with metadata_url: %+v", s)
		}
		if stored, err := e.st.SSOSettings(ctx, e.acme.ID); err != nil || stored.IdPMetadataURL != md.url() || stored.State != store.SSOTesting {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		if acts := e.audit("acme", 1); acts[0].Action != store.ActionSSOSettingsChanged || acts[0].Actor.Kind != store.ActorAPIKey {
			t.Fatalf("audit of the PATCH: %+v", acts[0])
		}

		// A URL that gives no metadata stores nothing; a URL no fetch may reach is not fetched.
		closed := httptest.NewServer(http.NotFoundHandler())
		closedURL := closed.URL + "/md"
		closed.Close()
		before := e.snapshot()
		fetches := md.fetches.Load()
		for _, tc := range []struct {
			name   string
			serve  func()
			url    string
			status int
			code   string
			want   string
		}{
			{"an HTTP error", func() { md.status.Store(http.StatusInternalServerError) }, md.url(), http.StatusBadGateway, "metadata_fetch_failed", "metadata_url: HTTP 500"},
			{"no metadata", func() { md.serve([]byte("<html>hello</html>")) }, md.url(), http.StatusBadRequest, "invalid_request", "metadata_url: "},
			{"no server", func() {}, closedURL, http.StatusBadGateway, "metadata_fetch_failed", "metadata_url: connection refused"},
			{"not http", func() {}, "file:///etc/passwd", http.StatusBadRequest, "invalid_request", "metadata_url: URL"},
		} {
			tc.serve()
			msg := apiError(t, tc.name, e.call(http.MethodPatch, "/api/v1/tenants/acme/sso", "manage", map[string]any{"metadata_url": tc.url, "force-country": true}, ""),
				tc.status, tc.code)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %q lacks %q", tc.name, msg, tc.want)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("%s changed the store:\n%s\nwas\n%s", tc.name, after, before)
			}
		}
		if n := md.fetches.Load() - fetches; n != 2 {
			t.Errorf("%d fetches of the metadata URL; want 2 (the HTTP error, no metadata)", n)
		}

		// Refresh now: the IdP rolled its key over; the new one is added, the old one, no longer listed
		// while a valid one is, removed.
		md.serve(rolled.Metadata())
		var rr struct {
			Changed   bool       `json:"changed"`
			Added     []string   `json:"added"`
			Removed   []string   `json:"removed"`
			Kept      []string   `json:"kept"`
			Announced []string   `json:"announced"`
			SSO       ssoURLJSON `json:"sso"`
		}
		e.must(http.MethodPost, "/api/v1/tenants/acme/sso/refresh-metadata", nil, "", http.StatusOK, &rr)
		if !rr.Changed || len(rr.Added) != 1 || rr.Added[0] != rolled.Fingerprint() || len(rr.Removed) != 1 || rr.Removed[0] != old.Fingerprint() ||
			rr.Kept == nil || len(rr.Kept) != 0 || rr.Announced == nil || rr.SSO.Version != 2 || len(rr.SSO.IdP.Certificates) != 1 ||
			rr.SSO.IdP.Certificates[0].SHA256 != rolled.Fingerprint() {
			t.Fatalf("refresh: %+v", rr)
		}
		if f := rr.SSO.IdP.MetadataRefresh; f == nil || f.URL != md.url() || f.LastOKAt == nil || f.LastAt == nil || f.NextAt == nil || f.LastError != "" {
			t.Fatalf("refresh state after a refresh: %+v", f)
		}
		// Applied as the periodic refresh applies it, recorded as the key's change: the key asked.
		if acts := e.audit("acme", 1); acts[0].Action != store.ActionSSOSettingsChanged || acts[0].Actor.Kind != store.ActorAPIKey {
			t.Fatalf("audit of the refresh: %+v", acts[0])
		}
		e.must(http.MethodPost, "/api/v1/tenants/acme/sso/refresh-metadata", nil, "", http.StatusOK, &rr)
		if rr.Changed || len(rr.Added)+len(rr.Removed) != 0 || rr.SSO.Version != 2 {
			t.Fatalf("a refresh with nothing new: %+v", rr)
		}

		// A refresh that fails changes no setting; its reason is the 502's and GET's.
		before = e.snapshot()
		md.status.Store(http.StatusServiceUnavailable)
		msg := apiError(t, "a failing refresh", e.call(http.MethodPost, "/api/v1/tenants/acme/sso/refresh-metadata", "manage", nil, ""),
			http.StatusBadGateway, "metadata_fetch_failed")
		if !strings.Contains(msg, "HTTP 503") || !strings.Contains(msg, "nothing changed") {
			t.Errorf("failed refresh: %q", msg)
		}
		after := e.snapshot()
		if withoutFetch(after) != withoutFetch(before) || after == before {
			t.Fatalf("a failed refresh changed the store, or recorded no failure:\n%s\nwas\n%s", after, before)
		}
		var got ssoURLJSON
		e.must(http.MethodGet, "/api/v1/tenants/acme/sso", nil, "", http.StatusOK, &got)
		if f := got.IdP.MetadataRefresh; f == nil || !strings.Contains(f.LastError, "HTTP 503") || !strings.Contains(msg, f.LastError) || f.LastOKAt == nil {
			t.Fatalf("refresh state after a failure: %+v (the 502 said %q)", f, msg)
		}

		// Metadata given as a document drops the URL: nothing is left to refresh.
		e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]any{"metadata_xml": string(rolled.Metadata())}, "", http.StatusOK, &got)
		if got.IdP.MetadataURL != "" {
			t.Fatalf("metadata_xml kept the URL %q", got.IdP.MetadataURL)
		}
		apiError(t, "refresh without a URL", e.call(http.MethodPost, "/api/v1/tenants/acme/sso/refresh-metadata", "manage", nil, ""), http.StatusConflict, "conflict")
	})
}

// TestManageMetadataURLLoopbackRefused: without --allow-http-loopback-metadata, a metadata URL on
// loopback is refused before any fetch, as `sso set --metadata-url` refuses it without the flag.
func TestManageMetadataURLLoopbackRefused(t *testing.T) {
	backendsLoopback(t, false, func(t *testing.T, e *env) {
		md := newMetadataServer(t)
		md.serve(newTestIdP(t, time.Now().Add(24*time.Hour)).Metadata())
		before := e.snapshot()
		msg := apiError(t, "loopback", e.call(http.MethodPatch, "/api/v1/tenants/acme/sso", "manage", map[string]any{"metadata_url": md.url()}, ""),
			http.StatusBadRequest, "invalid_request")
		if !strings.Contains(msg, "metadata_url:") || !strings.Contains(msg, "--allow-http-loopback-metadata") {
			t.Errorf("%q: want metadata_url: and the setting that allows loopback named", msg)
		}
		if md.fetches.Load() != 0 || e.snapshot() != before {
			t.Fatal("a refused metadata URL was fetched, or the store changed")
		}
	})
}
