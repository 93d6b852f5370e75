package sqlstore

// go-sqlite3 calls sqlite3_clear_bindings before it binds the arguments of every execution, and
// SQLite expires a statement whose plan looked at a bound value (a LIMIT ?, the implication test of
// a partial index, the row estimate of an equality in a join) as soon as its bindings are cleared.
// The statement is then compiled again at its next step: every execution of a cached statement paid
// a full prepare, which cost a filtered GET more than the lookup itself. SQLite's query planner
// stability guarantee (SQLITE_DBCONFIG_ENABLE_QPSG) makes plans independent of bound values, so
// nothing expires. go-sqlite3 does not expose sqlite3_db_config; its connection's handle is read
// here, in this one place, and TestWarmStoreCompilesNothing shows the case. The read is of an
// unexported field, checked in goSQLite3Checked's source: TestGoSQLite3Version fails when go.mod moves
// to another version, so that someone checks it again.

/*
// sqlite3_db_config is go-sqlite3's copy of SQLite, linked into the same binary.
int sqlite3_db_config(void *db, int op, ...);

#define SQLITE_DBCONFIG_ENABLE_QPSG 1007

// enable_qpsg switches the guarantee on and returns the setting read back (1), or -1 on error.
static int enable_qpsg(void *db) {
	int on = -1;
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, &on) != 0) {
		return -1;
	}
	return on;
}
*/
import "C"

import (
	"errors"
	"reflect"

	"github.com/mattn/go-sqlite3"
)

// goSQLite3Checked is the go-sqlite3 whose SQLiteConn was read: its handle is the *C.sqlite3 in db.
const goSQLite3Checked = "v1.14.53"

// enableQPSG turns on the query planner stability guarantee on c.
func enableQPSG(c *sqlite3.SQLiteConn) error {
	f := reflect.ValueOf(c).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return errors.New("sqlstore: go-sqlite3 no longer keeps its handle in SQLiteConn.db; update enableQPSG")
	}
	if C.enable_qpsg(f.UnsafePointer()) != 1 {
		return errors.New("sqlstore: SQLite refused SQLITE_DBCONFIG_ENABLE_QPSG")
	}
	return nil
}
