package httpjson

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		v        any
		ct, body string
		status   int
		err      bool
	}{
		{"value", map[string]string{"status": "signed out"}, "application/json", `{"status":"signed out"}`, 200, false},
		{"raw", json.RawMessage(`{"a":1}`), "application/scim+json", `{"a":1}`, 201, false},
		{"HTML escaped", map[string]string{"x": "<script>"}, "application/json", `{"x":"\u003cscript\u003e"}`, 200, false},
		{"cannot encode", math.Inf(1), "application/json", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Code = 0
			err := Write(rec, tc.status, tc.ct, tc.v)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				if rec.Code != 0 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
					t.Errorf("wrote %d %q %q on an encoding error", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
				}
				return
			}
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != tc.ct || rec.Body.String() != tc.body {
				t.Errorf("got %d %q %q, want %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.status, tc.ct, tc.body)
			}
		})
	}
}
