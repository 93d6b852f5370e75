package samlsp_test

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/samlsp/samltest"
)

// FuzzACS posts arbitrary SAMLResponse documents to a tenant's ACS (base64 → guard → XML → policy):
// whatever arrives, the answer is a redirect after a real sign-in or a 4xx, never a 500 or a panic.
// The seeds are a valid signed response and an encrypted-looking one, so mutations stay near real shapes.
func FuzzACS(f *testing.F) {
	h := newHarness(f, nil)
	valid := h.Response("acme", "", person("fuzz@acme.com", "Fuzz", "Er"), nil)
	f.Add(valid)
	f.Add([]byte(strings.Replace(string(valid), "<Assertion", `<EncryptedAssertion><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/></EncryptedAssertion><Assertion`, 1)))
	both, _ := h.IdP.Make(samltest.Response{ACS: h.Acs("acme"), Audience: h.EntityID("acme"), NameID: "fuzz@acme.com", Sign: "both"})
	f.Add(both)
	f.Fuzz(func(t *testing.T, doc []byte) {
		form := url.Values{"SAMLResponse": {samltest.Encode(doc)}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/saml/acme/acs", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("ACS answered %d", rec.Code)
		}
	})
}

// FuzzACSPlaintext encrypts arbitrary plaintext to the tenant's SP certificate, as anyone who reads the
// metadata can, and posts it as an EncryptedAssertion: the guard on the plaintext and crewjam behind
// it answer with a 4xx (or a redirect for a real sign-in), never a 500 or a panic. The seeds are a
// signed assertion, and the empty and text-only plaintexts that made crewjam panic.
func FuzzACSPlaintext(f *testing.F) {
	h := newHarness(f, nil)
	block, _ := pem.Decode(h.Tenant.SPCertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	valid := string(h.Response("acme", "", person("fuzz@acme.com", "Fuzz", "Er"), nil))
	f.Add([]byte(valid[strings.Index(valid, "<Assertion"):strings.Index(valid, "</samlp:Response>")]))
	f.Add([]byte(""))
	f.Add([]byte("fuzz@acme.com"))
	f.Fuzz(func(t *testing.T, pt []byte) {
		ea, err := samltest.EncryptAssertion(pt, cert, samltest.AES128GCM)
		if err != nil {
			t.Fatal(err)
		}
		doc := valid[:strings.Index(valid, "<Assertion")] + ea + "</samlp:Response>"
		form := url.Values{"SAMLResponse": {samltest.Encode([]byte(doc))}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/saml/acme/acs", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("ACS answered %d", rec.Code)
		}
	})
}
