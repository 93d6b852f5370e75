package people

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

// Password attempts allowed per account and per client address within passwordWindow. Each is reserved
// in the store before the password is checked and forgotten again if it succeeds, so these are the
// failures (and the checks still running) allowed; the store counts them, so the limits hold across
// replicas and restarts.
const (
	passwordWindow     = 15 * time.Minute
	maxAccountFailures = 5
	maxAddressFailures = 20
)

type loginView struct {
	page.View
	CSRF, ReturnTo, Email, Error string
	Mobile, Password             bool
}

// loginPage is GET /login: the email-first form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.loginView(w, r, r.URL.Query().Get("return_to"), r.URL.Query().Get("client"))
	if ok {
		page.Render(w, pages, http.StatusOK, "login", v)
	}
}

func (s *Server) loginView(w http.ResponseWriter, r *http.Request, returnTo, client string) (*loginView, bool) {
	csrf, err := s.csrfToken(w, r)
	if err != nil {
		s.internal(w, r, "csrf", err)
		return nil, false
	}
	if !page.SafeReturnTo(returnTo) {
		returnTo = page.DefaultReturnTo
	}
	return &loginView{View: page.View{Title: "Sign in", Ref: page.Ref(r)}, CSRF: csrf, ReturnTo: returnTo, Mobile: client == "mobile"}, true
}

// loginSubmit is POST /login. The email's domain names the tenant. Not on the tenant's exclusion list:
// to the tenant's IdP (SSO active) or a clear message (SSO off). On the list: a password form, and the
// password is checked only for such a user, so a password stored for anyone else is never usable.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.acceptForm(w, r, "Cannot sign in") {
		return
	}
	v, ok := s.loginView(w, r, r.PostForm.Get("return_to"), r.PostForm.Get("client"))
	if !ok {
		return
	}
	email, err := store.ParseEmail(r.PostForm.Get("email"))
	if err != nil {
		v.Error = "Enter your work email address, like name@company.com."
		page.Render(w, pages, http.StatusBadRequest, "login", v)
		return
	}
	v.Email = email
	domain := store.EmailDomain(v.Email)
	t, err := s.st.TenantByDomain(r.Context(), domain)
	if errors.Is(err, store.ErrNotFound) {
		v.Error = "No organisation signs in here with @" + domain + " addresses. Check the address, or ask your administrator."
		page.Render(w, pages, http.StatusNotFound, "login", v)
		return
	}
	if err != nil {
		s.internal(w, r, "tenant by domain", err)
		return
	}
	tn, err := s.tenantBySlug(r.Context(), t.Slug)
	if err != nil {
		s.internal(w, r, "tenant settings", err)
		return
	}
	if tn.set.Excludes(v.Email) {
		v.Password = true
		if _, sent := r.PostForm["password"]; !sent {
			page.Render(w, pages, http.StatusOK, "login", v)
			return
		}
		s.passwordSignIn(w, r, tn, v)
		return
	}
	if tn.set.State != store.SSOActive || tn.set.IdPEntityID == "" {
		v.Error = "Single sign-on is not switched on for " + t.Name + " yet. Contact your administrator."
		page.Render(w, pages, http.StatusForbidden, "login", v)
		return
	}
	purpose := store.PurposeSignIn
	if v.Mobile {
		purpose = store.PurposeMobile
	}
	s.sso.StartSignIn(w, r, tn.Slug, v.ReturnTo, purpose)
}

