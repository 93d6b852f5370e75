package scimserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// The benchmarks measure whole SCIM requests: HTTP on loopback through the harness, auth, the handler,
// a real SQLite file (WAL) and the audit row of every write. Compare them with
// shared/notes/performance.md §4 (S1, S4–S7).

// benchCorpusBody returns the request body of the first step of a vendor corpus file.
func benchCorpusBody(b *testing.B, file string) string {
	b.Helper()
	cf := readCorpus(b, filepath.Join("..", "testdata", "scim", file))
	return string(cf.Steps[0].Request)
}

// BenchmarkCreate is one full create (S1): Okta's documented body with a unique userName and externalId.
func BenchmarkCreate(b *testing.B) {
	h := newHarness(b)
	body := benchCorpusBody(b, "okta/03-create-user.json")
	if !strings.Contains(body, "test.user@example.com") || !strings.Contains(body, "00ujl29u0le5T6Aj10h7") {
		b.Fatal("the Okta create body no longer has the values this benchmark replaces")
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		r := strings.NewReplacer("test.user@example.com", fmt.Sprintf("bench.%d@example.com", i), "00ujl29u0le5T6Aj10h7", fmt.Sprintf("ext-%d", i))
		if res := h.do(http.MethodPost, "/Users", r.Replace(body)); res.status != http.StatusCreated {
			b.Fatalf("create: %d %s", res.status, res.body)
		}
	}
}

// seededUser is a user written straight to the store by seedUsers.
type seededUser struct{ userName, externalID string }

// seedUsers writes n users of acme straight through the store, the shape a SCIM create stores, and
// returns them. Nothing is cached between runs.
func seedUsers(b *testing.B, h *harness, n int) []seededUser {
	b.Helper()
	extra := []byte(`{"addresses":[{"country":"US","type":"work"}],"displayName":"Test User","locale":"en-US","name":{"familyName":"User","givenName":"Test"}}`)
	out := make([]seededUser, n)
	ctx := context.Background()
	for i := range out {
		out[i] = seededUser{fmt.Sprintf("user.%07d@example.com", i), fmt.Sprintf("00u%016x", uint64(i)*0x9e3779b97f4a7c15)}
		u := &store.User{
			UserName: out[i].userName, Emails: []store.Email{{Value: out[i].userName, Type: "work", Primary: true}},
			GivenName: "Test", FamilyName: "User", Country: "US", ExternalID: out[i].externalID,
			Extra: extra, Active: true, Source: store.SourceSCIM,
		}
		if err := h.st.CreateUser(ctx, h.acme.ID, u, store.Audit{Operation: "create", Outcome: "201"}); err != nil {
			b.Fatalf("seed user %d: %v", i, err)
		}
	}
	return out
}

// benchFilterSizes are the store sizes of the filter benchmarks (S5: flat lookups from 1k to 100k).
var benchFilterSizes = []int{1000, 100000}

// benchFilter times GET /Users?filter=<attr eq "random seeded value"> at each store size.
func benchFilter(b *testing.B, attr string, value func(seededUser) string) {
	for _, n := range benchFilterSizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if testing.Short() && n > 1000 {
				b.Skipf("seeding %d users is skipped in -short", n)
			}
			h := newHarness(b)
			users := seedUsers(b, h, n)
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			paths := make([]string, 1024)
			for i := range paths {
				paths[i] = "/Users?filter=" + url.QueryEscape(attr+` eq "`+value(users[rng.IntN(n)])+`"`)
			}
			res := h.do(http.MethodGet, paths[0], nil)
			var list struct {
				TotalResults int `json:"totalResults"`
			}
			if res.status != http.StatusOK || json.Unmarshal(res.body, &list) != nil || list.TotalResults != 1 {
				b.Fatalf("%s: %d %s", paths[0], res.status, res.body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if res := h.do(http.MethodGet, paths[i%len(paths)], nil); res.status != http.StatusOK {
					b.Fatalf("%s: %d %s", paths[i%len(paths)], res.status, res.body)
				}
				i++
			}
		})
	}
}

// BenchmarkFilterUserName is Okta's and Entra's existence check before every create (S4, S5).
func BenchmarkFilterUserName(b *testing.B) {
	benchFilter(b, "userName", func(u seededUser) string { return u.userName })
}

// BenchmarkFilterExternalID is Entra's lookup by its immutable id (S4, S5).
func BenchmarkFilterExternalID(b *testing.B) {
	benchFilter(b, "externalId", func(u seededUser) string { return u.externalID })
}

// BenchmarkPatchActive is Okta's de-/re-provisioning PATCH (S6), alternating so every request changes
// the user (deactivating also ends the user's sessions).
func BenchmarkPatchActive(b *testing.B) {
	h := newHarness(b)
	id := h.create("patch.active@example.com", "ext-patch-active")
	bodies := [2]string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`,
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if res := h.do(http.MethodPatch, "/Users/"+id, bodies[i%2]); res.status != http.StatusOK {
			b.Fatalf("patch: %d %s", res.status, res.body)
		}
		i++
	}
}

// BenchmarkPatchEmail is Entra's email change (S6): Replace emails[type eq "work"].value with a new
// address every time.
func BenchmarkPatchEmail(b *testing.B) {
	h := newHarness(b)
	id := h.create("patch.email@example.com", "ext-patch-email")
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"` +
			fmt.Sprintf("new.%d@example.com", i) + `"}]}`
		if res := h.do(http.MethodPatch, "/Users/"+id, body); res.status != http.StatusOK {
			b.Fatalf("patch: %d %s", res.status, res.body)
		}
	}
}

// BenchmarkTokenCheck is the bearer-token check plus the smallest handler (S7): GET
// /ServiceProviderConfig.
func BenchmarkTokenCheck(b *testing.B) {
	h := newHarness(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := h.do(http.MethodGet, "/ServiceProviderConfig", nil); res.status != http.StatusOK {
			b.Fatalf("ServiceProviderConfig: %d %s", res.status, res.body)
		}
	}
}
