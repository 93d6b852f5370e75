package pgtest

import "testing"

// TestNoServerUnlessNamed: with no server named, the tests use none — not a PostgreSQL they might
// find on this machine's usual port (it may hold somebody's data).
func TestNoServerUnlessNamed(t *testing.T) {
	t.Setenv(Env, "")
	if got := ServerURL(); got != "" {
		t.Fatalf("ServerURL() = %q with %s unset, want none", got, Env)
	}
	t.Setenv("SCIMSSO_REQUIRE_POSTGRES", "")
	var skipped bool
	t.Run("URL skips", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		URL(t)
	})
	if !skipped {
		t.Fatal("URL did not skip with no server named")
	}
}
