package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

// Setup links. Opening one (GET) only shows a page with a Continue button: mail scanners and link
// previews fetch every link in a message, and a GET that used the link up would leave the admin a
// dead one. The button's POST uses it, once, and opens the console session.

// setupView is the setup page's data.
type setupView struct {
	page.View
	Action, CSRF string
}

// setupPage shows the Continue button for anything shaped like a setup link's secret; it looks
// nothing up, so it tells nothing about which links exist.
func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	token := mux.Vars(r)["token"]
	if !store.IsSecret(store.SetupLinkPrefix, token) {
		s.invalidLink(w, r)
		return
	}
	tok, err := s.csrf.Token(w, r)
	if err != nil {
		s.failed(w, r, "setup link page", err)
		return
	}
	s.render(w, http.StatusOK, "setup", setupView{View: page.View{Title: "Set up single sign-on", Ref: page.Ref(r)},
		Action: "/setup/" + url.PathEscape(token), CSRF: tok})
}

// setupUse uses the link up and opens a console session of its tenant with its scopes.
func (s *Server) setupUse(w http.ResponseWriter, r *http.Request) {
	token := mux.Vars(r)["token"]
	if !s.acceptForm(w, r, 0) {
		return
	}
	if !store.IsSecret(store.SetupLinkPrefix, token) {
		s.invalidLink(w, r)
		return
	}
	var link *store.SetupLink
	// The link's id is known only once it is used: the audit entry names it as its target.
	ctx := store.WithActor(r.Context(), store.Actor{Kind: store.ActorSetupLink})
	_, err := s.open(w, r, &store.AdminSession{}, func(ses *store.AdminSession) (err error) {
		link, err = s.st.UseSetupLink(ctx, store.HashSecret(token), ses)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		s.invalidLink(w, r)
		return
	}
	if err != nil {
		s.failed(w, r, "setup link", err)
		return
	}
	t, err := s.st.TenantByID(r.Context(), link.TenantID)
	if err != nil {
		s.failed(w, r, "setup link tenant", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/admin/"+url.PathEscape(t.Slug)+"/", http.StatusSeeOther)
}

// invalidLink is the one answer for a link that is unknown, used or expired.
func (s *Server) invalidLink(w http.ResponseWriter, r *http.Request) {
	page.Message(w, http.StatusNotFound, "This setup link does not work",
		"The link is not valid: it may have been used already or have expired. Ask whoever sent it for a new one.", page.Ref(r))
}
