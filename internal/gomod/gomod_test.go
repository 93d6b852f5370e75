package gomod

import (
	"bufio"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	const mod = `module x

go 1.26

require github.com/a/b v1.2.3

require (
	github.com/c/d v0.5.1
	github.com/e/f v1.0.0 // indirect
)

replace github.com/g/h => ../h

replace (
	github.com/i/j v1.0.0 => ../j
)
`
	for _, tc := range []struct{ path, want, err string }{
		{"github.com/a/b", "v1.2.3", ""},
		{"github.com/c/d", "v0.5.1", ""},
		{"github.com/e/f", "v1.0.0", ""},
		{"github.com/c", "", "does not require"},
		{"github.com/g/h", "", "replaces"},
		{"github.com/i/j", "", "replaces"},
	} {
		got, err := version(bufio.NewScanner(strings.NewReader(mod)), tc.path)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %q, %v; want %q, %q", tc.path, got, err, tc.want, tc.err)
		}
	}
	if v, err := Version("github.com/crewjam/saml"); err != nil || v == "" {
		t.Errorf("this module's crewjam/saml: %q, %v", v, err)
	}
}
