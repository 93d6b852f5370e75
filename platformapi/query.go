package platformapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/scimsso/scimsso/store"
)

// Page sizes: the directory's pages as the spec bounds them (at most 200), the event log's larger
// (at most 500), since a client catching up reads many events at once.
const (
	defaultPage      = 50
	maxPage          = 200
	defaultEventPage = 100
	maxEventPage     = 500
	// maxCursor bounds a cursor before it is decoded: every cursor made here is far shorter.
	maxCursor = 128
)

// params reads a query string: each of allowed at most once, no other name (a misspelt parameter is
// refused rather than ignored), and an empty value the same as none, so "?cursor=&limit=" is a first
// page of the default size.
func params(raw string, allowed ...string) (map[string]string, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, invalid("The query string is malformed.")
	}
	out := make(map[string]string, len(q))
	for name, vs := range q {
		if !slices.Contains(allowed, name) {
			return nil, invalid("Unknown query parameter %q; this endpoint takes %s.", clip(name), strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, invalid("The query parameter %s is given %d times; give it once.", name, len(vs))
		}
		if vs[0] != "" {
			out[name] = vs[0]
		}
	}
	return out, nil
}

// parseLimit reads a limit: def when v is empty, else a whole number 1..most.
func parseLimit(v string, def, most int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, invalid("limit must be a whole number from 1 to %d, not %q.", most, clip(v))
	}
	return n, nil
}

// page is a directory list's request: at most limit items after the cursor's position.
type page struct {
	cursor string // as sent; "" for the first page
	limit  int
}

// parsePage reads a directory list's query: cursor and limit.
func parsePage(raw string) (page, error) {
	p, err := params(raw, "cursor", "limit")
	if err != nil {
		return page{}, err
	}
	limit, err := parseLimit(p["limit"], defaultPage, maxPage)
	if err != nil {
		return page{}, err
	}
	if len(p["cursor"]) > maxCursor {
		return page{}, errBadCursor
	}
	return page{cursor: p["cursor"], limit: limit}, nil
}

// errBadCursor is the answer to any cursor this list did not make: malformed, of another list, of
// another tenant. Which of these it was does not matter to the client: it starts again without one.
var errBadCursor = errorf(http.StatusBadRequest, codeInvalidCursor,
	"The cursor was not made by this list: pass next_cursor as this list returned it, or start again without a cursor.")

// Cursors are opaque to clients: base64url of a kind byte and a position. A user cursor holds the
// store's position (store.UsersAfter) and a tag of its tenant, so one tenant's cursor is refused by
// another's list rather than read as a position there; a tenant cursor holds the last slug listed.
// Neither is secret or signed: a forged cursor is only another position in a list the key may read.
const (
	kindUsers   = 'u'
	kindTenants = 't'
)

var cursorEncoding = base64.RawURLEncoding.Strict()

// decodeCursor decodes c, refusing any spelling but the one a cursor is made in: Go's base64 decoder
// skips newlines, and one position must have one cursor.
func decodeCursor(c string) ([]byte, bool) {
	b, err := cursorEncoding.DecodeString(c)
	return b, err == nil && cursorEncoding.EncodeToString(b) == c
}

// tenantTag is 8 bytes that tell a tenant's cursors from another's.
func tenantTag(tenantID string) []byte {
	h := sha256.Sum256([]byte("scimsso cursor\x00" + tenantID))
	return h[:8]
}

// userCursor is the cursor of the tenant's users after position pos.
func userCursor(tenantID string, pos int64) string {
	b := make([]byte, 0, 17)
	b = append(b, kindUsers)
	b = binary.BigEndian.AppendUint64(b, uint64(pos))
	b = append(b, tenantTag(tenantID)...)
	return cursorEncoding.EncodeToString(b)
}

// parseUserCursor returns the position of a cursor of the tenant's users, or errBadCursor.
func parseUserCursor(c, tenantID string) (int64, error) {
	b, ok := decodeCursor(c)
	if !ok || len(b) != 17 || b[0] != kindUsers || string(b[9:]) != string(tenantTag(tenantID)) {
		return 0, errBadCursor
	}
	pos := binary.BigEndian.Uint64(b[1:9])
	if pos == 0 || pos > math.MaxInt64 {
		return 0, errBadCursor
	}
	return int64(pos), nil
}

// tenantCursor is the cursor of the tenants after slug.
func tenantCursor(slug string) string {
	return cursorEncoding.EncodeToString(append([]byte{kindTenants}, slug...))
}

// parseTenantCursor returns the slug of a tenants cursor, or errBadCursor.
func parseTenantCursor(c string) (string, error) {
	b, ok := decodeCursor(c)
	if !ok || len(b) < 2 || b[0] != kindTenants {
		return "", errBadCursor
	}
	slug, err := store.ParseSlug(string(b[1:]))
	if err != nil {
		return "", errBadCursor
	}
	return slug, nil
}

// parseEvents reads the events list's query: after (a seq, default 0), limit and types (a
// comma-separated list of event types; none: every type).
func parseEvents(raw string) (store.EventQuery, error) {
	p, err := params(raw, "after", "limit", "types")
	if err != nil {
		return store.EventQuery{}, err
	}
	var q store.EventQuery
	if v := p["after"]; v != "" {
		q.After, err = strconv.ParseInt(v, 10, 64)
		if err != nil || q.After < 0 {
			return store.EventQuery{}, invalid("after must be a seq: a whole number, 0 or more, not %q.", clip(v))
		}
	}
	if q.Limit, err = parseLimit(p["limit"], defaultEventPage, maxEventPage); err != nil {
		return store.EventQuery{}, err
	}
	if v := p["types"]; v != "" {
		if q.Types, err = store.ParseEventTypes(v); err != nil {
			return store.EventQuery{}, invalid("In types: %s.", err)
		}
	}
	return q, nil
}

// clip shortens a client's value for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
