package scimserver

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"

	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// parseFilter turns a SCIM filter into a store.Filter. The shapes Okta and Entra send before every
// create (attr eq "value", joined by and) take a hand-written fast path; everything else goes through
// the full grammar. Both produce the same store.Filter for the shapes they share (see the tests).
//
// The length limit (maxFilter, 1024 bytes) is checked first, before any parsing: it bounds the parse
// time, the depth of nesting and the number of terms (about a hundred `or`s), so a 100 KB or 10k-term
// filter is a quick 400. A filter must be valid UTF-8, and no value may hold a NUL: SQL engines read
// LIKE patterns as C strings, so "co \u0000" would match every row instead of none.
func parseFilter(s string) (*store.Filter, error) {
	if len(s) > maxFilter {
		return nil, invalidFilter("the filter is longer than %d bytes", maxFilter)
	}
	if !utf8.ValidString(s) {
		return nil, invalidFilter("the filter is not valid UTF-8")
	}
	f, ok := fastFilter(s)
	if !ok {
		var err error
		if f, err = grammarFilter(s); err != nil {
			return nil, err
		}
	}
	if hasNUL(f) {
		return nil, invalidFilter("a filter value may not contain the NUL character")
	}
	return f, nil
}

// hasNUL reports whether a string value anywhere in f contains U+0000.
func hasNUL(f *store.Filter) bool {
	if f == nil {
		return false
	}
	if v, ok := f.Value.(string); ok && strings.IndexByte(v, 0) >= 0 {
		return true
	}
	return hasNUL(f.Left) || hasNUL(f.Right) || hasNUL(f.Sub)
}

// fastFilter parses `A eq "v"` (A one of the indexed attributes) and conjunctions of those, and Entra's
// `emails[type eq "work"].value eq "v"` on its own. It gives up (false) on anything else, including any
// spacing or escaping the grammar would read differently, so it never changes what a filter means.
func fastFilter(s string) (*store.Filter, bool) {
	if strings.HasPrefix(s, workEmail+" ") {
		rest, ok := strings.CutPrefix(s[len(workEmail):], " eq ")
		if !ok {
			rest, ok = strings.CutPrefix(s[len(workEmail):], " EQ ")
		}
		if !ok {
			return nil, false
		}
		val, tail, ok := quoted(rest)
		if !ok || tail != "" {
			return nil, false
		}
		leaf, _ := fastLeaf(workEmail, val)
		return leaf, true
	}
	var out *store.Filter
	for {
		attrEnd := strings.IndexByte(s, ' ')
		if attrEnd <= 0 || len(s) < attrEnd+4 || !strings.EqualFold(s[attrEnd+1:attrEnd+3], "eq") || s[attrEnd+3] != ' ' {
			return nil, false
		}
		attr := s[:attrEnd]
		val, rest, ok := quoted(s[attrEnd+4:])
		if !ok || attr == workEmail {
			return nil, false
		}
		leaf, ok := fastLeaf(attr, val)
		if !ok {
			return nil, false
		}
		if out == nil {
			out = leaf
		} else {
			out = &store.Filter{Op: store.OpAnd, Left: out, Right: leaf}
		}
		if rest == "" {
			return out, true
		}
		if len(rest) < 5 || rest[0] != ' ' || !strings.EqualFold(rest[1:4], "and") || rest[4] != ' ' {
			return nil, false
		}
		s = rest[5:]
	}
}

// workEmail is the attribute Entra filters on when email is a matching attribute.
const workEmail = `emails[type eq "work"].value`

// quoted reads a JSON string literal at the start of s. It gives up on anything the filter grammar
// would not read the same way: control characters, escapes other than \" \\ and upper-case \uXXXX.
func quoted(s string) (val, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return "", "", false
		case c == '\\':
			if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", "", false
			}
			i++
		case c == '"':
			v, _ := unescape(s[1:i]).(string)
			return v, s[i+1:], true
		}
	}
	return "", "", false
}

func fastLeaf(attr, val string) (*store.Filter, bool) {
	eq := func(a string) *store.Filter { return &store.Filter{Op: store.OpEq, Attr: a, Value: val} }
	if attr == workEmail {
		return &store.Filter{Op: store.OpHas, Sub: &store.Filter{Op: store.OpAnd,
			Left:  &store.Filter{Op: store.OpEq, Attr: store.AttrEmailType, Value: "work"},
			Right: eq(store.AttrEmailValue)}}, true
	}
	switch strings.ToLower(attr) {
	case "username", "urn:ietf:params:scim:schemas:core:2.0:user:username":
		return eq(store.AttrUserName), true
	case "externalid":
		return eq(store.AttrExternalID), true
	case "id":
		return eq(store.AttrID), true
	case "emails.value", "emails":
		return eq(store.AttrEmailValue), true
	}
	return nil, false
}

// grammarFilter parses any RFC 7644 filter with filter-parser's grammar and translates it; an attribute
// scimsso cannot filter on is a 400 invalidFilter, never an unfiltered list.
func grammarFilter(s string) (*store.Filter, error) {
	// Entra's documented `emails[type eq "work"].value eq "x"` is outside the grammar; rewrite the
	// general form X[f].sub op v into the equivalent X[f and sub op v].
	s = rewriteValuePathSub(s)
	expr, err := filter.ParseFilter([]byte(s))
	if err != nil {
		return nil, invalidFilter("the filter could not be parsed; quote string values, e.g. userName eq \"a@example.com\"")
	}
	return translate(expr, false)
}

