package samlsp_test

import (
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"io"
	"net/http"
	"testing"

	"github.com/crewjam/saml"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// TestEncryptedAssertions: a signed assertion encrypted to the tenant's SP certificate signs in with
// every algorithm the metadata offers, AES-CBC included (Entra and ADFS encrypt with AES-256-CBC
// whatever the metadata says), whether the IdP signs the assertion inside or the Response around it.
func TestEncryptedAssertions(t *testing.T) {
	h := newHarness(t, nil)
	block, _ := pem.Decode(h.tenant.SPCertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{samltest.AES256GCM, samltest.AES128GCM, samltest.AES256CBC, samltest.AES128CBC} {
		for _, sign := range []string{"assertion", "both"} {
			t.Run(alg+"/signed "+sign, func(t *testing.T) {
				h.configure(h.tenant, h.idp, func(s *store.SSOSettings) { s.SignedElement = store.SignedElement(sign) })
				b := h.browser()
				id := h.login(b, "acme", "/me")
				doc := h.response("acme", id, person("eve@acme.com", "Eve", "E"), func(r *samltest.Response) {
					r.EncryptTo, r.Encryption, r.Sign = cert, alg, sign
				})
				if res := h.post(b, "acme", doc, ""); res.StatusCode != http.StatusSeeOther {
					t.Fatalf("status %d (%s)", res.StatusCode, h.refusal())
				}
				if status, m := h.me(b); status != http.StatusOK || m.User.UserName != "eve@acme.com" {
					t.Fatalf("/me %d %+v", status, m)
				}
			})
		}
	}
}

// TestMetadataOffersGCMFirst (issue 14 item 1): the SP metadata asks for AES-GCM before AES-CBC, so an
// IdP that reads it encrypts with an authenticated cipher; CBC stays listed for IdPs that need it.
func TestMetadataOffersGCMFirst(t *testing.T) {
	h := newHarness(t, nil)
	res, err := h.browser().Get(h.entityID("acme"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(body, &ed); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kd := range ed.SPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "encryption" {
			for _, m := range kd.EncryptionMethods {
				got = append(got, m.Algorithm)
			}
		}
	}
	want := []string{samltest.AES256GCM, samltest.AES128GCM, samltest.AES256CBC, samltest.AES128CBC, "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"}
	if len(got) != len(want) {
		t.Fatalf("EncryptionMethods %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("EncryptionMethods %v, want %v", got, want)
		}
	}
}
