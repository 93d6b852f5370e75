package scimserver

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/scimsso/scimsso/store"
)

// jsonSeeds are documents as clients send them, and the corners of the JSON grammar.
var jsonSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@example.com","name":{"givenName":"A","familyName":"B"},"active":true,"emails":[{"value":"a@example.com","primary":true}],"addresses":[{"country":"US"}],"x":null,"n":-1.5e+10}`,
	`{"a":"<b>&\u2028\u2029","b":"\ud800","c":"\"\\\/\b\f\n\r\t","é":"Müller","d":"\u00e9","e":"line\u000a"}`,
	`{"a":1,"a":2,"A":3}`, `[]`, `{}`, `[[],{},[{}]]`, `null`, `true`, `false`, `0`, `-0.0E-0`, `"x"`, `" \t\n\r{"`,
	` { "a" : [ 1 , 2 ] , "b" : { } } `, `{"k\"ey":"v"}`, `["\\", "\\\\\"", "a\\"]`, "{\"\u00e9\":\"\xe2\x80\xa8\"}",
	`12345678901234567890123456789`, `{"x":[true,false,null,"",0]}`,
}

// checkDocumentJSON fails when decodeValid or appendValue disagrees with encoding/json on a valid text.
func checkDocumentJSON(t *testing.T, text []byte) {
	t.Helper()
	if !json.Valid(text) || !utf8.Valid(text) {
		return // readBody refuses it before anything is decoded
	}
	var want any
	if err := jsonUnmarshal(text, &want); err != nil {
		t.Fatalf("encoding/json refuses %q: %v", text, err)
	}
	got := decodeValid(text)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeValid(%q) = %#v\nencoding/json gives %#v", text, got, want)
	}
	wantOut, err := json.Marshal(want)
	if err != nil {
		return // not a document json.Marshal writes
	}
	if out := appendValue(nil, got); string(out) != string(wantOut) {
		t.Fatalf("appendValue of %q = %s\njson.Marshal gives %s", text, out, wantOut)
	}
}

func TestDocumentJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSeeds {
		checkDocumentJSON(t, []byte(s))
	}
	for _, es := range [][]store.Email{
		nil,
		{{Value: "a@example.com", Type: "work", Primary: true, Display: "A <work>"}, {Value: "b@example.com"}},
		{{Value: "ü@example.com", Type: "home", Display: "Ü"}},
	} {
		want, _ := json.Marshal(renderEmails(es))
		if got := appendEmails(nil, es); string(got) != string(want) {
			t.Errorf("appendEmails = %s\njson.Marshal gives %s", got, want)
		}
	}
}

func FuzzDocumentJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDocumentJSON)
}
