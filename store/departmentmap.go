package store

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrEmptyDepartmentMap is ParseDepartmentMap's answer to a file without a row (empty, or a header
// alone): importing it would wipe the map, which is asked for explicitly instead, never by an empty
// upload.
var ErrEmptyDepartmentMap = errors.New("the file has no department,team rows")

// ErrDepartmentMapTooLarge is ParseDepartmentMap's answer to a file over MaxDepartmentMapFile: cut
// short, it would import the rows before the cut as if they were all.
var ErrDepartmentMapTooLarge = fmt.Errorf("the file is larger than %d MiB", MaxDepartmentMapFile>>20)

// MaxDepartmentMapErrors bounds the bad lines ParseDepartmentMap reports: a file of garbage gets an
// answer of readable length.
const MaxDepartmentMapErrors = 50

// LineError is a bad line of a file a person gave, by its number (the first line is 1).
type LineError struct {
	Line   int
	Reason string
}

// DepartmentMapError lists every bad line of a department map file; nothing of such a file is used.
type DepartmentMapError struct {
	Lines []LineError
}

func (e *DepartmentMapError) Error() string {
	parts := make([]string, len(e.Lines))
	for i, l := range e.Lines {
		parts[i] = fmt.Sprintf("line %d: %s", l.Line, l.Reason)
	}
	return strings.Join(parts, "; ")
}

// ParseDepartmentMap is the one reader of department map files (the CLI's department-map import, the
// management API, the console's upload): CSV rows of department,team; a first row "department,team"
// (any case) is a header. Each name passes CheckName, and no department (case-insensitively) is mapped
// twice. It returns the rows in file order, or a *DepartmentMapError naming every bad line (at most
// MaxDepartmentMapErrors of them) and no rows; ErrEmptyDepartmentMap for a file without a row,
// ErrDepartmentMapTooLarge past MaxDepartmentMapFile bytes; or the reader's own error. Whether the
// teams exist is the tenant's to say: CheckDepartmentTeams.
func ParseDepartmentMap(r io.Reader) ([]DepartmentMapping, error) {
	// Excel's "CSV UTF-8" starts the file with a byte-order mark: not part of the first name.
	br := bufio.NewReader(&cappedReader{r: r, left: MaxDepartmentMapFile})
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows []DepartmentMapping
	var bad []LineError
	seen := map[string]int{}
	for first := true; len(bad) < MaxDepartmentMapErrors; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, err
			}
			bad = append(bad, LineError{pe.Line, pe.Err.Error()})
			continue
		}
		line, _ := cr.FieldPos(0)
		if first && len(rec) == 2 && strings.EqualFold(strings.TrimSpace(rec[0]), "department") && strings.EqualFold(strings.TrimSpace(rec[1]), "team") {
			continue
		}
		if len(rec) != 2 {
			bad = append(bad, LineError{line, fmt.Sprintf("want 2 fields (department,team), got %d", len(rec))})
			continue
		}
		d, tm := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if why := checkDepartmentRow(d, tm, line, seen); why != "" {
			bad = append(bad, LineError{line, why})
			continue
		}
		rows = append(rows, DepartmentMapping{Department: d, Team: tm})
	}
	if len(bad) > 0 {
		return nil, &DepartmentMapError{Lines: bad}
	}
	if len(rows) == 0 {
		return nil, ErrEmptyDepartmentMap
	}
	return rows, nil
}

// cappedReader reads r until left bytes were read, then fails with ErrDepartmentMapTooLarge if r
// has more (io.LimitReader would end quietly, as if the file ended there).
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
			return 0, ErrDepartmentMapTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// checkDepartmentRow says what is wrong with the row at line (its number), "" when nothing is, and
// records its department in seen.
func checkDepartmentRow(d, tm string, line int, seen map[string]int) string {
	if err := CheckName("department", d); err != nil {
		return err.Error()
	}
	if err := CheckName("team", tm); err != nil {
		return err.Error()
	}
	if prev, dup := seen[Key(d)]; dup {
		return fmt.Sprintf("department %q is already mapped on line %d", d, prev)
	}
	seen[Key(d)] = line
	return ""
}

// CheckDepartmentMap applies ParseDepartmentMap's rules to rows given one by one (the management
// API's JSON): names as they are (not trimmed), no department twice. The *DepartmentMapError numbers
// the rows from 1 as its lines.
func CheckDepartmentMap(rows []DepartmentMapping) error {
	var bad []LineError
	seen := map[string]int{}
	for i, r := range rows {
		if why := checkDepartmentRow(r.Department, r.Team, i+1, seen); why != "" {
			bad = append(bad, LineError{i + 1, why})
			if len(bad) == MaxDepartmentMapErrors {
				break
			}
		}
	}
	if len(bad) > 0 {
		return &DepartmentMapError{Lines: bad}
	}
	return nil
}

// CheckDepartmentTeams reports every row of m whose team is not one of teams (the tenant's), at most
// MaxDepartmentMapErrors of them, in one error, or nil: a map is imported whole or not at all, and
// the person fixes every row at once.
func CheckDepartmentTeams(m []DepartmentMapping, teams []Team) error {
	known := map[string]bool{}
	for _, tm := range teams {
		known[tm.Name] = true
	}
	var bad []string
	for _, r := range m {
		if !known[r.Team] {
			if len(bad) == MaxDepartmentMapErrors {
				bad = append(bad, "and more")
				break
			}
			bad = append(bad, fmt.Sprintf("department %q: the tenant has no team %q", r.Department, r.Team))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// MaxDepartmentMapFile bounds a department map file read whole (16 MiB): far more than any company's
// departments.
const MaxDepartmentMapFile = 16 << 20
