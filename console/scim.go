package console

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
)

// The SCIM page: the tenant's SCIM base URL, its bearer tokens (issued here, shown once on the page
// that answers the issuing POST and never again; listed without the token or its hash; revoked after
// a confirmation) and the recent SCIM requests from the store's SCIM audit log.

// recentSCIM bounds how many SCIM requests the page shows.
const recentSCIM = 100

// timeFormat is how the console shows a time: UTC, to the second.
const timeFormat = "2006-01-02 15:04:05 UTC"

func (s *Server) scimRoutes(r *mux.Router) {
	s.handle(r, http.MethodGet, "/scim", store.AdminScopeSCIM, s.scimPage)
	s.handle(r, http.MethodPost, "/scim/tokens", store.AdminScopeSCIM, s.scimIssue)
	s.handle(r, http.MethodPost, "/scim/revoke", store.AdminScopeSCIM, s.scimRevoke)
}

// tokenView is a token as the list shows it: never the token or its hash.
type tokenView struct {
	ID, Name, Created, Expires, State string
	Live                              bool
}

// scimRequest is an entry of the SCIM audit log as the page shows it.
type scimRequest struct {
	Time, Operation, User, Outcome, Detail string
	Failed                                 bool
}

// scimView is the SCIM page's data.
type scimView struct {
	view
	BaseURL    string
	Tokens     []tokenView
	Requests   []scimRequest
	RecentMax  int
	NewToken   string // the token just issued: on this one page only
	NewName    string
	Name       string // the issue form's values given back
	Expires    string
	NameError  string
	ExpError   string
	FormError  string
	Issued     string // the issue form's one-use value: tokensDigest of the tokens it was rendered with
	ConfirmID  string // the revoke confirmation: the token asked about
	ConfirmTok *tokenView
}

// scimView builds the page with the tenant's tokens and recent requests.
func (s *Server) scimView(r *http.Request, c *request) (scimView, error) {
	v := scimView{view: s.view(r, c, "SCIM provisioning", "scim"), BaseURL: strings.TrimRight(s.cfg.BaseURL, "/") + "/scim/v2/" + c.Tenant.Slug,
		RecentMax: recentSCIM}
	toks, err := s.st.ListTokens(r.Context(), c.Tenant.ID)
	if err != nil {
		return v, err
	}
	v.Issued = tokensDigest(toks)
	now := s.now()
	for i := range toks {
		v.Tokens = append(v.Tokens, s.tokenView(&toks[i], now))
	}
	as, err := s.st.RecentAudit(r.Context(), c.Tenant.ID, recentSCIM)
	if err != nil {
		return v, err
	}
	for _, a := range as {
		v.Requests = append(v.Requests, scimRequest{Time: a.Time.UTC().Format(timeFormat), Operation: a.Operation, User: a.UserID,
			Outcome: a.Outcome, Detail: a.Detail, Failed: a.Outcome != "ok" && !strings.HasPrefix(a.Outcome, "2")})
	}
	return v, nil
}

func (s *Server) tokenView(t *store.Token, now time.Time) tokenView {
	tv := tokenView{ID: t.ID, Name: t.Name, Created: t.CreatedAt.UTC().Format(timeFormat), Expires: "never", Live: t.Live(now)}
	if tv.Name == "" {
		tv.Name = "(no name)"
	}
	if !t.ExpiresAt.IsZero() {
		tv.Expires = t.ExpiresAt.UTC().Format(timeFormat)
	}
	switch {
	case !t.RevokedAt.IsZero():
		tv.State = "revoked " + t.RevokedAt.UTC().Format(timeFormat)
	case !tv.Live:
		tv.State = "expired"
	default:
		tv.State = "live"
	}
	return tv
}

func (s *Server) scimPage(w http.ResponseWriter, r *http.Request, c *request) {
	v, err := s.scimView(r, c)
	if err != nil {
		s.failed(w, r, "console scim", err)
		return
	}
	s.render(w, http.StatusOK, "scim", v)
}

