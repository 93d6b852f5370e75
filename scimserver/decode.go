package scimserver

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimsso/scimsso/schemas"
)

// The write bodies are decoded here against the SCIM schemas of package schemas, the way RFC 7643 §2
// reads them: attribute names in any case, each to its type, read-only attributes (id, groups) ignored,
// unknown attributes dropped, names written back as the schema spells them. Entra's "True"/"False"
// strings are booleans. What a value means for a user (email rules, country, mutability) is resource.go's.

// attr is one attribute of a schema, compiled once from elimity's definition for lookups by name.
type attr struct {
	name     string // as the schema spells it
	path     string // for error details: "name.givenName"
	typ      string // "string", "boolean", "complex", "reference", "binary", "dateTime", "decimal", "integer"
	multi    bool
	readOnly bool
	required bool
	index    int              // in its schema's or its parent's attributes
	subs     []*attr          // sub-attributes in schema order
	byName   map[string]*attr // sub-attributes by lower-cased name and by their own spelling
	def      schema.CoreAttribute
}

// resourceSchema is a compiled schema: its attributes in order and by name, lower-cased and as spelt.
type resourceSchema struct {
	id     string
	attrs  []*attr
	byName map[string]*attr
}

func compileSchema(s schema.Schema) *resourceSchema {
	rs := &resourceSchema{id: s.ID, byName: map[string]*attr{}}
	for _, a := range s.Attributes {
		ca := compileAttr(a, "")
		if _, dup := rs.byName[strings.ToLower(ca.name)]; dup {
			continue // the first definition of a name wins
		}
		ca.index = len(rs.attrs)
		rs.attrs = append(rs.attrs, ca)
		rs.byName[strings.ToLower(ca.name)] = ca
		rs.byName[ca.name] = ca
	}
	return rs
}

func compileAttr(a schema.CoreAttribute, parent string) *attr {
	ca := &attr{name: a.Name(), path: a.Name(), typ: a.AttributeType(), multi: a.MultiValued(),
		readOnly: a.Mutability() == "readOnly", required: a.Required(), def: a}
	if parent != "" {
		ca.path = parent + "." + a.Name()
	}
	if a.AttributeType() == "complex" {
		ca.byName = map[string]*attr{}
		for _, s := range a.SubAttributes() {
			sub := compileAttr(s, ca.path)
			if _, dup := ca.byName[strings.ToLower(sub.name)]; dup {
				continue
			}
			sub.index = len(ca.subs)
			ca.subs = append(ca.subs, sub)
			ca.byName[strings.ToLower(sub.name)] = sub
			ca.byName[sub.name] = sub
		}
	}
	return ca
}

// schemaSet are the User schema and its enterprise extension, compiled.
type schemaSet struct {
	core, enterprise *resourceSchema
}

func newSchemaSet() schemaSet {
	return schemaSet{core: compileSchema(schemas.User()), enterprise: compileSchema(schemas.EnterpriseUser())}
}

// byURI returns the schema a path's URN names ("" is the core schema); the URN is compared exactly.
func (us schemaSet) byURI(uri string) *resourceSchema {
	switch uri {
	case "", us.core.id:
		return us.core
	case us.enterprise.id:
		return us.enterprise
	}
	return nil
}

var (
	errSyntax = errorf(400, "invalidSyntax", "The request body is not a JSON object as RFC 7644 describes for this request.")
)

// decodeUser reads a POST or PUT body: the attributes of the core schema and, under its URN as the key,
// of the enterprise extension.
// body is one valid JSON value (readBody).
func (us schemaSet) decodeUser(body []byte) (doc, error) {
	v := decodeValid(body)
	m, ok := v.(map[string]any)
	if !ok && v != nil {
		return nil, errSyntax
	}
	d, err := us.core.object(m)
	if err != nil {
		return nil, err
	}
	if v := m[schemas.EnterpriseUserURN]; v != nil {
		em, ok := v.(map[string]any)
		if !ok {
			return nil, errorf(400, "invalidSyntax", "%s must be an object", schemas.EnterpriseUserURN)
		}
		e, err := us.enterprise.object(em)
		if err != nil {
			return nil, err
		}
		d[schemas.EnterpriseUserURN] = e
	}
	return d, nil
}

