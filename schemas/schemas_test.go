package schemas_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/scimsso/scimsso/schemas"
)

func TestMain(m *testing.M) {
	// SetAllowStringValues is a package-global switch of elimity-com/scim: it
	// lets Entra's "active":"False" validate. scimsso's own code never sets it
	// (scimserver decodes bodies itself and reads Entra's "True"/"False" there,
	// see scimserver/decode.go); these tests drive elimity's server with the
	// schemas to check the definitions as the library reads them, so they set
	// it here, once, before anything runs, in this test binary only.
	schema.SetAllowStringValues(true)
	os.Exit(m.Run())
}

// memHandler is a trivial in-memory scim.ResourceHandler that records what
// the library hands it.
type memHandler struct {
	mu      sync.Mutex
	n       int
	created []scim.ResourceAttributes
	getAll  []scim.ListRequestParams
	patches [][]scim.PatchOperation
}

func (h *memHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.created = append(h.created, attrs)
	return scim.Resource{ID: fmt.Sprint(h.n), Attributes: scim.ResourceAttributes{"userName": attrs["userName"]}}, nil
}

func (h *memHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
}

func (h *memHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.getAll = append(h.getAll, params)
	return scim.Page{}, nil
}

func (h *memHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
}

func (h *memHandler) Delete(r *http.Request, id string) error {
	return scimerrors.ScimErrorResourceNotFound(id)
}

func (h *memHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.patches = append(h.patches, ops)
	return scim.Resource{ID: id}, nil
}

// newServer builds one scim.Server over the package's schemas, the way
// scimserver does at start-up.
func newServer(t testing.TB) (scim.Server, *memHandler) {
	t.Helper()
	h := &memHandler{}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []scim.ResourceType{{
			ID:               optional.NewString("User"),
			Name:             "User",
			Endpoint:         "/Users",
			Schema:           schemas.User(),
			SchemaExtensions: []scim.SchemaExtension{{Schema: schemas.EnterpriseUser()}},
			Handler:          h,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, h
}

func do(srv scim.Server, method, target, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w
}

const oktaCreate = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": "test.user@okta.local",
  "name": {"givenName": "Test", "familyName": "User"},
  "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
  "addresses": [{"type": "work", "country": "US"}],
  "displayName": "Test User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true
}`

func TestSchemas(t *testing.T) {
	u := schemas.User()
	if u.ID != schemas.CoreUserURN {
		t.Errorf("User().ID = %q", u.ID)
	}
	e := schemas.EnterpriseUser()
	if e.ID != schemas.EnterpriseUserURN {
		t.Errorf("EnterpriseUser().ID = %q", e.ID)
	}
	for _, s := range []schema.Schema{u, e} {
		if len(s.Attributes) != cap(s.Attributes) {
			t.Errorf("%s: Attributes len %d cap %d; must be clipped", s.ID, len(s.Attributes), cap(s.Attributes))
		}
	}

	attr := func(s schema.Schema, name string) schema.CoreAttribute {
		t.Helper()
		var found []schema.CoreAttribute
		for _, a := range s.Attributes {
			if strings.EqualFold(a.Name(), name) {
				found = append(found, a)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s has %d attributes named %q; want 1", s.ID, len(found), name)
		}
		return found[0]
	}
	id := attr(u, "id")
	if id.Required() || id.Mutability() != "readOnly" || !id.CaseExact() || id.Returned() != "always" {
		t.Errorf("id: required %v mutability %s caseExact %v returned %s",
			id.Required(), id.Mutability(), id.CaseExact(), id.Returned())
	}
	ext := attr(u, "externalId")
	if ext.Required() || ext.Mutability() != "readWrite" || !ext.CaseExact() || ext.AttributeType() != "string" || ext.MultiValued() {
		t.Errorf("externalId: required %v mutability %s caseExact %v type %s",
			ext.Required(), ext.Mutability(), ext.CaseExact(), ext.AttributeType())
	}
	pw := attr(u, "password")
	if pw.Returned() != "never" || pw.Mutability() != "writeOnly" {
		t.Errorf("password: returned %s mutability %s", pw.Returned(), pw.Mutability())
	}
	for _, name := range []string{"userName", "name", "emails", "addresses", "active", "groups", "roles"} {
		attr(u, name)
	}
	attr(e, "department")

	// Each call returns a fresh value: changing one does not change the next.
	u.Attributes[0] = schema.CoreAttribute{}
	if schemas.User().Attributes[0].Name() != "id" {
		t.Error("User() shares its Attributes between calls")
	}

	// The schemas serialise for /Schemas.
	for _, s := range []schema.Schema{schemas.User(), e} {
		if _, err := json.Marshal(s); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
	}
}

func TestPost(t *testing.T) {
	srv, h := newServer(t)

	w := do(srv, http.MethodPost, "/Users", oktaCreate)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST Okta body: %d %s", w.Code, w.Body)
	}
	got := h.created[0]
	if got["externalId"] != "00ujl29u0le5T6Aj10h7" {
		t.Errorf("externalId = %#v; want it passed through under \"externalId\"", got["externalId"])
	}
	if _, ok := got["id"]; ok {
		t.Errorf("readOnly id reached the handler: %#v", got["id"])
	}
	if got["active"] != true || got["userName"] != "test.user@okta.local" {
		t.Errorf("attributes = %#v", got)
	}

	tests := []struct {
		name   string
		body   string
		status int
		check  func(t *testing.T, attrs scim.ResourceAttributes)
	}{
		{
			name:   "no id",
			body:   `{"userName":"a@b.test"}`,
			status: http.StatusCreated,
		},
		{
			name:   "client id ignored",
			body:   `{"userName":"a@b.test","id":"x"}`,
			status: http.StatusCreated,
			check: func(t *testing.T, attrs scim.ResourceAttributes) {
				if _, ok := attrs["id"]; ok {
					t.Errorf("id reached the handler: %#v", attrs)
				}
			},
		},
		{
			name:   "externalId any case",
			body:   `{"userName":"a@b.test","EXTERNALID":"Ab"}`,
			status: http.StatusCreated,
			check: func(t *testing.T, attrs scim.ResourceAttributes) {
				if attrs["externalId"] != "Ab" {
					t.Errorf("externalId = %#v", attrs["externalId"])
				}
			},
		},
		{
			name:   "externalId twice in different case",
			body:   `{"userName":"a@b.test","externalId":"a","externalid":"b"}`,
			status: http.StatusBadRequest,
		},
		{
			name:   "externalId not a string",
			body:   `{"userName":"a@b.test","externalId":12}`,
			status: http.StatusBadRequest,
		},
		{
			name:   "active as a string",
			body:   `{"userName":"a@b.test","active":"False"}`,
			status: http.StatusCreated,
			check: func(t *testing.T, attrs scim.ResourceAttributes) {
				if attrs["active"] != false {
					t.Errorf("active = %#v; want false", attrs["active"])
				}
			},
		},
		{
			name:   "enterprise department",
			body:   `{"userName":"a@b.test","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng"}}`,
			status: http.StatusCreated,
			check: func(t *testing.T, attrs scim.ResourceAttributes) {
				ext, _ := attrs[schemas.EnterpriseUserURN].(map[string]any)
				if ext["department"] != "Eng" {
					t.Errorf("enterprise = %#v", attrs[schemas.EnterpriseUserURN])
				}
			},
		},
		{
			name:   "missing userName",
			body:   `{"externalId":"x"}`,
			status: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(h.created)
			w := do(srv, http.MethodPost, "/Users", tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d; want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.check != nil {
				tt.check(t, h.created[n])
			}
		})
	}
}

func TestFilters(t *testing.T) {
	srv, h := newServer(t)
	tests := []struct {
		filter string
		status int
	}{
		{`userName eq "test.user@okta.local"`, http.StatusOK},
		{`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`, http.StatusOK},
		{`id eq "y"`, http.StatusOK},
		{`ID eq "y"`, http.StatusOK},
		{`userName eq "a" and externalId eq "b"`, http.StatusOK},
		{`id eq "a" or externalId eq "b"`, http.StatusOK},
		{`emails.value eq "a@b.c"`, http.StatusOK},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Eng"`, http.StatusOK},
		{`nosuch eq "x"`, http.StatusBadRequest},
		{`externalId eq jyoung`, http.StatusBadRequest},
		{`userName eq`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			n := len(h.getAll)
			w := do(srv, http.MethodGet, "/Users?filter="+url.QueryEscape(tt.filter), "")
			if w.Code != tt.status {
				t.Fatalf("status %d; want %d: %s", w.Code, tt.status, w.Body)
			}
			reached := len(h.getAll) > n
			if reached != (tt.status == http.StatusOK) {
				t.Fatalf("reached GetAll: %v", reached)
			}
			if reached && h.getAll[n].FilterValidator == nil {
				t.Fatal("GetAll got no filter")
			}
		})
	}
}

