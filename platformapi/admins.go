package platformapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimsso/scimsso/store"
)

// Setup links, tenant admins and the admin audit log (store.AdminStore).

// setupLinkObject is a setup link as the audit log shows it (never its secret or hash), with its status.
type setupLinkObject struct {
	store.SetupLinkAuditObject
	Status string `json:"status"` // waiting, used, revoked or expired
}

func (s *Server) newSetupLinkObject(l *store.SetupLink) setupLinkObject {
	status := "waiting"
	switch {
	case !l.RevokedAt.IsZero():
		status = "revoked"
	case !l.UsedAt.IsZero():
		status = "used"
	case !s.cfg.Now().Before(l.ExpiresAt):
		status = "expired"
	}
	return setupLinkObject{store.NewSetupLinkAuditObject(l), status}
}

// setupLinkRequest is the body of POST setup-links: `setup-link`'s flags.
type setupLinkRequest struct {
	Expires string `json:"expires"` // a duration; "": store.DefaultSetupLinkLifetime
	SSO     bool   `json:"sso"`
	SCIM    bool   `json:"scim"`
}

// createSetupLink answers POST /api/v1/tenants/{slug}/setup-links {expires, sso, scim}: 201 with the
// link (BASE/setup/TOKEN), shown this once: only its hash is stored.
func (s *Server) createSetupLink(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		var req setupLinkRequest
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		dur, err := store.ParseLifetime(req.Expires, store.DefaultSetupLinkLifetime, store.MaxSetupLinkLifetime)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		secret, hash, err := store.NewSecret(store.SetupLinkPrefix)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		l := &store.SetupLink{TenantID: t.ID, Scopes: store.SetupLinkScopes(req.SSO, req.SCIM), Hash: hash,
			ExpiresAt: s.cfg.Now().Add(dur), CreatedBy: store.ActorOf(r.Context())}
		if err := s.st.CreateSetupLink(r.Context(), l); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, struct {
			setupLinkObject
			URL string `json:"url"`
		}{s.newSetupLinkObject(l), s.cfg.BaseURL + "/setup/" + secret})
	})(w, r)
}

// listSetupLinks answers GET /api/v1/tenants/{slug}/setup-links: newest first, never a link itself.
func (s *Server) listSetupLinks(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		ls, err := s.st.ListSetupLinks(r.Context(), t.ID)
		writeList(s, w, r, ls, err, s.newSetupLinkObject)
	})(w, r)
}

// revokeSetupLink answers DELETE /api/v1/tenants/{slug}/setup-links/{id}: 204; the link no longer
// opens the console, and the console sessions it opened end, in one transaction (store
// RevokeSetupLink, as `setup-link revoke`). Revoking a revoked link changes nothing; 404 unless the
// tenant has that link.
func (s *Server) revokeSetupLink(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		s.changeByID(w, r, "id", "Tenant "+t.Slug+" has no setup link %q.", func(id string) error {
			return s.st.RevokeSetupLink(r.Context(), t.ID, id)
		})
	})(w, r)
}

// setPassword answers POST /api/v1/tenants/{slug}/passwords {email, password}: 204, the password of
// the tenant's user with that email set (only its hash is stored), as `user set-password`: the email
// must be on the tenant's exclusion list (store.PasswordUser) and the password within store's bounds
// (store.CheckPassword). The password is never echoed, in an answer or a log.
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		var req struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := decodeBody(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		u, err := store.PasswordUser(r.Context(), s.st, t, req.Email)
		if err == nil {
			err = store.CheckPassword(req.Password)
		}
		var hash string
		if err == nil {
			select {
			case s.hashing <- struct{}{}:
			case <-r.Context().Done():
				return // the client left while it waited
			}
			hash, err = func() (string, error) {
				defer func() { <-s.hashing }() // given back even if hashing panics
				return s.cfg.HashPassword(req.Password)
			}()
		}
		if err == nil {
			err = s.st.SetPassword(r.Context(), t.ID, u.ID, hash)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})(w, r)
}

