package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
)

// The People page: the tenant's users with a search (every console session: an SSO admin checks who
// signed in, a SCIM admin what the client provisioned, and a setup link carries one or both of those
// scopes), the exclusion list (an SSO setting, so scope sso) and the tenant admins (scope admins,
// tenant admins only: a setup link can never make an admin).

// peoplePage is how many users one page of the list shows.
const peoplePage = 50

// maxSearch bounds a search term.
const maxSearch = 200

func (s *Server) peopleRoutes(r *mux.Router) {
	s.handle(r, http.MethodGet, "/people", "", s.peoplePage)
	s.handle(r, http.MethodPost, "/people/exclude", store.AdminScopeSSO, s.peopleExclude)
	s.handle(r, http.MethodPost, "/people/admins", store.AdminScopeAdmins, s.adminAdd)
	s.handle(r, http.MethodPost, "/people/admins/remove", store.AdminScopeAdmins, s.adminRemove)
}

// userView is a user as the list shows them.
type userView struct {
	ID, Email, Name, Source, LastSignIn string
	Active                              bool
}

// peopleView is the People page's data.
type peopleView struct {
	view
	Query           string
	Users           []userView
	Total, From, To int
	Prev, Next      string // links to the neighbouring pages, "" when there is none
	ShowExclude     bool
	Exclude         string
	ExcludeError    string
	Version         int64
	ShowAdmins      bool
	Admins          []userView
	AdminEmail      string
	AdminError      string
	SelfID          string
}

func userViewOf(u *store.User) userView {
	uv := userView{ID: u.ID, Email: u.UserName, Name: strings.TrimSpace(u.GivenName + " " + u.FamilyName), Source: string(u.Source),
		Active: u.Active, LastSignIn: "never"}
	if !u.LastSignInAt.IsZero() {
		uv.LastSignIn = u.LastSignInAt.UTC().Format(timeFormat)
	}
	return uv
}

// storable reports whether a value given to a search or a form can be compared with what the store
// holds: no database stores a NUL or invalid UTF-8 (PostgreSQL refuses the query), so no user matches
// such a value, and asking the store would turn a client's typo into a 500.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// truncate cuts s to at most n bytes on a rune boundary: a cut inside a character would leave
// invalid UTF-8, which matches nothing and shows as garbage in the search field.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// searchFilter matches users whose email (userName or any email) or name contains q.
func searchFilter(q string) *store.Filter {
	or := func(a, b *store.Filter) *store.Filter { return &store.Filter{Op: store.OpOr, Left: a, Right: b} }
	co := func(attr string) *store.Filter { return &store.Filter{Op: store.OpCo, Attr: attr, Value: q} }
	return or(or(co(store.AttrUserName), co(store.AttrEmailValue)), or(co(store.AttrGivenName), co(store.AttrFamilyName)))
}

// peopleView builds the page: the page of users the query asks for, and the parts the session's
// scopes allow.
func (s *Server) peopleView(r *http.Request, c *request) (peopleView, error) {
	v := peopleView{view: s.view(r, c, "People", "people"), ShowExclude: c.Session.Allows(store.AdminScopeSSO),
		ShowAdmins: c.Session.Allows(store.AdminScopeAdmins), SelfID: c.Session.UserID}
	q := r.URL.Query()
	v.Query = strings.TrimSpace(q.Get("q"))
	v.Query = truncate(v.Query, maxSearch)
	pageNo, err := strconv.Atoi(q.Get("page"))
	if err != nil || pageNo < 1 || pageNo > 1<<20 {
		pageNo = 1
	}
	uq := store.UserQuery{Offset: (pageNo - 1) * peoplePage, Limit: peoplePage}
	if v.Query != "" {
		uq.Filter = searchFilter(v.Query)
	}
	var us []store.User
	var total int
	if storable(v.Query) {
		us, total, err = s.st.ListUsers(r.Context(), c.Tenant.ID, uq)
		if err != nil {
			return v, err
		}
	}
	for i := range us {
		v.Users = append(v.Users, userViewOf(&us[i]))
	}
	v.Total = total
	if len(us) > 0 {
		v.From, v.To = uq.Offset+1, uq.Offset+len(us)
	}
	link := func(p int) string {
		vals := url.Values{"page": {strconv.Itoa(p)}}
		if v.Query != "" {
			vals.Set("q", v.Query)
		}
		return s.pagePath(c, "people") + "?" + vals.Encode()
	}
	if pageNo > 1 {
		v.Prev = link(pageNo - 1)
	}
	if uq.Offset+len(us) < total {
		v.Next = link(pageNo + 1)
	}
	if v.ShowExclude {
		set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
		if err != nil {
			return v, err
		}
		v.Exclude, v.Version = set.Get("exclude"), set.Version
	}
	if v.ShowAdmins {
		as, err := s.st.ListAdmins(r.Context(), c.Tenant.ID)
		if err != nil {
			return v, err
		}
		for i := range as {
			v.Admins = append(v.Admins, userViewOf(&as[i]))
		}
	}
	return v, nil
}

func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request, c *request) {
	if !c.Session.Allows(store.AdminScopeSSO) && !c.Session.Allows(store.AdminScopeSCIM) {
		scopeRefused(w, r)
		return
	}
	v, err := s.peopleView(r, c)
	if err != nil {
		s.failed(w, r, "console people", err)
		return
	}
	s.render(w, http.StatusOK, "people", v)
}