// tokensDigest names the set of the tenant's tokens (their ids). The issue form carries the digest
// it was rendered with, and a POST whose digest is not the current one is refused: a reload of the
// page that answered an issue (the browser posts the form again) would otherwise issue a second live
// token the admin never sees. Like the SSO forms' version, it is no secret, only a one-use value; two
// racing posts of one form may still both issue, which a reload does not do.
func tokensDigest(toks []store.Token) string {
	ids := make([]string, len(toks))
	for i := range toks {
		ids[i] = toks[i].ID
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return hex.EncodeToString(sum[:16])
}

// scimIssue issues a token and shows it on the page that answers this POST, the only time it is ever
// shown: no redirect (the token would have to travel in a URL or be kept), and the page is no-store.
func (s *Server) scimIssue(w http.ResponseWriter, r *http.Request, c *request) {
	name, expires := strings.TrimSpace(r.PostForm.Get("name")), strings.TrimSpace(r.PostForm.Get("expires"))
	bad := func(field, msg string) {
		v, err := s.scimView(r, c)
		if err != nil {
			s.failed(w, r, "console scim", err)
			return
		}
		v.Name, v.Expires = name, expires
		if field == "name" {
			v.NameError = msg
		} else {
			v.ExpError = msg
		}
		v.FormError = "No token was issued."
		s.render(w, http.StatusBadRequest, "scim", v)
	}
	toks, err := s.st.ListTokens(r.Context(), c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console scim issue", err)
		return
	}
	if r.PostForm.Get("issued") != tokensDigest(toks) {
		v, err := s.scimView(r, c)
		if err != nil {
			s.failed(w, r, "console scim", err)
			return
		}
		v.Name, v.Expires = name, expires
		v.FormError = "No token was issued: a token was already issued from this form (or another since the page was shown). See the list below; to issue another, use the form again."
		s.render(w, http.StatusConflict, "scim", v)
		return
	}
	if name == "" {
		bad("name", "Give the token a name that says which client uses it (e.g. Okta provisioning).")
		return
	}
	dur, err := store.ParseLifetime(expires, 0, 0)
	if err != nil {
		bad("expires", err.Error()+" (e.g. 90d, or empty for never)")
		return
	}
	var exp time.Time
	if dur > 0 {
		exp = s.now().Add(dur)
	}
	secret, _, err := store.IssueToken(c.Ctx, s.st, c.Tenant.ID, name, exp)
	var ref *store.Refusal
	if errors.As(err, &ref) {
		bad("name", ref.Msg)
		return
	}
	if err != nil {
		s.failed(w, r, "console scim issue", err)
		return
	}
	v, err := s.scimView(r, c)
	if err != nil {
		s.failed(w, r, "console scim", err)
		return
	}
	v.NewToken, v.NewName = secret, name
	v.Notice = "The token is issued."
	s.render(w, http.StatusOK, "scim", v)
}

// scimRevoke revokes a token of the tenant: without confirm=yes it shows what would be revoked and
// asks again; with it, revokes. Another tenant's token, or an unknown one, is the page-not-found.
func (s *Server) scimRevoke(w http.ResponseWriter, r *http.Request, c *request) {
	id := r.PostForm.Get("id")
	toks, err := s.st.ListTokens(r.Context(), c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console scim revoke", err)
		return
	}
	var tok *store.Token
	for i := range toks {
		if toks[i].ID == id && id != "" {
			tok = &toks[i]
		}
	}
	if tok == nil {
		s.notFound(w, r)
		return
	}
	if !tok.RevokedAt.IsZero() {
		http.Redirect(w, r, s.pagePath(c, "scim")+"?done=revoked", http.StatusSeeOther)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		v, err := s.scimView(r, c)
		if err != nil {
			s.failed(w, r, "console scim", err)
			return
		}
		tv := s.tokenView(tok, s.now())
		v.ConfirmID, v.ConfirmTok = tok.ID, &tv
		v.Title = "Revoke a SCIM token?"
		s.render(w, http.StatusOK, "scim-revoke", v)
		return
	}
	err = s.st.RevokeToken(c.Ctx, c.Tenant.ID, tok.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) { // ErrNotFound: revoked meanwhile
		s.failed(w, r, "console scim revoke", err)
		return
	}
	http.Redirect(w, r, s.pagePath(c, "scim")+"?done=revoked", http.StatusSeeOther)
}
