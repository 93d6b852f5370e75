package sqlstore

import (
	"testing"

	"github.com/scimsso/scimsso/internal/gomod"
)

// TestGoSQLite3Version fails when the go-sqlite3 in go.mod is not the version whose unexported
// SQLiteConn.db enableQPSG reads (qpsg.go): check the field in the new version's source, then update
// goSQLite3Checked. enableQPSG also fails at open if the field is gone; this catches a field that is
// still there but means something else.
func TestGoSQLite3Version(t *testing.T) {
	v, err := gomod.Version("github.com/mattn/go-sqlite3")
	if err != nil {
		t.Fatal(err)
	}
	if v != goSQLite3Checked {
		t.Fatalf("go-sqlite3 is %s, but qpsg.go reads SQLiteConn.db as checked in %s: re-check it, then set goSQLite3Checked", v, goSQLite3Checked)
	}
}
