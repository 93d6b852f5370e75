// Package httpjson writes JSON response bodies, for every HTTP package (SCIM documents, the people's
// JSON answers, cmd's panic answer): encoded before the status is written, so a value that cannot be
// encoded never leaves a response half written under a success status.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write encodes v and writes it with status and contentType ("application/json", or a media type of
// its family such as "application/scim+json"). A json.RawMessage is written as it is: the caller
// vouches that it is JSON. When v cannot be encoded, Write writes nothing and returns the error, and
// the caller answers with its own 500.
func Write(w http.ResponseWriter, status int, contentType string, v any) error {
	b, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(b)
	return nil
}
