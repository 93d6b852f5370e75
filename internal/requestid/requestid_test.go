package requestid

import (
	"context"
	"testing"
)

func TestFrom(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none", context.Background(), ""},
		{"set", With(context.Background(), "abc-1"), "abc-1"},
		{"innermost wins", With(With(context.Background(), "outer"), "inner"), "inner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := From(tc.ctx); got != tc.want {
				t.Errorf("From = %q, want %q", got, tc.want)
			}
		})
	}
}
