package scimserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/httpjson"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// Error is a SCIM error a client may see: status, scimType and a detail written for the person reading it.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.ScimType, e.Detail) }

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "invalidValue", format, args...)
}

func mutability(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "mutability", format, args...)
}

func invalidFilter(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "invalidFilter", format, args...)
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Detail: "A valid bearer token for this tenant is required."}
	errTooLarge     = &Error{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than 1 MiB."}
	errNoDelete     = &Error{Status: http.StatusMethodNotAllowed, Detail: "Users are never deleted over SCIM. De-provision the user with PATCH or PUT setting active=false; in Entra, untick the Delete target object action."}
)

// toSCIM is the one place that decides what a client sees for an error. Store sentinels become their
// SCIM errors; anything unknown is logged with the request id and becomes a 500 without internal text.
func (s *Server) toSCIM(r *http.Request, err error) *Error {
	var e *Error
	var ce *schemas.CountryError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &ce):
		return invalidValue("%s", ce.Error())
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "", "Resource %s not found.", userIDOf(r))
	case errors.Is(err, store.ErrAlreadyExists):
		return errorf(http.StatusConflict, "uniqueness", "A user with this userName or externalId already exists in this tenant.")
	case errors.Is(err, store.ErrVersionMismatch):
		return errorf(http.StatusPreconditionFailed, "", "The user has changed since the version given in If-Match; read it again and retry.")
	case errors.Is(err, store.ErrUnavailable):
		// The IdP retries a 503 (Okta and Entra both do); the server's middleware adds Retry-After.
		s.metrics.StoreError(metrics.StoreUnavailable)
		s.log.Warn("scim request: store unavailable", zap.String("request_id", requestid.From(r.Context())), zap.Error(err))
		return errorf(http.StatusServiceUnavailable, "", "The service is briefly unavailable; retry the request.")
	}
	s.metrics.StoreError(metrics.StoreInternal)
	id := requestid.From(r.Context())
	s.log.Error("scim request failed", zap.String("request_id", id), zap.String("path", r.URL.Path), zap.Error(err))
	return &Error{Status: http.StatusInternalServerError, Detail: "Internal error; reference " + id + "."}
}

type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
	Status   string   `json:"status"`
}

// writeError renders err as a SCIM error document.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.toSCIM(r, err)
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimsso"`)
	}
	writeJSON(w, e.Status, errorBody{Schemas: []string{schemas.ErrorURN}, ScimType: e.ScimType, Detail: e.Detail, Status: strconv.Itoa(e.Status)})
}

// writeJSON writes v as the SCIM JSON body of a response with status. A json.RawMessage is written as
// it is: encodeDocument builds it from json.Marshal output only.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if httpjson.Write(w, status, contentType, v) != nil {
		httpjson.Write(w, http.StatusInternalServerError, contentType,
			json.RawMessage(`{"schemas":["`+schemas.ErrorURN+`"],"detail":"internal error","status":"500"}`))
	}
}
