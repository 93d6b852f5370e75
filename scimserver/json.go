package scimserver

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/scimsso/scimsso/store"
)

// A create decodes the body into a document and encodes the user's kept attributes and its answer from
// documents: with encoding/json's reflection that was a seventh of the server's CPU per create under
// load. decodeValid and appendValue do the same for the values a document holds, by hand, and give
// exactly what encoding/json gives (TestDocumentJSONMatchesEncodingJSON, FuzzDocumentJSON).

// decodeValid decodes a JSON text that json.Valid accepted into the values jsonUnmarshal gives:
// map[string]any, []any, string, json.Number, bool and nil; a repeated key keeps its last value. Its
// input must be valid JSON in valid UTF-8: readBody checks every body before it is decoded.
func decodeValid(b []byte) any {
	d := validDecoder{b: b}
	return d.value()
}

type validDecoder struct {
	b []byte
	i int
}

func (d *validDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *validDecoder) value() any {
	d.space()
	switch d.b[d.i] {
	case '{':
		d.i++
		m := map[string]any{}
		d.space()
		if d.b[d.i] == '}' {
			d.i++
			return m
		}
		for {
			d.space()
			k := d.str()
			d.space()
			d.i++ // ':'
			m[k] = d.value()
			d.space()
			c := d.b[d.i]
			d.i++
			if c == '}' {
				return m
			}
		}
	case '[':
		d.i++
		l := []any{}
		d.space()
		if d.b[d.i] == ']' {
			d.i++
			return l
		}
		for {
			l = append(l, d.value())
			d.space()
			c := d.b[d.i]
			d.i++
			if c == ']' {
				return l
			}
		}
	case '"':
		return d.str()
	case 't':
		d.i += 4
		return true
	case 'f':
		d.i += 5
		return false
	case 'n':
		d.i += 4
		return nil
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	return json.Number(d.b[start:d.i])
}

// str reads a string at d.i. One with escapes is left to encoding/json, so that every escape (and
// every lone surrogate) means what it means there.
func (d *validDecoder) str() string {
	start := d.i + 1
	j := start
	for ; d.b[j] != '"'; j++ {
		if d.b[j] == '\\' {
			for ; d.b[j] != '"'; j++ {
				if d.b[j] == '\\' {
					j++
				}
			}
			var s string
			json.Unmarshal(d.b[d.i:j+1], &s)
			d.i = j + 1
			return s
		}
	}
	d.i = j + 1
	return string(d.b[start:j])
}

// appendValue appends the JSON encoding of v, a document value, as json.Marshal writes it: object keys
// sorted, HTML characters escaped.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case json.Number:
		if x != "" {
			return append(b, x...)
		}
	case map[string]any:
		if x == nil {
			return append(b, "null"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x[k])
		}
		return append(b, '}')
	case []any:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	}
	out, _ := json.Marshal(v)
	return append(b, out...)
}

// appendString appends s as a JSON string. Printable ASCII other than " \ < > & is written as it is;
// anything else is left to json.Marshal, which escapes HTML characters, U+2028 and U+2029.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s)
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendEmails appends es as renderEmails renders them, encoded.
func appendEmails(b []byte, es []store.Email) []byte {
	b = append(b, '[')
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.Display != "" {
			b = append(b, `"display":`...)
			b = appendString(b, e.Display)
			b = append(b, ',')
		}
		if e.Primary {
			b = append(b, `"primary":true,`...)
		}
		if e.Type != "" {
			b = append(b, `"type":`...)
			b = appendString(b, e.Type)
			b = append(b, ',')
		}
		b = append(b, `"value":`...)
		b = appendString(b, e.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}
