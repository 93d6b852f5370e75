package main

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapSlog is a slog.Handler that writes to a zap logger. The OpenID provider's protocol library
// (zitadel/oidc) logs only through slog's default logger; serve points that here, once, so that its
// lines are JSON on stderr like every other, with the same levels.
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
