package samlsp_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crewjam/saml"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// BenchmarkACS measures the whole ACS handler (form decode, guard, parse, policy, replay cache, user
// lookup, session: all writes of one sign-in in one SQLite transaction) against crewjam's bare
// ParseXMLResponse on responses of the same shape, in the same run:
//
//	go test ./samlsp -run '^$' -bench ACS -benchmem -cpu 1,2 -count 5
//
// The ratio acs-handler/bare-parse of ns/op is the cost of everything scimsso adds.
func BenchmarkACS(b *testing.B) {
	for _, sign := range []string{"assertion", "both"} {
		h := newHarness(b, func(s *store.SSOSettings) { s.SignedElement = store.SignedElement(sign) })
		// The steady state: the user exists (pushed by SCIM, or created by an earlier sign-in).
		h.ScimUser("bench@acme.com", "", true)
		make1 := func() []byte {
			return h.Response("acme", "", person("bench@acme.com", "Bench", "Mark"), func(r *samltest.Response) { r.Sign = sign })
		}
		b.Run("signed="+sign+"/bare-parse", func(b *testing.B) {
			sp := bareSP(b, h)
			docs := [][]byte{make1(), make1(), make1(), make1()}
			b.ReportAllocs()
			b.ResetTimer()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := sp.ParseXMLResponse(docs[n.Add(1)%4], []string{""}, sp.AcsURL); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run("signed="+sign+"/acs-handler", func(b *testing.B) {
			// Every sign-in needs its own assertion id; the responses are signed before the clock starts.
			forms := make([]string, b.N)
			for i := range forms {
				forms[i] = url.Values{"SAMLResponse": {samltest.Encode(make1())}}.Encode()
			}
			b.ReportAllocs()
			b.ResetTimer()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/saml/acme/acs", strings.NewReader(forms[n.Add(1)-1]))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					rec := httptest.NewRecorder()
					h.Handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusSeeOther {
						b.Fatalf("ACS answered %d", rec.Code)
					}
				}
			})
		})
	}
}

// bareSP is the tenant's ServiceProvider as crewjam alone would check it: same IdP and URLs.
func bareSP(b *testing.B, h *harness) *saml.ServiceProvider {
	md, _ := url.Parse(h.EntityID("acme"))
	acs, _ := url.Parse(h.Acs("acme"))
	kd := saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
		X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(h.IdP.Cert.Raw)}}}}}
	idp := saml.IDPSSODescriptor{}
	idp.KeyDescriptors = []saml.KeyDescriptor{kd}
	return &saml.ServiceProvider{EntityID: md.String(), MetadataURL: *md, AcsURL: *acs,
		IDPMetadata: &saml.EntityDescriptor{EntityID: h.IdP.EntityID, IDPSSODescriptors: []saml.IDPSSODescriptor{idp}}}
}