// peopleBad re-renders the page with edit applied to its view and status (nothing stored).
func (s *Server) peopleBad(w http.ResponseWriter, r *http.Request, c *request, status int, edit func(*peopleView)) {
	v, err := s.peopleView(r, c)
	if err != nil {
		s.failed(w, r, "console people", err)
		return
	}
	edit(&v)
	s.render(w, status, "people", v)
}

// peopleExclude replaces the exclusion list: parsed by SSOSettings.Set, checked by Validate, stored
// against the version the form was rendered with.
func (s *Server) peopleExclude(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console exclude", err)
		return
	}
	given := r.PostForm.Get("exclude")
	version, ok := formVersion(r)
	if !ok {
		s.peopleBad(w, r, c, http.StatusBadRequest, func(v *peopleView) { v.ExcludeError = "The form could not be read. Please reload the page." })
		return
	}
	err = set.Set("exclude", given)
	if err == nil {
		err = set.Validate()
	}
	if err != nil {
		s.peopleBad(w, r, c, http.StatusBadRequest, func(v *peopleView) { v.Exclude, v.ExcludeError = given, "Nothing was saved: "+err.Error() })
		return
	}
	set.Version = version
	err = s.st.PutSSOSettings(c.Ctx, c.Tenant.ID, set)
	if errors.Is(err, store.ErrVersionMismatch) {
		s.peopleBad(w, r, c, http.StatusConflict, func(v *peopleView) {
			v.ExcludeError = "The SSO settings were changed meanwhile, and nothing was saved. The list below is as stored: make your change again."
		})
		return
	}
	if err != nil {
		s.failed(w, r, "console exclude", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "people")+"?done=exclude", http.StatusSeeOther)
}

// adminAdd makes the tenant's user with the email given a tenant admin.
func (s *Server) adminAdd(w http.ResponseWriter, r *http.Request, c *request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	bad := func(msg string) {
		s.peopleBad(w, r, c, http.StatusBadRequest, func(v *peopleView) { v.AdminEmail, v.AdminError = email, msg })
	}
	if email == "" || len(email) > 320 || !strings.Contains(email, "@") || !storable(email) {
		bad("Give the email of one of " + c.Tenant.Name + "'s users.")
		return
	}
	us, _, err := s.st.ListUsers(r.Context(), c.Tenant.ID, store.UserQuery{Limit: 1,
		Filter: &store.Filter{Op: store.OpEq, Attr: store.AttrUserName, Value: email}})
	if err != nil {
		s.failed(w, r, "console admin add", err)
		return
	}
	if len(us) == 0 {
		bad("No user of " + c.Tenant.Name + " has this email. A person becomes a user when provisioned by SCIM or at their first sign-in.")
		return
	}
	if !us[0].Active {
		bad("This user is deactivated.")
		return
	}
	if err := s.st.SetAdmin(c.Ctx, c.Tenant.ID, us[0].ID, true); err != nil {
		if s.adminConflict(w, r, c, err) {
			return
		}
		s.failed(w, r, "console admin add", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "people")+"?done=admin-added", http.StatusSeeOther)
}

// adminRemove takes the admin role from a user of the tenant; not from oneself, so that nobody locks
// themselves out by a slip (another admin, or the operator, can).
func (s *Server) adminRemove(w http.ResponseWriter, r *http.Request, c *request) {
	id := r.PostForm.Get("id")
	if id != "" && id == c.Session.UserID {
		s.peopleBad(w, r, c, http.StatusBadRequest, func(v *peopleView) {
			v.AdminError = "You cannot remove yourself; another admin of " + c.Tenant.Name + " can."
		})
		return
	}
	if !storable(id) { // no user has such an id, and PostgreSQL refuses to compare it: a 404, not a 500
		s.notFound(w, r)
		return
	}
	admin, err := s.st.IsAdmin(r.Context(), c.Tenant.ID, id)
	if err != nil {
		s.failed(w, r, "console admin remove", err)
		return
	}
	if id == "" || !admin {
		s.notFound(w, r)
		return
	}
	if err := s.st.SetAdmin(c.Ctx, c.Tenant.ID, id, false); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.notFound(w, r)
			return
		}
		if s.adminConflict(w, r, c, err) {
			return
		}
		s.failed(w, r, "console admin remove", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "people")+"?done=admin-removed", http.StatusSeeOther)
}

// adminConflict answers the store's refusals of an admin change made concurrently with another (the
// acting admin removed meanwhile, or the tenant's last admin) with a 409 that stored nothing.
func (s *Server) adminConflict(w http.ResponseWriter, r *http.Request, c *request, err error) bool {
	var msg string
	switch {
	case errors.Is(err, store.ErrNotAdmin):
		msg = "Nothing was changed: you are no longer an admin of " + c.Tenant.Name + "."
	case errors.Is(err, store.ErrLastAdmin):
		msg = "Nothing was changed: " + c.Tenant.Name + " would have no admin left."
	default:
		return false
	}
	s.peopleBad(w, r, c, http.StatusConflict, func(v *peopleView) { v.AdminError = msg })
	return true
}
