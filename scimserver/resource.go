package scimserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/scimsso/scimsso/schemas"
	"github.com/scimsso/scimsso/store"
)

// A user travels as a SCIM document: a map of JSON values (string, bool, json.Number, []any, map[string]any).
// PUT and PATCH both compute the desired document and then apply the mutability rules to it.
type doc = map[string]any

// Top-level attributes that are not kept in store.User.Extra: the modelled mutable ones, identifiers,
// and what must never be stored or echoed.
var notExtra = map[string]bool{
	"id": true, "meta": true, "schemas": true, "password": true, "groups": true,
	"username": true, "emails": true, "active": true, "externalid": true,
}

// mutable are the only attributes PUT and PATCH may change.
var mutable = map[string]bool{"username": true, "emails": true, "active": true}

func jsonUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// render returns the SCIM document of u without meta, id and schemas: Extra as sent, overlaid with the
// modelled attributes, so a user created at sign-in renders from its modelled fields alone.
func render(u *store.User) doc {
	return renderOnto(parseExtra(u.Extra), u)
}

// parseExtra decodes store.User.Extra; what does not decode counts as empty.
func parseExtra(b []byte) doc {
	d := doc{}
	if len(b) > 0 {
		if err := jsonUnmarshal(b, &d); err != nil || d == nil {
			d = doc{}
		}
	}
	return d
}

// renderOnto overlays u's modelled attributes on d, u's Extra decoded, and returns d.
func renderOnto(d doc, u *store.User) doc {
	d["userName"] = u.UserName
	if u.ExternalID != "" {
		d["externalId"] = u.ExternalID
	}
	d["active"] = u.Active
	d["emails"] = renderEmails(u.Emails)
	if _, ok := lookup(d, "name").(map[string]any); !ok && (u.GivenName != "" || u.FamilyName != "") {
		d["name"] = map[string]any{"givenName": u.GivenName, "familyName": u.FamilyName}
	}
	if _, ok := lookup(d, "addresses").([]any); !ok && u.Country != "" {
		d["addresses"] = []any{map[string]any{"type": "work", "country": u.Country, "primary": true}}
	}
	if u.Department != "" {
		ext, _ := lookup(d, schemas.EnterpriseUserURN).(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			d[schemas.EnterpriseUserURN] = ext
		}
		if _, ok := lookup(ext, "department").(string); !ok {
			ext["department"] = u.Department
		}
	}
	return d
}

func renderEmails(es []store.Email) []any {
	emails := make([]any, 0, len(es))
	for _, e := range es {
		m := map[string]any{"value": e.Value}
		if e.Type != "" {
			m["type"] = e.Type
		}
		if e.Primary {
			m["primary"] = true
		}
		if e.Display != "" {
			m["display"] = e.Display
		}
		emails = append(emails, m)
	}
	return emails
}

// copyDoc returns a deep copy of a decoded JSON value, so that one decoding of a stored user serves as
// both the stored and the desired document of an update.
func copyDoc(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyDoc(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyDoc(e)
		}
		return l
	}
	return v
}

// lookup returns m's value for key compared case-insensitively, as SCIM attribute names are.
func lookup(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// boolOf accepts a JSON boolean or Entra's "True"/"False" strings.
func boolOf(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		return b, err == nil
	}
	return false, false
}

// fields are the modelled attributes read from a document.
type fields struct {
	userName, givenName, familyName, externalID, department, country string
	emails                                                           []store.Email
	active                                                           bool
}

// maxEmails bounds a user's email list: every email is an indexed row.
const maxEmails = 100

// countryPath names where the country is read from, for error details.
const countryPath = `addresses[type eq "work"].country`

// chosenAddress returns the index of the address the country comes from: the primary one, else the
// work one, else the first; -1 if there are none.
func chosenAddress(addrs []any) int {
	work := -1
	for i, a := range addrs {
		m, _ := a.(map[string]any)
		if m == nil {
			continue
		}
		if p, _ := boolOf(lookup(m, "primary")); p {
			return i
		}
		if work < 0 && strings.EqualFold(str(lookup(m, "type")), "work") {
			work = i
		}
	}
	if work >= 0 {
		return work
	}
	if len(addrs) > 0 {
		return 0
	}
	return -1
}

