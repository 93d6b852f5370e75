package console

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
)

// The Teams page: the tenant's teams (added here, hidden or offered at first sign-in) and its
// department map, replaced whole by a CSV upload read by store.ParseDepartmentMap, the one reader the
// CLI and the management API use: any bad line, or a team the tenant lacks, and nothing is imported.

// maxMapUpload caps an uploaded department map: a company's departments fit in far less.
const maxMapUpload = 1 << 20

func (s *Server) teamsRoutes(r *mux.Router) {
	s.handle(r, http.MethodGet, "/teams", store.AdminScopeSSO, s.teamsPage)
	s.handle(r, http.MethodPost, "/teams", store.AdminScopeSSO, s.teamsAdd)
	s.handleMultipart(r, "/teams/department-map", store.AdminScopeSSO, maxMapUpload, s.mapUpload)
}

// teamsView is the Teams page's data.
type teamsView struct {
	view
	Teams     []store.Team
	Map       []store.DepartmentMapping
	Name      string
	Hidden    bool
	NameError string
	MapError  string
	MapLines  []store.LineError
}

func (s *Server) teamsView(r *http.Request, c *request) (teamsView, error) {
	v := teamsView{view: s.view(r, c, "Teams and departments", "teams")}
	var err error
	if v.Teams, err = s.st.ListTeams(r.Context(), c.Tenant.ID); err != nil {
		return v, err
	}
	v.Map, err = s.st.DepartmentMap(r.Context(), c.Tenant.ID)
	return v, err
}

func (s *Server) teamsPage(w http.ResponseWriter, r *http.Request, c *request) {
	v, err := s.teamsView(r, c)
	if err != nil {
		s.failed(w, r, "console teams", err)
		return
	}
	s.render(w, http.StatusOK, "teams", v)
}

// teamsBad re-renders the page with edit applied (nothing stored), status 400.
func (s *Server) teamsBad(w http.ResponseWriter, r *http.Request, c *request, edit func(*teamsView)) {
	v, err := s.teamsView(r, c)
	if err != nil {
		s.failed(w, r, "console teams", err)
		return
	}
	edit(&v)
	s.render(w, http.StatusBadRequest, "teams", v)
}

// teamsAdd adds a team by store.AddTeam, the CLI's and the management API's rule.
func (s *Server) teamsAdd(w http.ResponseWriter, r *http.Request, c *request) {
	name, hidden := r.PostForm.Get("name"), r.PostForm.Get("hidden") != ""
	_, err := store.AddTeam(c.Ctx, s.st, c.Tenant, strings.TrimSpace(name), hidden)
	var ref *store.Refusal
	if errors.As(err, &ref) {
		s.teamsBad(w, r, c, func(v *teamsView) { v.Name, v.Hidden, v.NameError = name, hidden, ref.Msg })
		return
	}
	if err != nil {
		s.failed(w, r, "console team add", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "teams")+"?done=team", http.StatusSeeOther)
}

// mapUpload replaces the department map with the uploaded file's rows, or, on any bad line or unknown
// team, lists what is wrong and imports nothing.
func (s *Server) mapUpload(w http.ResponseWriter, r *http.Request, c *request) {
	f, _, err := r.FormFile("map")
	if err != nil {
		s.teamsBad(w, r, c, func(v *teamsView) { v.MapError = "Choose the department map file (CSV)." })
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMapUpload+1))
	if err != nil || len(b) > maxMapUpload {
		s.teamsBad(w, r, c, func(v *teamsView) { v.MapError = "The file is larger than 1 MiB." })
		return
	}
	rows, err := store.ParseDepartmentMap(strings.NewReader(string(b)))
	var de *store.DepartmentMapError
	if errors.As(err, &de) {
		s.teamsBad(w, r, c, func(v *teamsView) {
			v.MapError, v.MapLines = "Nothing was imported: correct these lines and upload the file again.", de.Lines
		})
		return
	}
	if err != nil {
		s.teamsBad(w, r, c, func(v *teamsView) { v.MapError = "The file could not be read as CSV: " + err.Error() })
		return
	}
	err = store.ImportDepartmentMap(c.Ctx, s.st, c.Tenant, rows)
	var ref *store.Refusal
	if errors.As(err, &ref) {
		s.teamsBad(w, r, c, func(v *teamsView) { v.MapError = "Nothing was imported: " + ref.Msg + "." })
		return
	}
	if err != nil {
		s.failed(w, r, "console department map", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "teams")+"?done=map", http.StatusSeeOther)
}
