package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// ignoredByEqual are the User fields Equal leaves out by contract: the store sets them.
var ignoredByEqual = map[string]bool{"CreatedAt": true, "UpdatedAt": true, "Version": true, "LastSignInAt": true}

// fullUser has every field set, so each can be changed in place.
func fullUser() *store.User {
	return &store.User{
		ID: "u1", TenantID: "t1", UserName: "alice@acme.com",
		Emails:    []store.Email{{Value: "alice@acme.com", Type: "work", Primary: true, Display: "Alice"}},
		GivenName: "Alice", FamilyName: "Anders", Country: "DE", Department: "R&D", Team: "Core",
		ExternalID: "ext-1", SecondaryEmail: "a@home.example", Extra: []byte(`{"x":1}`), Active: true,
		Source: store.SourceSCIM, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(2, 0), Version: 3,
	}
}

// change changes the value v holds in place, whatever its type; false for a type it does not know.
func change(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 1)
	case reflect.Uint8:
		v.SetUint(v.Uint() + 1)
	case reflect.Slice:
		if v.Len() == 0 {
			return false
		}
		return change(v.Index(0))
	case reflect.Struct:
		if t, ok := v.Addr().Interface().(*time.Time); ok {
			*t = t.Add(time.Hour)
			return true
		}
		for i := range v.NumField() {
			if !change(v.Field(i)) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// TestUserEqualComparesEveryField: a field added to User (or Email) and not compared by Equal, or not
// copied deeply by Clone, fails here, since UpdateUser decides by Equal whether anything changed.
func TestUserEqualComparesEveryField(t *testing.T) {
	if u := fullUser(); !u.Equal(u.Clone()) {
		t.Fatal("a user is not Equal to its Clone")
	}
	typ := reflect.TypeOf(store.User{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			orig := fullUser()
			c := orig.Clone()
			if !change(reflect.ValueOf(c).Elem().Field(i)) {
				t.Fatalf("User.%s is of a type this test cannot change (%s): teach change, and Equal and Clone, about it", f.Name, f.Type)
			}
			if !reflect.DeepEqual(orig, fullUser()) {
				t.Fatalf("changing the Clone's %s changed the original: Clone does not copy it deeply", f.Name)
			}
			if got, want := orig.Equal(c), ignoredByEqual[f.Name]; got != want {
				t.Fatalf("after a change of %s, Equal = %v, want %v: compare it in Equal (or list it in ignoredByEqual if the store sets it)", f.Name, got, want)
			}
			if c.Equal(orig) != orig.Equal(c) {
				t.Fatalf("Equal is not symmetric for %s", f.Name)
			}
		})
	}
	// Each email field too: Equal compares emails as whole values.
	et := reflect.TypeOf(store.Email{})
	for i := range et.NumField() {
		orig, c := fullUser(), fullUser()
		if !change(reflect.ValueOf(&c.Emails[0]).Elem().Field(i)) || orig.Equal(c) {
			t.Errorf("a change of Email.%s is not seen by Equal", et.Field(i).Name)
		}
	}
}
