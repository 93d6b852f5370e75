package store_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// TestSSOSettingsObjectShowsEverySetting fails for a field added to SSOSettings that the event's object
// does not show: each field in turn is set, and the object must change.
func TestSSOSettingsObjectShowsEverySetting(t *testing.T) {
	zero, _ := json.Marshal(store.NewSSOSettingsObject(&store.SSOSettings{}, "acme"))
	typ := reflect.TypeOf(store.SSOSettings{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "TenantID" { // shown as the tenant's slug
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			var s store.SSOSettings
			v := reflect.ValueOf(&s).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Int64:
				v.SetInt(int64(time.Hour))
			case reflect.Slice:
				v.Set(reflect.ValueOf([]string{"x"}))
			case reflect.Struct: // time.Time
				v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
			default:
				t.Fatalf("a %s field: teach this test to set it", v.Kind())
			}
			got, _ := json.Marshal(store.NewSSOSettingsObject(&s, "acme"))
			if string(got) == string(zero) {
				t.Fatalf("setting %s does not change the event's object: show it in SSOSettingsObject", f.Name)
			}
		})
	}
}

// TestEventObjectsHoldNoSecret: a token's hash and a session's hash never reach an event.
func TestEventObjectsHoldNoSecret(t *testing.T) {
	hash := []byte("0123456789abcdef0123456789abcdef")
	tok, _ := json.Marshal(store.NewTokenObject(&store.Token{ID: "t1", Name: "okta", Hash: hash}, "acme"))
	ss, _ := json.Marshal(store.NewSessionObject(&store.Session{IDHash: hash, UserID: "u1"}, "acme"))
	for _, b := range [][]byte{tok, ss} {
		for _, enc := range []string{string(hash), base64.StdEncoding.EncodeToString(hash), base64.RawURLEncoding.EncodeToString(hash), hex.EncodeToString(hash)} {
			if strings.Contains(string(b), enc) {
				t.Fatalf("%s holds the hash", b)
			}
		}
		if strings.Contains(string(b), "hash") {
			t.Fatalf("%s has a hash field", b)
		}
	}
}
