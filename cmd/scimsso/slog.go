package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scimsso/scimsso/internal/requestid"
)

// The OpenID provider's protocol library, zitadel/oidc v3.52, logs only through slog's default logger:
// its op.WithLogger and op.WithFallbackLogger are kept "for source compatibility" and have no effect.
// That default is process-wide, so it is set here and nowhere else, once (routeLibraryLogs), to a
// handler that holds no logger of its own: every line the library writes is logged with its request's
// context (checked in v3.52: slog.Log(r.Context(), …) throughout), and withLibraryLog puts the zap
// logger of the server that serves the request there. Two servers in one process (tests) log apart,
// and a library line is JSON like every other (TestOIDCLogsAreJSON). A line with no server's logger in
// its context goes to stderr as JSON.
var routeLibraryLogsOnce sync.Once

// routeLibraryLogs sets slog's default logger to a ctxSlog, once per process.
func routeLibraryLogs() {
	routeLibraryLogsOnce.Do(func() {
		// Not slog's previous default handler: that one writes through the log package, which
		// SetDefault points at slog, so the two would call each other and hang on log's mutex (found in
		// review). A line with no server's logger goes to stderr as JSON.
		slog.SetDefault(slog.New(ctxSlog{fallback: slog.NewJSONHandler(os.Stderr, nil)}))
	})
}

type libraryLogKey struct{}

// withLibraryLog makes log the logger of the library's lines about the requests next serves.
func withLibraryLog(log *zap.Logger, next http.Handler) http.Handler {
	h := &zapSlog{log: log}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), libraryLogKey{}, h)))
	})
}

// ctxSlog is slog's default handler: it hands each record to the zapSlog in the record's context.
type ctxSlog struct {
	fallback slog.Handler
	attrs    []slog.Attr
	groups   []string
}

// of returns the handler a record logged with ctx goes to, with the attributes and groups added so far.
func (h ctxSlog) of(ctx context.Context) slog.Handler {
	var out slog.Handler = h.fallback
	if z, ok := ctx.Value(libraryLogKey{}).(*zapSlog); ok {
		out = z
	}
	for _, g := range h.groups {
		out = out.WithGroup(g)
	}
	if len(h.attrs) > 0 {
		out = out.WithAttrs(h.attrs)
	}
	return out
}

func (h ctxSlog) Enabled(ctx context.Context, l slog.Level) bool {
	if ctx == nil {
		ctx = context.Background()
	}
	return h.of(ctx).Enabled(ctx, l)
}

func (h ctxSlog) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if id := requestid.From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.of(ctx).Handle(ctx, r)
}

func (h ctxSlog) WithAttrs(as []slog.Attr) slog.Handler {
	n := h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return n
}

func (h ctxSlog) WithGroup(name string) slog.Handler {
	n := h
	n.groups = append(append([]string(nil), h.groups...), name)
	return n
}

// zapSlog is a slog.Handler that writes to a zap logger, with the same levels.
type zapSlog struct {
	log    *zap.Logger
	fields []zap.Field
	group  string
}

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		return zapcore.InfoLevel
	}
	return zapcore.DebugLevel
}

func (h *zapSlog) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(zapLevel(l))
}

func (h *zapSlog) Handle(_ context.Context, r slog.Record) error {
	ce := h.log.Check(zapLevel(r.Level), r.Message)
	if ce == nil {
		return nil
	}
	fields := append([]zap.Field(nil), h.fields...)
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, h.field(a))
		return true
	})
	ce.Write(fields...)
	return nil
}

func (h *zapSlog) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.fields = append([]zap.Field(nil), h.fields...)
	for _, a := range as {
		n.fields = append(n.fields, h.field(a))
	}
	return &n
}

func (h *zapSlog) WithGroup(name string) slog.Handler {
	n := *h
	n.group = h.key(name)
	return &n
}

func (h *zapSlog) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}

// field turns an attribute into a zap field; a group (the library's errors and requests log as
// groups) becomes an object.
func (h *zapSlog) field(a slog.Attr) zap.Field {
	return zap.Any(h.key(a.Key), value(a.Value))
}

func value(v slog.Value) any {
	v = v.Resolve()
	if v.Kind() != slog.KindGroup {
		return v.Any()
	}
	m := map[string]any{}
	for _, a := range v.Group() {
		m[a.Key] = value(a.Value)
	}
	return m
}
