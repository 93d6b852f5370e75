package scimserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/store"
)

// The write endpoints: POST /Users, PUT /Users/{id}, PATCH /Users/{id}. Each is one pass:
//
//	write      reads the body under the limits (413, 415, UTF-8, one JSON value, no \u0000)
//	  apply    createUser, replaceUser or patchUser: decode against the schemas (decode.go), build or
//	           change the user (resource.go, patch.go), one store call that writes the user and the
//	           audit entry in one transaction
//	write      answers with encodeDocument, the renderer reads use too, or refuse answers the error
//	           (toSCIM) and records the refusal: the one place a write is audited outside the store.

// write serves a write endpoint: apply gets the body and returns the user it wrote; the answer is that
// user with status, or apply's error.
func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, apply func(r *http.Request, body []byte) (*store.User, error)) {
	body, err := s.readBody(w, r)
	var u *store.User
	if err == nil {
		u, err = apply(r, body)
	}
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	st := stateOf(r)
	h := w.Header()
	h.Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		h.Set("Location", s.userURL(st.tenant.Slug, u.ID))
	}
	writeJSON(w, status, s.encodeDocument(st.tenant.Slug, u, projection{}))
}

// refuse answers a write with err and records the refusal in the tenant's audit log. An accepted write
// is recorded by the store in the write's own transaction (auditEntry); a refused one has no
// transaction, so it is recorded here, once, whatever refused it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	e := s.toSCIM(r, err)
	a := auditEntry(r, e.Status)
	a.Detail = e.Detail
	// A refused write must still be audited even if the client has gone away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.st.RecordAudit(ctx, a); err != nil {
		s.log.Error("audit write failed", zap.String("request_id", requestid.From(r.Context())), zap.Error(err))
	}
	s.writeError(w, r, e)
}

// auditEntry is the audit entry of a write answered with status.
func auditEntry(r *http.Request, status int) store.Audit {
	st := stateOf(r)
	return store.Audit{TenantID: st.tenant.ID, TokenID: st.tokenID, Operation: st.op, UserID: st.userID, Outcome: strconv.Itoa(status)}
}

// createUser is POST /Users.
func (s *Server) createUser(r *http.Request, body []byte) (*store.User, error) {
	d, err := s.schemas.decodeUser(body)
	if err != nil {
		return nil, err
	}
	st := stateOf(r)
	u, err := newUser(st.tenant, d)
	if err != nil {
		return nil, err
	}
	if err := s.st.CreateUser(r.Context(), st.tenant.ID, u, auditEntry(r, http.StatusCreated)); err != nil {
		return nil, err
	}
	return u, nil
}

// replaceUser is PUT /Users/{id}: attributes omitted from the body are left as stored.
func (s *Server) replaceUser(r *http.Request, body []byte) (*store.User, error) {
	attrs, err := s.schemas.decodeUser(body)
	if err != nil {
		return nil, err
	}
	return s.updateUser(r, func(d doc) error {
		for k, v := range attrs {
			d[keyOf(d, k)] = v
		}
		return nil
	})
}

// patchUser is PATCH /Users/{id}: the operations apply in order, all or none.
func (s *Server) patchUser(r *http.Request, body []byte) (*store.User, error) {
	ops, err := s.schemas.decodePatch(body)
	if err != nil {
		return nil, err
	}
	return s.updateUser(r, func(d doc) error { return applyPatch(d, ops) })
}

// updateUser changes the addressed user in one store transaction: change turns the stored document into
// the desired one, update (resource.go) applies it under the mutability rules. If-Match, when given,
// must name the stored version.
func (s *Server) updateUser(r *http.Request, change func(doc) error) (*store.User, error) {
	st := stateOf(r)
	want := ifMatch(r)
	if want < 0 {
		return nil, store.ErrVersionMismatch
	}
	return s.st.UpdateUser(r.Context(), st.tenant.ID, st.userID, want, auditEntry(r, http.StatusOK), func(u *store.User) error {
		return update(st.tenant, u, change)
	})
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// ifMatch returns the version If-Match asks for: 0 when absent or "*", -1 when it names no version of ours.
func ifMatch(r *http.Request) int64 {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0
	}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return -1
}

// acceptedType reports whether a request body's Content-Type is JSON; an absent one is accepted.
func acceptedType(h string) bool {
	if h == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(h)
	return err == nil && (mt == "application/scim+json" || mt == "application/json")
}

// readBody returns a write's body: JSON, at most maxBody bytes, one JSON value in UTF-8 (RFC 8259),
// without U+0000.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if !acceptedType(r.Header.Get("Content-Type")) {
		return nil, errorf(http.StatusUnsupportedMediaType, "", "Send the body as application/scim+json or application/json.")
	}
	if r.ContentLength > maxBody {
		return nil, errTooLarge
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1) // +1: ReadFrom needs room to see the end
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, errTooLarge
		}
		return nil, errorf(http.StatusBadRequest, "invalidSyntax", "The request body could not be read.")
	}
	body := buf.Bytes()
	// Invalid UTF-8 would be decoded as U+FFFD and stored; a decoder reads the first JSON value and
	// ignores what follows it.
	switch {
	case !utf8.Valid(body):
		return nil, errorf(http.StatusBadRequest, "invalidSyntax", "The request body is not valid UTF-8.")
	case !json.Valid(body):
		return nil, errorf(http.StatusBadRequest, "invalidSyntax", "The request body is not one valid JSON document.")
	case hasNULEscape(body):
		// PostgreSQL cannot store U+0000 in text, and no attribute needs it: refused on every backend alike.
		return nil, invalidValue("A value may not contain the NUL character (\\u0000).")
	}
	return body, nil
}

func (s *Server) userURL(slug, id string) string {
	return s.baseURL + "/scim/v2/" + slug + "/Users/" + id
}

// hasNULEscape reports whether a valid JSON document holds a \u0000 escape in a string: the only way
// it can carry U+0000. An escaped backslash before "u0000" is text, not the escape.
func hasNULEscape(body []byte) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		k := i + j
		n := 0
		for p := k - 1; p >= 0 && body[p] == '\\'; p-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = k + 5
	}
}