// object reads m's attributes of the schema, in schema order so the first error is always the same.
func (rs *resourceSchema) object(m map[string]any) (doc, error) {
	return readObject(rs.attrs, rs.byName, m)
}

// readObject reads the attributes of a complex value (or a whole resource): keys in any case, one key
// per attribute.
func readObject(attrs []*attr, byName map[string]*attr, m map[string]any) (doc, error) {
	out := make(doc, len(m))
	// Values by attribute index; on the stack for every schema scimsso has (at most 32 attributes).
	var buf [32]any
	var given [32]uint8 // how many keys named the attribute
	found, count := buf[:0], given[:0]
	if len(attrs) <= len(buf) {
		found, count = buf[:len(attrs)], given[:len(attrs)]
	} else {
		found, count = make([]any, len(attrs)), make([]uint8, len(attrs))
	}
	for k, v := range m {
		a := byName[k] // the schema's own spelling, the usual case, needs no lower-casing
		if a == nil {
			a = byName[strings.ToLower(k)]
		}
		if a == nil {
			continue // not an attribute of the schema: dropped
		}
		found[a.index] = v
		if count[a.index] < 2 {
			count[a.index]++
		}
	}
	for i, a := range attrs {
		if count[i] > 1 {
			return nil, errorf(400, "invalidSyntax", "%s is given twice, in different case", a.path)
		}
		v, err := a.read(found[i])
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[a.name] = v
		}
	}
	return out, nil
}

// read checks a value of the attribute (nil when absent) and returns it as kept, or nil to drop it.
func (a *attr) read(v any) (any, error) {
	if v == nil {
		if a.required {
			return nil, invalidValue("%s is required", a.path)
		}
		return nil, nil
	}
	if a.readOnly {
		return nil, nil // set by the server, never by a client
	}
	if !a.multi {
		return a.readOne(v)
	}
	switch x := v.(type) {
	case []any:
		if a.required && len(x) == 0 {
			return nil, invalidValue("%s is required", a.path)
		}
		out := make([]any, 0, len(x))
		for _, e := range x {
			r, err := a.readOne(e)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]any:
		// One element sent without its list: its known sub-attributes are kept as sent.
		if a.required && len(x) == 0 {
			return nil, invalidValue("%s is required", a.path)
		}
		out := map[string]any{}
		for _, sub := range a.subs {
			for k, e := range x {
				if strings.EqualFold(sub.name, k) {
					if _, err := sub.read(e); err != nil {
						return nil, err
					}
					out[sub.name] = e
				}
			}
		}
		return out, nil
	}
	return nil, errorf(400, "invalidSyntax", "%s must be a list", a.path)
}

// readOne checks one value of the attribute's type.
func (a *attr) readOne(v any) (any, error) {
	switch a.typ {
	case "string", "reference":
		if _, ok := v.(string); !ok {
			return nil, invalidValue("%s must be a string", a.path)
		}
		return v, nil
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			// Entra sends booleans as "True" and "False".
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return nil, invalidValue("%s must be true or false", a.path)
	case "complex":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, invalidValue("%s must be an object", a.path)
		}
		return readObject(a.subs, a.byName, m)
	}
	// binary, dateTime, decimal, integer: none of the User attributes scimsso keeps has these types;
	// the library's own check is the definition of them.
	out, serr := a.def.ValidateSingular(v)
	if serr != nil {
		return nil, invalidValue("%s is not a valid %s", a.path, a.typ)
	}
	return out, nil
}

