package scimserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/scim2/filter-parser/v2"

	"github.com/scimsso/scimsso/schemas"
)

// The operations of a PATCH, as decodePatch spells op.kind.
const (
	opAdd     = "add"
	opReplace = "replace"
	opRemove  = "remove"
)

// applyPatch applies the operations to d in order, the way Okta and Entra mean them: ops in any case,
// no-path maps with dotted and URN keys, value paths with create-on-absent (several operations on one
// addresses[type eq "work"] element merge into one element). All of a request applies, or none: d is
// the caller's copy.
func applyPatch(d doc, ops []op) error {
	for _, op := range ops {
		if err := applyOp(d, op); err != nil {
			return err
		}
	}
	return nil
}

// applyOp applies one operation. An email it makes primary makes the others non-primary (RFC 7644
// §3.5.2); if it makes two primary, readEmails refuses the result.
func applyOp(d doc, o op) error {
	was := primaryEmails(d)
	if err := applyOpValue(d, o); err != nil {
		return err
	}
	now := primaryEmails(d)
	for k := range now {
		if _, ok := was[k]; !ok {
			// Still primary and primary before: the operation did not touch these.
			for k, m := range now {
				if _, ok := was[k]; ok {
					m[keyOf(m, "primary")] = false
				}
			}
			break
		}
	}
	return nil
}

// primaryEmails returns the elements of d's emails marked primary, keyed by identity: an operation
// changes an element in place or puts a new one in. The values keep the elements alive, so no key is
// reused while the caller compares two sets.
func primaryEmails(d doc) map[uintptr]map[string]any {
	out := map[uintptr]map[string]any{}
	list, _ := lookup(d, "emails").([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if p, _ := boolOf(lookup(m, "primary")); p {
				out[reflect.ValueOf(m).Pointer()] = m
			}
		}
	}
	return out
}

