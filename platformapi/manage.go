package platformapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/webhooks"
)

// The management API (scope manage): the operator's CLI over HTTP. Every change goes through the
// same function of store (or of the package that owns the rule) as the CLI's command, so both refuse
// the same things in the same words; the key that made it is the actor the store records.

// manageRoutes mounts the management API on api (/api/v1).
func (s *Server) manageRoutes(api *mux.Router) {
	m := func(name string, h http.HandlerFunc) method { return method{name, store.ScopeManage, h, ""} }
	const get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	api.Handle("/tenants/{slug}", s.methods(m(get, s.showTenant)))
	api.Handle("/tenants/{slug}/domains", s.methods(m(post, s.addDomain)))
	api.Handle("/tenants/{slug}/domains/{domain}", s.methods(m(del, s.removeDomain)))
	api.Handle("/tenants/{slug}/scim-tokens", s.methods(m(get, s.listTokens), m(post, s.issueToken)))
	api.Handle("/tenants/{slug}/scim-tokens/{id}", s.methods(m(del, s.revokeToken)))
	api.Handle("/tenants/{slug}/scim-requests", s.methods(m(get, s.listSCIMRequests)))
	api.Handle("/tenants/{slug}/sso", s.methods(m(get, s.showSSO), m(patch, s.patchSSO)))
	api.Handle("/tenants/{slug}/sso/refresh-metadata", s.methods(m(post, s.refreshMetadata)))
	api.Handle("/tenants/{slug}/sso/test-links", s.methods(m(post, s.createTestLink)))
	api.Handle("/tenants/{slug}/teams", s.methods(m(get, s.listTeams), m(post, s.addTeam)))
	api.Handle("/tenants/{slug}/department-map", s.methods(m(get, s.showDepartmentMap), m(put, s.putDepartmentMap), m(del, s.clearDepartmentMap)))
	api.Handle("/tenants/{slug}/setup-links", s.methods(m(get, s.listSetupLinks), m(post, s.createSetupLink)))
	api.Handle("/tenants/{slug}/setup-links/{id}", s.methods(m(del, s.revokeSetupLink)))
	api.Handle("/tenants/{slug}/passwords", s.methods(m(post, s.setPassword)))
	api.Handle("/tenants/{slug}/admins", s.methods(m(get, s.listAdmins)))
	api.Handle("/tenants/{slug}/admins/{user_id}", s.methods(m(put, s.setAdmin(true)), m(del, s.setAdmin(false))))
	api.Handle("/audit", s.methods(m(get, s.listAudit)))
	api.Handle("/clients", s.methods(m(get, s.listClients), m(post, s.addClient)))
	api.Handle("/clients/{id}", s.methods(m(del, s.removeClient)))
	// A client's back-channel logouts go through the webhooks' delivery: the same list and resend.
	api.Handle("/clients/{id}/deliveries", s.methods(m(get, s.listDeliveries(s.backchannelOf)), m(post, s.resend(s.backchannelOf))))
	api.Handle("/oidc/rotate-key", s.methods(m(post, s.rotateOIDCKeys)))
	api.Handle("/webhooks", s.methods(m(get, s.listWebhooks), m(post, s.addWebhook)))
	api.Handle("/webhooks/{id}", s.methods(m(del, s.removeWebhook)))
	api.Handle("/webhooks/{id}/deliveries", s.methods(m(get, s.listDeliveries(s.webhookOf)), m(post, s.resend(s.webhookOf))))
}

// withTenant runs h with the tenant {slug} names, or answers 404.
func (s *Server) withTenant(h func(http.ResponseWriter, *http.Request, *store.Tenant)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := s.tenant(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r, t)
	}
}

// dataList writes items as a list of one page: these lists are short (a tenant's tokens, teams).
func dataList[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, list[T]{Data: items})
}

// writeList answers a read of the store: err, or items, each as conv shows it, as a list of one page.
func writeList[T, U any](s *Server, w http.ResponseWriter, r *http.Request, items []T, err error, conv func(*T) U) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]U, 0, len(items))
	for i := range items {
		out = append(out, conv(&items[i]))
	}
	dataList(w, out)
}

