package platformapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/platformapi"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/webhooks"
)

// manageConfig is the platform API's Config as cmd wires it: the same key pairs, client rule,
// metadata reader and refresher, and resend as the CLI, webhooks and IdP metadata to loopback over
// http allowed when allowLoopback (as serve --allow-http-loopback-webhooks and
// --allow-http-loopback-metadata).
func manageConfig(st store.Store, log *zap.Logger, base string, allowLoopback bool) platformapi.Config {
	policy := safefetch.Policy{AllowHTTPLoopback: allowLoopback, LoopbackSetting: "--allow-http-loopback-metadata"}
	refresher, err := samlsp.NewRefresher(samlsp.RefresherConfig{Store: st, Logger: log.Named("metadata"), Policy: policy})
	if err != nil {
		panic(err)
	}
	return platformapi.Config{
		MetadataPolicy: policy, RefreshMetadata: refresher,
		NewTestLink: func(ctx context.Context, t *store.Tenant, expires time.Time) (string, error) {
			return samlsp.NewTestLink(ctx, st, base, t, expires)
		},
		RotateOIDCKeys: func(ctx context.Context) ([]store.OIDCKey, error) { return openid.RotateKeys(ctx, st) },
		HashPassword:   people.HashPassword,
		// As cmd's: a job in the store's database, which a delivering server takes.
		Resend: func(ctx context.Context, id, eventID string) error {
			ss := st.(*sqlstore.Store)
			db, dialect := ss.JobsDB()
			svc, err := webhooks.New(webhooks.Config{Store: ss, DB: db, Dialect: dialect, Logger: log.Named("resend"), InsertOnly: true})
			if err != nil {
				return err
			}
			if err := svc.Start(ctx); err != nil {
				return err
			}
			return svc.Resend(ctx, id, eventID)
		},
		Store: st, Logger: log, BaseURL: base,
		NewSPKeyPair: func(slug string) ([]byte, []byte, error) { return samlsp.GenerateKeyPair("scimsso "+slug, time.Now()) },
		NewOIDCClient: func(spec store.OIDCClientSpec) (*store.OIDCClient, string, error) {
			return openid.NewClient(spec, func(u string) error { return webhooks.CheckURL(u, allowLoopback) })
		},
		ParseIdPMetadata: func(b []byte) (platformapi.IdPMetadata, error) {
			idp, err := samlsp.ParseIdPMetadata(b)
			if err != nil {
				return platformapi.IdPMetadata{}, err
			}
			return platformapi.IdPMetadata{EntityID: idp.EntityID, SSOURL: idp.SSOURL, CertificatesPEM: idp.CertificatesPEM}, nil
		},
		AllowHTTPLoopback: allowLoopback,
	}
}

// call sends a management API request with the key named key ("" for none) and a body: a string is
// sent as it is, anything else as JSON; ct "" means application/json when there is a body.
func (e *env) call(method, path, key string, body any, ct string) response {
	e.t.Helper()
	var r *strings.Reader
	switch b := body.(type) {
	case nil:
		r = strings.NewReader("")
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = strings.NewReader(string(raw))
	}
	if ct == "" && body != nil {
		ct = "application/json"
	}
	auth := ""
	if key != "" {
		auth = "Bearer " + e.keys[key]
	}
	return e.send(method, path, auth, r, ct)
}

// must sends a request with the manage key, checks the status, and decodes a JSON answer into v.
func (e *env) must(method, path string, body any, ct string, status int, v any) response {
	e.t.Helper()
	res := e.call(method, path, "manage", body, ct)
	if res.status != status {
		e.t.Fatalf("%s %s: %v; want %d", method, path, res, status)
	}
	if v != nil {
		if err := json.Unmarshal(res.body, v); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, res.body)
		}
	}
	return res
}

// apiError checks that res is the error status with code, and returns its message.
func apiError(t *testing.T, what string, res response, status int, code string) string {
	t.Helper()
	var b struct{ Error, Message string }
	if res.status != status || json.Unmarshal(res.body, &b) != nil || b.Error != code || b.Message == "" ||
		res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %v; want %d {\"error\":%q,…}", what, res, status, code)
	}
	return b.Message
}

// snapshot is everything the management API could change, as text, so that a refused request can be
// shown to have changed nothing: tenants with their domains, tokens, SSO settings, teams, department
// maps, setup links and admins, clients, webhooks, API keys, the admin audit log and the last event's
// seq (a change records an entry in both).
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	must := func(err error) {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	ts, err := e.st.ListTenants(ctx)
	must(err)
	for _, t := range ts {
		fmt.Fprintf(&b, "tenant %s %q %v\n", t.Slug, t.Name, t.Domains)
		toks, err := e.st.ListTokens(ctx, t.ID)
		must(err)
		for _, k := range toks {
			fmt.Fprintf(&b, "  token %s %q %v %v\n", k.ID, k.Name, k.ExpiresAt, k.RevokedAt)
		}
		set, err := e.st.SSOSettings(ctx, t.ID)
		if !errors.Is(err, store.ErrNotFound) {
			must(err)
			fmt.Fprintf(&b, "  sso %+v\n", *set)
		}
		teams, err := e.st.ListTeams(ctx, t.ID)
		must(err)
		fmt.Fprintf(&b, "  teams %+v\n", teams)
		m, err := e.st.DepartmentMap(ctx, t.ID)
		must(err)
		fmt.Fprintf(&b, "  map %+v\n", m)
		ls, err := e.st.ListSetupLinks(ctx, t.ID)
		must(err)
		fmt.Fprintf(&b, "  setup links %+v\n", ls)
		as, err := e.st.ListAdmins(ctx, t.ID)
		must(err)
		fmt.Fprintf(&b, "  admins %d\n", len(as))
		f, err := e.st.MetadataFetch(ctx, t.ID)
		if !errors.Is(err, store.ErrNotFound) {
			must(err)
			fmt.Fprintf(&b, "  fetch %+v\n", *f)
		}
	}
	acts, err := e.st.ListAdminActions(ctx, store.AdminActionQuery{Limit: 500})
	must(err)
	fmt.Fprintf(&b, "admin actions %d\n", len(acts))
	cs, err := e.st.ListOIDCClients(ctx)
	must(err)
	fmt.Fprintf(&b, "clients %+v\n", cs)
	hs, err := e.st.ListWebhooks(ctx)
	must(err)
	fmt.Fprintf(&b, "webhooks %+v\n", hs)
	ks, err := e.st.ListAPIKeys(ctx)
	must(err)
	fmt.Fprintf(&b, "keys %+v\n", ks)
	last, err := e.st.LastEventSeq(ctx, false)
	must(err)
	fmt.Fprintf(&b, "events %d\n", last)
	return b.String()
}

// idpMetadata is the metadata of a real test IdP (samltest), with a new signing certificate.
func idpMetadata(t *testing.T) string {
	t.Helper()
	idp, err := samltest.New("https://sts.example/tenant/", "https://login.example/saml2", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return string(idp.Metadata())
}

type tenantJSON struct {
	Slug    string   `json:"slug"`
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
}

// TestManageTenants: a tenant made, shown, its domains added and removed, as the CLI does.
func TestManageTenants(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var got tenantJSON
		res := e.must(http.MethodPost, "/api/v1/tenants", map[string]any{"slug": "gamma", "name": " Gamma GmbH ", "domains": []string{"Gamma.DE", "gamma.de"}},
			"", http.StatusCreated, &got)
		if got.Slug != "gamma" || got.Name != "Gamma GmbH" || strings.Join(got.Domains, ",") != "gamma.de" || res.header.Get("Location") != "/api/v1/tenants/gamma" {
			t.Fatalf("created %+v, Location %q", got, res.header.Get("Location"))
		}
		tn, err := e.st.TenantBySlug(context.Background(), "gamma")
		if err != nil {
			t.Fatal(err)
		}
		if key, err := e.st.SPKey(context.Background(), tn.ID); err != nil || !strings.Contains(string(key), "PRIVATE KEY") {
			t.Fatalf("the new tenant has no SP key: %v", err)
		}
		e.must(http.MethodGet, "/api/v1/tenants/gamma", nil, "", http.StatusOK, &got)
		if got.Name != "Gamma GmbH" {
			t.Fatalf("GET: %+v", got)
		}
		e.must(http.MethodPost, "/api/v1/tenants/gamma/domains", map[string]string{"domain": "Gamma.AT"}, "", http.StatusCreated, &got)
		if strings.Join(got.Domains, ",") != "gamma.at,gamma.de" {
			t.Fatalf("after adding gamma.at: %v", got.Domains)
		}
		e.must(http.MethodDelete, "/api/v1/tenants/gamma/domains/gamma.de", nil, "", http.StatusOK, &got)
		if strings.Join(got.Domains, ",") != "gamma.at" {
			t.Fatalf("after removing gamma.de: %v", got.Domains)
		}
		// The directory's list shows the new tenant: one store behind both. A directory:read key
		// lists tenants, and so does a manage key (`tenant list` is a CLI command).
		for _, key := range []string{"directory", "manage"} {
			var all struct{ Data []tenantJSON }
			e.ok(key, "/api/v1/tenants", &all)
			if len(all.Data) != 3 || all.Data[2].Slug != "gamma" {
				t.Fatalf("tenants with key %s: %+v", key, all.Data)
			}
		}
	})
}

