package scimserver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// fastPathShapes are the filters Okta and Entra send before every create; each must take the fast path.
var fastPathShapes = []string{
	`userName eq "a@b.c"`,
	`USERNAME Eq "A@B.C"`,
	`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
	`id eq "x"`,
	`emails.value eq "a@b.c"`,
	`userName eq "a" and externalId eq "b"`,
	`userName eq "a\"b"`,
	`emails[type eq "work"].value eq "a@b.c"`,
}

// TestFastPathMatchesGrammar proves that the hand-written fast path takes the vendors' shapes and means
// exactly what the full grammar means for them, and that it leaves every other shape to the grammar.
func TestFastPathMatchesGrammar(t *testing.T) {
	for _, s := range fastPathShapes {
		t.Run(s, func(t *testing.T) {
			fast, ok := fastFilter(s)
			if !ok {
				t.Fatalf("fastFilter(%q) gave up; this vendor shape must take the fast path", s)
			}
			slow, err := grammarFilter(s)
			if err != nil {
				t.Fatalf("grammarFilter(%q): %v", s, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast path and grammar disagree on %q:\nfast:    %s\ngrammar: %s", s, filterString(fast), filterString(slow))
			}
		})
	}
	for _, s := range []string{
		`userName co "a"`,
		`userName eq "a" or id eq "b"`,
		`externalId eq jyoung`,
	} {
		t.Run("slow/"+s, func(t *testing.T) {
			if f, ok := fastFilter(s); ok {
				t.Fatalf("fastFilter(%q) = %s, want it to leave this shape to the grammar", s, filterString(f))
			}
		})
	}
}

// TestFastPathFuzzFindings holds, by name, the inputs FuzzParseFilterFastVsGrammar found (they are also
// in testdata/fuzz/scim/filters-found.txt): on each, the fast path either gives up or agrees with the
// grammar.
func TestFastPathFuzzFindings(t *testing.T) {
	for _, tc := range []struct{ name, filter string }{
		{"raw control character in a value", "USERNAME Eq \"\x10\""},
		{"invalid JSON escape", `userNAme eq "\0"`},
		{"lower-case unicode escape", `userName eq "\u00e9"`},
		{"leading space", ` externalId eq "b"`},
		{"trailing space", `userName eq "a" `},
		{"no space before and", `userName eq "x"and id eq "y"`},
		{"brackets in a value", `userName eq "a[b].x y"`},
		{"email type in upper case", `emails[TYPE EQ "WORK"].value eq "x"`},
		{"email value path then and", `emails[type eq "work"].value eq "x" and userName eq "y"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast, ok := fastFilter(tc.filter)
			if !ok {
				return
			}
			slow, err := grammarFilter(tc.filter)
			if err != nil {
				t.Fatalf("fastFilter accepts %q as %s, but the grammar refuses it: %v", tc.filter, filterString(fast), err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast path and grammar disagree on %q:\nfast:    %s\ngrammar: %s", tc.filter, filterString(fast), filterString(slow))
			}
		})
	}
}

// FuzzParseFilterFastVsGrammar checks that the fast path never changes what a filter means: whenever it
// accepts a filter, the grammar accepts it too and builds the same store.Filter.
func FuzzParseFilterFastVsGrammar(f *testing.F) {
	for _, s := range fastPathShapes {
		f.Add(s)
	}
	for _, s := range internalFilterSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := fastFilter(s)
		if !ok {
			return
		}
		slow, err := grammarFilter(s)
		if err != nil {
			t.Fatalf("fastFilter accepts %q as %s, but the grammar refuses it: %v", s, filterString(fast), err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path and grammar disagree on %q:\nfast:    %s\ngrammar: %s", s, filterString(fast), filterString(slow))
		}
	})
}

// internalFilterSeeds reads the shared filter seeds of testdata/fuzz/scim/filters*.txt at the repo
// root, one per line.
func internalFilterSeeds(tb testing.TB) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("..", "testdata", "fuzz", "scim", "filters*.txt"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no filter seeds: %v", err)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range bytes.Split(raw, []byte("\n")) {
			if len(line) > 0 {
				out = append(out, string(line))
			}
		}
	}
	return out
}

// filterString renders a store.Filter for failure messages.
func filterString(f *store.Filter) string {
	if f == nil {
		return "<nil>"
	}
	var b strings.Builder
	var walk func(*store.Filter)
	walk = func(f *store.Filter) {
		switch {
		case f == nil:
			b.WriteString("<nil>")
		case f.Op == store.OpAnd || f.Op == store.OpOr:
			b.WriteString("(")
			walk(f.Left)
			if f.Op == store.OpAnd {
				b.WriteString(" and ")
			} else {
				b.WriteString(" or ")
			}
			walk(f.Right)
			b.WriteString(")")
		case f.Op == store.OpNot || f.Op == store.OpHas:
			if f.Op == store.OpNot {
				b.WriteString("not(")
			} else {
				b.WriteString("has(")
			}
			walk(f.Sub)
			b.WriteString(")")
		default:
			fmt.Fprintf(&b, "%s %s %#v", f.Attr, opNames[f.Op], f.Value)
		}
	}
	walk(f)
	return b.String()
}

var opNames = map[store.Op]string{
	store.OpEq: "eq", store.OpNe: "ne", store.OpCo: "co", store.OpSw: "sw", store.OpEw: "ew", store.OpPr: "pr",
	store.OpGt: "gt", store.OpGe: "ge", store.OpLt: "lt", store.OpLe: "le",
}

// benchFilters are the shapes measured by BenchmarkFastFilter and BenchmarkGrammarFilter.
var benchFilters = []struct{ name, filter string }{
	{"okta-userName", `userName eq "test.user@example.com"`},
	{"entra-externalId", `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`},
	{"entra-emails-work", `emails[type eq "work"].value eq "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@example.com"`},
}

func BenchmarkFastFilter(b *testing.B) {
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			if _, ok := fastFilter(bf.filter); !ok {
				b.Skipf("fastFilter gives up on %q (see TestFastPathMatchesGrammar)", bf.filter)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, ok := fastFilter(bf.filter); !ok {
					b.Fatal("fast path gave up")
				}
			}
		})
	}
}

func BenchmarkGrammarFilter(b *testing.B) {
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := grammarFilter(bf.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