// changeByID runs change on the id the path's {name} holds and answers 204, or a 404 with notFound
// (a format of the id) when change returns store.ErrNotFound. An id longer than any the store makes
// names nothing and is not looked up.
func (s *Server) changeByID(w http.ResponseWriter, r *http.Request, name, notFound string, change func(id string) error) {
	id := mux.Vars(r)[name]
	err := store.ErrNotFound
	if len(id) <= maxUserID {
		err = change(id)
	}
	if errors.Is(err, store.ErrNotFound) {
		err = errorf(http.StatusNotFound, codeNotFound, notFound, clip(id))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// timeOrNil is t in UTC, or nil for the zero time (JSON null: never).
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// --- tenants and domains ---------------------------------------------------------------------------

func newTenantObject(t *store.Tenant) tenantObject {
	domains := t.Domains
	if domains == nil {
		domains = []string{}
	}
	return tenantObject{Slug: t.Slug, Name: t.Name, Domains: domains, CreatedAt: t.CreatedAt.UTC()}
}

// tenantRequest is the body of POST /api/v1/tenants.
type tenantRequest struct {
	Slug    string   `json:"slug"`
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
}

// createTenant answers POST /api/v1/tenants {slug, name, domains}: 201 and the tenant, as `tenant
// create` makes it (store.CreateNewTenant).
func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) {
	var req tenantRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t := &store.Tenant{Slug: req.Slug, Name: req.Name, Domains: req.Domains}
	if err := store.CreateNewTenant(r.Context(), s.st, t, s.cfg.NewSPKeyPair); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/tenants/"+t.Slug)
	writeJSON(w, http.StatusCreated, newTenantObject(t))
}

// showTenant answers GET /api/v1/tenants/{slug}.
func (s *Server) showTenant(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		writeJSON(w, http.StatusOK, newTenantObject(t))
	})(w, r)
}

// addDomain answers POST /api/v1/tenants/{slug}/domains {domain}: 201 and the tenant.
func (s *Server) addDomain(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		var req struct {
			Domain string `json:"domain"`
		}
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if _, err := store.AddTenantDomain(r.Context(), s.st, t, req.Domain); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeTenant(w, r, t.ID, http.StatusCreated)
	})(w, r)
}

// removeDomain answers DELETE /api/v1/tenants/{slug}/domains/{domain}: 200 and the tenant.
func (s *Server) removeDomain(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		if _, err := store.RemoveTenantDomain(r.Context(), s.st, t, mux.Vars(r)["domain"]); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeTenant(w, r, t.ID, http.StatusOK)
	})(w, r)
}

// writeTenant writes the tenant as it is stored now.
func (s *Server) writeTenant(w http.ResponseWriter, r *http.Request, id string, status int) {
	t, err := s.st.TenantByID(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, status, newTenantObject(t))
}

// --- SCIM tokens -----------------------------------------------------------------------------------

// tokenObject is a SCIM token as events show it (never the token or its hash), with its status.
type tokenObject struct {
	store.TokenObject
	Status string `json:"status"` // live, expired or revoked
}

func (s *Server) newTokenObject(slug string) func(t *store.Token) tokenObject {
	return func(t *store.Token) tokenObject {
		status := "live"
		switch {
		case !t.RevokedAt.IsZero():
			status = "revoked"
		case !t.Live(s.cfg.Now()):
			status = "expired"
		}
		return tokenObject{store.NewTokenObject(t, slug), status}
	}
}

// listTokens answers GET /api/v1/tenants/{slug}/scim-tokens: newest first.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		toks, err := s.st.ListTokens(r.Context(), t.ID)
		writeList(s, w, r, toks, err, s.newTokenObject(t.Slug))
	})(w, r)
}

