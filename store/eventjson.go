package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// eventJSON is the one JSON form of an event: the events API lists it, and a webhook's body is it.
type eventJSON struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	Tenant     string          `json:"tenant"` // the slug
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// EventJSON is e as the platform sees it, the same bytes in the events API (GET /api/v1/events lists
// them in its data array) and in a webhook delivery (the signed body):
//
//	{"id":"…","seq":42,"type":"user.updated","tenant":"acme","occurred_at":"2026-11-23T09:00:00.123456Z","data":{…}}
//
// occurred_at is RFC 3339 in UTC; data is e.Data, compacted. It fails only when e.Data is not one
// JSON value, which the store never writes.
//
// Every event delivered and listed goes through here, so the common case is written by hand: strings
// that json.Marshal would write as they are, and data that is already as json.Marshal would write it
// (what the store writes: compact, no HTML characters, ASCII). Anything else takes json.Marshal, which
// re-scans data (measured: about half of this function's time for a user's event); both give the
// same bytes (TestEventJSON, FuzzEventJSON).
func EventJSON(e Event) ([]byte, error) {
	if plain(e.ID) && plain(e.Type) && plain(e.Tenant) && (len(e.Data) == 0 || plainJSON(e.Data)) {
		b := make([]byte, 0, 120+len(e.ID)+len(e.Type)+len(e.Tenant)+len(e.Data))
		b = append(b, `{"id":"`...)
		b = append(b, e.ID...)
		b = append(b, `","seq":`...)
		b = strconv.AppendInt(b, e.Seq, 10)
		b = append(b, `,"type":"`...)
		b = append(b, e.Type...)
		b = append(b, `","tenant":"`...)
		b = append(b, e.Tenant...)
		b = append(b, `","occurred_at":`...)
		// time.Time's MarshalJSON: RFC 3339 with nanoseconds, trailing zeros trimmed; it fails only for
		// years outside 0–9999, which take json.Marshal below for its error.
		if t, err := e.OccurredAt.UTC().MarshalJSON(); err == nil {
			b = append(b, t...)
			b = append(b, `,"data":`...)
			if len(e.Data) == 0 {
				b = append(b, "null"...)
			} else {
				b = append(b, e.Data...)
			}
			return append(b, '}'), nil
		}
	}
	data := json.RawMessage(e.Data)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b, err := json.Marshal(eventJSON{ID: e.ID, Seq: e.Seq, Type: e.Type, Tenant: e.Tenant, OccurredAt: e.OccurredAt.UTC(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("store: event %s (seq %d) as JSON: %w", e.ID, e.Seq, err)
	}
	return b, nil
}

// plain reports whether json.Marshal writes s as it is between its quotes: printable ASCII other than
// the quote, the backslash and the characters it escapes for HTML (<, >, &).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainJSON reports whether data is one JSON value that json.Marshal would copy unchanged as a
// json.RawMessage: valid (it checks), with no whitespace outside strings (it compacts), and nothing it
// escapes in strings (<, >, &; of non-ASCII, U+2028 and U+2029 and invalid UTF-8: this takes ASCII
// only). One pass, no allocation: data failing any of it goes to json.Marshal, which compacts,
// escapes or reports it.
func plainJSON(data []byte) bool {
	i, ok := plainValue(data, 0, 0)
	return ok && i == len(data)
}

// maxPlainDepth bounds plainValue's recursion; deeper data takes json.Marshal.
const maxPlainDepth = 64

// plainValue reads the value at data[i:] and returns the index after it.
func plainValue(data []byte, i, depth int) (int, bool) {
	if i >= len(data) {
		return i, false
	}
	switch c := data[i]; {
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if depth >= maxPlainDepth {
			return i, false
		}
		i++
		if i < len(data) && data[i] == end {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(data) || data[i] != '"' {
					return i, false
				}
				if i, ok = plainString(data, i); !ok || i >= len(data) || data[i] != ':' {
					return i, false
				}
				i++
			}
			if i, ok = plainValue(data, i, depth+1); !ok || i >= len(data) {
				return i, false
			}
			switch data[i] {
			case ',':
				i++
			case end:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return plainString(data, i)
	case c == 't':
		return plainWord(data, i, "true")
	case c == 'f':
		return plainWord(data, i, "false")
	case c == 'n':
		return plainWord(data, i, "null")
	default:
		return plainNumber(data, i)
	}
}

// plainString reads the string at data[i:] (data[i] is its quote).
func plainString(data []byte, i int) (int, bool) {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&':
			return i, false
		case c == '\\':
			if i++; i >= len(data) {
				return i, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return i, false
				}
				for _, h := range data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func plainWord(data []byte, i int, w string) (int, bool) {
	if len(data)-i < len(w) || string(data[i:i+len(w)]) != w {
		return i, false
	}
	return i + len(w), true
}

// plainNumber reads the number at data[i:]: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func plainNumber(data []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(data) && '0' <= data[j] && data[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else if i < len(data) && '1' <= data[i] && data[i] <= '9' {
		i, _ = digits(i)
	} else {
		return i, false
	}
	var ok bool
	if i < len(data) && data[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}
