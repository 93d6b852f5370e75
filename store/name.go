package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxName bounds the names people give things (teams, departments, OIDC clients, API keys): they are
// shown in lists and selects, and matched as given.
const MaxName = 200

// CheckName is the rule for such a name: 1 to MaxName bytes of valid UTF-8 text without surrounding
// spaces or control characters (nor a byte-order mark, an invisible character a spreadsheet's export
// leaves, which would make two names that look the same differ). what names the value in the error ("team name", "--name").
func CheckName(what, v string) error {
	if strings.TrimSpace(v) != v || v == "" || len(v) > MaxName || !utf8.ValidString(v) ||
		strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\ufeff' }) {
		return fmt.Errorf("%s %q must be 1 to %d characters of text without surrounding spaces or control characters", what, clipValue(v), MaxName)
	}
	return nil
}

// clipValue shortens a value for an error message: a rule broken by a megabyte need not repeat it.
func clipValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
