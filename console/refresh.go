package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/scimsso/scimsso/store"
)

// IdP metadata given by URL is fetched again periodically (SPEC "Admins"): the SSO page shows the state
// of that refresh (store.MetadataFetch) with a "Refresh now" that runs it at once (Config.Refresher),
// and the SSO page and the overview warn of IdP certificates that expired or expire within
// store.CertificateWarning, and of a last fetch that failed.

// refreshView is the state of the refresh of the tenant's metadata URL, as the SSO page shows it.
type refreshView struct {
	Every    string // how often the URL is fetched by itself; "" when never
	Tried    bool   // a fetch of the URL is recorded since it was given
	LastAt   string // when it was last tried
	Failure  string // why the last try failed, as recorded; "" when it succeeded
	LastOKAt string // when a fetch last succeeded, or "never"
	NextAt   string // when the next fetch is due, or "due now"
}

// refreshState reads the state of the refresh of url, the tenant's metadata URL: nil when there is
// none (the metadata came as a file).
func (s *Server) refreshState(ctx context.Context, tenantID, url string) (*refreshView, error) {
	if url == "" {
		return nil, nil
	}
	v := &refreshView{LastOKAt: "never", NextAt: "due now"}
	if d := s.cfg.RefreshInterval; d > 0 {
		v.Every = shortDuration(d)
	} else {
		v.NextAt = "none: the periodic refresh is off"
	}
	f, err := s.st.MetadataFetch(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return v, nil // never claimed: due at once
	}
	if err != nil {
		return nil, err
	}
	if v.Every != "" && f.NextAt.After(s.now()) {
		v.NextAt = f.NextAt.UTC().Format(timeFormat)
	}
	// The outcome recorded is of the URL last fetched; one of an earlier URL says nothing of this one.
	if f.URL == url && !f.LastAt.IsZero() {
		v.Tried, v.LastAt, v.Failure = true, f.LastAt.UTC().Format(timeFormat), f.LastError
		if !f.LastOKAt.IsZero() {
			v.LastOKAt = f.LastOKAt.UTC().Format(timeFormat)
		}
	}
	return v, nil
}

// renderSSO renders the SSO page v with the refresh state of its metadata URL, read now.
func (s *Server) renderSSO(w http.ResponseWriter, r *http.Request, c *request, status int, v ssoView) {
	var err error
	if v.Refresh, err = s.refreshState(r.Context(), c.Tenant.ID, v.IdPMetadataURL); err != nil {
		s.failed(w, r, "console metadata refresh state", err)
		return
	}
	s.render(w, status, "sso", v)
}

// noMetadataURL is the refusal of "Refresh now" for a tenant whose metadata was not given by URL.
const noMetadataURL = "The IdP's metadata was not given by URL, so there is nothing to fetch again: give its metadata URL below, or upload its new metadata file."

// metadataRefresh is "Refresh now": the tenant's metadata URL is fetched at once and applied as the
// periodic refresh does, the change recorded as the admin's. The page says what it did, or why it
// failed (the failure is recorded for the state shown, the settings stay as they are).
func (s *Server) metadataRefresh(w http.ResponseWriter, r *http.Request, c *request) {
	set, err := store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID)
	if err != nil {
		s.failed(w, r, "console metadata refresh", err)
		return
	}
	if set.IdPMetadataURL == "" {
		s.renderSSO(w, r, c, http.StatusBadRequest, s.ssoView(r, c, set, map[string]string{"": noMetadataURL}))
		return
	}
	res, err := s.cfg.Refresher.RefreshMetadata(c.Ctx, c.Tenant.ID)
	notice, refusal, status := "", "", http.StatusOK
	switch {
	case err == nil:
		notice = "The IdP's metadata was fetched again; " + res.Summary() + "."
	case errors.Is(err, store.ErrNoMetadataURL): // the URL was removed meanwhile
		refusal, status = noMetadataURL, http.StatusBadRequest
	case errors.Is(err, store.ErrMetadataURLChanged): // a change of the URL won: it is fetched next
		refusal, status = "The metadata URL was changed while it was fetched; nothing was applied, and the new URL is fetched next.", http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		s.notFound(w, r)
		return
	default:
		var failure *store.MetadataRefreshFailure
		if !errors.As(err, &failure) {
			s.failed(w, r, "console metadata refresh", err)
			return
		}
		// Not the admin's request that failed but the IdP's server: a bad gateway.
		refusal, status = "The IdP's metadata could not be fetched again, and nothing was changed: "+failure.Reason, http.StatusBadGateway
	}
	if set, err = store.SSOSettingsOf(r.Context(), s.st, c.Tenant.ID); err != nil {
		s.failed(w, r, "console metadata refresh", err)
		return
	}
	v := s.ssoView(r, c, set, map[string]string{"": refusal})
	v.Notice = notice
	s.renderSSO(w, r, c, status, v)
}

// certHealth warns of the IdP's certificates that expired or expire within store.CertificateWarning,
// on the SSO page and the overview.
type certHealth struct {
	CertWarnings []string // one a certificate; nil when none
	CertAdvice   string   // what to do about them
}

// newCertHealth is the warnings of certs, the tenant's IdP certificates; byURL says its metadata came
// by URL, and so is fetched again.
func newCertHealth(certs []certView, byURL bool) certHealth {
	var h certHealth
	valid := false // a certificate beyond the warning: sign-in goes on with it
	for _, c := range certs {
		switch {
		case c.Expired:
			h.CertWarnings = append(h.CertWarnings, fmt.Sprintf("The IdP's certificate %s expired on %s: a sign-in it signs is refused.", c.Subject, c.Expires))
		case c.Soon:
			h.CertWarnings = append(h.CertWarnings, fmt.Sprintf("The IdP's certificate %s expires on %s, within 30 days: from then on, a sign-in it signs is refused.", c.Subject, c.Expires))
		case c.Subject != "(unreadable)":
			valid = true
		}
	}
	switch {
	case len(h.CertWarnings) == 0:
	case valid:
		h.CertAdvice = "Another of the IdP's certificates stays valid: sign-in goes on once your IdP signs with it."
	case byURL:
		h.CertAdvice = "Renew the certificate at your IdP: scimsso adds the new one when it next fetches the IdP's metadata, or at once with Refresh now on the SSO page."
	default:
		h.CertAdvice = "Renew the certificate at your IdP, then give its new metadata on the SSO page."
	}
	return h
}

// shortDuration writes d without its zero trailing units: 6h, 1h30m, 30m, 1m30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