// readCountry validates and normalises the country in d's chosen address, writing the normalised code
// back so the stored document holds it.
func readCountry(d doc) (string, error) {
	addrs, _ := lookup(d, "addresses").([]any)
	i := chosenAddress(addrs)
	if i < 0 {
		return "", invalidValue("%s is required: an ISO 3166-1 alpha-2 code such as \"US\" (in Entra, map usageLocation to it; in Okta, countryCode)", countryPath)
	}
	m, _ := addrs[i].(map[string]any)
	raw := str(lookup(m, "country"))
	code, err := schemas.NormalizeCountry(raw)
	if err != nil {
		return "", invalidValue("%s: %v (in Entra, map usageLocation rather than country)", countryPath, err)
	}
	for k := range m {
		if strings.EqualFold(k, "country") {
			delete(m, k)
		}
	}
	m["country"] = code
	return code, nil
}

// checkEmail requires an address sign-in accepts too (store.ParseEmail: the one rule), in one of the
// tenant's domains.
func checkEmail(t *store.Tenant, field, v string) error {
	if _, err := store.ParseEmail(v); err != nil {
		return invalidValue("%s: %s is %v", field, shortQuote(v), err)
	}
	if !t.OwnsDomain(store.EmailDomain(v)) {
		return invalidValue("%s: %q is not in one of this tenant's domains (%s)", field, v, strings.Join(t.Domains, ", "))
	}
	return nil
}

// shortQuote quotes v for an error detail, cut short when long: the detail names the value, it need
// not repeat 5,000 characters of it.
func shortQuote(v string) string {
	const keep = 64
	if len(v) <= keep+16 {
		return strconv.Quote(v)
	}
	return fmt.Sprintf("%q… (%d characters)", v[:keep], len(v))
}

// readEmails reads d's emails. An address among stored (the user's emails as stored) is not checked
// again: a user stored before a rule held, or whose domain the tenant has since given up, can still be
// de-provisioned.
func readEmails(t *store.Tenant, d doc, stored []store.Email) ([]store.Email, error) {
	raw := lookup(d, "emails")
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		if m, ok := raw.(map[string]any); ok {
			list = []any{m}
		} else {
			return nil, invalidValue("emails must be a list of email objects")
		}
	}
	if len(list) > maxEmails {
		return nil, invalidValue("emails: at most %d addresses per user", maxEmails)
	}
	out := make([]store.Email, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, invalidValue("emails must be a list of email objects")
		}
		v := strings.TrimSpace(str(lookup(m, "value")))
		if v == "" {
			continue
		}
		if !slices.ContainsFunc(stored, func(e store.Email) bool { return e.Value == v }) {
			if err := checkEmail(t, "emails.value", v); err != nil {
				return nil, err
			}
		}
		p, _ := boolOf(lookup(m, "primary"))
		out = append(out, store.Email{Value: v, Type: str(lookup(m, "type")), Primary: p, Display: str(lookup(m, "display"))})
	}
	return out, nil
}

// primaries returns the values of the primary emails.
func primaries(es []store.Email) []string {
	var out []string
	for _, e := range es {
		if e.Primary {
			out = append(out, e.Value)
		}
	}
	return out
}

// onePrimary refuses a list of emails with more than one primary (RFC 7643 §2.4: the primary
// attribute "MAY be true for only one value"); sign-in and the applications read the primary one.
func onePrimary(es []store.Email) error {
	n := 0
	for _, e := range es {
		if e.Primary {
			n++
		}
	}
	if n > 1 {
		return invalidValue("emails: %d emails are marked primary; at most one may be", n)
	}
	return nil
}

// readFields reads and validates the modelled attributes of a document. It normalises the country in d.
func readFields(t *store.Tenant, d doc) (fields, error) {
	var f fields
	f.userName = strings.TrimSpace(str(lookup(d, "userName")))
	if f.userName == "" {
		return f, invalidValue("userName is required: the user's email address")
	}
	if err := checkEmail(t, "userName", f.userName); err != nil {
		return f, err
	}
	name, _ := lookup(d, "name").(map[string]any)
	f.givenName = strings.TrimSpace(str(lookup(name, "givenName")))
	f.familyName = strings.TrimSpace(str(lookup(name, "familyName")))
	if f.givenName == "" {
		return f, invalidValue("name.givenName is required")
	}
	if f.familyName == "" {
		return f, invalidValue("name.familyName is required")
	}
	var err error
	if f.country, err = readCountry(d); err != nil {
		return f, err
	}
	if f.emails, err = readEmails(t, d, nil); err != nil {
		return f, err
	}
	if err := onePrimary(f.emails); err != nil {
		return f, err
	}
	if len(f.emails) == 0 {
		f.emails = []store.Email{{Value: f.userName, Type: "work", Primary: true}}
	}
	f.externalID = str(lookup(d, "externalId"))
	ext, _ := lookup(d, schemas.EnterpriseUserURN).(map[string]any)
	f.department = strings.TrimSpace(str(lookup(ext, "department")))
	f.active = true
	if v := lookup(d, "active"); v != nil {
		b, ok := boolOf(v)
		if !ok {
			return f, invalidValue("active must be true or false")
		}
		f.active = b
	}
	return f, nil
}