// TestManageSCIMTokens: a token issued is shown once, works for SCIM, is listed without its secret,
// and stops working when revoked.
func TestManageSCIMTokens(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var tok struct {
			ID, Name, Token, Status string
			ExpiresAt               *time.Time `json:"expires_at"`
		}
		before := time.Now()
		e.must(http.MethodPost, "/api/v1/tenants/acme/scim-tokens", map[string]string{"name": "entra", "expires": "90d"}, "", http.StatusCreated, &tok)
		if !strings.HasPrefix(tok.Token, store.TokenPrefix) || tok.Name != "entra" || tok.Status != "live" || tok.ExpiresAt == nil ||
			tok.ExpiresAt.Before(before.Add(90*24*time.Hour-time.Minute)) || tok.ExpiresAt.After(time.Now().Add(90*24*time.Hour)) {
			t.Fatalf("issued %+v", tok)
		}
		scim := func() int {
			return e.send(http.MethodGet, "/scim/v2/acme/Users", "Bearer "+tok.Token, nil, "").status
		}
		if got := scim(); got != http.StatusOK {
			t.Fatalf("SCIM with the new token: %d", got)
		}
		res := e.must(http.MethodGet, "/api/v1/tenants/acme/scim-tokens", nil, "", http.StatusOK, nil)
		if strings.Contains(string(res.body), tok.Token) || strings.Contains(string(res.body), `"token"`) || !strings.Contains(string(res.body), tok.ID) {
			t.Fatalf("the list shows a token or lacks the new one: %s", res.body)
		}
		e.must(http.MethodDelete, "/api/v1/tenants/acme/scim-tokens/"+tok.ID, nil, "", http.StatusNoContent, nil)
		if got := scim(); got != http.StatusUnauthorized {
			t.Fatalf("SCIM with the revoked token: %d", got)
		}
		var l struct{ Data []struct{ ID, Status string } }
		e.must(http.MethodGet, "/api/v1/tenants/acme/scim-tokens", nil, "", http.StatusOK, &l)
		if len(l.Data) != 2 || l.Data[0].ID != tok.ID || l.Data[0].Status != "revoked" {
			t.Fatalf("tokens after revoking: %+v", l.Data)
		}
		// A token never expiring: expires left out.
		e.must(http.MethodPost, "/api/v1/tenants/acme/scim-tokens", map[string]string{"name": "okta"}, "", http.StatusCreated, &tok)
		if tok.ExpiresAt != nil {
			t.Fatalf("a token without expires expires at %v", tok.ExpiresAt)
		}
	})
}

type ssoJSON struct {
	Tenant   string         `json:"tenant"`
	Version  int64          `json:"version"`
	Settings map[string]any `json:"settings"`
	IdP      struct {
		EntityID     string `json:"entity_id"`
		SSOURL       string `json:"sso_url"`
		Certificates []struct {
			NotAfter *time.Time `json:"not_after"`
			SHA256   string     `json:"sha256"`
		} `json:"certificates"`
	} `json:"idp"`
	Warnings []string `json:"warnings"`
}

// TestManageSSO: the settings by the CLI's names, changed by PATCH with the CLI's parser and rules,
// one version at a time.
func TestManageSSO(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var s ssoJSON
		res := e.must(http.MethodGet, "/api/v1/tenants/acme/sso", nil, "", http.StatusOK, &s)
		if s.Version != 0 || s.Settings["state"] != "off" || s.Settings["hard-timeout"] != "14d" || s.Settings["force-country"] != false ||
			len(s.Settings) != len(store.SSOSettingTable) || res.header.Get("ETag") != `"0"` {
			t.Fatalf("defaults: %+v, ETag %q", s, res.header.Get("ETag"))
		}
		res = e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]any{
			"metadata_xml": idpMetadata(t), "state": "testing", "force-country": true, "soft-timeout": "4h", "exclude": "Admin@acme.com",
			"signature-algorithm": "sha1", "version": 0,
		}, "", http.StatusOK, &s)
		if s.Version != 1 || s.Settings["state"] != "testing" || s.Settings["force-country"] != true || s.Settings["soft-timeout"] != "4h0m0s" ||
			s.Settings["exclude"] != "admin@acme.com" || s.IdP.EntityID != "https://sts.example/tenant/" || len(s.IdP.Certificates) != 1 ||
			s.IdP.Certificates[0].NotAfter == nil || len(s.Warnings) != 1 || res.header.Get("ETag") != `"1"` {
			t.Fatalf("after PATCH: %+v", s)
		}
		stored, err := e.st.SSOSettings(context.Background(), e.acme.ID)
		if err != nil || stored.State != store.SSOTesting || !stored.ForceCountry || stored.SoftTimeout != 4*time.Hour || stored.Version != 1 {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		// Without a version, a PATCH applies to what is stored, as sso set does.
		e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]string{"state": "active"}, "", http.StatusOK, nil)
		req := func(ifMatch, body string) response {
			r, _ := http.NewRequest(http.MethodPatch, e.srv.URL+"/api/v1/tenants/acme/sso", strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+e.keys["manage"])
			r.Header.Set("Content-Type", "application/json")
			if ifMatch != "" {
				r.Header.Set("If-Match", ifMatch)
			}
			out, err := e.srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Body.Close()
			raw, err := io.ReadAll(out.Body)
			if err != nil {
				t.Fatal(err)
			}
			return response{out.StatusCode, out.Header, raw}
		}
		// That PATCH without a version applied to what was stored, as sso set does.
		if got, _ := e.st.SSOSettings(context.Background(), e.acme.ID); got.State != store.SSOActive || got.Version != 2 {
			t.Fatalf("a PATCH without a version: %+v", got)
		}
		before := e.snapshot()
		for _, tc := range []struct{ name, ifMatch, body string }{
			{"stale If-Match", `"1"`, `{"state":"testing"}`},
			{"stale weak If-Match", `W/"1"`, `{"state":"testing"}`},
			{"stale version field", "", `{"state":"testing","version":1}`},
		} {
			msg := apiError(t, tc.name, req(tc.ifMatch, tc.body), http.StatusConflict, "version_mismatch")
			if !strings.Contains(msg, "version 2") {
				t.Errorf("%s: %q does not name the stored version", tc.name, msg)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("%s changed the store:\n%s\nwas\n%s", tc.name, after, before)
			}
		}
		if res := req(`"2"`, `{"state":"testing"}`); res.status != http.StatusOK {
			t.Fatalf("a current If-Match: %v", res)
		}
	})
}