// op is a PATCH operation as read and checked against the schemas: kind is "add", "replace" or
// "remove"; path is nil for a no-path operation, whose value is then a map of paths to values.
type op struct {
	kind  string
	path  *filter.Path
	value any
}

// decodePatch reads a PATCH body (RFC 7644 §3.5.2): the PatchOp schema and at least one operation,
// each with a known op, a path that names an attribute of the schemas, and a value of its type.
func (us schemaSet) decodePatch(body []byte) ([]op, error) {
	var req struct {
		Schemas    []string
		Operations []json.RawMessage
	}
	if err := jsonUnmarshal(body, &req); err != nil {
		return nil, errSyntax
	}
	if len(req.Schemas) != 1 || req.Schemas[0] != schemas.PatchOpURN {
		return nil, invalidValue("schemas must be [%q]", schemas.PatchOpURN)
	}
	if len(req.Operations) == 0 {
		return nil, invalidValue("Operations must hold at least one operation")
	}
	ops := make([]op, 0, len(req.Operations))
	for i, raw := range req.Operations {
		o, err := us.readOp(raw)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Detail = "Operations[" + strconv.Itoa(i) + "]: " + e.Detail
			}
			return nil, err
		}
		ops = append(ops, o)
	}
	return ops, nil
}

func invalidPath(format string, args ...any) *Error {
	return errorf(400, "invalidPath", format, args...)
}

// readOp reads one operation.
func (us schemaSet) readOp(raw []byte) (op, error) {
	var o struct {
		Op    string
		Path  string
		Value any
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&o); err != nil {
		return op{}, invalidPath("an operation is an object with a string op, a string path and a value")
	}
	// Okta sends the user's id in a no-path value; it is no change.
	if m, ok := o.Value.(map[string]any); ok {
		n := 0
		for k := range m {
			if strings.EqualFold(k, "id") {
				delete(m, k)
				n++
			}
		}
		if n > 1 {
			return op{}, invalidPath("id is given twice, in different case")
		}
	}
	out := op{kind: strings.ToLower(o.Op), value: o.Value}
	if o.Path != "" {
		p, err := parsePath(o.Path)
		if err != nil {
			return op{}, invalidPath("%q is not a valid attribute path", shortText(o.Path))
		}
		if err := us.checkPath(p); err != nil {
			return op{}, err
		}
		out.path = &p
	}
	switch out.kind {
	case "add", "replace":
		v, err := us.readValue(out.path, o.Value)
		if err != nil {
			return op{}, err
		}
		out.value = v
	case "remove":
		if out.path == nil {
			return op{}, errorf(400, "noTarget", "remove needs a path")
		}
		if _, err := us.target(*out.path); err != nil {
			return op{}, err
		}
		if o.Value != nil {
			v, err := us.readValue(out.path, o.Value)
			if err != nil {
				return op{}, err
			}
			out.value = v
		}
	default:
		return op{}, invalidValue("op must be add, replace or remove, not %q", shortText(o.Op))
	}
	return out, nil
}