// valuePathSub matches a whole filter of the form X[f].sub op value, with f free of brackets outside
// quoted strings.
var valuePathSub = regexp.MustCompile(`^([A-Za-z][\w:.]*)\[((?:[^"\[\]]|"(?:[^"\\]|\\.)*")*)\]\.([A-Za-z]\w*) ([A-Za-z]{2}) ("(?:[^"\\]|\\.)*"|true|false|null|[0-9.eE+-]+)$`)

// rewriteValuePathSub turns `X[f].sub op v` into `X[f and sub op v]` when it is the whole filter.
func rewriteValuePathSub(s string) string {
	m := valuePathSub.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	return m[1] + "[" + m[2] + " and " + m[3] + " " + m[4] + " " + m[5] + "]"
}

var compareOps = map[filter.CompareOperator]store.Op{
	filter.EQ: store.OpEq, filter.NE: store.OpNe, filter.CO: store.OpCo, filter.SW: store.OpSw, filter.EW: store.OpEw,
	filter.PR: store.OpPr, filter.GT: store.OpGt, filter.GE: store.OpGe, filter.LT: store.OpLt, filter.LE: store.OpLe,
}

func translate(e filter.Expression, inEmails bool) (*store.Filter, error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, err := translate(x.Left, inEmails)
		if err != nil {
			return nil, err
		}
		r, err := translate(x.Right, inEmails)
		if err != nil {
			return nil, err
		}
		op := store.OpAnd
		if x.Operator == filter.OR {
			op = store.OpOr
		}
		return &store.Filter{Op: op, Left: l, Right: r}, nil
	case *filter.NotExpression:
		sub, err := translate(x.Expression, inEmails)
		if err != nil {
			return nil, err
		}
		return &store.Filter{Op: store.OpNot, Sub: sub}, nil
	case *filter.ValuePath:
		if inEmails || !strings.EqualFold(x.AttributePath.AttributeName, "emails") || x.AttributePath.SubAttribute != nil {
			return nil, invalidFilter("only emails[…] value filters are supported")
		}
		sub, err := translate(x.ValueFilter, true)
		if err != nil {
			return nil, err
		}
		return &store.Filter{Op: store.OpHas, Sub: sub}, nil
	case *filter.AttributeExpression:
		return leaf(x, inEmails)
	}
	return nil, invalidFilter("unsupported filter expression")
}

func leaf(x *filter.AttributeExpression, inEmails bool) (*store.Filter, error) {
	p := x.AttributePath
	name := strings.ToLower(p.AttributeName)
	if sub := p.SubAttributeName(); sub != "" {
		name += "." + strings.ToLower(sub)
	}
	uri := strings.ToLower(p.URI())
	var attr string
	switch {
	case inEmails:
		attr = map[string]string{"value": store.AttrEmailValue, "type": store.AttrEmailType, "primary": store.AttrEmailPrimary}[name]
	case uri == "" || uri == strings.ToLower(schemas.CoreUserURN):
		attr = map[string]string{
			"id": store.AttrID, "username": store.AttrUserName, "externalid": store.AttrExternalID,
			"name.givenname": store.AttrGivenName, "name.familyname": store.AttrFamilyName, "active": store.AttrActive,
			"emails": store.AttrEmailValue, "emails.value": store.AttrEmailValue, "emails.type": store.AttrEmailType,
			"emails.primary": store.AttrEmailPrimary, "addresses.country": store.AttrCountry,
			"meta.created": store.AttrCreated, "meta.lastmodified": store.AttrModified,
		}[name]
	case uri == strings.ToLower(schemas.EnterpriseUserURN) && name == "department":
		attr = store.AttrDepartment
	}
	if attr == "" {
		return nil, invalidFilter("cannot filter on %s; supported: id, userName, externalId, name.givenName, name.familyName, active, emails(.value/.type/.primary), addresses.country, meta.created, meta.lastModified, enterprise department", p.String())
	}
	op, ok := compareOps[x.Operator]
	if !ok {
		return nil, invalidFilter("unsupported operator %s", x.Operator)
	}
	f := &store.Filter{Op: op, Attr: attr}
	if op == store.OpPr {
		return f, nil
	}
	v := unescape(x.CompareValue)
	switch attr {
	case store.AttrActive, store.AttrEmailPrimary:
		b, ok := boolOf(v)
		if !ok || (op != store.OpEq && op != store.OpNe) {
			return nil, invalidFilter("%s compares only with eq or ne and true or false", p.String())
		}
		f.Value = b
	case store.AttrCreated, store.AttrModified:
		if op == store.OpCo || op == store.OpSw || op == store.OpEw {
			return nil, invalidFilter("%s compares with eq, ne, gt, ge, lt or le", p.String())
		}
		t, err := time.Parse(time.RFC3339, str(v))
		if err != nil {
			return nil, invalidFilter("%s needs an RFC 3339 time, such as \"2026-01-02T15:04:05Z\"", p.String())
		}
		f.Value = t
	default:
		s, ok := v.(string)
		if !ok {
			return nil, invalidFilter("%s compares with a quoted string", p.String())
		}
		f.Value = s
	}
	return f, nil
}