// TestManageTeamsAndDepartmentMap: teams added, the department map replaced by a CSV file or JSON rows,
// every bad line named and nothing imported.
func TestManageTeamsAndDepartmentMap(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for _, name := range []string{"Sales", "Engineering"} {
			e.must(http.MethodPost, "/api/v1/tenants/acme/teams", map[string]any{"name": name}, "", http.StatusCreated, nil)
		}
		var team struct {
			ID     string
			Name   string
			Hidden bool
		}
		e.must(http.MethodPost, "/api/v1/tenants/acme/teams", map[string]any{"name": "Board", "hidden": true}, "", http.StatusCreated, &team)
		if team.ID == "" || !team.Hidden {
			t.Fatalf("hidden team: %+v", team)
		}
		var teams struct{ Data []struct{ Name string } }
		e.must(http.MethodGet, "/api/v1/tenants/acme/teams", nil, "", http.StatusOK, &teams)
		if len(teams.Data) != 4 { // with the root team
			t.Fatalf("teams: %+v", teams.Data)
		}
		type row struct{ Department, Team string }
		var m struct{ Data []row }
		e.must(http.MethodPut, "/api/v1/tenants/acme/department-map", "department,team\nR&D,Engineering\n\"Field Sales, EMEA\",Sales\n", "text/csv", http.StatusOK, &m)
		if fmt.Sprint(m.Data) != "[{Field Sales, EMEA Sales} {R&D Engineering}]" {
			t.Fatalf("map after CSV: %v", m.Data)
		}
		e.must(http.MethodPut, "/api/v1/tenants/acme/department-map", map[string]any{"data": []row{{"Legal", "Board"}}}, "", http.StatusOK, &m)
		e.must(http.MethodGet, "/api/v1/tenants/acme/department-map", nil, "", http.StatusOK, &m)
		if fmt.Sprint(m.Data) != "[{Legal Board}]" {
			t.Fatalf("map after JSON: %v", m.Data)
		}
		before := e.snapshot()
		for _, tc := range []struct {
			name, body, ct string
			want           []string
		}{
			{"bad CSV lines", "department,team\nLegal,Sales\nonly-one-field\n,Sales\n", "text/csv", []string{"line 3: want 2 fields", "line 4: department"}},
			{"a department twice", "Legal,Sales\nlegal,Engineering\n", "text/csv", []string{`line 2: department "legal" is already mapped on line 1`}},
			{"an unknown team", "Legal,Sales\nMoney,Finance\n", "text/csv", []string{`department "Money": the tenant has no team "Finance"`}},
			{"beta's team", "Money,Finance\n", "text/csv", []string{`no team "Finance"`}},
			{"bad JSON rows", `{"data":[{"department":"Legal","team":"Sales"},{"department":" x","team":"Sales"}]}`, "application/json", []string{"data row 2: department"}},
			{"JSON without data", `{}`, "application/json", []string{"data: required"}},
			{"an empty CSV", "", "text/csv", []string{"no department,team rows", `{"data":[]}`}},
			{"a CSV header alone", "department,team\n", "text/csv", []string{"no department,team rows"}},
		} {
			msg := apiError(t, tc.name, e.call(http.MethodPut, "/api/v1/tenants/acme/department-map", "manage", tc.body, tc.ct), http.StatusBadRequest, "invalid_request")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: %q lacks %q", tc.name, msg, w)
				}
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("%s changed the store", tc.name)
			}
		}
		// Clearing is asked for explicitly: JSON's empty data, or DELETE as `department-map clear`.
		e.must(http.MethodPut, "/api/v1/tenants/acme/department-map", map[string]any{"data": []row{}}, "", http.StatusOK, &m)
		if len(m.Data) != 0 {
			t.Fatalf("map after clearing: %v", m.Data)
		}
		e.must(http.MethodPut, "/api/v1/tenants/acme/department-map", "Legal,Board\n", "text/csv", http.StatusOK, nil)
		e.must(http.MethodDelete, "/api/v1/tenants/acme/department-map", nil, "", http.StatusNoContent, nil)
		e.must(http.MethodGet, "/api/v1/tenants/acme/department-map", nil, "", http.StatusOK, &m)
		if len(m.Data) != 0 {
			t.Fatalf("map after DELETE: %v", m.Data)
		}
		acts := e.audit("acme", 1)
		if acts[0].Action != store.ActionDepartmentMapReplaced || acts[0].Actor.Kind != store.ActorAPIKey || string(acts[0].After) != `{"rows":[]}` {
			t.Fatalf("DELETE's audit entry: %+v", acts[0])
		}
		// beta's map is not acme's to clear.
		if err := store.ImportDepartmentMap(context.Background(), e.st, e.beta, []store.DepartmentMapping{{Department: "Ops", Team: "Beta Inc"}}); err != nil {
			t.Fatal(err)
		}
		e.must(http.MethodDelete, "/api/v1/tenants/acme/department-map", nil, "", http.StatusNoContent, nil)
		if bm, _ := e.st.DepartmentMap(context.Background(), e.beta.ID); len(bm) != 1 {
			t.Fatalf("beta's map after clearing acme's: %+v", bm)
		}
	})
}

// auditEntry is an entry of GET /api/v1/audit.
type auditEntry struct {
	Tenant *string `json:"tenant"`
	Action string  `json:"action"`
	Target string  `json:"target"`
	Actor  struct{ Kind, ID string }
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// audit returns the newest limit entries of the tenant's admin audit log, as the API lists them.
func (e *env) audit(slug string, limit int) []auditEntry {
	e.t.Helper()
	var l struct{ Data []auditEntry }
	e.must(http.MethodGet, fmt.Sprintf("/api/v1/audit?tenant=%s&limit=%d", slug, limit), nil, "", http.StatusOK, &l)
	if len(l.Data) == 0 {
		e.t.Fatalf("tenant %s has no audit entry", slug)
	}
	return l.Data
}

// TestManageClients: a client registered by client add's rule, its secret shown once, listed
// without it, removed.
func TestManageClients(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var c struct {
			ID           string   `json:"id"`
			ClientSecret string   `json:"client_secret"`
			RedirectURIs []string `json:"redirect_uris"`
			IDTokenAlg   string   `json:"id_token_alg"`
		}
		e.must(http.MethodPost, "/api/v1/clients", map[string]any{"name": "Wiki", "redirect_uris": []string{"https://wiki.example/cb", "https://wiki.example/cb"},
			"backchannel_logout_uri": "http://127.0.0.1:9/logout"}, "", http.StatusCreated, &c)
		if c.ID == "" || c.ClientSecret == "" || len(c.RedirectURIs) != 1 || c.IDTokenAlg != "RS256" {
			t.Fatalf("client: %+v", c)
		}
		stored, err := e.st.OIDCClient(context.Background(), c.ID)
		if err != nil || len(stored.SecretHash) == 0 || stored.BackchannelLogoutURI != "http://127.0.0.1:9/logout" {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		var pub struct {
			ClientSecret *string `json:"client_secret"`
		}
		e.must(http.MethodPost, "/api/v1/clients", map[string]any{"name": "SPA", "redirect_uris": []string{"http://localhost:3000/cb"}, "public": true, "id_token_alg": "ES256"},
			"", http.StatusCreated, &pub)
		if pub.ClientSecret != nil {
			t.Fatal("a public client got a secret")
		}
		res := e.must(http.MethodGet, "/api/v1/clients", nil, "", http.StatusOK, nil)
		if strings.Contains(string(res.body), c.ClientSecret) || strings.Contains(string(res.body), "secret") || !strings.Contains(string(res.body), c.ID) {
			t.Fatalf("client list: %s", res.body)
		}
		e.must(http.MethodDelete, "/api/v1/clients/"+c.ID, nil, "", http.StatusNoContent, nil)
		apiError(t, "delete again", e.call(http.MethodDelete, "/api/v1/clients/"+c.ID, "manage", nil, ""), http.StatusNotFound, "not_found")
		// The client's back-channel logout went with it.
		if hs, _ := e.st.ListWebhooks(context.Background()); len(hs) != 0 {
			t.Fatalf("webhooks left: %+v", hs)
		}
	})
}

// TestManageWebhooks: a webhook added by webhook add's rule, with the server's loopback setting, its
// secret shown once, its deliveries listed, removed.
func TestManageWebhooks(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var h struct {
			ID     string   `json:"id"`
			Secret string   `json:"secret"`
			Types  []string `json:"types"`
		}
		e.must(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/hook", "types": []string{"user.created"}}, "", http.StatusCreated, &h)
		if h.ID == "" || !strings.HasPrefix(h.Secret, "whsec_") || fmt.Sprint(h.Types) != "[user.created]" {
			t.Fatalf("webhook: %+v", h)
		}
		res := e.must(http.MethodGet, "/api/v1/webhooks", nil, "", http.StatusOK, nil)
		if strings.Contains(string(res.body), h.Secret) || !strings.Contains(string(res.body), h.ID) {
			t.Fatalf("webhook list: %s", res.body)
		}
		var ds struct{ Data []any }
		e.must(http.MethodGet, "/api/v1/webhooks/"+h.ID+"/deliveries?outcome=gave_up&limit=10", nil, "", http.StatusOK, &ds)
		if ds.Data == nil || len(ds.Data) != 0 {
			t.Fatalf("deliveries: %+v", ds)
		}
		apiError(t, "bad outcome", e.call(http.MethodGet, "/api/v1/webhooks/"+h.ID+"/deliveries?outcome=lost", "manage", nil, ""), http.StatusBadRequest, "invalid_request")
		e.must(http.MethodDelete, "/api/v1/webhooks/"+h.ID, nil, "", http.StatusNoContent, nil)
		apiError(t, "deliveries of a removed webhook", e.call(http.MethodGet, "/api/v1/webhooks/"+h.ID+"/deliveries", "manage", nil, ""), http.StatusNotFound, "not_found")

		// A server started without --allow-http-loopback-webhooks refuses a loopback receiver, as
		// webhook add without the flag does.
		r := mux.NewRouter()
		cfg := manageConfig(e.st, zaptest.NewLogger(t), "https://sso.example", true)
		cfg.AllowHTTPLoopback = false
		api, err := platformapi.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		api.Routes(r)
		strict := httptest.NewServer(r)
		defer strict.Close()
		before := e.snapshot()
		req, _ := http.NewRequest(http.MethodPost, strict.URL+"/api/v1/webhooks", strings.NewReader(`{"url":"http://127.0.0.1:9/hook"}`))
		req.Header.Set("Authorization", "Bearer "+e.keys["manage"])
		req.Header.Set("Content-Type", "application/json")
		out, err := strict.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if out.StatusCode != http.StatusBadRequest || e.snapshot() != before {
			t.Fatalf("a loopback webhook without the flag: %d", out.StatusCode)
		}
	})
}

