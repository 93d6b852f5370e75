package samlsp

import (
	"errors"
	"net/http"

	"github.com/crewjam/saml"
	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
)

// defaultReturnTo is where a sign-in lands when nobody asked for a page.
const defaultReturnTo = "/me"

// login starts an SP-initiated sign-in: it stores the AuthnRequest, bound to this browser, with the
// page to return to, and redirects to the IdP (HTTP-Redirect binding). RelayState is not used: the
// response's InResponseTo finds the stored request, so nothing the IdP echoes back is ever a URL.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ref := requestRef(r)
	returnTo := r.URL.Query().Get("return_to")
	if returnTo == "" {
		returnTo = defaultReturnTo
	}
	if !safeReturnTo(returnTo) {
		page(w, http.StatusBadRequest, "Cannot sign in", "The page to return to must be a path on this site.", ref)
		return
	}
	c, err := s.tenantSP(r.Context(), mux.Vars(r)["tenant"])
	if errors.Is(err, errNoTenant) {
		page(w, http.StatusNotFound, "Unknown organisation", "There is no organisation at this address.", ref)
		return
	}
	if err != nil {
		s.internal(w, r, "login", err)
		return
	}
	if c.set.State != "active" || c.sp.IDPMetadata == nil {
		page(w, http.StatusForbidden, "Single sign-on is off", "Single sign-on is not switched on for this organisation.", ref)
		return
	}
	req, err := c.sp.MakeAuthenticationRequest(c.set.IdPSSOURL, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		s.internal(w, r, "authn request", err)
		return
	}
	// One binding value per browser: a second tab's sign-in must not orphan the first's request.
	bind := secretCookie(r, bindingCookie)
	if bind == "" {
		if bind, _, err = newSecret(); err != nil {
			s.internal(w, r, "binding", err)
			return
		}
	}
	ar := &store.AuthnRequest{ID: req.ID, TenantID: c.tenant.ID, BindingHash: hashSecret(bind), ReturnTo: returnTo, ExpiresAt: s.now().Add(requestTTL)}
	if err := s.st.CreateAuthnRequest(r.Context(), ar); err != nil {
		s.internal(w, r, "store authn request", err)
		return
	}
	u, err := req.Redirect("", &c.sp)
	if err != nil {
		s.internal(w, r, "redirect", err)
		return
	}
	s.setBindingCookie(w, bind)
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	s.log.Info("sign-in started", zap.String("request_id", ref), zap.String("tenant", c.tenant.Slug), zap.String("authn_request", req.ID))
	http.Redirect(w, r, u.String(), http.StatusFound)
}