func applyOpValue(d doc, o op) error {
	kind := o.kind
	if o.path == nil {
		if kind == opRemove {
			return errorf(400, "noTarget", "remove needs a path")
		}
		m, ok := o.value.(map[string]any)
		if !ok {
			return invalidValue("an operation without a path needs an object value")
		}
		for k, v := range m {
			if err := applyKey(d, kind, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	return applyPath(d, kind, *o.path, o.value)
}

// applyKey applies one key of a no-path value map; a key may itself be a path ("name.givenName").
func applyKey(d doc, kind, key string, v any) error {
	if !strings.ContainsAny(key, ".:[") {
		return applyPath(d, kind, filter.Path{AttributePath: filter.AttributePath{AttributeName: key}}, v)
	}
	p, err := parsePath(key)
	if err != nil {
		return errorf(400, "invalidPath", "%q is not a valid attribute path", key)
	}
	return applyPath(d, kind, p, v)
}

// container returns the map an attribute path lives in: d itself or an extension's map.
func container(d doc, p filter.AttributePath, create bool) (map[string]any, error) {
	uri := p.URI()
	if uri == "" || strings.EqualFold(uri, schemas.CoreUserURN) {
		return d, nil
	}
	if !strings.EqualFold(uri, schemas.EnterpriseUserURN) {
		return nil, errorf(400, "invalidPath", "unknown schema %q", uri)
	}
	key := keyOf(d, schemas.EnterpriseUserURN)
	m, _ := d[key].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		d[key] = m
	}
	return m, nil
}

// keyOf returns the key under which m holds name (compared case-insensitively), or name if absent.
func keyOf(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

var readOnly = map[string]bool{"id": true, "meta": true, "schemas": true, "groups": true}

func applyPath(d doc, kind string, p filter.Path, v any) error {
	ap := p.AttributePath
	if readOnly[strings.ToLower(ap.AttributeName)] && ap.URI() == "" {
		return mutability("%s is read-only", ap.AttributeName)
	}
	// A URN key for an extension as a whole: {"urn:…:enterprise:2.0:User": {"department": "x"}}.
	wholeExtension := strings.EqualFold(ap.AttributeName, schemas.EnterpriseUserURN) || strings.EqualFold(ap.URI()+":"+ap.AttributeName, schemas.EnterpriseUserURN)
	if wholeExtension && ap.SubAttribute == nil && p.ValueExpression == nil {
		m, ok := v.(map[string]any)
		if !ok {
			return invalidValue("%s needs an object value", schemas.EnterpriseUserURN)
		}
		for k, x := range m {
			if err := applyPath(d, kind, filter.Path{AttributePath: filter.AttributePath{URIPrefix: strPtr(schemas.EnterpriseUserURN), AttributeName: k}}, x); err != nil {
				return err
			}
		}
		return nil
	}
	if kind == opRemove && removesActive(p) {
		// Removing active would leave the user's state to a default nobody chose; RFC 7644 §3.5.2
		// lets a server refuse an operation its attribute's rules forbid.
		return mutability("active cannot be removed; set it to false to de-provision the user (active=false), or to true")
	}
	c, err := container(d, ap, kind != opRemove)
	if err != nil {
		return err
	}
	if c == nil {
		return nil // removing from an absent extension
	}
	name := keyOf(c, ap.AttributeName)
	sub := ap.SubAttributeName()
	if sub == "" {
		sub = p.SubAttributeName()
	}
	if p.ValueExpression != nil {
		return applyFiltered(c, name, kind, p.ValueExpression, sub, v)
	}
	if sub != "" {
		if list, ok := c[name].([]any); ok {
			// A sub-attribute of a multi-valued attribute without a filter names that sub-attribute of
			// every value (RFC 7644 §3.5.2.3); the rules then judge the result.
			if p, _ := boolOf(v); p && strings.EqualFold(sub, "primary") && len(list) > 1 && kind != opRemove {
				return invalidValue("%s.primary without a filter would make all %d values primary; at most one may be", ap.AttributeName, len(list))
			}
			for _, el := range list {
				if m, ok := el.(map[string]any); ok {
					if sk := keyOf(m, sub); kind == opRemove {
						delete(m, sk)
					} else {
						m[sk] = v
					}
				}
			}
			return nil
		}
		m, _ := c[name].(map[string]any)
		if m == nil {
			if kind == opRemove {
				return nil
			}
			m = map[string]any{}
			c[name] = m
		}
		sk := keyOf(m, sub)
		if kind == opRemove {
			delete(m, sk)
		} else {
			m[sk] = v
		}
		return nil
	}
	switch kind {
	case opRemove:
		delete(c, name)
	case opAdd:
		switch old := c[name].(type) {
		case []any:
			c[name] = append(old, asList(v)...)
		case map[string]any:
			if nv, ok := v.(map[string]any); ok {
				for k, x := range nv {
					old[keyOf(old, k)] = x
				}
			} else {
				c[name] = v
			}
		default:
			c[name] = v
		}
	default:
		c[name] = v
	}
	return nil
}

// removesActive reports whether p names the core active attribute as a whole.
func removesActive(p filter.Path) bool {
	ap := p.AttributePath
	uri := ap.URI()
	return strings.EqualFold(ap.AttributeName, "active") && ap.SubAttribute == nil && p.SubAttribute == nil &&
		p.ValueExpression == nil && (uri == "" || strings.EqualFold(uri, schemas.CoreUserURN))
}

func strPtr(s string) *string { return &s }

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// applyFiltered applies an operation to the elements of a multi-valued attribute that match f.
func applyFiltered(c map[string]any, name, kind string, f filter.Expression, sub string, v any) error {
	list, _ := c[name].([]any)
	var hits []int
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		ok, err := matches(m, f)
		if err != nil {
			return err
		}
		if ok {
			hits = append(hits, i)
		}
	}
	if kind == opRemove {
		if sub != "" {
			for _, i := range hits {
				m := list[i].(map[string]any)
				delete(m, keyOf(m, sub))
			}
			return nil
		}
		kept := list[:0:0]
		for i, e := range list {
			if !slices.Contains(hits, i) {
				kept = append(kept, e)
			}
		}
		c[name] = kept
		return nil
	}
	if len(hits) == 0 {
		// Create on absent: the new element carries the filter's equalities (type "work") and the value.
		m := map[string]any{}
		if err := seed(m, f); err != nil {
			return err
		}
		if sub != "" {
			m[sub] = v
		} else if nv, ok := unwrapOne(v).(map[string]any); ok {
			for k, x := range nv {
				m[keyOf(m, k)] = x
			}
		} else {
			return invalidValue("%s[…] needs an object value", name)
		}
		c[name] = append(list, m)
		return nil
	}
	for _, i := range hits {
		m := list[i].(map[string]any)
		if sub != "" {
			m[keyOf(m, sub)] = v
			continue
		}
		nv, ok := unwrapOne(v).(map[string]any)
		if !ok {
			return invalidValue("%s[…] needs an object value", name)
		}
		if kind == opReplace {
			for k := range m {
				delete(m, k)
			}
			if err := seed(m, f); err != nil {
				return err
			}
		}
		for k, x := range nv {
			m[keyOf(m, k)] = x
		}
	}
	return nil
}

// unwrapOne undoes decodePatch's wrapping of a value-path replace value in a one-element list.
func unwrapOne(v any) any {
	if l, ok := v.([]any); ok && len(l) == 1 {
		return l[0]
	}
	return v
}

// seed copies the eq comparisons of a value filter into a new element.
func seed(m map[string]any, f filter.Expression) error {
	switch e := f.(type) {
	case *filter.AttributeExpression:
		if e.Operator == filter.EQ {
			m[e.AttributePath.AttributeName] = unescape(e.CompareValue)
		}
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			if err := seed(m, e.Left); err != nil {
				return err
			}
			return seed(m, e.Right)
		}
	}
	return nil
}

// matches evaluates a value filter on one element of a multi-valued attribute.
func matches(m map[string]any, f filter.Expression) (bool, error) {
	switch e := f.(type) {
	case *filter.LogicalExpression:
		l, err := matches(m, e.Left)
		if err != nil {
			return false, err
		}
		r, err := matches(m, e.Right)
		if err != nil {
			return false, err
		}
		if e.Operator == filter.AND {
			return l && r, nil
		}
		return l || r, nil
	case *filter.NotExpression:
		ok, err := matches(m, e.Expression)
		return !ok, err
	case *filter.AttributeExpression:
		got := lookup(m, e.AttributePath.AttributeName)
		if e.Operator == filter.PR {
			return !empty(got), nil
		}
		a := strings.ToLower(fmt.Sprint(normal(got)))
		b := strings.ToLower(fmt.Sprint(normal(unescape(e.CompareValue))))
		if got == nil {
			a = ""
		}
		switch e.Operator {
		case filter.EQ:
			return a == b, nil
		case filter.NE:
			return a != b, nil
		case filter.CO:
			return strings.Contains(a, b), nil
		case filter.SW:
			return strings.HasPrefix(a, b), nil
		case filter.EW:
			return strings.HasSuffix(a, b), nil
		}
		return false, errorf(400, "invalidFilter", "operator %s is not supported in a value path", e.Operator)
	}
	return false, errorf(400, "invalidFilter", "unsupported value path filter")
}

// unescape decodes the JSON escapes the filter grammar leaves in a string literal.
func unescape(v any) any {
	s, ok := v.(string)
	if !ok || !strings.Contains(s, `\`) {
		return v
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}
