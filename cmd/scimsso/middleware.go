package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/clientaddr"
	"github.com/scimsso/scimsso/internal/httpjson"
	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/requestid"
	"github.com/scimsso/scimsso/store"
)

// requestIDHeader carries the request id: a client may send one, and every response carries the id
// its log lines name. Below the middleware the id travels in the context (requestid.From).
const requestIDHeader = "X-Request-Id"

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			var b [12]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(requestIDHeader, id)
		// A request's changes are scimsso's own unless the console or the management API names who
		// made them: never the CLI's, store.ActorOf's default, whose rights (removing a tenant's last
		// admin) belong to the operator at the shell alone.
		ctx := store.WithActor(requestid.With(r.Context(), id), store.Actor{Kind: store.ActorSystem, Name: "HTTP request"})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// noSniff sets X-Content-Type-Options: nosniff on every response, whoever writes it (SCIM JSON, SAML
// XML, pages, health, errors, a recovered panic): no browser may read a response as another type than
// the one it is sent as, for example a JSON error echoing a client's value as HTML or script.
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// statusWriter records what was written, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// retryAfter is what every 503 tells clients to wait, in seconds: a database restart or a replica
// failing over takes seconds, and Okta and Entra retry on their own schedule in any case.
const retryAfter = "2"

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	if code == http.StatusServiceUnavailable && s.Header().Get("Retry-After") == "" {
		s.Header().Set("Retry-After", retryAfter)
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line per request: method, path (never the query, which may carry a SAMLRequest),
// status, size and duration. Headers are never logged, so tokens and cookies cannot leak here.
// It also counts the request in the metrics, by the route template the router matched.
func accessLog(log *zap.Logger, mx *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		m := new(matched)
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, m)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		path := loggedPath(m, r.URL.Path)
		route := &m.route
		if *route == "" {
			*route = "unmatched"
		}
		mx.Request(*route, methodLabel(r.Method), sw.status, time.Since(start))
		log.Info("request",
			zap.String("request_id", requestid.From(r.Context())),
			zap.String("method", r.Method),
			zap.String("path", path),
			zap.String("route", *route),
			zap.Int("status", sw.status),
			zap.Int64("bytes", sw.bytes),
			zap.Duration("duration", time.Since(start)),
			zap.String("remote", r.RemoteAddr),
			zap.Stringer("client", clientaddr.From(r)),
		)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 with no internals in the response.
func recoverPanics(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			id := requestid.From(r.Context())
			m, _ := r.Context().Value(routeKey{}).(*matched)
			log.Error("panic serving request", zap.String("request_id", id),
				zap.String("path", loggedPath(m, r.URL.Path)), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
			httpjson.Write(w, http.StatusInternalServerError, "application/json", map[string]string{"error": "internal error", "request_id": id})
		}()
		next.ServeHTTP(w, r)
	})
}

type routeKey struct{}

// matched is what nameRoute learnt of the route that matched: its template, and the rest of the
// path beyond it when the route is a prefix (/scim/v2/{tenant} serves /scim/v2/acme/Users/ID).
type matched struct {
	route, tail string
}

// maxLoggedPath caps the path logged for a request no route matched: a client chooses it.
const maxLoggedPath = 96

// loggedPath is the path the logs show. A route's variables can be secrets (a setup link is
// /setup/{token}), so a request that matched a route is logged as the route's template (with the rest
// of the path beyond a prefix route, which holds no route variable); only an unmatched one (a 404, a
// 405) is logged by its path, cut short, and with all after any secret-bearing prefix replaced,
// since it may be a mistyped or wrongly-methoded secret link.
func loggedPath(m *matched, path string) string {
	if m != nil && m.route != "" {
		return cut(m.route + m.tail)
	}
	// Everything after a secret-bearing prefix goes, in any case and however the path continues: a
	// doubled slash or a dot segment ("/setup//TOKEN", "/setup/x/../TOKEN", "/SETUP/TOKEN") is not a
	// route and would otherwise show the token in a later segment.
	if i := strings.Index(strings.ToLower(path), strings.TrimSuffix(secretPathPrefix, "/")); i >= 0 {
		path = path[:i] + secretPathPrefix + "{redacted}"
	}
	return cut(path)
}

// cut shortens a path to maxLoggedPath bytes.
func cut(path string) string {
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath] + "…"
	}
	return path
}

// tailBeyond is the part of path beyond as many segments as template has: "" for a route that
// matched the whole path, "/Users/ID" for /scim/v2/acme/Users/ID under /scim/v2/{tenant}. Route
// variables match one segment each (mux's default), so counting segments finds where the match ends.
func tailBeyond(template, path string) string {
	rest := path
	for range strings.Count(strings.TrimSuffix(template, "/"), "/") {
		j := strings.IndexByte(rest[min(1, len(rest)):], '/')
		if j < 0 {
			return ""
		}
		rest = rest[j+1:]
	}
	if rest == "/" {
		return ""
	}
	return rest
}

// secretPathPrefix is the path prefix whose next segment is a secret (setup links).
const secretPathPrefix = "/setup/"

// nameRoute is router middleware: it tells accessLog which route matched, as its template
// (/saml/{tenant}/acs), so that metrics have one series per route, not per tenant or user.
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m, ok := r.Context().Value(routeKey{}).(*matched); ok {
			if cr := mux.CurrentRoute(r); cr != nil {
				m.route, _ = cr.GetPathTemplate()
				m.tail = tailBeyond(m.route, r.URL.Path)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// methodLabel keeps the method label to the methods scimsso serves: a client can send any token there.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
