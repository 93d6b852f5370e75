package platformapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
)

// The directory: tenants and their users, as SCIM and sign-in left them (scope directory:read).

// list is every list's JSON: a page of data, and the cursor of the next page (null on the last).
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// tenantObject is a tenant as the platform API shows it; a tenant is named by its slug everywhere.
type tenantObject struct {
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Domains   []string  `json:"domains"`
	CreatedAt time.Time `json:"created_at"`
}

// listTenants answers GET /api/v1/tenants?cursor=&limit=: the tenants in slug order, which a new
// tenant does not disturb (a slug never changes).
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := ""
	if p.cursor != "" {
		if after, err = parseTenantCursor(p.cursor); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// Tenants are few (one per customer company): the whole list is read and cut here.
	ts, err := s.st.ListTenants(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list[tenantObject]{Data: []tenantObject{}}
	for _, t := range ts {
		if t.Slug <= after {
			continue
		}
		if len(out.Data) == p.limit {
			next := tenantCursor(out.Data[len(out.Data)-1].Slug)
			out.NextCursor = &next
			break
		}
		domains := t.Domains
		if domains == nil {
			domains = []string{}
		}
		out.Data = append(out.Data, tenantObject{Slug: t.Slug, Name: t.Name, Domains: domains, CreatedAt: t.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// tenant returns the tenant the request's {slug} names, or a 404.
func (s *Server) tenant(r *http.Request) (*store.Tenant, error) {
	slug := mux.Vars(r)["slug"]
	if _, err := store.ParseSlug(slug); err != nil {
		return nil, errorf(http.StatusNotFound, codeNotFound, "There is no tenant %q.", clip(slug))
	}
	t, err := s.st.TenantBySlug(r.Context(), slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, codeNotFound, "There is no tenant %q.", slug)
	}
	return t, err
}

// listUsers answers GET /api/v1/tenants/{slug}/users?cursor=&limit=: the tenant's users in creation
// order, a keyset page at a time (store.UsersAfter), so users created while a client walks the list
// shift nothing: every user that existed when the walk began is seen exactly once.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.tenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var after int64
	if p.cursor != "" {
		if after, err = parseUserCursor(p.cursor, t.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	users, next, err := s.st.UsersAfter(r.Context(), t.ID, after, p.limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list[store.UserObject]{Data: make([]store.UserObject, 0, len(users))}
	for i := range users {
		out.Data = append(out.Data, store.NewUserObject(&users[i], t.Slug))
	}
	if next != 0 {
		c := userCursor(t.ID, next)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

// maxUserID bounds the {id} looked up: ids are UUIDs, and anything far longer is no user.
const maxUserID = 128

// getUser answers GET /api/v1/tenants/{slug}/users/{id}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := mux.Vars(r)["id"]
	u, err := (*store.User)(nil), store.ErrNotFound
	if len(id) <= maxUserID {
		u, err = s.st.UserByID(r.Context(), t.ID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "Tenant %s has no user %q.", t.Slug, clip(id)))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, store.NewUserObject(u, t.Slug))
}