// passwordSignIn checks an excluded user's password, within the failed-attempt limits, and starts the
// session: the sign-in (attempt forgotten, failures cleared, the user placed by the department map,
// the session) is one store transaction. Every failure looks the same to the person (no user, no
// password, wrong password, deactivated) and takes as long.
func (s *Server) passwordSignIn(w http.ResponseWriter, r *http.Request, t *tenant, v *loginView) {
	ctx := r.Context()
	log := s.log.With(zap.String("request_id", page.Ref(r)), zap.String("tenant", t.Slug))
	acct := "acct:" + t.ID + ":" + store.Key(v.Email)
	addr := "addr:" + clientaddr.Key(r)
	// The attempt is reserved before anything is checked: the count and the record are one store
	// transaction, so guesses sent at once, to any replica, are never more than the limits allow.
	attempt, err := s.st.ReserveLoginAttempt(ctx, passwordWindow,
		store.Limit{Key: acct, Max: maxAccountFailures}, store.Limit{Key: addr, Max: maxAddressFailures})
	rec := store.SignInRecord{TenantID: t.ID, Method: store.SignInPassword, Email: v.Email, Ref: page.Ref(r), ClientAddr: clientaddr.String(r)}
	logRefusal := func(code, reason string) {
		rec.Outcome, rec.Code, rec.Reason = store.SignInRefused, code, reason
		if err := s.refusals.Record(context.WithoutCancel(ctx), &rec); err != nil {
			log.Warn("could not record the refusal in the sign-in log", zap.Error(err))
		}
	}
	var le *store.LimitError
	if errors.As(err, &le) {
		kind, _, _ := strings.Cut(le.Key, ":") // the key holds the email or the address: log only its kind
		// Not recorded in the sign-in log: a throttled guess checks nothing, and recording each would
		// make a guessing flood a store write per post; the failures that led here are recorded.
		log.Warn("password sign-in throttled", zap.String("limit", kind))
		w.Header().Set("Retry-After", strconv.Itoa(int(passwordWindow/time.Second)))
		v.Error = "Too many failed attempts. Wait 15 minutes and try again."
		page.Render(w, pages, http.StatusTooManyRequests, "login", v)
		return
	}
	if err != nil {
		s.internal(w, r, "reserve login attempt", err)
		return
	}
	// An attempt whose password was never checked (a store failure, a client gone while queued for a
	// check) gives its reservation back: only guesses that were evaluated count against the account.
	checked := false
	defer func() {
		if !checked {
			if err := s.st.ForgetLoginAttempt(context.WithoutCancel(ctx), attempt); err != nil {
				log.Warn("could not give back an unchecked password attempt", zap.Error(err))
			}
		}
	}()
	var u *store.User
	err = s.st.Lookup(ctx, t.ID, func(f store.UserFinder) error {
		var err error
		u, err = f.ByEmail(v.Email)
		return err
	})
	hash := dummyHash
	if err == nil {
		var herr error
		if hash, herr = s.st.PasswordHash(ctx, t.ID, u.ID); errors.Is(herr, store.ErrNotFound) {
			hash = dummyHash
		} else if herr != nil {
			s.internal(w, r, "password", herr)
			return
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, "user by email", err)
		return
	}
	select {
	case s.passwordChecks <- struct{}{}:
	case <-ctx.Done():
		return
	}
	checked = true
	ok, cerr := func() (bool, error) {
		defer func() { <-s.passwordChecks }() // released even if the check panics
		return checkPassword(hash, r.PostForm.Get("password"))
	}()
	if cerr != nil {
		log.Error("stored password hash unreadable", zap.Error(cerr))
	}
	refuse := func(code, reason string) {
		// The reserved attempt stays: it is the failure the limits count. The person is told nothing of
		// which check failed; the tenant's admin reads it in the sign-in log.
		log.Info("password sign-in refused", zap.String("code", code), zap.String("reason", reason))
		logRefusal(code, reason)
		v.Error = "The email or password is not right."
		page.Render(w, pages, http.StatusUnauthorized, "login", v)
	}
	switch {
	case u == nil:
		refuse("unknown-user", "no user of the tenant has this email")
		return
	case hash == dummyHash:
		refuse("no-password", "the user has no password set")
		return
	case !ok:
		refuse("password", "the password is wrong")
		return
	case !u.Active:
		refuse("deactivated", "the user is deactivated")
		return
	}
	rec.UserID = u.ID
	in := &store.PasswordSignIn{UserID: u.ID, PasswordHash: hash, Attempt: attempt, AccountKey: acct,
		Session: store.Session{Mobile: v.Mobile, ExpiresAt: s.now().Add(t.set.SessionTimeout(v.Mobile))},
		// Recorded only when the department map places the user (it was imported after the user was
		// written), as an SSO sign-in would.
		Audit: store.Audit{Operation: "password-signin", Outcome: "ok", Detail: "placed by the department map"},
		Log:   &rec}
	err = s.sessions.Start(w, r, v.ReturnTo, func(idHash []byte) (bool, error) {
		in.Session.IDHash = idHash
		_, err := s.st.PasswordSignIn(ctx, t.ID, in, func(f store.UserFinder, u *store.User) (bool, error) {
			ask, err := store.Onboard(f, t.set, u, false)
			return len(ask) > 0, err
		})
		return in.Session.Pending, err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		refuse("changed", "the user was deactivated, deleted or given a new password while the password was checked")
		return
	case err != nil:
		s.internal(w, r, "password sign-in", err)
		return
	}
	log.Info("signed in with a password", zap.String("user_id", u.ID), zap.Bool("mobile", v.Mobile))
}
