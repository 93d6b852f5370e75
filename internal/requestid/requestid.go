// Package requestid carries a request's id in its context: cmd's middleware chooses it (the client's
// X-Request-Id when it is short and plain, else a random one) and every package that logs or shows a
// reference reads it with From, so all of a request's log lines and pages name the same id.
package requestid

import "context"

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the id ctx carries, or "" when none was set (a handler tested without cmd's middleware).
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