// listAdmins answers GET /api/v1/tenants/{slug}/admins: the tenant admins as user objects.
func (s *Server) listAdmins(w http.ResponseWriter, r *http.Request) {
	s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		us, err := s.st.ListAdmins(r.Context(), t.ID)
		writeList(s, w, r, us, err, func(u *store.User) store.UserObject { return store.NewUserObject(u, t.Slug) })
	})(w, r)
}

// setAdmin answers PUT (on) and DELETE (off) /api/v1/tenants/{slug}/admins/{user_id}: 204; 404 for a
// user that is not the tenant's; 409 for removing the tenant's last admin. Setting what is set
// already is not an error.
func (s *Server) setAdmin(on bool) http.HandlerFunc {
	return s.withTenant(func(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
		s.changeByID(w, r, "user_id", "Tenant "+t.Slug+" has no user %q.", func(id string) error {
			err := s.st.SetAdmin(r.Context(), t.ID, id, on)
			if errors.Is(err, store.ErrLastAdmin) {
				return errorf(http.StatusConflict, codeConflict, "This is the last admin of tenant %s; make another admin first.", t.Slug)
			}
			return err
		})
	})
}

type adminActionObject struct {
	ID     string                 `json:"id"`
	Seq    int64                  `json:"seq"`
	Time   time.Time              `json:"time"`
	Tenant *string                `json:"tenant"` // null: the platform's (API keys, clients, webhooks)
	Actor  store.ActorAuditObject `json:"actor"`
	Action string                 `json:"action"`
	Target string                 `json:"target"`
	Before json.RawMessage        `json:"before"` // the object before the change; null when there was none
	After  json.RawMessage        `json:"after"`
}

// maxAuditPage bounds a page of the admin audit log, as store.AdminActionQuery does.
const maxAuditPage = 500

// parseAudit reads the audit list's query: tenant (a slug), before (a seq) and limit.
func parseAudit(raw string) (slug string, before int64, limit int, err error) {
	p, err := params(raw, "tenant", "before", "limit")
	if err != nil {
		return "", 0, 0, err
	}
	if v := p["before"]; v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return "", 0, 0, invalid("before must be a seq: a whole number, 1 or more, not %q.", clip(v))
		}
	}
	if limit, err = parseLimit(p["limit"], defaultPage, maxAuditPage); err != nil {
		return "", 0, 0, err
	}
	return p["tenant"], before, limit, nil
}

// listAudit answers GET /api/v1/audit?tenant=&before=&limit=: the admin audit log, newest first, of
// one tenant or of everything; next_cursor is the before of the next (older) page, null on the last.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	slug, before, limit, err := parseAudit(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := store.AdminActionQuery{Before: before, Limit: limit}
	if slug != "" {
		r = mux.SetURLVars(r, map[string]string{"slug": slug})
		t, err := s.tenant(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q.TenantID = t.ID
	}
	acts, err := s.st.ListAdminActions(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	slugs := map[string]string{}
	out := list[adminActionObject]{Data: make([]adminActionObject, 0, len(acts))}
	for _, act := range acts {
		o := adminActionObject{ID: act.ID, Seq: act.Seq, Time: act.Time.UTC(), Actor: store.ActorAuditObject(act.Actor), Action: act.Action,
			Target: act.Target, Before: rawOrNull(act.Before), After: rawOrNull(act.After)}
		if act.TenantID != "" {
			sl, ok := slugs[act.TenantID]
			if !ok {
				t, err := s.st.TenantByID(r.Context(), act.TenantID)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					s.writeError(w, r, err)
					return
				}
				if t != nil {
					sl = t.Slug
				}
				slugs[act.TenantID] = sl
			}
			o.Tenant = &sl
		}
		out.Data = append(out.Data, o)
	}
	if len(acts) == limit && limit > 0 {
		next := strconv.FormatInt(acts[len(acts)-1].Seq, 10)
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// rawOrNull is s as raw JSON when it is JSON, else null.
func rawOrNull(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}
