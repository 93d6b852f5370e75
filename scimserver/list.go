package scimserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// document is the full SCIM representation of u as this server returns it.
func (s *Server) document(slug string, u *store.User) doc {
	d := render(u)
	d["id"] = u.ID
	d["schemas"] = userSchemas(d)
	d["meta"] = map[string]any{
		"resourceType": "User",
		"created":      u.CreatedAt.Format(time.RFC3339),
		"lastModified": u.UpdatedAt.Format(time.RFC3339),
		"location":     s.userURL(slug, u.ID),
		"version":      etag(u.Version),
	}
	return d
}

// encodeDocument returns the JSON of document(slug, u), projected by p. For a user SCIM created, whose
// Extra already holds every non-modelled attribute as JSON, it splices those bytes instead of decoding
// and re-encoding them: a filtered GET is the request Okta and Entra send most.
func (s *Server) encodeDocument(slug string, u *store.User, p projection) json.RawMessage {
	if len(p.include) > 0 || len(p.exclude) > 0 || u.Source != store.SourceSCIM || len(u.Extra) < 2 || u.Extra[0] != '{' {
		b, _ := json.Marshal(p.apply(s.document(slug, u)))
		return b
	}
	b := make([]byte, 0, 512+len(u.Extra))
	b = append(b, `{"schemas":["`+schemas.CoreUserURN...)
	if bytes.Contains(u.Extra, []byte(`"`+schemas.EnterpriseUserURN+`"`)) {
		b = append(b, `","`+schemas.EnterpriseUserURN...)
	}
	b = append(b, `"],"id":`...)
	b = appendString(b, u.ID)
	if u.ExternalID != "" {
		b = append(b, `,"externalId":`...)
		b = appendString(b, u.ExternalID)
	}
	b = append(b, `,"userName":`...)
	b = appendString(b, u.UserName)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, u.Active)
	b = append(b, `,"emails":`...)
	b = appendEmails(b, u.Emails)
	b = append(b, `,"meta":{"resourceType":"User","created":"`...)
	b = u.CreatedAt.AppendFormat(b, time.RFC3339)
	b = append(b, `","lastModified":"`...)
	b = u.UpdatedAt.AppendFormat(b, time.RFC3339)
	b = append(b, `","location":`...)
	b = appendString(b, s.userURL(slug, u.ID))
	b = append(b, `,"version":`...)
	b = appendString(b, etag(u.Version))
	b = append(b, '}')
	if inner := bytes.TrimSpace(u.Extra[1 : len(u.Extra)-1]); len(inner) > 0 {
		b = append(b, ',')
		b = append(b, inner...)
	}
	return append(b, '}')
}

func userSchemas(d doc) []string {
	if lookup(d, schemas.EnterpriseUserURN) != nil {
		return []string{schemas.CoreUserURN, schemas.EnterpriseUserURN}
	}
	return []string{schemas.CoreUserURN}
}

// projection applies attributes / excludedAttributes (RFC 7644 §3.4.2.5); id and schemas always stay.
type projection struct {
	include, exclude []string // lower-cased paths
}

func projectionOf(q url.Values) projection {
	split := func(v string) []string {
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
				out = append(out, strings.TrimPrefix(p, strings.ToLower(schemas.CoreUserURN)+":"))
			}
		}
		return out
	}
	return projection{include: split(q.Get("attributes")), exclude: split(q.Get("excludedAttributes"))}
}

func (p projection) apply(d doc) doc {
	if len(p.include) == 0 && len(p.exclude) == 0 {
		return d
	}
	ext := strings.ToLower(schemas.EnterpriseUserURN)
	out := doc{}
	for k, v := range d {
		lk := strings.ToLower(k)
		if lk == "id" || lk == "schemas" {
			out[k] = v
			continue
		}
		if len(p.include) > 0 {
			v = p.pick(lk, ext, v)
			if v == nil {
				continue
			}
		}
		v = p.drop(lk, ext, v)
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// subsOf looks attribute k up in a list of paths: whole is true when the list names k itself, subs
// are the sub-attributes of k it names (after "k." or, for the extension, "urn…:User:").
func subsOf(list []string, k, ext string) (whole bool, subs []string) {
	for _, path := range list {
		if path == k {
			return true, nil
		}
		if rest, ok := strings.CutPrefix(path, k+"."); ok {
			subs = append(subs, rest)
		} else if rest, ok := strings.CutPrefix(path, k+":"); ok && k == ext {
			subs = append(subs, rest)
		}
	}
	return false, subs
}

// pick returns the part of attribute k (value v) that the attributes list asks for, or nil.
func (p projection) pick(k, ext string, v any) any {
	whole, subs := subsOf(p.include, k, ext)
	switch {
	case whole:
		return v
	case len(subs) == 0:
		return nil
	}
	return keepSubs(v, subs, true)
}

// drop returns attribute k (value v) without what excludedAttributes names, or nil.
func (p projection) drop(k, ext string, v any) any {
	whole, subs := subsOf(p.exclude, k, ext)
	switch {
	case whole:
		return nil
	case len(subs) == 0:
		return v
	}
	return keepSubs(v, subs, false)
}

// keepSubs keeps (keep=true) or removes the named sub-attributes of a complex or multi-valued value.
func keepSubs(v any, subs []string, keep bool) any {
	filterMap := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, x := range m {
			listed := false
			for _, s := range subs {
				if strings.EqualFold(s, k) {
					listed = true
				}
			}
			if listed == keep {
				out[k] = x
			}
		}
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		return filterMap(x)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out = append(out, filterMap(m))
			}
		}
		return out
	}
	return v
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, id string) {
	st := stateOf(r)
	u, err := s.st.UserByID(r.Context(), st.tenant.ID, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(u.Version))
	writeJSON(w, http.StatusOK, s.encodeDocument(st.tenant.Slug, u, projectionOf(r.URL.Query())))
}

type listResponse struct {
	Schemas      []string          `json:"schemas"`
	TotalResults int               `json:"totalResults"`
	StartIndex   int               `json:"startIndex"`
	ItemsPerPage int               `json:"itemsPerPage"`
	Resources    []json.RawMessage `json:"Resources"`
}

// intParam reads a paging parameter; a value that is not an integer is a 400.
func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, invalidValue("%s must be an integer", name)
	}
	return n, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	query := r.URL.Query()
	start, err := intParam(query, "startIndex", 1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	count, err := intParam(query, "count", maxResults)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	start = max(start, 1)
	count = min(max(count, 0), maxResults)
	var f *store.Filter
	if fs := query.Get("filter"); strings.TrimSpace(fs) != "" {
		if f, err = parseFilter(fs); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	found, total, err := s.st.ListUsers(r.Context(), st.tenant.ID, store.UserQuery{Filter: f, Offset: start - 1, Limit: count})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := projectionOf(query)
	res := listResponse{Schemas: []string{schemas.ListResponseURN}, TotalResults: total, StartIndex: start, ItemsPerPage: len(found), Resources: make([]json.RawMessage, 0, len(found))}
	for i := range found {
		res.Resources = append(res.Resources, s.encodeDocument(st.tenant.Slug, &found[i], p))
	}
	writeJSON(w, http.StatusOK, res)
}

// serviceProviderConfig says truthfully what is supported, ETags included.
func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{schemas.ServiceProviderConfigURN},
		"documentationUri": "https://github.com/scimsso/scimsso#connecting-okta-and-entra",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A tenant SCIM token issued with 'scimsso token issue', sent as Authorization: Bearer.",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.baseURL + "/scim/v2/" + stateOf(r).tenant.Slug + "/ServiceProviderConfig"},
	})
}
