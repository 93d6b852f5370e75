package platformapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/httpjson"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/store"
)

// The error codes of the platform API: the "error" of every error body. A client acts on the code;
// the message is for the person reading it.
const (
	codeUnauthorized     = "unauthorized"           // 401: no live API key
	codeForbidden        = "forbidden"              // 403: the key lacks the scope
	codeNotFound         = "not_found"              // 404: no such tenant, user or path
	codeMethodNotAllowed = "method_not_allowed"     // 405
	codeInvalidCursor    = "invalid_cursor"         // 400: a cursor not made by this list (start again without one)
	codeInvalidRequest   = "invalid_request"        // 400: a parameter out of range or unknown
	codeConflict         = "conflict"               // 409: it conflicts with what is stored (a taken slug or domain)
	codeVersionMismatch  = "version_mismatch"       // 409: the SSO settings changed since the version given
	codeTooLarge         = "request_too_large"      // 413
	codeUnsupportedMedia = "unsupported_media_type" // 415: the body's Content-Type
	codeFetchFailed      = "metadata_fetch_failed"  // 502: the IdP's metadata URL gave no metadata
	codeUnavailable      = "unavailable"            // 503: the database is unreachable; retry after Retry-After
	codeInternal         = "internal_error"         // 500
)

// apiError is an error a client may see.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, codeInvalidRequest, format, args...)
}

// errUnauthorized is the one answer to a missing, malformed, unknown or revoked key.
var errUnauthorized = errorf(http.StatusUnauthorized, codeUnauthorized,
	"A live API key is required: send Authorization: Bearer KEY with a key from scimsso apikey create.")

// refusal is the answer to a change a store rule refused: its status by kind, its message naming the
// field (as the request spells it) first.
func refusal(r *store.Refusal) *apiError {
	msg := r.Msg
	if r.Field != "" && !strings.HasPrefix(msg, r.Field+":") {
		msg = r.Field + ": " + msg
	}
	switch {
	case errors.Is(r.Err, store.ErrAlreadyExists):
		return errorf(http.StatusConflict, codeConflict, "%s", msg)
	case errors.Is(r.Err, store.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "%s", msg)
	}
	return invalid("%s", msg)
}

// errorBody is every error's JSON.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// toAPI is the one place that decides what a client sees for an error: an *apiError as it is, the
// store's unavailability as 503, anything else logged with the request id and answered with a 500
// that carries the id but no internal text.
func (s *Server) toAPI(r *http.Request, err error) *apiError {
	var e *apiError
	var ref *store.Refusal
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &ref):
		return refusal(ref)
	case errors.Is(err, store.ErrUnavailable):
		s.metrics.StoreError(metrics.StoreUnavailable)
		s.log.Warn("platform API: store unavailable", zap.String("request_id", requestid.From(r.Context())), zap.Error(err))
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "The service is briefly unavailable; retry the request.")
	}
	s.metrics.StoreError(metrics.StoreInternal)
	id := requestid.From(r.Context())
	s.log.Error("platform API request failed", zap.String("request_id", id), zap.String("path", r.URL.Path), zap.Error(err))
	return errorf(http.StatusInternalServerError, codeInternal, "Internal error; reference %s.", id)
}

// writeError renders err as an error body with its status.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.toAPI(r, err)
	// A 503's Retry-After is added by the server's middleware, the same for every route.
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimsso"`)
	}
	writeJSON(w, e.Status, errorBody{Error: e.Code, Message: e.Message})
}

// writeJSON writes v with status. Every answer may carry people's data or says whether a key works:
// no cache keeps it. A json.RawMessage is written as it is (the events list is built from EventJSON).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	if httpjson.Write(w, status, "application/json", v) != nil {
		httpjson.Write(w, http.StatusInternalServerError, "application/json",
			json.RawMessage(`{"error":"`+codeInternal+`","message":"internal error"}`))
	}
}
