package platformapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// FuzzManageBodies: whatever a client sends as a management API body, each reader of one answers
// with a value or a 400 (never a panic, never another status), and what it accepts keeps its rules:
// an SSO patch names only settings of the table, a department map only clean, distinct rows.
func FuzzManageBodies(f *testing.F) {
	for _, s := range []string{
		`{"slug":"delta","name":"D","domains":["delta.com"]}`, `{"slug":`, `[]`, `{"domains":"x"}`, `{"a":1}{}`,
		`{"state":"testing","force-country":true,"version":3,"metadata_xml":"<x/>"}`, `{"force-country":"yes"}`,
		`{"data":[{"department":"R&D","team":"Eng"}]}`, `{"data":[{"department":"a","team":"b"},{"department":"A","team":"c"}]}`,
		"department,team\nR&D,Engineering\n", "\"x\n", `{"name":"Wiki","redirect_uris":["https://a/cb"],"public":true}`,
		`{"expires":"90d","sso":true,"scim":false}`, `{"version":1e400}`, `{"version":-1}`, "\xff",
		`{"metadata_url":"https://idp.example/md","state":"testing"}`, `{"metadata_url":"x","metadata_xml":"<x/>"}`, `{"metadata_url":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		b := []byte(body)
		check := func(what string, err error) {
			var e *apiError
			if err != nil && (!errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "") {
				t.Fatalf("%s: %v; want nil or a 400 with a message", what, err)
			}
		}
		for _, v := range []any{&tenantRequest{}, &clientRequest{}, &setupLinkRequest{}, &struct {
			Name    string `json:"name"`
			Expires string `json:"expires"`
		}{}} {
			check("decodeJSON", decodeJSON(b, v))
		}
		p, err := parseSSOPatch(b)
		check("parseSSOPatch", err)
		if err == nil {
			if p.metadata != nil && p.metadataURL != "" {
				t.Fatal("parseSSOPatch accepted both metadata_xml and metadata_url")
			}
			for _, c := range p.changes {
				if _, ok := store.SSOSettingNamed(c.Name); !ok {
					t.Fatalf("parseSSOPatch accepted the setting %q", c.Name)
				}
			}
		}
		for _, mt := range []string{"text/csv", "application/json"} {
			rows, err := parseDepartmentMap(b, mt)
			check("parseDepartmentMap "+mt, err)
			if err == nil {
				if err := store.CheckDepartmentMap(rows); err != nil {
					t.Fatalf("parseDepartmentMap %s accepted %+v: %v", mt, rows, err)
				}
			}
		}
	})
}
