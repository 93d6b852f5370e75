package scimserver

import (
	"reflect"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

// pathSeeds are the paths Okta and Entra send, and near misses the fast path must leave to the grammar.
var pathSeeds = []string{
	"active", "userName", "name.givenName", "emails", `emails[type eq "work"].value`, `emails[type eq "work"]`,
	`emails[primary eq true].value`, `emails[primary eq false]`, `addresses[type eq "work"].country`,
	`phoneNumbers[type eq "mobile"].value`, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
	"urn:ietf:params:scim:schemas:core:2.0:User:active", `urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value`,
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "x-y_z9", "a.b",
	// left to the grammar
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "$ref", "members.$ref", `emails[type EQ "work"]`,
	`emails[type  eq "work"]`, `emails[type eq "wo\"rk"]`, `emails[type eq "a\\b"]`, `emails[type eq 5]`, `emails[type eq null]`,
	`emails[type eq "work" and primary eq true]`, `emails[not (type eq "work")]`, `emails[type pr]`, "name.givenName.x",
	"9abc", "", "[", "a[", `a[b eq "c"`, `a[b eq "c"]x`, `a[b eq "c"].`, `a[b eq "c"].d.e`, "a.", ".a", "a b", "a\x00",
	"urn:x:y", "URN:ietf:params:scim:schemas:core:2.0:User:active", `emails[type eq "wörk"]`, `emails[type eq "w` + "\t" + `"]`,
	`a[b eq truex]`, `a[b eq true]`, `a[b.c eq "d"]`, `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`,
}

// checkFastPath fails when the fast path accepts s but reads it differently from the grammar.
func checkFastPath(t *testing.T, s string) bool {
	t.Helper()
	fast, ok := fastPath(s)
	if !ok {
		return false
	}
	slow, err := filter.ParsePath([]byte(s))
	if err != nil {
		t.Fatalf("fastPath(%q) = %+v; the grammar refuses it: %v", s, fast, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fastPath(%q) = %#v\ngrammar     = %#v", s, fast, slow)
	}
	return true
}

func TestFastPathMatchesGrammarForPaths(t *testing.T) {
	for _, s := range pathSeeds {
		checkFastPath(t, s)
	}
	// The shapes the vendors send do take the fast path.
	for _, s := range pathSeeds[:16] {
		if _, ok := fastPath(s); !ok {
			t.Errorf("fastPath(%q) gave up", s)
		}
	}
}

func FuzzParsePathFastVsGrammar(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFastPath(t, s)
	})
}