// issueToken answers POST /api/v1/tenants/{slug}/scim-tokens {name, expires}: 201 with the token,
// shown this once (only its hash is stored), as `token issue`.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		var req struct {
			Name    string `json:"name"`
			Expires string `json:"expires"` // a duration such as 90d; "" or absent: never
		}
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		dur, err := store.ParseLifetime(req.Expires, 0, 0)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var exp time.Time
		if dur > 0 {
			exp = s.cfg.Now().Add(dur)
		}
		secret, tok, err := store.IssueToken(r.Context(), s.st, t.ID, req.Name, exp)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, struct {
			tokenObject
			Token string `json:"token"`
		}{s.newTokenObject(t.Slug)(tok), secret})
	})(w, r)
}

// revokeToken answers DELETE /api/v1/tenants/{slug}/scim-tokens/{id}: 204; 404 unless the tenant has
// that token live.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		s.changeByID(w, r, "id", "Tenant "+t.Slug+" has no live SCIM token %q.", func(id string) error {
			return s.st.RevokeToken(r.Context(), t.ID, id)
		})
	})(w, r)
}

// scimRequestObject is a SCIM write attempt as the SCIM audit records it.
type scimRequestObject struct {
	Time      time.Time `json:"time"`
	TokenID   string    `json:"token_id"`
	Operation string    `json:"operation"` // create, replace, patch, delete
	UserID    string    `json:"user_id"`   // "" when none was reached
	Outcome   string    `json:"outcome"`   // the HTTP status, or "ok"
	Detail    string    `json:"detail"`
}

// maxSCIMRequests bounds a list of SCIM requests, as store.RecentAudit does.
const maxSCIMRequests = 500

// listSCIMRequests answers GET /api/v1/tenants/{slug}/scim-requests?since=24h&limit=50: the tenant's
// latest SCIM write attempts, accepted and refused, newest first, those within since (a duration as
// `audit --since` takes it; default 24h), at most limit (at most 500): what `audit` lists.
func (s *Server) listSCIMRequests(w http.ResponseWriter, r *http.Request) {
	p, err := params(r.URL.RawQuery, "since", "limit")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := parseLimit(p["limit"], defaultPage, maxSCIMRequests)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	since := 24 * time.Hour
	if v := p["since"]; v != "" {
		if since, err = store.ParseDuration(v); err != nil || since < 0 {
			s.writeError(w, r, invalid("since must be a duration such as 24h or 7d, not %q.", clip(v)))
			return
		}
	}
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		as, err := s.st.RecentAudit(r.Context(), t.ID, limit)
		from := s.cfg.Now().Add(-since)
		// Newest first: the entries within since are a head of the list.
		n := 0
		for n < len(as) && !as[n].Time.Before(from) {
			n++
		}
		writeList(s, w, r, as[:n], err, func(a *store.Audit) scimRequestObject {
			return scimRequestObject{a.Time.UTC(), a.TokenID, a.Operation, a.UserID, a.Outcome, a.Detail}
		})
	})(w, r)
}

// --- teams and the department map ------------------------------------------------------------------

// teamObject is a team as the audit log shows it, and whether it is the tenant's root team.
type teamObject struct {
	store.TeamAuditObject
	Root bool `json:"root"`
}

func newTeamObject(tm *store.Team) teamObject {
	return teamObject{store.TeamAuditObject{ID: tm.ID, Name: tm.Name, Hidden: tm.Hidden}, tm.Root}
}

// listTeams answers GET /api/v1/tenants/{slug}/teams: by name, the root team included.
func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		teams, err := s.st.ListTeams(r.Context(), t.ID)
		writeList(s, w, r, teams, err, newTeamObject)
	})(w, r)
}

// addTeam answers POST /api/v1/tenants/{slug}/teams {name, hidden}: 201 and the team.
func (s *Server) addTeam(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		var req struct {
			Name   string `json:"name"`
			Hidden bool   `json:"hidden"`
		}
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		tm, err := store.AddTeam(r.Context(), s.st, t, req.Name, req.Hidden)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, newTeamObject(tm))
	})(w, r)
}

