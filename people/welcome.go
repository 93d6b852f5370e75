package people

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

type welcomeView struct {
	page.View
	CSRF, ReturnTo, Name    string
	AskCountry, AskTeam     bool
	Countries               []schemas.Country
	Teams                   []string
	Country, Team           string
	CountryError, TeamError string
}

// welcomeOf returns the first sign-in form for a pending session: the country when the user has none,
// or when force-country is on for a user created at sign-in; the team when the tenant has a department
// map and the user has no team, or when force-department is on for a user created at sign-in. Only
// teams that are neither hidden nor the root team are offered; with none to offer, the team is not
// asked. A user provisioned by SCIM keeps what SCIM set.
func (s *Server) welcomeOf(w http.ResponseWriter, r *http.Request, cur *signedIn) (*welcomeView, bool) {
	csrf, err := s.csrfToken(w, r)
	if err != nil {
		s.internal(w, r, "csrf", err)
		return nil, false
	}
	u, set := cur.user, cur.t.set
	sso := u.Source == store.SourceSSO
	v := &welcomeView{View: page.View{Title: "Welcome", Ref: page.Ref(r)}, CSRF: csrf, Name: u.GivenName,
		Country: u.Country, Team: u.Team, Countries: schemas.Countries()}
	v.AskCountry = u.Country == "" || (set.ForceCountry && sso)
	m, err := s.st.DepartmentMap(r.Context(), cur.t.ID)
	if err != nil {
		s.internal(w, r, "department map", err)
		return nil, false
	}
	if len(m) > 0 && (u.Team == "" || (set.ForceDepartment && sso)) {
		teams, err := s.st.ListTeams(r.Context(), cur.t.ID)
		if err != nil {
			s.internal(w, r, "teams", err)
			return nil, false
		}
		for _, t := range teams {
			if !t.Hidden && !t.Root {
				v.Teams = append(v.Teams, t.Name)
			}
		}
		v.AskTeam = len(v.Teams) > 0
	}
	return v, true
}

// pendingSession returns the request's live session when it still has to complete first sign-in;
// otherwise it answers (to /login without a session, on to the page asked for when complete).
func (s *Server) pendingSession(w http.ResponseWriter, r *http.Request, returnTo string) (*signedIn, bool) {
	cur, err := s.current(r)
	if err != nil {
		s.internal(w, r, "session lookup", err)
		return nil, false
	}
	if cur == nil {
		http.Redirect(w, r, page.WithReturn("/login", returnTo), http.StatusSeeOther)
		return nil, false
	}
	if !cur.sess.Pending {
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return nil, false
	}
	return cur, true
}

func welcomeReturn(v string) string {
	if !page.SafeReturnTo(v) || strings.HasPrefix(v, "/welcome") {
		return page.DefaultReturnTo
	}
	return v
}

// welcomeFor is the form for the request's pending session, returning to returnTo; ok is false when
// it has been answered instead (no session, already complete, a store failure).
func (s *Server) welcomeFor(w http.ResponseWriter, r *http.Request, returnTo string) (*welcomeView, *signedIn, bool) {
	returnTo = welcomeReturn(returnTo)
	cur, ok := s.pendingSession(w, r, returnTo)
	if !ok {
		return nil, nil, false
	}
	v, ok := s.welcomeOf(w, r, cur)
	if !ok {
		return nil, nil, false
	}
	v.ReturnTo = returnTo
	return v, cur, true
}

// welcome is GET /welcome.
func (s *Server) welcome(w http.ResponseWriter, r *http.Request) {
	if v, _, ok := s.welcomeFor(w, r, r.URL.Query().Get("return_to")); ok {
		page.Render(w, pages, http.StatusOK, "welcome", v)
	}
}

// welcomeSubmit is POST /welcome: it stores the country and team chosen and completes the session.
// A value that was not offered is refused with the form shown again, and nothing is stored.
func (s *Server) welcomeSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.acceptForm(w, r, "Cannot continue") {
		return
	}
	v, cur, ok := s.welcomeFor(w, r, r.PostForm.Get("return_to"))
	if !ok {
		return
	}
	if v.AskCountry {
		v.Country = r.PostForm.Get("country")
		if code, err := schemas.NormalizeCountry(v.Country); err != nil {
			v.CountryError = "Choose your country from the list."
		} else {
			v.Country = code
		}
	}
	if v.AskTeam {
		v.Team = r.PostForm.Get("team")
		found := false
		for _, t := range v.Teams {
			found = found || t == v.Team
		}
		if !found {
			v.TeamError = "Choose your team from the list."
		}
	}
	if v.CountryError != "" || v.TeamError != "" {
		page.Render(w, pages, http.StatusBadRequest, "welcome", v)
		return
	}
	a := store.Audit{Operation: "welcome", Outcome: "ok"}
	_, err := s.st.UpdateUser(r.Context(), cur.t.ID, cur.user.ID, 0, a, func(u *store.User) error {
		if v.AskCountry {
			u.Country = v.Country
		}
		if v.AskTeam {
			u.Team = v.Team
		}
		return nil
	})
	if err == nil {
		err = s.st.CompleteSession(r.Context(), cur.sess.IDHash)
	}
	if err != nil {
		s.internal(w, r, "welcome", err)
		return
	}
	s.log.Info("first sign-in completed", zap.String("request_id", page.Ref(r)), zap.String("user_id", cur.user.ID),
		zap.Bool("country", v.AskCountry), zap.Bool("team", v.AskTeam))
	http.Redirect(w, r, v.ReturnTo, http.StatusSeeOther)
}
