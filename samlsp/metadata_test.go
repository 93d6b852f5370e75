package samlsp_test

import (
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp"
)

// idpMetadata renders IdP metadata the way Entra and Okta publish it, with the given signing certificates.
func idpMetadata(t testing.TB, binding string, certs ...[]byte) string {
	t.Helper()
	var keys strings.Builder
	for _, c := range certs {
		block, _ := pem.Decode(c)
		fmt.Fprintf(&keys, `<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>%s</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`,
			strings.TrimSpace(string(pem.EncodeToMemory(block))[len("-----BEGIN CERTIFICATE-----"):len(pem.EncodeToMemory(block))-len("-----END CERTIFICATE-----\n")]))
	}
	return `<?xml version="1.0"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sts.example/tenant/">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + keys.String() + `
    <SingleSignOnService Binding="` + binding + `" Location="https://login.example/saml2"/>
  </IDPSSODescriptor>
</EntityDescriptor>`
}

const redirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

func newCert(t testing.TB) []byte {
	t.Helper()
	_, cert, err := samlsp.GenerateKeyPair("idp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestParseIdPMetadata(t *testing.T) {
	c1, c2 := newCert(t), newCert(t)
	idp, err := samlsp.ParseIdPMetadata([]byte(idpMetadata(t, redirect, c1, c2)))
	if err != nil {
		t.Fatal(err)
	}
	if idp.EntityID != "https://sts.example/tenant/" || idp.SSOURL != "https://login.example/saml2" ||
		len(idp.CertificatesPEM) != 2 || idp.CertificatesPEM[0] != string(c1) || idp.CertificatesPEM[1] != string(c2) {
		t.Fatalf("parsed %+v", idp)
	}
	wrapped := `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` +
		strings.TrimPrefix(idpMetadata(t, redirect, c1), `<?xml version="1.0"?>`) + `</EntitiesDescriptor>`
	if idp, err := samlsp.ParseIdPMetadata([]byte(wrapped)); err != nil || idp.EntityID != "https://sts.example/tenant/" {
		t.Fatalf("EntitiesDescriptor: %+v, %v", idp, err)
	}
	for name, doc := range map[string]string{
		"DOCTYPE":           `<!DOCTYPE x [<!ENTITY a "b">]>` + idpMetadata(t, redirect, c1),
		"POST binding only": idpMetadata(t, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", c1),
		"no certificate":    idpMetadata(t, redirect),
		"bad certificate":   strings.Replace(idpMetadata(t, redirect, c1), "<X509Certificate>", "<X509Certificate>AAAA", 1),
		"not XML":           "hello",
		"two IdPs":          `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + strings.Repeat(strings.TrimPrefix(idpMetadata(t, redirect, c1), `<?xml version="1.0"?>`), 2) + `</EntitiesDescriptor>`,
		"too large":         strings.Repeat(" ", 1<<20+1),
	} {
		if _, err := samlsp.ParseIdPMetadata([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseIdPMetadata(f *testing.F) {
	f.Add([]byte(idpMetadata(f, redirect, newCert(f))))
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"></EntitiesDescriptor>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		idp, err := samlsp.ParseIdPMetadata(b)
		if err == nil && (idp.EntityID == "" || idp.SSOURL == "" || len(idp.CertificatesPEM) == 0) {
			t.Fatalf("accepted incomplete metadata: %+v", idp)
		}
	})
}