// TestPatch records what the extra id and externalId attributes mean for
// PATCH: externalId paths validate, and so does a replace of id (the library
// does not check mutability on PATCH), so the handler must refuse that itself.
func TestPatch(t *testing.T) {
	srv, h := newServer(t)
	for _, path := range []string{"externalId", "id"} {
		t.Run(path, func(t *testing.T) {
			n := len(h.patches)
			body := `{"schemas":["` + schemas.PatchOpURN + `"],"Operations":[{"op":"Replace","path":"` + path + `","value":"v"}]}`
			w := do(srv, http.MethodPatch, "/Users/1", body)
			if w.Code != http.StatusNoContent {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			ops := h.patches[n]
			if len(ops) != 1 || ops[0].Path == nil || ops[0].Path.AttributePath.AttributeName != path || ops[0].Value != "v" {
				t.Errorf("operations = %#v", ops)
			}
		})
	}
}

// TestConcurrentPost runs POSTs from 8 goroutines through one server built
// once. elimity appends externalId to the schema's Attributes on every
// request; under `go test -race` this fails if that slice has spare capacity.
func TestConcurrentPost(t *testing.T) {
	srv, h := newServer(t)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				body := strings.Replace(oktaCreate, "test.user@", fmt.Sprintf("u%d.%d@", i, j), 1)
				if w := do(srv, http.MethodPost, "/Users", body); w.Code != http.StatusCreated {
					t.Errorf("POST: %d %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(h.created) != workers*each {
		t.Errorf("%d users created; want %d", len(h.created), workers*each)
	}
	for _, attrs := range h.created {
		if attrs["externalId"] != "00ujl29u0le5T6Aj10h7" {
			t.Fatalf("externalId = %#v", attrs["externalId"])
		}
	}
}
