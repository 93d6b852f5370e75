package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// TestRequestsAreNotTheCLI: a request's context names scimsso as the actor of its changes, so that no
// path that forgets to name its own (the console and the management API do) acts with the operator's
// rights, which store.ActorOf gives a context naming none.
func TestRequestsAreNotTheCLI(t *testing.T) {
	var got store.Actor
	h := withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = store.ActorOf(r.Context()) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got.Kind != store.ActorSystem {
		t.Fatalf("a request's actor: %+v, want %s", got, store.ActorSystem)
	}
}