// departmentRow is a row of a department map, as the audit log shows it.
type departmentRow = store.DepartmentMappingAuditObject

// showDepartmentMap answers GET /api/v1/tenants/{slug}/department-map: the rows by department.
func (s *Server) showDepartmentMap(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		s.writeDepartmentMap(w, r, t)
	})(w, r)
}

func (s *Server) writeDepartmentMap(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
	m, err := s.st.DepartmentMap(r.Context(), t.ID)
	writeList(s, w, r, m, err, func(row *store.DepartmentMapping) departmentRow { return departmentRow(*row) })
}

// putDepartmentMap answers PUT /api/v1/tenants/{slug}/department-map: the tenant's whole map, as a
// text/csv file (`department,team` rows, as department-map import reads them) or JSON
// {"data":[{department,team}…]} (GET's shape). Every bad line (or row) is named by its number and
// nothing is imported; 200 and the map as stored. A file without a row is refused: only JSON's
// empty "data" clears the map.
func (s *Server) putDepartmentMap(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		rows, err := readDepartmentMap(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := store.ImportDepartmentMap(r.Context(), s.st, t, rows); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeDepartmentMap(w, r, t)
	})(w, r)
}

// clearDepartmentMap answers DELETE /api/v1/tenants/{slug}/department-map: 204, the map emptied, as
// `department-map clear` does it (store.ImportDepartmentMap of no rows); an empty map is no error.
func (s *Server) clearDepartmentMap(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		if err := store.ImportDepartmentMap(r.Context(), s.st, t, nil); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})(w, r)
}

// readDepartmentMap reads the body of PUT department-map in either form.
func readDepartmentMap(r *http.Request) ([]store.DepartmentMapping, error) {
	b, mt, err := readBody(r, "text/csv", "application/json")
	if err != nil {
		return nil, err
	}
	return parseDepartmentMap(b, mt)
}

// parseDepartmentMap reads a department map body of media type mt: the rules of
// store.ParseDepartmentMap for a file, of store.CheckDepartmentMap for JSON rows.
func parseDepartmentMap(b []byte, mt string) ([]store.DepartmentMapping, error) {
	var rows []store.DepartmentMapping
	var err error
	if mt == "text/csv" {
		rows, err = store.ParseDepartmentMap(bytesReader(b))
	} else {
		var req struct {
			Data []departmentRow `json:"data"`
		}
		if err := decodeJSON(b, &req); err != nil {
			return nil, err
		}
		if req.Data == nil {
			return nil, invalid("data: required: an array of {department, team} rows (an empty array clears the map).")
		}
		for _, row := range req.Data {
			rows = append(rows, store.DepartmentMapping(row))
		}
		err = store.CheckDepartmentMap(rows)
	}
	if errors.Is(err, store.ErrEmptyDepartmentMap) || errors.Is(err, store.ErrDepartmentMapTooLarge) {
		// An empty upload is most likely a mistake; clearing the map is asked for in JSON.
		return nil, invalid("Nothing imported: %s; to clear the map, PUT {\"data\":[]} as application/json.", err)
	}
	var de *store.DepartmentMapError
	if errors.As(err, &de) {
		msg := de.Error()
		if mt != "text/csv" { // JSON has rows, not lines: the same numbers, by their name
			parts := make([]string, len(de.Lines))
			for i, l := range de.Lines {
				parts[i] = fmt.Sprintf("data row %d: %s", l.Line, l.Reason)
			}
			msg = strings.Join(parts, "; ")
		}
		return nil, invalid("Nothing imported: %s.", msg)
	}
	return rows, err
}

// --- clients and webhooks --------------------------------------------------------------------------

// clientObject is a client as the audit log shows it (never its secret's hash), its lists never null
// and its ID token algorithm named.
type clientObject = store.OIDCClientAuditObject

