package main

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/scimsso/scimsso/"

// deps returns the module's packages pkg imports, directly or not (tests excluded).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(p string)
	walk = func(p string) {
		bp, err := build.Import(p, ".", 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, imp := range bp.Imports {
			if strings.HasPrefix(imp, module) && !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(module + pkg)
	var out []string
	for p := range seen {
		out = append(out, strings.TrimPrefix(p, module))
	}
	slices.Sort(out)
	return out
}

// TestLayout holds the direction of dependencies of the README's Layout: the HTTP packages depend on
// store and never on each other (the SAML ACS hands a verified sign-in to the people's session
// starter through an interface cmd wires, and the people's web hands a person to the SAML sign-in the
// same way), and store depends on nothing of the module.
func TestLayout(t *testing.T) {
	http := []string{"scimserver", "samlsp", "people", "openid", "platformapi"}
	for _, p := range http {
		d := deps(t, p)
		for _, other := range http {
			if other != p && slices.Contains(d, other) {
				t.Errorf("%s imports %s (its dependencies: %v)", p, other, d)
			}
		}
		if !slices.Contains(d, "store") {
			t.Errorf("%s does not depend on store: %v", p, d)
		}
	}
	if d := deps(t, "store"); len(d) != 0 {
		t.Errorf("store imports %v", d)
	}
	// Delivery works on the store's interfaces and on no HTTP package: cmd hands it the job queue's
	// database and the wake-ups.
	d := deps(t, "webhooks")
	for _, p := range append(http, "openid", "store/sqlstore") {
		if slices.Contains(d, p) {
			t.Errorf("webhooks imports %s (its dependencies: %v)", p, d)
		}
	}
}
