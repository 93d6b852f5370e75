package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
)

// The Sign-in log and the Audit pages: the tenant's recent sign-ins and refusals with their codes,
// precise reasons and reference ids (scope sso: what an admin debugging their IdP reads), and the
// tenant's admin audit log (every console session, each entry only to sessions whose scopes cover its
// action: a SCIM-only setup link must not read the SSO settings' before/after, the IdP certificates or
// who the admins are). Both are paged newest first by their Seq cursor.

// logPage is how many entries one page of either log shows.
const logPage = 50

func (s *Server) signInRoutes(r *mux.Router) {
	s.handle(r, http.MethodGet, "/signins", store.AdminScopeSSO, s.signInsPage)
}

func (s *Server) auditRoutes(r *mux.Router) {
	s.handle(r, http.MethodGet, "/audit", "", s.auditPage)
}

// signInView is a sign-in record as the log shows it.
type signInView struct {
	Time, Outcome, Method, Email, Code, Reason, Ref string
	Refused                                         bool
	Count                                           int
}

// signInsView is the Sign-in log page's data.
type signInsView struct {
	view
	Outcome, Email, Ref string
	Records             []signInView
	Next, First         string
}

// cursor reads the before= cursor of a log page (0: from the newest).
func cursor(r *http.Request) int64 {
	b, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if err != nil || b < 0 {
		return 0
	}
	return b
}

func (s *Server) signInsPage(w http.ResponseWriter, r *http.Request, c *request) {
	q := r.URL.Query()
	v := signInsView{view: s.view(r, c, "Sign-in log", "signins"), Email: strings.TrimSpace(q.Get("email")), Ref: truncate(strings.TrimSpace(q.Get("ref")), 100)}
	v.Email = truncate(v.Email, 320)
	sq := store.SignInQuery{TenantID: c.Tenant.ID, Email: v.Email, Ref: v.Ref, Before: cursor(r), Limit: logPage + 1}
	switch o := store.SignInOutcome(q.Get("outcome")); o {
	case store.SignInAccepted, store.SignInRefused:
		sq.Outcome, v.Outcome = o, string(o)
	}
	var recs []store.SignInRecord
	if storable(v.Email) && storable(v.Ref) {
		var err error
		if recs, err = s.st.ListSignIns(r.Context(), sq); err != nil {
			s.failed(w, r, "console sign-in log", err)
			return
		}
	}
	link := func(before int64) string {
		vals := url.Values{}
		if v.Outcome != "" {
			vals.Set("outcome", v.Outcome)
		}
		if v.Email != "" {
			vals.Set("email", v.Email)
		}
		if v.Ref != "" {
			vals.Set("ref", v.Ref)
		}
		if before > 0 {
			vals.Set("before", strconv.FormatInt(before, 10))
		}
		if len(vals) == 0 {
			return s.pagePath(c, "signins")
		}
		return s.pagePath(c, "signins") + "?" + vals.Encode()
	}
	if len(recs) > logPage {
		recs = recs[:logPage]
		v.Next = link(recs[len(recs)-1].Seq)
	}
	if sq.Before > 0 {
		v.First = link(0)
	}
	for _, x := range recs {
		v.Records = append(v.Records, signInView{Time: x.Time.UTC().Format(timeFormat), Outcome: string(x.Outcome), Method: string(x.Method),
			Email: x.Email, Code: x.Code, Reason: x.Reason, Ref: x.Ref, Refused: x.Outcome == store.SignInRefused, Count: x.Count})
	}
	s.render(w, http.StatusOK, "signins", v)
}

// actionView is an admin audit entry as the page shows it.
type actionView struct {
	Time, Who, Action, Target, Before, After string
}

// auditView is the Audit page's data.
type auditView struct {
	view
	Actions     []actionView
	Next, First string
}

// actorText is who an actor is, for a person to read.
func actorText(a store.Actor) string {
	switch a.Kind {
	case store.ActorAdmin:
		return "admin " + a.Name
	case store.ActorSetupLink:
		return "setup link " + a.ID
	case store.ActorAPIKey:
		if a.Name != "" {
			return "management API key " + a.Name
		}
		return "management API key " + a.ID
	case store.ActorSystem:
		return "scimsso"
	case store.ActorCLI:
		return "the operator (CLI)"
	}
	return a.Kind
}

// actionScope is the console scope whose sessions may read an audit entry of action: the scope of the
// page that makes such changes. The tenant's creation and its domains concern every part ("" = any
// session); an action this list does not know is for tenant admins only, so that a new kind of entry
// is never shown to a setup link by default.
func actionScope(action string) string {
	kind, _, _ := strings.Cut(action, ".")
	switch kind {
	case "tenant", "domain":
		return ""
	case "sso", "team", "department_map", "metadata", "oidc_client":
		return store.AdminScopeSSO
	case "scim_token":
		return store.AdminScopeSCIM
	}
	return store.AdminScopeAdmins
}

// auditBatch is how many entries the Audit page reads at a time while it skips those the session may
// not see.
const auditBatch = 200

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, c *request) {
	before := cursor(r)
	var as []store.AdminAction
	for from := before; len(as) <= logPage; {
		batch, err := s.st.ListAdminActions(r.Context(), store.AdminActionQuery{TenantID: c.Tenant.ID, Before: from, Limit: auditBatch})
		if err != nil {
			s.failed(w, r, "console audit", err)
			return
		}
		for _, a := range batch {
			if sc := actionScope(a.Action); sc == "" || c.Session.Allows(sc) {
				as = append(as, a)
			}
		}
		if len(batch) < auditBatch {
			break
		}
		from = batch[len(batch)-1].Seq
	}
	v := auditView{view: s.view(r, c, "Audit log", "audit")}
	if len(as) > logPage {
		as = as[:logPage]
		v.Next = s.pagePath(c, "audit") + "?before=" + strconv.FormatInt(as[len(as)-1].Seq, 10)
	}
	if before > 0 {
		v.First = s.pagePath(c, "audit")
	}
	for _, a := range as {
		v.Actions = append(v.Actions, actionView{Time: a.Time.UTC().Format(timeFormat), Who: actorText(a.Actor), Action: a.Action,
			Target: a.Target, Before: a.Before, After: a.After})
	}
	s.render(w, http.StatusOK, "audit", v)
}