func newClientObject(c *store.OIDCClient) clientObject {
	o := store.NewOIDCClientAuditObject(c)
	if o.IDTokenAlg == "" {
		o.IDTokenAlg = store.AlgRS256
	}
	if o.RedirectURIs == nil {
		o.RedirectURIs = []string{}
	}
	if o.PostLogoutRedirectURIs == nil {
		o.PostLogoutRedirectURIs = []string{}
	}
	return o
}

// listClients answers GET /api/v1/clients: by name; never a secret or its hash.
func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	cs, err := s.st.ListOIDCClients(r.Context())
	writeList(s, w, r, cs, err, newClientObject)
}

// clientRequest is the body of POST /api/v1/clients, `client add`'s flags.
type clientRequest struct {
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	Public                 bool     `json:"public"`
	IDTokenAlg             string   `json:"id_token_alg"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri"`
}

// addClient answers POST /api/v1/clients: 201 and the client, with client_secret (shown this once)
// for a confidential one.
func (s *Server) addClient(w http.ResponseWriter, r *http.Request) {
	var req clientRequest
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, secret, err := s.cfg.NewOIDCClient(store.OIDCClientSpec(req))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.st.CreateOIDCClient(r.Context(), c); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		clientObject
		ClientSecret string `json:"client_secret,omitempty"`
	}{newClientObject(c), secret})
}

// removeClient answers DELETE /api/v1/clients/{id}: 204; its tokens stop working at once.
func (s *Server) removeClient(w http.ResponseWriter, r *http.Request) {
	s.changeByID(w, r, "id", "There is no client %q.", func(id string) error { return s.st.DeleteOIDCClient(r.Context(), id) })
}

// rotateOIDCKeys answers POST /api/v1/oidc/rotate-key: 200 and the new ID token signing keys (id and
// algorithm, never a private half), as `oidc rotate-key`: they sign within seconds on every replica,
// and the keys they replace stay in the published key set for a day.
func (s *Server) rotateOIDCKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.cfg.RotateOIDCKeys(r.Context())
	writeList(s, w, r, keys, err, func(k *store.OIDCKey) store.OIDCKeyAuditObject {
		return store.OIDCKeyAuditObject{ID: k.ID, Algorithm: k.Algorithm}
	})
}

// webhookObject is a webhook as the audit log shows it (never its secret; types empty: every
// type), and how its delivery goes.
type webhookObject struct {
	store.WebhookAuditObject
	Behind   int64 `json:"behind"`   // events not yet delivered or given up
	Failures int   `json:"failures"` // attempts failed since the last delivery
}

// listWebhooks answers GET /api/v1/webhooks: oldest first; never a secret. An OpenID client's
// back-channel logout is the client's, listed with it.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.st.ListWebhooks(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	last, err := s.st.LastEventSeq(r.Context(), false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []webhookObject{}
	for _, h := range hooks {
		if h.Kind == store.KindWebhook {
			out = append(out, webhookObject{store.NewWebhookAuditObject(&h), max(last-h.Cursor, 0), h.Failures})
		}
	}
	dataList(w, out)
}

// addWebhook answers POST /api/v1/webhooks {url, types}: 201 and the webhook with its signing secret,
// shown this once, as `webhook add` (webhooks.Add, with the server's loopback setting).
func (s *Server) addWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL   string   `json:"url"`
		Types []string `json:"types"`
	}
	if err := decodeBody(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Checked here, not only in Add, so that each refusal names its field.
	if err := webhooks.CheckURL(req.URL, s.cfg.AllowHTTPLoopback); err != nil {
		s.writeError(w, r, invalid("url: %s", err))
		return
	}
	if _, err := store.ParseEventTypes(req.Types...); err != nil {
		s.writeError(w, r, invalid("types: %s", err))
		return
	}
	h, err := webhooks.Add(r.Context(), s.st, req.URL, req.Types, s.cfg.AllowHTTPLoopback)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		webhookObject
		Secret string `json:"secret"`
	}{webhookObject{WebhookAuditObject: store.NewWebhookAuditObject(h)}, h.Secret})
}

