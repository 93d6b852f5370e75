package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/scimsso/scimsso/store"
)

// mapErr turns driver errors into the store's sentinels; it is the one place that knows the drivers'
// codes. Errors it does not know come back unchanged (a 500 at the edge).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if m, ok := mapPG(err); ok {
		return m
	}
	if m, ok := mapSQLite(err); ok {
		return m
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// mapSQLite turns SQLite's constraint errors into the store's sentinels, and a write lock that another
// process held past the wait (busy or locked) into ErrUnavailable: the client is told to try again
// (503), not that the server failed. False when err is none of them.
func mapSQLite(err error) (error, bool) {
	var se sqlite3.Error
	if errors.As(err, &se) {
		if se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked {
			// Both wrapped: groupcommit.go's begin waits on the SQLite error; callers see ErrUnavailable.
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err), true
		}
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", store.ErrAlreadyExists, err), true
		case sqlite3.ErrConstraintForeignKey:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err), true
		}
	}
	return nil, false
}

// PostgreSQL error codes the store maps (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgAdminShutdown       = "57P01"
	pgCrashShutdown       = "57P02"
	pgCannotConnectNow    = "57P03"
	pgTooManyConnections  = "53300"
	pgReadOnlyTransaction = "25006" // a replica promoted or demoted under us
	pgLockNotAvailable    = "55P03" // lock_timeout
)

// isLockTimeout reports whether err is PostgreSQL giving up waiting for a lock at the transaction's
// lock_timeout.
func isLockTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgLockNotAvailable
}

// mapPG turns PostgreSQL errors into the store's sentinels; false when err is none of them.
func mapPG(err error) (error, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == pgUniqueViolation:
			return fmt.Errorf("%w: %s", store.ErrAlreadyExists, pe.ConstraintName), true
		case pe.Code == pgForeignKeyViolation:
			return fmt.Errorf("%w: %s", store.ErrNotFound, pe.ConstraintName), true
		case strings.HasPrefix(pe.Code, "08"), pe.Code == pgAdminShutdown, pe.Code == pgCrashShutdown,
			pe.Code == pgCannotConnectNow, pe.Code == pgTooManyConnections, pe.Code == pgReadOnlyTransaction:
			return fmt.Errorf("%w: %s", store.ErrUnavailable, pe.Message), true
		}
		return nil, false
	}
	// No answer from the server at all: it is down, restarting or unreachable.
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err), true
	}
	return nil, false
}
