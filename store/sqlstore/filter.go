package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimsso/scimsso/store"
)

// ErrFilter is returned (wrapped) for a store.Filter the backend cannot translate; the edge validates
// filters first, so reaching it is a programming error, not a client's.
var ErrFilter = errors.New("unsupported filter")

// whereBuilder turns a store.Filter into SQL with every value bound as an argument, never spliced.
type whereBuilder struct {
	tenantID string // the tenant whose users are filtered
	args     []any
}

func (b *whereBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

type column struct {
	expr     string // SQL expression
	fold     bool   // compare case-insensitively (the column holds folded values, or is wrapped in lower())
	kind     byte   // 's' string, 'b' bool, 't' time
	nullable bool
}

var userColumns = map[string]column{
	store.AttrID:         {"id", false, 's', false},
	store.AttrUserName:   {"user_name_key", true, 's', false},
	store.AttrExternalID: {"external_id", false, 's', true},
	store.AttrGivenName:  {"lower(given_name)", true, 's', false},
	store.AttrFamilyName: {"lower(family_name)", true, 's', false},
	store.AttrCountry:    {"lower(country)", true, 's', false},
	store.AttrDepartment: {"lower(department)", true, 's', false},
	store.AttrActive:     {"active", false, 'b', false},
	store.AttrCreated:    {"created_at", false, 't', false},
	store.AttrModified:   {"updated_at", false, 't', false},
}

var emailColumns = map[string]column{
	store.AttrEmailValue:   {"e.value_key", true, 's', false},
	store.AttrEmailType:    {"e.type", true, 's', false},
	store.AttrEmailPrimary: {"e.is_primary", false, 'b', false},
}

func (b *whereBuilder) user(f *store.Filter) (string, error) {
	switch f.Op {
	case store.OpAnd, store.OpOr:
		return b.logical(f, b.user)
	case store.OpNot:
		s, err := b.user(f.Sub)
		return "NOT (" + s + ")", err
	case store.OpHas:
		return b.withEmail(f.Sub)
	}
	if _, ok := emailColumns[f.Attr]; ok {
		return b.withEmail(f)
	}
	c, ok := userColumns[f.Attr]
	if !ok {
		return "", fmt.Errorf("%w: attribute %q", ErrFilter, f.Attr)
	}
	return b.compare(c, f)
}

// withEmail is the condition "the user has an email matching f". It is an IN over the tenant's emails,
// not a correlated EXISTS, so that an eq on the value is one lookup in user_emails_value: EXISTS made
// every emails filter visit each of the tenant's users.
func (b *whereBuilder) withEmail(f *store.Filter) (string, error) {
	tenant := b.arg(b.tenantID)
	s, err := b.email(f)
	return "seq IN (SELECT e.user_seq FROM user_emails e WHERE e.tenant_id = " + tenant + " AND (" + s + "))", err
}

func (b *whereBuilder) email(f *store.Filter) (string, error) {
	switch f.Op {
	case store.OpAnd, store.OpOr:
		return b.logical(f, b.email)
	case store.OpNot:
		s, err := b.email(f.Sub)
		return "NOT (" + s + ")", err
	}
	c, ok := emailColumns[f.Attr]
	if !ok {
		return "", fmt.Errorf("%w: email attribute %q", ErrFilter, f.Attr)
	}
	return b.compare(c, f)
}

func (b *whereBuilder) logical(f *store.Filter, sub func(*store.Filter) (string, error)) (string, error) {
	if f.Left == nil || f.Right == nil {
		return "", fmt.Errorf("%w: logical operator without operands", ErrFilter)
	}
	l, err := sub(f.Left)
	if err != nil {
		return "", err
	}
	r, err := sub(f.Right)
	if err != nil {
		return "", err
	}
	op := " AND "
	if f.Op == store.OpOr {
		op = " OR "
	}
	return "(" + l + op + r + ")", nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (b *whereBuilder) compare(c column, f *store.Filter) (string, error) {
	if f.Op == store.OpPr {
		switch {
		case c.nullable:
			return c.expr + " IS NOT NULL", nil
		case c.kind == 's':
			return c.expr + " <> ''", nil
		default:
			return "1 = 1", nil
		}
	}
	var v any
	switch c.kind {
	case 'b':
		bv, ok := f.Value.(bool)
		if !ok || (f.Op != store.OpEq && f.Op != store.OpNe) {
			return "", fmt.Errorf("%w: boolean %s needs eq/ne and a boolean", ErrFilter, f.Attr)
		}
		v = b2i(bv)
	case 't':
		tv, ok := f.Value.(time.Time)
		if !ok {
			return "", fmt.Errorf("%w: %s needs a time", ErrFilter, f.Attr)
		}
		v = micros(tv)
	default:
		sv, ok := f.Value.(string)
		if !ok {
			return "", fmt.Errorf("%w: %s needs a string", ErrFilter, f.Attr)
		}
		if c.fold {
			sv = strings.ToLower(sv)
		}
		if strings.IndexByte(sv, 0) >= 0 {
			// SQLite reads a LIKE pattern (and length(), instr()) only up to a NUL, so "%\x00%" would be
			// "%": every row. No stored value can hold a NUL the edge let through, so refuse it.
			return "", fmt.Errorf("%w: a NUL in a filter value", ErrFilter)
		}
		if c.nullable && (f.Op == store.OpCo || f.Op == store.OpSw || f.Op == store.OpEw) {
			c.expr = "coalesce(" + c.expr + ", '')"
		}
		switch f.Op {
		case store.OpCo:
			return c.expr + " LIKE " + b.arg("%"+likeEscaper.Replace(sv)+"%") + ` ESCAPE '\'`, nil
		case store.OpSw:
			return c.expr + " LIKE " + b.arg(likeEscaper.Replace(sv)+"%") + ` ESCAPE '\'`, nil
		case store.OpEw:
			return c.expr + " LIKE " + b.arg("%"+likeEscaper.Replace(sv)) + ` ESCAPE '\'`, nil
		}
		v = sv
	}
	ops := map[store.Op]string{store.OpEq: " = ", store.OpNe: " <> ", store.OpGt: " > ", store.OpGe: " >= ", store.OpLt: " < ", store.OpLe: " <= "}
	op, ok := ops[f.Op]
	if !ok {
		return "", fmt.Errorf("%w: operator %d on %s", ErrFilter, f.Op, f.Attr)
	}
	if f.Op == store.OpNe && c.nullable {
		return "(" + c.expr + " IS NULL OR " + c.expr + op + b.arg(v) + ")", nil
	}
	if c.nullable {
		// Never NULL, so that NOT (…) around it keeps the rows where the column is unset.
		return "(" + c.expr + " IS NOT NULL AND " + c.expr + op + b.arg(v) + ")", nil
	}
	return c.expr + op + b.arg(v), nil
}
