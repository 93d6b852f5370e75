package scimserver

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// TestSplicedDocumentEqualsRendered: the fast encoding of a SCIM-created user must say exactly what the
// general rendering says.
func TestSplicedDocumentEqualsRendered(t *testing.T) {
	s := &Server{baseURL: "https://scim.example"}
	tn := &store.Tenant{Domains: []string{"example.com"}}
	bodies := []string{
		`{"userName":"a@example.com","name":{"givenName":"A","familyName":"B"},"addresses":[{"type":"work","country":"de","locality":"Berlin"}],"displayName":"A \"B\"","externalId":"x1"}`,
		`{"userName":"b@example.com","name":{"givenName":"Ä","familyName":"<B>"},"addresses":[{"country":"US"}],"emails":[{"value":"b@example.com","type":"work","primary":true},{"value":"b2@example.com"}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7"},"active":false,"phoneNumbers":[{"type":"work","value":"+1 555"}]}`,
	}
	for _, body := range bodies {
		var d doc
		if err := jsonUnmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
		u, err := newUser(tn, d)
		if err != nil {
			t.Fatal(err)
		}
		u.ID, u.Version = "id-1", 3
		u.CreatedAt, u.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
		var fast, slow any
		if err := json.Unmarshal(s.encodeDocument("acme", u, projection{}), &fast); err != nil {
			t.Fatalf("spliced JSON is invalid: %v\n%s", err, s.encodeDocument("acme", u, projection{}))
		}
		b, _ := json.Marshal(s.document("acme", u))
		json.Unmarshal(b, &slow)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("spliced and rendered documents differ:\n%s\n%s", s.encodeDocument("acme", u, projection{}), b)
		}
	}
}