// manageRoutes is every management API route with a request that succeeds on the env's tenant acme
// (before any other change), for the refusals every route shares.
func manageRoutes(t *testing.T, e *env) []struct {
	method, path string
	body         any
	ct           string
	tenant       bool // under /tenants/{slug}: an unknown tenant is a 404
} {
	toks, err := e.st.ListTokens(context.Background(), e.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		method, path string
		body         any
		ct           string
		tenant       bool
	}{
		{http.MethodPost, "/api/v1/tenants", map[string]any{"slug": "delta", "name": "Delta", "domains": []string{"delta.com"}}, "", false},
		{http.MethodGet, "/api/v1/tenants/acme", nil, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/domains", map[string]string{"domain": "acme.io"}, "", true},
		{http.MethodDelete, "/api/v1/tenants/acme/domains/acme.com", nil, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/scim-tokens", nil, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/scim-tokens", map[string]string{"name": "x"}, "", true},
		{http.MethodDelete, "/api/v1/tenants/acme/scim-tokens/" + toks[0].ID, nil, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/scim-requests", nil, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/sso", nil, "", true},
		{http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]any{"force-country": true}, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/sso/refresh-metadata", nil, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/sso/test-links", map[string]any{}, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/teams", nil, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/teams", map[string]any{"name": "Sales"}, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/department-map", nil, "", true},
		{http.MethodPut, "/api/v1/tenants/acme/department-map", "Legal,Acme Inc\n", "text/csv", true},
		{http.MethodDelete, "/api/v1/tenants/acme/department-map", nil, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/setup-links", nil, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/setup-links", map[string]any{"sso": true}, "", true},
		{http.MethodDelete, "/api/v1/tenants/acme/setup-links/00000000-0000-0000-0000-000000000000", nil, "", true},
		{http.MethodPost, "/api/v1/tenants/acme/passwords", map[string]string{"email": "a@acme.com", "password": "correct horse battery"}, "", true},
		{http.MethodGet, "/api/v1/tenants/acme/admins", nil, "", true},
		{http.MethodPut, "/api/v1/tenants/acme/admins/00000000-0000-0000-0000-000000000000", nil, "", true},
		{http.MethodDelete, "/api/v1/tenants/acme/admins/00000000-0000-0000-0000-000000000000", nil, "", true},
		{http.MethodGet, "/api/v1/audit", nil, "", false},
		{http.MethodGet, "/api/v1/clients", nil, "", false},
		{http.MethodPost, "/api/v1/clients", map[string]any{"name": "Wiki", "redirect_uris": []string{"https://wiki.example/cb"}}, "", false},
		{http.MethodDelete, "/api/v1/clients/nobody", nil, "", false},
		{http.MethodGet, "/api/v1/clients/nobody/deliveries", nil, "", false},
		{http.MethodPost, "/api/v1/clients/nobody/deliveries", map[string]string{"event_id": "evt"}, "", false},
		{http.MethodPost, "/api/v1/oidc/rotate-key", nil, "", false},
		{http.MethodGet, "/api/v1/webhooks", nil, "", false},
		{http.MethodPost, "/api/v1/webhooks", map[string]any{"url": "https://hooks.example/x"}, "", false},
		{http.MethodDelete, "/api/v1/webhooks/nobody", nil, "", false},
		{http.MethodGet, "/api/v1/webhooks/nobody/deliveries", nil, "", false},
		{http.MethodPost, "/api/v1/webhooks/nobody/deliveries", map[string]string{"event_id": "evt"}, "", false},
	}
}

// TestManageAuthorization: every management route refuses a request without a live key (401), with
// a key lacking manage (403 naming it), and for an unknown tenant (404), changing nothing.
func TestManageAuthorization(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		before := e.snapshot()
		for _, rt := range manageRoutes(t, e) {
			name := rt.method + " " + rt.path
			check := func(what string, res response, status int, code string) string {
				t.Helper()
				msg := apiError(t, name+": "+what, res, status, code)
				if after := e.snapshot(); after != before {
					t.Fatalf("%s: %s changed the store:\n%s\nwas\n%s", name, what, after, before)
				}
				return msg
			}
			check("no key", e.call(rt.method, rt.path, "", rt.body, rt.ct), http.StatusUnauthorized, "unauthorized")
			check("a revoked key", e.call(rt.method, rt.path, "revoked", rt.body, rt.ct), http.StatusUnauthorized, "unauthorized")
			for _, k := range []string{"all", "directory", "events"} {
				if msg := check("key "+k, e.call(rt.method, rt.path, k, rt.body, rt.ct), http.StatusForbidden, "forbidden"); !strings.Contains(msg, "manage") {
					t.Errorf("%s: 403 %q does not name the scope manage", name, msg)
				}
			}
			if rt.tenant {
				for _, slug := range []string{"nobody", "NOT-A-SLUG"} {
					check("unknown tenant "+slug, e.call(rt.method, strings.Replace(rt.path, "/acme", "/"+slug, 1), "manage", rt.body, rt.ct), http.StatusNotFound, "not_found")
				}
			}
		}
		// A method a path does not serve: 405 with Allow.
		res := e.call(http.MethodPut, "/api/v1/tenants/acme/teams", "manage", map[string]any{}, "")
		apiError(t, "PUT teams", res, http.StatusMethodNotAllowed, "method_not_allowed")
		if res.header.Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("Allow %q", res.header.Get("Allow"))
		}
		if after := e.snapshot(); after != before {
			t.Fatal("a refused request changed the store")
		}
	})
}

