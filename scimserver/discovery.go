package scimserver

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/scimsso/scimsso/schemas"
)

// discovery holds the documents of /Schemas and /ResourceTypes (RFC 7644 §4), which only change with
// the code: the schemas' own definitions (elimity's schema.Schema renders them) and the one resource
// type, User.
type discovery struct {
	schemaList, resourceTypeList json.RawMessage
	schemaByID                   map[string]json.RawMessage
	userType                     json.RawMessage
}

func newDiscovery() (discovery, error) {
	var d discovery
	core, ext := schemas.User(), schemas.EnterpriseUser()
	d.schemaByID = map[string]json.RawMessage{}
	var all []any
	for _, s := range []map[string]any{core.ToMap(), ext.ToMap()} {
		b, err := json.Marshal(s)
		if err != nil {
			return d, err
		}
		d.schemaByID[s["id"].(string)] = b
		all = append(all, s)
	}
	userType := map[string]any{
		"schemas":          []string{schemas.ResourceTypeURN},
		"id":               "User",
		"name":             "User",
		"description":      "User Account",
		"endpoint":         "/Users",
		"schema":           schemas.CoreUserURN,
		"schemaExtensions": []any{map[string]any{"schema": schemas.EnterpriseUserURN, "required": false}},
	}
	var err error
	if d.userType, err = json.Marshal(userType); err != nil {
		return d, err
	}
	list := func(resources []any) (json.RawMessage, error) {
		return json.Marshal(map[string]any{
			"schemas": []string{schemas.ListResponseURN}, "totalResults": len(resources),
			"itemsPerPage": len(resources), "startIndex": 1, "Resources": resources,
		})
	}
	if d.schemaList, err = list(all); err != nil {
		return d, err
	}
	d.resourceTypeList, err = list([]any{userType})
	return d, err
}

// serve answers GET /Schemas, /Schemas/{id}, /ResourceTypes and /ResourceTypes/{name}.
func (d discovery) serve(w http.ResponseWriter, r *http.Request, s *Server, rest string) {
	var doc json.RawMessage
	var name string
	switch {
	case rest == "/Schemas":
		doc = d.schemaList
	case rest == "/ResourceTypes":
		doc = d.resourceTypeList
	case strings.HasPrefix(rest, "/Schemas/"):
		name = strings.TrimPrefix(rest, "/Schemas/")
		doc = d.schemaByID[name]
	case strings.HasPrefix(rest, "/ResourceTypes/"):
		name = strings.TrimPrefix(rest, "/ResourceTypes/")
		if name == "User" {
			doc = d.userType
		}
	}
	if doc == nil {
		s.writeError(w, r, errorf(http.StatusNotFound, "", "Resource %s not found.", shortText(name)))
		return
	}
	writeJSON(w, http.StatusOK, doc)
}
