package platformapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// maxBody bounds a request body of the management API: the largest, IdP metadata or a department
// map, is far smaller.
const maxBody = 1 << 20

// readBody returns r's body, at most maxBody bytes, when its media type is one of types; a 415 for
// another type, a 413 for a larger body.
func readBody(r *http.Request, types ...string) ([]byte, string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, mt) {
		return nil, "", errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Send the body as %s.", strings.Join(types, " or "))
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, "", errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "The body is larger than %d bytes.", maxBody)
	}
	if err != nil {
		return nil, "", invalid("The body could not be read.")
	}
	return b, mt, nil
}

// decodeBody reads r's body, application/json, into v (a pointer to a struct), with decodeJSON's rules.
func decodeBody(r *http.Request, v any) error {
	b, _, err := readBody(r, "application/json")
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// decodeJSON reads b, one JSON object, into v: a field v does not have, a value of the wrong type,
// or anything after the object is refused with a message that names the field, rather than ignored,
// so that a misspelt field never reads as a default.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return invalid("The body is empty; send a JSON object.")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := d.Token(); err != io.EOF {
		return invalid("The body holds more than one JSON value; send one object.")
	}
	return nil
}

// jsonError words a decoding error for the client: which field, what was wrong. encoding/json's own
// text names Go types, which mean nothing to a client.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalid("The body is not valid JSON (at byte %d): %v.", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return invalid("The body must be a JSON object, not %s.", te.Value)
		}
		return invalid("%s must be %s, not %s.", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("The body is not valid JSON: it ends too soon.")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid("Unknown field %s.", clip(f))
	}
	return invalid("The body is not valid JSON: %s.", clip(strings.TrimPrefix(err.Error(), "json: ")))
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return fmt.Sprintf("a %s", k)
}