// webhookOf returns the webhook {id} names, or a 404; an OpenID client's back-channel logout is not
// one (it goes with its client).
func (s *Server) webhookOf(r *http.Request) (*store.Webhook, error) {
	id := mux.Vars(r)["id"]
	h, err := (*store.Webhook)(nil), store.ErrNotFound
	if len(id) <= maxUserID {
		h, err = s.st.Webhook(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && h.Kind != store.KindWebhook) {
		return nil, errorf(http.StatusNotFound, codeNotFound, "There is no webhook %q.", clip(id))
	}
	return h, err
}

// backchannelOf returns the back-channel logout destination of the OpenID client {id} names, or a 404.
func (s *Server) backchannelOf(r *http.Request) (*store.Webhook, error) {
	id := mux.Vars(r)["id"]
	h, err := (*store.Webhook)(nil), store.ErrNotFound
	if len(id) <= maxUserID {
		h, err = store.BackchannelOf(r.Context(), s.st, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, codeNotFound, "There is no client %q with a back-channel logout URI.", clip(id))
	}
	return h, err
}

// destination finds the destination of events a deliveries path names: webhookOf or backchannelOf.
type destination func(r *http.Request) (*store.Webhook, error)

// removeWebhook answers DELETE /api/v1/webhooks/{id}: 204; delivery to it stops at once.
func (s *Server) removeWebhook(w http.ResponseWriter, r *http.Request) {
	h, err := s.webhookOf(r)
	if err == nil {
		err = s.st.DeleteWebhook(r.Context(), h.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type deliveryObject struct {
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	Seq       int64     `json:"seq"`
	EventType string    `json:"event_type"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"` // the receiver's HTTP status; 0: none (timeout, connection error)
	Error     string    `json:"error"`
	Resend    bool      `json:"resend"`
}

// listDeliveries answers GET /api/v1/webhooks/{id}/deliveries?outcome=&limit= (and a client's
// back-channel logouts, /api/v1/clients/{id}/deliveries): the latest attempts and give-ups, newest
// first, as `webhook deliveries`.
func (s *Server) listDeliveries(dest destination) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.writeDeliveries(w, r, dest) }
}

func (s *Server) writeDeliveries(w http.ResponseWriter, r *http.Request, dest destination) {
	p, err := params(r.URL.RawQuery, "outcome", "limit")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := parseLimit(p["limit"], defaultPage, store.MaxDeliveries)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch p["outcome"] {
	case "", store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryGaveUp:
	default:
		s.writeError(w, r, invalid("outcome must be %s, %s or %s, not %q.", store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryGaveUp, clip(p["outcome"])))
		return
	}
	h, err := dest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := s.st.ListDeliveries(r.Context(), h.ID, p["outcome"], limit)
	writeList(s, w, r, ds, err, func(d *store.Delivery) deliveryObject {
		return deliveryObject{d.At.UTC(), d.EventID, d.Seq, d.EventType, d.Outcome, d.Status, d.Error, d.Resend}
	})
}

// resend answers POST /api/v1/webhooks/{id}/deliveries {event_id} (and a client's back-channel
// logouts, /api/v1/clients/{id}/deliveries): 202, one more delivery of the event queued whatever
// became of the earlier ones (delivered, failed, given up), as `webhook deliveries --resend`; a server
// sends it within seconds, and the deliveries list it with resend true. 404 for an event never sent
// there (or no longer kept).
func (s *Server) resend(dest destination) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h, err := dest(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var req struct {
			EventID string `json:"event_id"`
		}
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.EventID == "" {
			s.writeError(w, r, invalid("event_id: required: the id of an event the deliveries list."))
			return
		}
		err = store.ErrNotFound
		if len(req.EventID) <= maxUserID {
			err = s.cfg.Resend(r.Context(), h.ID, req.EventID)
		}
		if errors.Is(err, store.ErrNotFound) {
			err = errorf(http.StatusNotFound, codeNotFound, "Event %q was never sent there, or is no longer kept; GET the deliveries for the events that were.", clip(req.EventID))
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}