// TestManageBadRequests: bodies that are not JSON, name unknown fields, carry the wrong types or
// values out of range, and conflicts, are refused with a message naming the field, changing nothing.
func TestManageBadRequests(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		// beta has a token acme's path must not reach, and acme a team to collide with.
		e.must(http.MethodPost, "/api/v1/tenants/acme/teams", map[string]any{"name": "Sales"}, "", http.StatusCreated, nil)
		betaToks, _ := e.st.ListTokens(context.Background(), e.beta.ID)
		before := e.snapshot()
		for _, tc := range []struct {
			name, method, path, body, ct string
			status                       int
			code                         string
			want                         string // in the message
		}{
			{"not JSON", "POST", "/api/v1/tenants", `{"slug":`, "", 400, "invalid_request", "not valid JSON"},
			{"two objects", "POST", "/api/v1/tenants", `{"slug":"x"}{}`, "", 400, "invalid_request", "more than one"},
			{"empty body", "POST", "/api/v1/tenants", ``, "application/json", 400, "invalid_request", "empty"},
			{"an array", "POST", "/api/v1/tenants", `[]`, "", 400, "invalid_request", "JSON object"},
			{"unknown field", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D","domains":["delta.com"],"owner":"x"}`, "", 400, "invalid_request", `"owner"`},
			{"wrong type", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D","domains":"delta.com"}`, "", 400, "invalid_request", "domains must be an array"},
			{"wrong content type", "POST", "/api/v1/tenants", `{}`, "text/plain", 415, "unsupported_media_type", "application/json"},
			{"too large", "POST", "/api/v1/tenants", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, "", 413, "request_too_large", "larger"},
			{"bad slug", "POST", "/api/v1/tenants", `{"slug":"Delta!","name":"D","domains":["delta.com"]}`, "", 400, "invalid_request", "slug:"},
			{"no name", "POST", "/api/v1/tenants", `{"slug":"delta","domains":["delta.com"]}`, "", 400, "invalid_request", "name:"},
			{"name with NUL", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D\u0000x","domains":["delta.com"]}`, "", 400, "invalid_request", "name:"},
			{"name with control", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D\u001bx","domains":["delta.com"]}`, "", 400, "invalid_request", "name:"},
			{"too many domains", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D","domains":["d.com"` + strings.Repeat(`,"d.com"`, store.MaxNewTenantDomains) + `]}`, "", 400, "invalid_request", "at most"},
			{"no domains", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D"}`, "", 400, "invalid_request", "domains:"},
			{"bad domain", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D","domains":["not a domain"]}`, "", 400, "invalid_request", "domains:"},
			{"taken slug", "POST", "/api/v1/tenants", `{"slug":"acme","name":"D","domains":["delta.com"]}`, "", 409, "conflict", `tenant "acme" already exists`},
			{"taken domain", "POST", "/api/v1/tenants", `{"slug":"delta","name":"D","domains":["BETA.com"]}`, "", 409, "conflict", "beta.com"},
			{"another tenant's domain", "POST", "/api/v1/tenants/acme/domains", `{"domain":"beta.com"}`, "", 409, "conflict", "another tenant"},
			{"an own domain again", "POST", "/api/v1/tenants/acme/domains", `{"domain":"ACME.com"}`, "", 409, "conflict", "domain:"},
			{"a bad domain", "POST", "/api/v1/tenants/acme/domains", `{"domain":"x"}`, "", 400, "invalid_request", "domain:"},
			{"the last domain", "DELETE", "/api/v1/tenants/acme/domains/acme.com", ``, "", 400, "invalid_request", "last domain"},
			{"another tenant's domain removed", "DELETE", "/api/v1/tenants/acme/domains/beta.com", ``, "", 404, "not_found", "no domain"},
			{"token expires not a duration", "POST", "/api/v1/tenants/acme/scim-tokens", `{"expires":"soon"}`, "", 400, "invalid_request", "expires:"},
			{"token expires negative", "POST", "/api/v1/tenants/acme/scim-tokens", `{"expires":"-1h"}`, "", 400, "invalid_request", "expires:"},
			{"token expires a number", "POST", "/api/v1/tenants/acme/scim-tokens", `{"expires":90}`, "", 400, "invalid_request", "expires must be a string"},
			{"token name with control", "POST", "/api/v1/tenants/acme/scim-tokens", `{"name":"a\nb"}`, "", 400, "invalid_request", "name:"},
			{"another tenant's token", "DELETE", "/api/v1/tenants/acme/scim-tokens/" + betaToks[0].ID, ``, "", 404, "not_found", "no live SCIM token"},
			{"unknown SSO setting", "PATCH", "/api/v1/tenants/acme/sso", `{"hard_timeout":"1d"}`, "", 400, "invalid_request", `"hard_timeout" is not an SSO setting`},
			{"SSO value out of range", "PATCH", "/api/v1/tenants/acme/sso", `{"hard-timeout":"30d","force-country":true}`, "", 400, "invalid_request", "hard-timeout"},
			{"SSO value not a duration", "PATCH", "/api/v1/tenants/acme/sso", `{"soft-timeout":"soon"}`, "", 400, "invalid_request", "soft-timeout"},
			{"SSO switch as a string", "PATCH", "/api/v1/tenants/acme/sso", `{"force-country":"yes"}`, "", 400, "invalid_request", "force-country must be true or false"},
			{"SSO string as a switch", "PATCH", "/api/v1/tenants/acme/sso", `{"state":true}`, "", 400, "invalid_request", "state must be a string"},
			{"SSO bad state", "PATCH", "/api/v1/tenants/acme/sso", `{"state":"on"}`, "", 400, "invalid_request", "state"},
			{"SSO active without an IdP", "PATCH", "/api/v1/tenants/acme/sso", `{"state":"active"}`, "", 400, "invalid_request", "metadata_xml"},
			{"SSO bad metadata", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_xml":"<x/>"}`, "", 400, "invalid_request", "metadata_xml:"},
			{"SSO bad exclude", "PATCH", "/api/v1/tenants/acme/sso", `{"exclude":"not-an-email"}`, "", 400, "invalid_request", "exclude"},
			{"SSO negative version", "PATCH", "/api/v1/tenants/acme/sso", `{"version":-1}`, "", 400, "invalid_request", "version"},
			{"SSO If-Match and version differ", "PATCH", "/api/v1/tenants/acme/sso", `{"version":0,"force-country":true}`, "ifmatch:\"3\"", 400, "invalid_request", "If-Match"},
			{"SSO bad If-Match", "PATCH", "/api/v1/tenants/acme/sso", `{"force-country":true}`, "ifmatch:*", 400, "invalid_request", "If-Match"},
			{"SSO nothing to change", "PATCH", "/api/v1/tenants/acme/sso", `{}`, "", 400, "invalid_request", "at least one"},
			{"SSO null body", "PATCH", "/api/v1/tenants/acme/sso", `null`, "", 400, "invalid_request", "at least one"},
			{"SSO only a version", "PATCH", "/api/v1/tenants/acme/sso", `{"version":0}`, "", 400, "invalid_request", "at least one"},
			{"SSO null switch", "PATCH", "/api/v1/tenants/acme/sso", `{"force-country":null}`, "", 400, "invalid_request", "force-country must not be null"},
			{"SSO null string", "PATCH", "/api/v1/tenants/acme/sso", `{"soft-timeout":null}`, "", 400, "invalid_request", "soft-timeout must not be null"},
			{"SSO null version", "PATCH", "/api/v1/tenants/acme/sso", `{"force-country":true,"version":null}`, "", 400, "invalid_request", "version must not be null"},
			{"SSO null metadata", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_xml":null}`, "", 400, "invalid_request", "metadata_xml must not be null"},
			{"SSO null metadata URL", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":null}`, "", 400, "invalid_request", "metadata_url must not be null"},
			{"SSO empty metadata URL", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":" "}`, "", 400, "invalid_request", "metadata_url must be a string"},
			{"SSO metadata URL a number", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":1}`, "", 400, "invalid_request", "metadata_url must be a string"},
			{"SSO metadata both ways", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_xml":"<x/>","metadata_url":"https://idp.example/md"}`, "", 400, "invalid_request", "not both"},
			{"SSO metadata URL not https", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":"ftp://idp.example/md"}`, "", 400, "invalid_request", "metadata_url: URL"},
			{"SSO metadata URL private", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":"https://10.0.0.1/md","state":"testing"}`, "", 400, "invalid_request", "private address"},
			{"SSO metadata URL link-local", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":"https://169.254.169.254/latest/meta-data"}`, "", 400, "invalid_request", "link-local"},
			{"SSO metadata URL with a password", "PATCH", "/api/v1/tenants/acme/sso", `{"metadata_url":"https://u:p@idp.example/md"}`, "", 400, "invalid_request", "metadata_url: URL may not hold"},
			{"refresh without a metadata URL", "POST", "/api/v1/tenants/acme/sso/refresh-metadata", ``, "", 409, "conflict", "not given by URL"},
			{"a test link with SSO off", "POST", "/api/v1/tenants/acme/sso/test-links", `{}`, "", 409, "conflict", "needs testing or active"},
			{"a test link too long", "POST", "/api/v1/tenants/acme/sso/test-links", `{"expires":"8d"}`, "", 400, "invalid_request", "expires:"},
			{"a test link expiring never", "POST", "/api/v1/tenants/acme/sso/test-links", `{"expires":"0"}`, "", 400, "invalid_request", "expires:"},
			{"a test link expires a number", "POST", "/api/v1/tenants/acme/sso/test-links", `{"expires":3600}`, "", 400, "invalid_request", "expires must be a string"},
			{"a test link for a person", "POST", "/api/v1/tenants/acme/sso/test-links", `{"email":"a@acme.com"}`, "", 400, "invalid_request", `"email"`},
			{"team taken", "POST", "/api/v1/tenants/acme/teams", `{"name":"Sales"}`, "", 409, "conflict", `already has a team "Sales"`},
			{"team name padded", "POST", "/api/v1/tenants/acme/teams", `{"name":" Sales "}`, "", 400, "invalid_request", "name:"},
			{"team hidden a string", "POST", "/api/v1/tenants/acme/teams", `{"name":"Ops","hidden":"yes"}`, "", 400, "invalid_request", "hidden must be true or false"},
			{"department map as XML", "PUT", "/api/v1/tenants/acme/department-map", `<map/>`, "application/xml", 415, "unsupported_media_type", "text/csv"},
			{"unknown setup link", "DELETE", "/api/v1/tenants/acme/setup-links/00000000-0000-0000-0000-000000000000", ``, "", 404, "not_found", "has no setup link"},
			{"setup link id NUL", "DELETE", "/api/v1/tenants/acme/setup-links/%00", ``, "", 404, "not_found", "has no setup link"},
			{"setup link id not UTF-8", "DELETE", "/api/v1/tenants/acme/setup-links/%ff", ``, "", 404, "not_found", "has no setup link"},
			{"setup link id too long", "DELETE", "/api/v1/tenants/acme/setup-links/" + strings.Repeat("a", 500), ``, "", 404, "not_found", "has no setup link"},
			{"client without redirect", "POST", "/api/v1/clients", `{"name":"Wiki"}`, "", 400, "invalid_request", "redirect_uris:"},
			{"client http redirect", "POST", "/api/v1/clients", `{"name":"Wiki","redirect_uris":["http://wiki.example/cb"]}`, "", 400, "invalid_request", "redirect_uris:"},
			{"client bad alg", "POST", "/api/v1/clients", `{"name":"Wiki","redirect_uris":["https://wiki.example/cb"],"id_token_alg":"HS256"}`, "", 400, "invalid_request", "id_token_alg:"},
			{"client bad back-channel", "POST", "/api/v1/clients", `{"name":"Wiki","redirect_uris":["https://wiki.example/cb"],"backchannel_logout_uri":"http://wiki.example/bc"}`, "", 400, "invalid_request", "backchannel_logout_uri:"},
			{"client no name", "POST", "/api/v1/clients", `{"redirect_uris":["https://wiki.example/cb"]}`, "", 400, "invalid_request", "name:"},
			{"webhook http", "POST", "/api/v1/webhooks", `{"url":"http://hooks.example/x"}`, "", 400, "invalid_request", "url:"},
			{"webhook private address", "POST", "/api/v1/webhooks", `{"url":"https://10.0.0.1/x"}`, "", 400, "invalid_request", "url:"},
			{"webhook bad type", "POST", "/api/v1/webhooks", `{"url":"https://hooks.example/x","types":["user.exploded"]}`, "", 400, "invalid_request", "types:"},
			{"webhook types a string", "POST", "/api/v1/webhooks", `{"url":"https://hooks.example/x","types":"user.created"}`, "", 400, "invalid_request", "types must be an array"},
			{"deliveries limit", "GET", "/api/v1/webhooks/x/deliveries?limit=0", ``, "", 400, "invalid_request", "limit"},
			{"token id NUL", "DELETE", "/api/v1/tenants/acme/scim-tokens/%00", ``, "", 404, "not_found", "no live SCIM token"},
			{"token id not UTF-8", "DELETE", "/api/v1/tenants/acme/scim-tokens/%ff", ``, "", 404, "not_found", "no live SCIM token"},
			{"client id NUL", "DELETE", "/api/v1/clients/%00", ``, "", 404, "not_found", "no client"},
			{"client id not UTF-8", "DELETE", "/api/v1/clients/%ff", ``, "", 404, "not_found", "no client"},
			{"webhook id NUL", "DELETE", "/api/v1/webhooks/%00", ``, "", 404, "not_found", "no webhook"},
			{"webhook id not UTF-8 deliveries", "GET", "/api/v1/webhooks/%ff/deliveries", ``, "", 404, "not_found", "no webhook"},
			{"resend to an unknown webhook", "POST", "/api/v1/webhooks/nobody/deliveries", `{"event_id":"evt"}`, "", 404, "not_found", "no webhook"},
			{"client deliveries of an unknown client", "GET", "/api/v1/clients/nobody/deliveries", ``, "", 404, "not_found", "no client"},
			{"resend to an unknown client", "POST", "/api/v1/clients/%00/deliveries", `{"event_id":"evt"}`, "", 404, "not_found", "no client"},
			{"audit limit", "GET", "/api/v1/audit?limit=501", ``, "", 400, "invalid_request", "limit"},
			{"audit unknown parameter", "GET", "/api/v1/audit?tenants=acme", ``, "", 400, "invalid_request", "tenants"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
				req.Header.Set("Authorization", "Bearer "+e.keys["manage"])
				ct := "application/json"
				if v, ok := strings.CutPrefix(tc.ct, "ifmatch:"); ok {
					req.Header.Set("If-Match", v)
				} else if tc.ct != "" {
					ct = tc.ct
				}
				if tc.body != "" || tc.ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				out, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var b struct{ Error, Message string }
				err = json.NewDecoder(out.Body).Decode(&b)
				out.Body.Close()
				if out.StatusCode != tc.status || err != nil || b.Error != tc.code || !strings.Contains(b.Message, tc.want) {
					t.Fatalf("%d %+v (%v); want %d %s with %q", out.StatusCode, b, err, tc.status, tc.code, tc.want)
				}
				if after := e.snapshot(); after != before {
					t.Fatalf("the refusal changed the store:\n%s\nwas\n%s", after, before)
				}
			})
		}
	})
}

// TestManageClipsLongValues: a refused value of half a megabyte is not echoed back whole; an
// import naming thousands of unknown teams reports at most MaxDepartmentMapErrors of them.
func TestManageClipsLongValues(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		long := strings.Repeat("x", 500<<10)
		var manyRows strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&manyRows, "Dept %d,Team %d\n", i, i)
		}
		before := e.snapshot()
		for _, tc := range []struct{ name, method, path, body, ct, want string }{
			{"a long duration", "PATCH", "/api/v1/tenants/acme/sso", `{"soft-timeout":"` + long + `"}`, "", "soft-timeout"},
			{"a long day count", "PATCH", "/api/v1/tenants/acme/sso", `{"soft-timeout":"` + long + `d"}`, "", "soft-timeout"},
			{"a long excluded address", "PATCH", "/api/v1/tenants/acme/sso", `{"exclude":"` + long + `"}`, "", "exclude"},
			{"a long webhook URL", "POST", "/api/v1/webhooks", `{"url":"http://hooks.example/` + long + `"}`, "", "url:"},
			{"a long back-channel URI", "POST", "/api/v1/clients", `{"name":"Wiki","redirect_uris":["https://wiki.example/cb"],"backchannel_logout_uri":"http://wiki.example/` + long + `"}`, "", "backchannel_logout_uri:"},
			{"many unknown teams", "PUT", "/api/v1/tenants/acme/department-map", manyRows.String(), "text/csv", "and more"},
		} {
			msg := apiError(t, tc.name, e.call(tc.method, tc.path, "manage", tc.body, tc.ct), http.StatusBadRequest, "invalid_request")
			if !strings.Contains(msg, tc.want) || len(msg) > 8<<10 {
				t.Errorf("%s: a message of %d bytes (%.200q…); want it short, with %q", tc.name, len(msg), msg, tc.want)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("%s changed the store", tc.name)
			}
		}
	})
}

// TestManageLoopbackRefused: without --allow-http-loopback-webhooks, an http URL to loopback is
// refused for a webhook and a client's back-channel logout, and nothing is stored.
func TestManageLoopbackRefused(t *testing.T) {
	backendsLoopback(t, false, func(t *testing.T, e *env) {
		before := e.snapshot()
		for _, tc := range []struct{ name, path, body, want string }{
			{"webhook", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9000/hook"}`, "url:"},
			{"webhook to localhost", "/api/v1/webhooks", `{"url":"http://localhost:9000/hook"}`, "url:"},
			{"webhook https to loopback", "/api/v1/webhooks", `{"url":"https://127.0.0.1/hook"}`, "url:"},
			{"back-channel", "/api/v1/clients", `{"name":"Wiki","redirect_uris":["https://wiki.example/cb"],"backchannel_logout_uri":"http://127.0.0.1:9000/bc"}`, "backchannel_logout_uri:"},
		} {
			msg := apiError(t, tc.name, e.call(http.MethodPost, tc.path, "manage", tc.body, ""), http.StatusBadRequest, "invalid_request")
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "loopback") {
				t.Errorf("%s: %q; want %q and loopback named", tc.name, msg, tc.want)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("%s changed the store", tc.name)
			}
		}
	})
}

// TestManageSetupLinksAdminsAudit: setup links made and listed without their secret, tenant admins
// made and unmade (never another tenant's user), and every change audited with the key as its actor.
func TestManageSetupLinksAdminsAudit(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var link struct {
			ID        string    `json:"id"`
			URL       string    `json:"url"`
			Scopes    []string  `json:"scopes"`
			ExpiresAt time.Time `json:"expires_at"`
			Status    string    `json:"status"`
		}
		e.must(http.MethodPost, "/api/v1/tenants/acme/setup-links", map[string]any{"scim": true, "expires": "2h"}, "", http.StatusCreated, &link)
		if !strings.HasPrefix(link.URL, e.srv.URL+"/setup/"+store.SetupLinkPrefix) || fmt.Sprint(link.Scopes) != "[scim]" || link.Status != "waiting" ||
			link.ExpiresAt.After(time.Now().Add(2*time.Hour)) || link.ExpiresAt.Before(time.Now().Add(time.Hour)) {
			t.Fatalf("setup link: %+v", link)
		}
		res := e.must(http.MethodGet, "/api/v1/tenants/acme/setup-links", nil, "", http.StatusOK, nil)
		secret := link.URL[strings.LastIndex(link.URL, "/")+1:]
		if strings.Contains(string(res.body), secret) || !strings.Contains(string(res.body), link.ID) {
			t.Fatalf("setup links list: %s", res.body)
		}
		before := e.snapshot()
		for _, bad := range []struct{ body, want string }{
			{`{"expires":"8d"}`, "expires:"}, {`{"expires":"0"}`, "expires:"}, {`{"sso":"yes"}`, "sso must be true or false"}, {`{"admins":true}`, `"admins"`},
		} {
			msg := apiError(t, bad.body, e.call(http.MethodPost, "/api/v1/tenants/acme/setup-links", "manage", bad.body, ""), http.StatusBadRequest, "invalid_request")
			if !strings.Contains(msg, bad.want) || e.snapshot() != before {
				t.Fatalf("%s: %q lacks %q, or the store changed", bad.body, msg, bad.want)
			}
		}

		u := e.create("acme", "alice@acme.com")
		b := e.create("beta", "bob@beta.com")
		e.must(http.MethodPut, "/api/v1/tenants/acme/admins/"+u.ID, nil, "", http.StatusNoContent, nil)
		var admins userList
		e.must(http.MethodGet, "/api/v1/tenants/acme/admins", nil, "", http.StatusOK, &admins)
		if len(admins.Data) != 1 || admins.Data[0].ID != u.ID {
			t.Fatalf("admins: %+v", admins.Data)
		}
		// Another tenant's user is no user of this one.
		apiError(t, "beta's user", e.call(http.MethodPut, "/api/v1/tenants/acme/admins/"+b.ID, "manage", nil, ""), http.StatusNotFound, "not_found")
		if is, _ := e.st.IsAdmin(context.Background(), e.beta.ID, b.ID); is {
			t.Fatal("beta's user became an admin through acme")
		}
		// The last admin is not removed (409, nothing changed); once another is made, it is.
		msg := apiError(t, "last admin", e.call(http.MethodDelete, "/api/v1/tenants/acme/admins/"+u.ID, "manage", nil, ""), http.StatusConflict, "conflict")
		if is, _ := e.st.IsAdmin(context.Background(), e.acme.ID, u.ID); !is || !strings.Contains(msg, "last admin") {
			t.Fatalf("the last admin removed, or %q", msg)
		}
		if err := e.st.SetAdmin(context.Background(), e.acme.ID, e.create("acme", "carol@acme.com").ID, true); err != nil {
			t.Fatal(err)
		}
		e.must(http.MethodDelete, "/api/v1/tenants/acme/admins/"+u.ID, nil, "", http.StatusNoContent, nil)
		if is, _ := e.st.IsAdmin(context.Background(), e.acme.ID, u.ID); is {
			t.Fatal("still an admin")
		}

		// Every change above is audited with the API key as its actor.
		k, err := e.st.APIKeyByHash(context.Background(), store.HashSecret(e.keys["manage"]))
		if err != nil {
			t.Fatal(err)
		}
		var audit struct {
			Data []struct {
				Tenant *string `json:"tenant"`
				Action string  `json:"action"`
				Actor  struct{ Kind, ID string }
			}
			NextCursor *string `json:"next_cursor"`
		}
		e.must(http.MethodGet, "/api/v1/audit?tenant=acme&limit=2", nil, "", http.StatusOK, &audit)
		if len(audit.Data) != 2 || audit.NextCursor == nil || audit.Data[0].Action != "admin.removed" || audit.Data[0].Actor.Kind != store.ActorAPIKey ||
			audit.Data[0].Actor.ID != k.ID || audit.Data[0].Tenant == nil || *audit.Data[0].Tenant != "acme" {
			t.Fatalf("audit: %+v", audit)
		}
		e.must(http.MethodGet, "/api/v1/audit?tenant=acme&before="+*audit.NextCursor, nil, "", http.StatusOK, &audit)
		if len(audit.Data) < 2 || audit.Data[0].Action != "admin.added" || audit.Data[1].Action != "setup_link.created" { // alice's (carol's was by the CLI, on page 1)
			t.Fatalf("audit's next page: %+v", audit.Data)
		}
		apiError(t, "audit of an unknown tenant", e.call(http.MethodGet, "/api/v1/audit?tenant=nobody", "manage", nil, ""), http.StatusNotFound, "not_found")
	})
}

// TestManageSetupLinkRevoke: a setup link revoked over the API, as `setup-link revoke`: it no longer
// opens the console, the console sessions it opened end, the revocation is audited with the key as
// its actor; revoking again changes nothing; another tenant's link is a 404 and stays usable.
func TestManageSetupLinkRevoke(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		newLink := func(slug string) (id, secret string) {
			var l struct{ ID, URL string }
			e.must(http.MethodPost, "/api/v1/tenants/"+slug+"/setup-links", map[string]any{}, "", http.StatusCreated, &l)
			return l.ID, l.URL[strings.LastIndex(l.URL, "/")+1:]
		}
		used, usedSecret := newLink("acme")
		waiting, waitingSecret := newLink("acme")
		betaLink, betaSecret := newLink("beta")
		// The console opens a used link as this (the console is not mounted here): a session of its own.
		sessionHash := store.HashSecret("console-session")
		if _, err := e.st.UseSetupLink(ctx, store.HashSecret(usedSecret), &store.AdminSession{IDHash: sessionHash, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.AdminSessionByHash(ctx, sessionHash); err != nil {
			t.Fatalf("the link's console session: %v", err)
		}

		e.must(http.MethodDelete, "/api/v1/tenants/acme/setup-links/"+used, nil, "", http.StatusNoContent, nil)
		if _, err := e.st.AdminSessionByHash(ctx, sessionHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the revoked link's console session lives on: %v", err)
		}
		e.must(http.MethodDelete, "/api/v1/tenants/acme/setup-links/"+waiting, nil, "", http.StatusNoContent, nil)
		if _, err := e.st.UseSetupLink(ctx, store.HashSecret(waitingSecret), &store.AdminSession{IDHash: store.HashSecret("s2"), ExpiresAt: time.Now().Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked link opened the console: %v", err)
		}
		var ls struct{ Data []struct{ ID, Status string } }
		e.must(http.MethodGet, "/api/v1/tenants/acme/setup-links", nil, "", http.StatusOK, &ls)
		for _, l := range ls.Data {
			if l.Status != "revoked" {
				t.Errorf("setup link %s after revoke: %s; want revoked, the CLI's word", l.ID, l.Status)
			}
		}
		k, err := e.st.APIKeyByHash(ctx, store.HashSecret(e.keys["manage"]))
		if err != nil {
			t.Fatal(err)
		}
		acts := e.audit("acme", 1)
		if acts[0].Action != store.ActionSetupLinkRevoked || acts[0].Target != waiting || acts[0].Actor.Kind != store.ActorAPIKey || acts[0].Actor.ID != k.ID {
			t.Fatalf("audit of the revoke: %+v", acts[0])
		}

		before := e.snapshot()
		// Revoking again: 204, and nothing changes or is recorded.
		e.must(http.MethodDelete, "/api/v1/tenants/acme/setup-links/"+waiting, nil, "", http.StatusNoContent, nil)
		// beta's link, under acme's path: no link of acme's.
		msg := apiError(t, "beta's link", e.call(http.MethodDelete, "/api/v1/tenants/acme/setup-links/"+betaLink, "manage", nil, ""), http.StatusNotFound, "not_found")
		if !strings.Contains(msg, "acme has no setup link") {
			t.Errorf("beta's link: %q", msg)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("a revoke again or of beta's link changed the store:\n%s\nwas\n%s", after, before)
		}
		if _, err := e.st.UseSetupLink(ctx, store.HashSecret(betaSecret), &store.AdminSession{IDHash: store.HashSecret("s3"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatalf("beta's link no longer works: %v", err)
		}
	})
}

// TestManageTestLinkAndKeys: a test sign-in link made as `sso test-link` makes it, only while SSO is
// testing or active, audited with the key; new OpenID signing keys made as `oidc rotate-key` makes
// them, answered without their private halves.
func TestManageTestLinkAndKeys(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]any{"metadata_xml": idpMetadata(t), "state": "testing"}, "", http.StatusOK, nil)
		var link struct {
			URL       string    `json:"url"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		e.must(http.MethodPost, "/api/v1/tenants/acme/sso/test-links", map[string]string{"expires": "2h"}, "", http.StatusCreated, &link)
		token, ok := strings.CutPrefix(link.URL, e.srv.URL+"/saml/acme/test?token=")
		if !ok || link.ExpiresAt.After(time.Now().Add(2*time.Hour)) || link.ExpiresAt.Before(time.Now().Add(time.Hour)) {
			t.Fatalf("test link: %+v", link)
		}
		// The link is one of acme's, not beta's (the SAML test page, not mounted here, asks this).
		if err := e.st.TestLinkValid(ctx, e.acme.ID, store.HashSecret(token)); err != nil {
			t.Fatalf("the test link is not acme's: %v", err)
		}
		if err := e.st.TestLinkValid(ctx, e.beta.ID, store.HashSecret(token)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("acme's test link is valid for beta: %v", err)
		}
		k, err := e.st.APIKeyByHash(ctx, store.HashSecret(e.keys["manage"]))
		if err != nil {
			t.Fatal(err)
		}
		if acts := e.audit("acme", 1); acts[0].Action != store.ActionSSOTestStarted || acts[0].Actor.Kind != store.ActorAPIKey || acts[0].Actor.ID != k.ID {
			t.Fatalf("audit of the test link: %+v", acts[0])
		}
		e.must(http.MethodPost, "/api/v1/tenants/acme/sso/test-links", map[string]any{}, "", http.StatusCreated, &link)
		if d := time.Until(link.ExpiresAt); d > time.Hour || d < 50*time.Minute {
			t.Fatalf("a test link without expires expires in %v; want 1h, sso test-link's default", d)
		}
		// beta's SSO is off: no test link, and nothing stored.
		before := e.snapshot()
		apiError(t, "beta's test link", e.call(http.MethodPost, "/api/v1/tenants/beta/sso/test-links", "manage", map[string]any{}, ""), http.StatusConflict, "conflict")
		if e.snapshot() != before {
			t.Fatal("a refused test link changed the store")
		}

		var keys struct{ Data []map[string]any }
		res := e.must(http.MethodPost, "/api/v1/oidc/rotate-key", nil, "", http.StatusOK, &keys)
		if len(keys.Data) == 0 || strings.Contains(string(res.body), "PRIVATE") || strings.Contains(string(res.body), "private") {
			t.Fatalf("rotate-key: %s", res.body)
		}
		current, err := e.st.OIDCKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		live := map[string]string{}
		for _, c := range current {
			if c.RetiresAt.IsZero() {
				live[c.ID] = c.Algorithm
			}
		}
		for _, k := range keys.Data {
			if id, _ := k["id"].(string); live[id] == "" || live[id] != k["algorithm"] || len(k) != 2 {
				t.Errorf("rotated key %v is not a current key %v", k, live)
			}
		}
		if len(live) != len(keys.Data) {
			t.Errorf("%d current keys, %d answered", len(live), len(keys.Data))
		}
		var audit struct {
			Data []auditEntry
		}
		e.must(http.MethodGet, "/api/v1/audit?limit=1", nil, "", http.StatusOK, &audit)
		if a := audit.Data[0]; a.Action != store.ActionOIDCKeyRotated || a.Tenant != nil || a.Actor.Kind != store.ActorAPIKey || a.Actor.ID != k.ID {
			t.Fatalf("audit of the rotation: %+v", a)
		}
	})
}

// TestManagePasswords: the password of a user on the exclusion list set as `user set-password` sets
// it, by store's rules, never echoed nor stored in clear, audited with the key; any other user, a
// short password or another tenant's user is refused, storing nothing.
func TestManagePasswords(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const pw = "correct horse battery staple"
		alice := e.create("acme", "alice@acme.com")
		e.create("beta", "bob@beta.com")
		set := func(email, password string) response {
			return e.call(http.MethodPost, "/api/v1/tenants/acme/passwords", "manage", map[string]string{"email": email, "password": password}, "")
		}
		before := e.snapshot()
		msg := apiError(t, "not excluded", set("alice@acme.com", pw), http.StatusBadRequest, "invalid_request")
		if !strings.HasPrefix(msg, "email: ") || !strings.Contains(msg, `not on tenant "acme"'s exclusion list`) {
			t.Errorf("not excluded: %q", msg)
		}
		if e.snapshot() != before {
			t.Fatal("a refused password changed the store")
		}
		e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]string{"exclude": "alice@acme.com,ghost@acme.com,bob@beta.com"}, "", http.StatusOK, nil)
		before = e.snapshot()
		for _, tc := range []struct {
			name, body string
			status     int
			code, want string
		}{
			{"no such user", `{"email":"ghost@acme.com","password":"` + pw + `"}`, 404, "not_found", "has no user ghost@acme.com"},
			{"beta's user", `{"email":"bob@beta.com","password":"` + pw + `"}`, 404, "not_found", "has no user bob@beta.com"},
			{"a look-alike email", `{"email":"jösé@acme.com","password":"` + pw + `"}`, 400, "invalid_request", "email: "},
			{"no email", `{"password":"` + pw + `"}`, 400, "invalid_request", "email: "},
			{"a short password", `{"email":"alice@acme.com","password":"short"}`, 400, "invalid_request", "password: the password must be at least 12"},
			{"eleven characters of many bytes", `{"email":"alice@acme.com","password":"ééééééééééé"}`, 400, "invalid_request", "at least 12"},
			{"a long password", `{"email":"alice@acme.com","password":"` + strings.Repeat("p", 1025) + `"}`, 400, "invalid_request", "at most 1024 bytes"},
			{"no password", `{"email":"alice@acme.com"}`, 400, "invalid_request", "password: "},
			{"a password not a string", `{"email":"alice@acme.com","password":123456789012}`, 400, "invalid_request", "password must be a string"},
			{"an unknown field", `{"email":"alice@acme.com","password":"` + pw + `","admin":true}`, 400, "invalid_request", `"admin"`},
		} {
			res := e.call(http.MethodPost, "/api/v1/tenants/acme/passwords", "manage", tc.body, "")
			if msg := apiError(t, tc.name, res, tc.status, tc.code); !strings.Contains(msg, tc.want) || strings.Contains(msg, "horse") {
				t.Errorf("%s: %q; want %q, and never the password", tc.name, msg, tc.want)
			}
			if e.snapshot() != before {
				t.Fatalf("%s changed the store", tc.name)
			}
			if _, err := e.st.PasswordHash(ctx, e.acme.ID, alice.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s stored a password: %v", tc.name, err)
			}
		}

		res := set("ALICE@acme.com", pw)
		if res.status != http.StatusNoContent || len(res.body) != 0 {
			t.Fatalf("set: %v", res)
		}
		h, err := e.st.PasswordHash(ctx, e.acme.ID, alice.ID)
		if err != nil || !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, pw) {
			t.Fatalf("stored %q, %v; want an argon2id hash", h, err)
		}
		acts := e.audit("acme", 1)
		if acts[0].Action != store.ActionPasswordSet || acts[0].Actor.Kind != store.ActorAPIKey || acts[0].Target != alice.ID ||
			strings.Contains(string(acts[0].Before)+string(acts[0].After), "horse") || strings.Contains(string(acts[0].After), "argon2") {
			t.Fatalf("audit of the password: %+v", acts[0])
		}
	})
}

// TestManageSCIMRequests: a tenant's SCIM write attempts, accepted and refused, newest first, within
// since and limit, as `audit` lists them; never another tenant's.
func TestManageSCIMRequests(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		alice := e.create("acme", "alice@acme.com")
		e.create("acme", "bob@acme.com")
		// A refused write: a user without a name.
		res := e.send(http.MethodPost, "/scim/v2/acme/Users", "Bearer "+e.scimTokens["acme"],
			strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@acme.com","emails":[{"value":"alice@acme.com","primary":true}]}`),
			"application/scim+json")
		if res.status != http.StatusBadRequest {
			t.Fatalf("SCIM create without a name: %v", res)
		}
		e.create("beta", "carol@beta.com")
		toks, err := e.st.ListTokens(context.Background(), e.acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		type entry struct {
			Time      time.Time `json:"time"`
			TokenID   string    `json:"token_id"`
			Operation string    `json:"operation"`
			UserID    string    `json:"user_id"`
			Outcome   string    `json:"outcome"`
		}
		var l struct{ Data []entry }
		e.must(http.MethodGet, "/api/v1/tenants/acme/scim-requests", nil, "", http.StatusOK, &l)
		if len(l.Data) != 3 || l.Data[0].Outcome != "400" || l.Data[2].UserID != alice.ID || l.Data[2].Operation != "create" {
			t.Fatalf("acme's SCIM requests: %+v", l.Data)
		}
		for i, a := range l.Data {
			if a.TokenID != toks[0].ID || (i > 0 && a.Time.After(l.Data[i-1].Time)) {
				t.Fatalf("entry %d: %+v; want acme's token, newest first", i, a)
			}
		}
		e.must(http.MethodGet, "/api/v1/tenants/acme/scim-requests?limit=1&since=7d", nil, "", http.StatusOK, &l)
		if len(l.Data) != 1 || l.Data[0].Outcome != "400" {
			t.Fatalf("limit=1: %+v", l.Data)
		}
		e.must(http.MethodGet, "/api/v1/tenants/acme/scim-requests?since=0s", nil, "", http.StatusOK, &l)
		if l.Data == nil || len(l.Data) != 0 {
			t.Fatalf("since=0s: %+v", l.Data)
		}
		for _, q := range []string{"since=soon", "since=-1h", "limit=0", "limit=501", "after=1"} {
			msg := apiError(t, q, e.call(http.MethodGet, "/api/v1/tenants/acme/scim-requests?"+q, "manage", nil, ""), http.StatusBadRequest, "invalid_request")
			if name, _, _ := strings.Cut(q, "="); !strings.Contains(msg, name) {
				t.Errorf("%s: %q does not name %s", q, msg, name)
			}
		}
	})
}

// TestManagePasswordsHashedFewAtATime: concurrent password sets hash at most two passwords at once
// (argon2id takes 19 MiB each), the rest waiting their turn, and every one succeeds.
func TestManagePasswordsHashedFewAtATime(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	e.create("acme", "alice@acme.com")
	e.must(http.MethodPatch, "/api/v1/tenants/acme/sso", map[string]string{"exclude": "alice@acme.com"}, "", http.StatusOK, nil)
	var running, most atomic.Int64
	cfg := manageConfig(e.st, zaptest.NewLogger(t), "https://sso.example", true)
	cfg.HashPassword = func(pw string) (string, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond) // long enough for the others to pile up
		return people.HashPassword(pw)
	}
	api, err := platformapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	api.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/tenants/acme/passwords",
				strings.NewReader(`{"email":"alice@acme.com","password":"correct horse battery staple"}`))
			req.Header.Set("Authorization", "Bearer "+e.keys["manage"])
			req.Header.Set("Content-Type", "application/json")
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if most.Load() > 2 || most.Load() < 1 {
		t.Fatalf("%d passwords hashed at once, want at most 2", most.Load())
	}
}
