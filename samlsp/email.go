package samlsp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
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
	view
	CSRF, ReturnTo, Email, Error string
	Mobile, Password             bool
}

// loginPage is GET /login: the email-first form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.loginView(w, r, r.URL.Query().Get("return_to"), r.URL.Query().Get("client"))
	if ok {
		render(w, http.StatusOK, "login", v)
	}
}

func (s *Server) loginView(w http.ResponseWriter, r *http.Request, returnTo, client string) (*loginView, bool) {
	csrf, err := s.csrfToken(w, r)
	if err != nil {
		s.internal(w, r, "csrf", err)
		return nil, false
	}
	if !safeReturnTo(returnTo) {
		returnTo = defaultReturnTo
	}
	return &loginView{view: view{Title: "Sign in", Ref: requestRef(r)}, CSRF: csrf, ReturnTo: returnTo, Mobile: client == "mobile"}, true
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
		render(w, http.StatusBadRequest, "login", v)
		return
	}
	v.Email = email
	domain := store.EmailDomain(v.Email)
	t, err := s.st.TenantByDomain(r.Context(), domain)
	if errors.Is(err, store.ErrNotFound) {
		v.Error = "No organisation signs in here with @" + domain + " addresses. Check the address, or ask your administrator."
		render(w, http.StatusNotFound, "login", v)
		return
	}
	if err != nil {
		s.internal(w, r, "tenant by domain", err)
		return
	}
	c, err := s.tenantSP(r.Context(), t.Slug)
	if err != nil {
		s.internal(w, r, "tenant settings", err)
		return
	}
	if excluded(c.set, v.Email) {
		v.Password = true
		if _, sent := r.PostForm["password"]; !sent {
			render(w, http.StatusOK, "login", v)
			return
		}
		s.passwordSignIn(w, r, c, v)
		return
	}
	if c.set.State != "active" || c.sp.IDPMetadata == nil {
		v.Error = "Single sign-on is not switched on for " + t.Name + " yet. Contact your administrator."
		render(w, http.StatusForbidden, "login", v)
		return
	}
	purpose := store.PurposeSignIn
	if v.Mobile {
		purpose = store.PurposeMobile
	}
	s.startSignIn(w, r, c, &store.AuthnRequest{ReturnTo: v.ReturnTo, Purpose: purpose})
}

// passwordSignIn checks an excluded user's password, within the failed-attempt limits, and makes the
// session. Every failure looks the same to the person (no user, no password, wrong password,
// deactivated) and takes as long.
func (s *Server) passwordSignIn(w http.ResponseWriter, r *http.Request, c *tenantSP, v *loginView) {
	ctx := r.Context()
	log := s.log.With(zap.String("request_id", requestRef(r)), zap.String("tenant", c.tenant.Slug))
	acct := "acct:" + c.tenant.ID + ":" + store.Key(v.Email)
	addr := "addr:" + clientaddr.Key(r)
	// The attempt is reserved before anything is checked: the count and the record are one store
	// transaction, so guesses sent at once, to any replica, are never more than the limits allow.
	attempt, err := s.st.ReserveLoginAttempt(ctx, passwordWindow,
		store.Limit{Key: acct, Max: maxAccountFailures}, store.Limit{Key: addr, Max: maxAddressFailures})
	var le *store.LimitError
	if errors.As(err, &le) {
		kind, _, _ := strings.Cut(le.Key, ":") // the key holds the email or the address: log only its kind
		log.Warn("password sign-in throttled", zap.String("limit", kind))
		w.Header().Set("Retry-After", strconv.Itoa(int(passwordWindow/time.Second)))
		v.Error = "Too many failed attempts. Wait 15 minutes and try again."
		render(w, http.StatusTooManyRequests, "login", v)
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
	err = s.st.Lookup(ctx, c.tenant.ID, func(f store.UserFinder) error {
		var err error
		u, err = f.ByEmail(v.Email)
		return err
	})
	hash := dummyHash
	if err == nil {
		var herr error
		if hash, herr = s.st.PasswordHash(ctx, c.tenant.ID, u.ID); errors.Is(herr, store.ErrNotFound) {
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
	if !ok || hash == dummyHash || u == nil || !u.Active {
		// The reserved attempt stays: it is the failure the limits count.
		log.Info("password sign-in refused")
		v.Error = "The email or password is not right."
		render(w, http.StatusUnauthorized, "login", v)
		return
	}
	// A success counts against neither the shared address nor, after it, the account.
	if err := s.st.ForgetLoginAttempt(ctx, attempt); err != nil {
		s.internal(w, r, "forget login attempt", err)
		return
	}
	if err := s.st.ClearLoginFailures(ctx, acct); err != nil {
		s.internal(w, r, "clear login failures", err)
		return
	}
	secret, hashed, err := newSecret()
	if err != nil {
		s.internal(w, r, "session", err)
		return
	}
	var d *decision
	if err := s.st.Lookup(ctx, c.tenant.ID, func(f store.UserFinder) error {
		d = &decision{user: u.Clone()}
		return d.complete(f, c.set, false)
	}); err != nil {
		s.internal(w, r, "completion", err)
		return
	}
	if d.user.Team != u.Team {
		// The department map placed the user (it was imported after the user was written): store it, as
		// an SSO sign-in would.
		_, err := s.st.UpdateUser(ctx, c.tenant.ID, u.ID, 0, store.Audit{Operation: "password-signin", Outcome: "ok", Detail: "placed by the department map"},
			func(x *store.User) error {
				if x.Team == "" {
					x.Team = d.user.Team
				}
				return nil
			})
		if err != nil {
			s.internal(w, r, "place in team", err)
			return
		}
	}
	ss := &store.Session{IDHash: hashed, TenantID: c.tenant.ID, UserID: u.ID, Mobile: v.Mobile, Pending: d.pending,
		ExpiresAt: s.now().Add(hardTimeout(c.set, v.Mobile))}
	if err := s.st.CreateSession(ctx, ss); err != nil {
		s.internal(w, r, "create session", err)
		return
	}
	s.setSessionCookie(w, secret)
	log.Info("signed in with a password", zap.String("user_id", u.ID), zap.Bool("mobile", v.Mobile))
	to := v.ReturnTo
	if d.pending {
		to = withReturn("/welcome", to)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}
