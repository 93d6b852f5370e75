package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// TestParseDepartmentMapBOM: a file saved as Excel's "CSV UTF-8" (a byte-order mark first, CRLF)
// reads as the same rows, with or without a header; a name with a byte-order mark elsewhere is refused.
func TestParseDepartmentMapBOM(t *testing.T) {
	for _, file := range []string{"department-map-bom-header.csv", "department-map-bom-noheader.csv"} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := store.ParseDepartmentMap(f)
			if err != nil || fmt.Sprint(rows) != "[{R&D Engineering} {Sales Sales}]" {
				t.Fatalf("got %q, %v", rows, err)
			}
		})
	}
	if _, err := store.ParseDepartmentMap(strings.NewReader("R&D,Engineering\n\ufeffSales,Sales\n")); err == nil {
		t.Fatal("a byte-order mark inside the file is taken as part of a name")
	}
	if err := store.CheckName("team name", "\ufeffR&D"); err == nil {
		t.Fatal("CheckName takes a byte-order mark")
	}
}

func TestParseDepartmentMap(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		rows     int
		errs     []string // each bad line, as "line N: …" starts
		err      error    // or this error
	}{
		{"header and rows", "department,team\nR&D,Engineering\n\"Field Sales, EMEA\",Sales\n", 2, nil, nil},
		{"no header", "R&D,Engineering\n", 1, nil, nil},
		{"empty", "", 0, nil, store.ErrEmptyDepartmentMap},
		{"a header alone", "department,team\n", 0, nil, store.ErrEmptyDepartmentMap},
		{"blank lines alone", "\n\n", 0, nil, store.ErrEmptyDepartmentMap},
		{"as large as allowed", "a,b\n" + strings.Repeat("\n", store.MaxDepartmentMapFile-4), 1, nil, nil},
		{"a byte too large", "a,b\n" + strings.Repeat("\n", store.MaxDepartmentMapFile-3), 0, nil, store.ErrDepartmentMapTooLarge},
		{"bad rows by line", "department,team\nLegal,Sales\nonly-one-field\nR&D,Engineering,extra\n,Sales\n", 0,
			[]string{"line 3: want 2 fields", "line 4: want 2 fields", "line 5: department"}, nil},
		{"a repeated department", "Legal,Sales\nok,Sales\nLEGAL,Engineering\n", 0, []string{`line 3: department "LEGAL" is already mapped on line 1`}, nil},
		{"broken CSV", "Legal,Sales\n\"unterminated,Sales\n", 0, []string{"line 2:"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := store.ParseDepartmentMap(strings.NewReader(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) || rows != nil {
					t.Fatalf("got %d rows, %v; want %v", len(rows), err, tc.err)
				}
				return
			}
			if tc.errs == nil {
				if err != nil || len(rows) != tc.rows {
					t.Fatalf("got %d rows, %v; want %d rows", len(rows), err, tc.rows)
				}
				return
			}
			var de *store.DepartmentMapError
			if !errors.As(err, &de) || rows != nil || len(de.Lines) != len(tc.errs) {
				t.Fatalf("got %v, %v; want the errors %q and no rows", rows, err, tc.errs)
			}
			for i, want := range tc.errs {
				if got := strings.Split(de.Error(), "; ")[i]; !strings.HasPrefix(got, want) {
					t.Errorf("error %d is %q, want it to start %q", i, got, want)
				}
			}
		})
	}
}

func TestCheckDepartmentTeams(t *testing.T) {
	teams := []store.Team{{Name: "Sales"}, {Name: "Acme", Root: true}}
	if err := store.CheckDepartmentTeams([]store.DepartmentMapping{{"Legal", "Sales"}, {"Board", "Acme"}}, teams); err != nil {
		t.Fatal(err)
	}
	err := store.CheckDepartmentTeams([]store.DepartmentMapping{{"Legal", "Sales"}, {"Money", "Finance"}, {"Ops", "sales"}}, teams)
	if err == nil || !strings.Contains(err.Error(), `department "Money": the tenant has no team "Finance"`) || !strings.Contains(err.Error(), `"sales"`) {
		t.Fatalf("got %v; want both unknown teams named", err)
	}
}

// FuzzParseDepartmentMap: any file gives rows or an error, never a panic, and every row it gives is
// clean.
func FuzzParseDepartmentMap(f *testing.F) {
	for _, s := range []string{"department,team\nR&D,Engineering\n", "a,b,c\n", "\"x\n", ",\n", "a,b\nA,c\n", "\xff,\x00\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := store.ParseDepartmentMap(strings.NewReader(s))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if store.CheckName("department", r.Department) != nil || store.CheckName("team", r.Team) != nil || seen[store.Key(r.Department)] {
				t.Fatalf("row %+v accepted", r)
			}
			seen[store.Key(r.Department)] = true
		}
	})
}
