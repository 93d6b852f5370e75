package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"tenant_id = ?1 AND x = ?2 OR y = ?1", "tenant_id = $1 AND x = $2 OR y = $1"},
		{`x LIKE ? ESCAPE '\' AND y = ?`, `x LIKE $1 ESCAPE '\' AND y = $2`},
		{"a = '?' AND b = ?", "a = '?' AND b = $1"},
		{"a = 'it''s ?' AND b = ?", "a = 'it''s ?' AND b = $1"},
		{"a = 'unterminated ?", "a = 'unterminated ?"},
		{"?", "$1"},
	} {
		if got := rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