// extraOf is the part of d kept verbatim in store.User.Extra.
func extraOf(d doc) ([]byte, error) {
	e := extraMap(d)
	if len(e) == 0 {
		return nil, nil
	}
	return appendValue(nil, e), nil
}

// extraMap is the part of d kept in store.User.Extra: what is not modelled, and not empty.
func extraMap(d doc) doc {
	e := doc{}
	for k, v := range d {
		if !notExtra[strings.ToLower(k)] && !empty(v) {
			e[k] = v
		}
	}
	return e
}

// empty reports whether v carries no value: absent, null, "", [] or {} (recursively), which SCIM treats alike.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		for _, e := range x {
			if !empty(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !empty(e) {
				return false
			}
		}
		return true
	}
	return false
}

// normal returns v with empty values dropped, keys lower-cased and numbers and booleans as text, so two
// documents that say the same thing compare equal.
func normal(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			lk := strings.ToLower(k)
			// SCIM's "primary" defaults to false: false and absent say the same.
			if b, ok := boolOf(e); lk == "primary" && ok && !b {
				continue
			}
			if !empty(e) {
				m[lk] = normal(e)
			}
		}
		return m
	case []any:
		var l []any
		for _, e := range x {
			if !empty(e) {
				l = append(l, normal(e))
			}
		}
		return l
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return v
}

// firstDifference names the first place where a and b differ (after normal), as a SCIM path spelled as
// the client or the stored document spells it.
func firstDifference(path string, a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok && !bok {
		return path
	}
	if !aok && empty(a) {
		am = map[string]any{}
	} else if !bok && empty(b) {
		bm = map[string]any{}
	} else if !aok || !bok {
		return path
	}
	names := map[string]string{}
	for k := range am {
		names[strings.ToLower(k)] = k
	}
	for k := range bm {
		names[strings.ToLower(k)] = k
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		av, bv := lookup(am, k), lookup(bm, k)
		if !reflect.DeepEqual(normal(av), normal(bv)) {
			sep := "."
			if strings.HasPrefix(path, "urn:") && !strings.Contains(path, ".") {
				sep = ":"
			}
			return firstDifference(path+sep+names[k], av, bv)
		}
	}
	return path
}

// canonicalName maps a lower-cased top-level attribute back to how SCIM spells it, for messages.
func canonicalName(k string) string {
	names := map[string]string{
		"name": "name", "displayname": "displayName", "nickname": "nickName", "externalid": "externalId",
		"addresses": "addresses", "phonenumbers": "phoneNumbers", "title": "title", "locale": "locale",
		"usertype": "userType", "preferredlanguage": "preferredLanguage", "timezone": "timezone",
		strings.ToLower(schemas.EnterpriseUserURN): schemas.EnterpriseUserURN,
	}
	if n, ok := names[k]; ok {
		return n
	}
	return k
}

// checkMutability refuses any difference between the stored and the desired document outside the
// mutable attributes. Users created at sign-in may have empty attributes filled in once by SCIM.
func checkMutability(stored, desired doc, fillIn bool) error {
	s, _ := normal(stored).(map[string]any)
	d, _ := normal(desired).(map[string]any)
	keys := map[string]bool{}
	for k := range s {
		keys[k] = true
	}
	for k := range d {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if mutable[k] || notExtra[k] && k != "externalid" {
			continue
		}
		if reflect.DeepEqual(s[k], d[k]) {
			continue
		}
		if fillIn && s[k] == nil {
			continue
		}
		path := firstDifference(canonicalName(k), lookup(stored, k), lookup(desired, k))
		if k == "addresses" {
			path = countryPath + " (or another address attribute)"
			if countryOfNormal(s[k]) != countryOfNormal(d[k]) {
				path = countryPath
			}
		}
		return mutability("%s cannot be changed through SCIM; only userName, emails and active can. Set this attribute's mapping to apply on create only.", path)
	}
	return nil
}