// shortText cuts a client's text for an error detail.
func shortText(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// checkPath requires p to name an attribute of the core schema or of the extension whose URN it
// carries, a sub-attribute of it when it names one, and attributes of its elements in a value filter.
func (us schemaSet) checkPath(p filter.Path) error {
	for _, rs := range []*resourceSchema{us.core, us.enterprise} {
		if rs.hasPath(p) {
			return nil
		}
	}
	return invalidPath("%q names no attribute of the User schemas", shortText(p.String()))
}

func (rs *resourceSchema) hasPath(p filter.Path) bool {
	a := rs.attrPath(p.AttributePath)
	if a == nil {
		return false
	}
	if p.ValueExpression != nil && !exprNames(elementAttrs(a), rs.id, p.ValueExpression) {
		return false
	}
	if sub := p.SubAttributeName(); sub != "" && a.byName[strings.ToLower(sub)] == nil {
		return false
	}
	return true
}

// attrPath returns the attribute "name" or "name.sub" of the schema names, nil if none.
func (rs *resourceSchema) attrPath(ap filter.AttributePath) *attr {
	if uri := ap.URI(); uri != "" && uri != rs.id {
		return nil
	}
	a := rs.byName[strings.ToLower(ap.AttributeName)]
	if a == nil {
		return nil
	}
	if sub := ap.SubAttributeName(); sub != "" {
		if a.byName[strings.ToLower(sub)] == nil {
			return nil
		}
	}
	return a
}

// elementAttrs are the attributes a value filter on a can name: a complex attribute's sub-attributes,
// else "value".
func elementAttrs(a *attr) map[string]*attr {
	if a.typ == "complex" {
		return a.byName
	}
	return map[string]*attr{"value": {name: "value", typ: a.typ}}
}

// exprNames reports whether every attribute a value filter names is among attrs.
func exprNames(attrs map[string]*attr, id string, e filter.Expression) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		return nameIn(attrs, id, x.AttributePath)
	case *filter.LogicalExpression:
		return exprNames(attrs, id, x.Left) && exprNames(attrs, id, x.Right)
	case *filter.NotExpression:
		return exprNames(attrs, id, x.Expression)
	case *filter.ValuePath:
		if a := lookupAttr(attrs, id, x.AttributePath); a != nil {
			return exprNames(a.byName, id, x.ValueFilter)
		}
		return true
	}
	return false
}

func nameIn(attrs map[string]*attr, id string, ap filter.AttributePath) bool {
	return lookupAttr(attrs, id, ap) != nil
}

func lookupAttr(attrs map[string]*attr, id string, ap filter.AttributePath) *attr {
	if uri := ap.URI(); uri != "" && uri != id {
		return nil
	}
	a := attrs[strings.ToLower(ap.AttributeName)]
	if a == nil {
		return nil
	}
	if sub := ap.SubAttributeName(); sub != "" && a.byName[strings.ToLower(sub)] == nil {
		return nil
	}
	return a
}

// readValue checks an add or replace value against what path names. Without a path the value is a map
// of paths (or attribute names) to values, each checked against its own path.
func (us schemaSet) readValue(path *filter.Path, v any) (any, error) {
	if v == nil {
		return nil, invalidValue("an add or replace operation needs a value")
	}
	if path == nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, invalidValue("an operation without a path needs an object value")
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			p, err := parsePath(k)
			if err != nil {
				return nil, invalidValue("%q is not a valid attribute path", shortText(k))
			}
			r, err := us.readValue(&p, x)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	a, err := us.target(*path)
	if err != nil {
		return nil, err
	}
	if !a.multi {
		return a.readOne(v)
	}
	list, ok := v.([]any)
	if !ok {
		r, err := a.readOne(v)
		if err != nil {
			return nil, err
		}
		return []any{r}, nil // one element without its list: applyFiltered unwraps it again
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		r, err := a.readOne(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// target returns the attribute whose values a path addresses: for emails[type eq "work"].value, value.
func (us schemaSet) target(p filter.Path) (*attr, error) {
	rs := us.byURI(p.AttributePath.URI())
	var a *attr
	if rs != nil {
		a = rs.byName[strings.ToLower(p.AttributePath.AttributeName)]
	}
	if a == nil {
		return nil, invalidValue("%q names no attribute of the User schemas", shortText(p.String()))
	}
	if p.ValueExpression != nil && !exprNames(a.byName, "", p.ValueExpression) {
		return nil, invalidValue("%q filters on an attribute %s does not have", shortText(p.String()), a.path)
	}
	for _, sub := range []string{p.AttributePath.SubAttributeName(), p.SubAttributeName()} {
		if sub == "" {
			continue
		}
		s := a.byName[strings.ToLower(sub)]
		if s == nil {
			return nil, invalidValue("%q names no attribute of the User schemas", shortText(p.String()))
		}
		a = s
	}
	return a, nil
}
