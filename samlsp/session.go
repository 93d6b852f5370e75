package samlsp

import (
	"net/http"
	"time"

	"github.com/scimsso/scimsso/store"
)

// Sessions is what the SAML service provider needs of the people's web, which owns the session
// cookie and every page after a sign-in. cmd passes the people's session starter (people.Sessions);
// this package never imports it. The ACS hands it a verified sign-in; it never hands anything back
// but the browser's session.
type Sessions interface {
	// Start starts a session for a verified sign-in and answers the request: write stores the sign-in
	// with a new session whose IDHash it is given (one store transaction, store.SignIn) and reports
	// whether first sign-in is still pending. If write fails, Start returns its error unchanged and
	// has written nothing: the ACS answers the refusal. Otherwise the browser has its session cookie
	// and is on its way to returnTo (an unsafe path lands on the default page), through /welcome
	// while first sign-in is pending.
	Start(w http.ResponseWriter, r *http.Request, returnTo string, write func(idHash []byte) (pending bool, err error)) error
	// Current returns the browser's live session, or nil without one: the session a silent
	// re-authentication is bound to.
	Current(r *http.Request) (*store.Session, error)
	// End ends the session idHash (a failed silent re-authentication), clears the browser's session
	// cookie and sends the person to sign in again, back to returnTo afterwards. On a store failure
	// it returns the error and has written nothing.
	End(w http.ResponseWriter, r *http.Request, idHash []byte, returnTo string) error
}

// bindingCookie ties outstanding AuthnRequests to the browser that started them and must reach the ACS
// on the IdP's cross-site POST.
const bindingCookie = "__Host-scimsso_binding"

// setBindingCookie: SameSite=None so the IdP's cross-site POST to the ACS carries it, which browsers
// allow only with Secure (they treat http://localhost as secure, so the demo works without TLS). The
// __Host- prefix makes browsers refuse the cookie from a sibling subdomain or without Secure and
// Path=/, so nobody can plant their own binding in a victim's browser (login CSRF). Short-lived.
func setBindingCookie(w http.ResponseWriter, v string) {
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: v, Path: "/", MaxAge: int(requestTTL / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode})
}
