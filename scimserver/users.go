package scimserver

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/scimsso/scimsso/store"
)

// users is the elimity ResourceHandler. The library has validated the body against the schemas when a
// method runs; every error goes back through forLibrary.
type users struct{ s *Server }

// resource builds a fresh response for u: the library writes id, schemas and meta into the map it gets.
func resource(u *store.User) scim.Resource {
	d := render(u)
	delete(d, "externalId")
	created, modified := u.CreatedAt, u.UpdatedAt
	r := scim.Resource{ID: u.ID, Attributes: d, Meta: scim.Meta{Created: &created, LastModified: &modified, Version: etag(u.Version)}}
	if u.ExternalID != "" {
		r.ExternalID = optional.NewString(u.ExternalID)
	}
	return r
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// ifMatch returns the version If-Match asks for: 0 when absent or "*", -1 when it names no version of ours.
func ifMatch(r *http.Request) int64 {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0
	}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return -1
}

// Create implements scim.ResourceHandler.
func (h users) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	st := stateOf(r)
	u, err := newUser(st.tenant, doc(attrs))
	if err != nil {
		return scim.Resource{}, h.s.forLibrary(r, err)
	}
	if err := h.s.st.CreateUser(r.Context(), st.tenant.ID, u, h.s.storeAudit(r, http.StatusCreated)); err != nil {
		st.audited = false
		return scim.Resource{}, h.s.forLibrary(r, err)
	}
	st.userID = u.ID
	return resource(u), nil
}

// Get implements scim.ResourceHandler; the router answers reads itself, so this serves only the library.
func (h users) Get(r *http.Request, id string) (scim.Resource, error) {
	u, err := h.s.st.UserByID(r.Context(), stateOf(r).tenant.ID, id)
	if err != nil {
		return scim.Resource{}, h.s.forLibrary(r, err)
	}
	return resource(u), nil
}

// GetAll implements scim.ResourceHandler; the router answers lists itself, so this is never reached.
func (h users) GetAll(r *http.Request, _ scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, h.s.forLibrary(r, errors.New("scimserver: list reached the library"))
}

// Delete implements scim.ResourceHandler; the router refuses every DELETE before the library sees it.
func (h users) Delete(r *http.Request, _ string) error {
	return h.s.forLibrary(r, errors.New("scimserver: delete reached the library"))
}

// Replace implements scim.ResourceHandler: attributes omitted from the body are left as stored.
func (h users) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return h.update(r, id, func(t *store.Tenant, u *store.User) error {
		d := render(u)
		for k, v := range attrs {
			d[keyOf(d, k)] = v
		}
		return applyDesired(t, u, d)
	})
}

// Patch implements scim.ResourceHandler.
func (h users) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	return h.update(r, id, func(t *store.Tenant, u *store.User) error {
		d := render(u)
		if err := applyPatch(d, ops); err != nil {
			return err
		}
		return applyDesired(t, u, d)
	})
}

func (h users) update(r *http.Request, id string, change func(*store.Tenant, *store.User) error) (scim.Resource, error) {
	st := stateOf(r)
	want := ifMatch(r)
	if want < 0 {
		return scim.Resource{}, h.s.forLibrary(r, store.ErrVersionMismatch)
	}
	u, err := h.s.st.UpdateUser(r.Context(), st.tenant.ID, id, want, h.s.storeAudit(r, http.StatusOK), func(u *store.User) error {
		return change(st.tenant, u)
	})
	if err != nil {
		st.audited = false
		return scim.Resource{}, h.s.forLibrary(r, err)
	}
	return resource(u), nil
}