func countryOfNormal(v any) string {
	l, _ := v.([]any)
	if i := chosenAddress(l); i >= 0 {
		m, _ := l[i].(map[string]any)
		return strings.ToUpper(str(m["country"]))
	}
	return ""
}

// newUser builds the user a create document describes.
func newUser(t *store.Tenant, d doc) (*store.User, error) {
	f, err := readFields(t, d)
	if err != nil {
		return nil, err
	}
	extra, err := extraOf(d)
	if err != nil {
		return nil, fmt.Errorf("encode extra attributes: %w", err)
	}
	return &store.User{
		UserName: f.userName, Emails: f.emails, GivenName: f.givenName, FamilyName: f.familyName,
		Country: f.country, Department: f.department, ExternalID: f.externalID, Extra: extra,
		Active: f.active, Source: store.SourceSCIM,
	}, nil
}

// update changes u as change says: it decodes u's stored document once, hands change a copy to turn into
// the desired document, and applies that with applyDesired. It is the read-modify-write of PUT and PATCH,
// run inside the store's transaction.
func update(t *store.Tenant, u *store.User, change func(d doc) error) error {
	extra := parseExtra(u.Extra)
	stored := renderOnto(copyDoc(extra).(doc), u)
	d := copyDoc(stored).(doc)
	if err := change(d); err != nil {
		return err
	}
	return applyDesired(t, u, stored, extra, d)
}

// applyDesired changes u to the desired document d, enforcing that only userName, emails and active
// change. It is the rule shared by PUT and PATCH. stored is u's document (render(u)), extra its Extra
// decoded; neither is changed.
func applyDesired(t *store.Tenant, u *store.User, stored, extra, d doc) error {
	fillIn := u.Source == store.SourceSSO
	// Normalise the country before comparing, so "de" against a stored "DE" is no change. An invalid
	// country is reported as the change it is, if it is one.
	if !empty(lookup(d, "addresses")) {
		if _, err := readCountry(d); err != nil {
			if merr := checkMutability(stored, d, fillIn); merr != nil {
				return merr
			}
			return err
		}
	}
	if err := checkMutability(stored, d, fillIn); err != nil {
		return err
	}
	userName := strings.TrimSpace(str(lookup(d, "userName")))
	if userName == "" {
		return invalidValue("userName is required: the user's email address")
	}
	if userName != u.UserName {
		if err := checkEmail(t, "userName", userName); err != nil {
			return err
		}
		u.UserName = userName
	}
	emails, err := readEmails(t, d, u.Emails)
	if err != nil {
		return err
	}
	if emails == nil {
		emails = []store.Email{}
	}
	if len(emails) == 0 {
		emails = []store.Email{{Value: u.UserName, Type: "work", Primary: true}}
	}
	// Emails stored before the rule held may have two primaries: a request that leaves the primaries
	// as they are (a deactivation, another email added) still applies.
	if !slices.Equal(primaries(emails), primaries(u.Emails)) {
		if err := onePrimary(emails); err != nil {
			return err
		}
	}
	u.Emails = emails
	if v := lookup(d, "active"); v != nil {
		b, ok := boolOf(v)
		if !ok {
			return invalidValue("active must be true or false")
		}
		u.Active = b
	}
	if fillIn {
		name, _ := lookup(d, "name").(map[string]any)
		if u.GivenName == "" {
			u.GivenName = strings.TrimSpace(str(lookup(name, "givenName")))
		}
		if u.FamilyName == "" {
			u.FamilyName = strings.TrimSpace(str(lookup(name, "familyName")))
		}
		if u.ExternalID == "" {
			u.ExternalID = str(lookup(d, "externalId"))
		}
		if u.Country == "" {
			if c, err := readCountry(d); err == nil {
				u.Country = c
			}
		}
		if u.Department == "" {
			ext, _ := lookup(d, schemas.EnterpriseUserURN).(map[string]any)
			u.Department = strings.TrimSpace(str(lookup(ext, "department")))
		}
	}
	// Keep the stored bytes when nothing in them changed, so a no-op stays a no-op.
	if want := extraMap(d); !reflect.DeepEqual(normal(extra), normal(want)) {
		b, err := extraOf(want)
		if err != nil {
			return fmt.Errorf("encode extra attributes: %w", err)
		}
		u.Extra = b
	}
	return nil
}
