// Package secret reads the secrets scimsso hands to browsers (session, CSRF and binding cookies) back
// from a request. They are made and hashed by store.NewSecret and store.HashSecret, the one generator.
package secret

import (
	"net/http"

	"github.com/scimsso/scimsso/store"
)

// FromCookie returns the value of the request's named cookie when it has the shape store.NewSecret("")
// gives, else "": anything else was never issued here and needs no lookup.
func FromCookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || !store.IsSecret("", c.Value) {
		return ""
	}
	return c.Value
}
