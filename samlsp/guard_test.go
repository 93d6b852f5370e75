package samlsp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
)

func TestGuard(t *testing.T) {
	const a = `<saml:Assertion ID="a"><saml:Subject><saml:SubjectConfirmation><saml:SubjectConfirmationData Recipient="https://sp/acs" InResponseTo="x"/></saml:SubjectConfirmation></saml:Subject></saml:Assertion>`
	resp := func(inner string) string {
		return `<?xml version="1.0"?><samlp:Response xmlns:samlp="p" ID="r1" InResponseTo="id-1" Destination="https://sp/acs">` + inner + `</samlp:Response>`
	}
	cases := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"one assertion", resp(`<saml:Issuer>i</saml:Issuer>` + a), true},
		{"one encrypted assertion", resp(`<saml:EncryptedAssertion><xenc:EncryptedData><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/></xenc:EncryptedData></saml:EncryptedAssertion>`), true},
		{"comments, CDATA and '>' in values", resp(`<!-- <saml:Assertion> --><x a="b>c"><![CDATA[<saml:Assertion>]]></x>` + a), true},
		{"no assertion", resp(`<saml:Issuer>i</saml:Issuer>`), false},
		{"two assertions", resp(a + a), false},
		{"assertion and encrypted assertion", resp(a + `<saml:EncryptedAssertion/>`), false},
		{"assertion inside Extensions (XSW7)", resp(`<samlp:Extensions>` + a + `</samlp:Extensions>` + a), false},
		{"assertion inside an assertion (XSW)", resp(`<saml:Assertion ID="b">` + a + `</saml:Assertion>`), false},
		{"assertion inside a Signature (XSW6)", resp(`<ds:Signature><ds:Object>` + a + `</ds:Object></ds:Signature>` + a), false},
		{"DOCTYPE", `<!DOCTYPE r [<!ENTITY x SYSTEM "http://evil">]>` + resp(a), false},
		{"root is not a Response", `<samlp:LogoutResponse>` + a + `</samlp:LogoutResponse>`, false},
		{"RSA-1_5", resp(`<saml:EncryptedAssertion><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/></saml:EncryptedAssertion>`), false},
		{"3DES", resp(`<saml:EncryptedAssertion><xenc:EncryptionMethod Algorithm='http://www.w3.org/2001/04/xmlenc#tripledes-cbc'/></saml:EncryptedAssertion>`), false},
		{"RSA-OAEP for the data", resp(`<saml:EncryptedAssertion><xenc:EncryptedData><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/></xenc:EncryptedData></saml:EncryptedAssertion>`), false},
		{"AES for the key", resp(`<saml:EncryptedAssertion><xenc:EncryptedData><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/></xenc:EncryptedKey></ds:KeyInfo></xenc:EncryptedData></saml:EncryptedAssertion>`), false},
		{"AES data, RSA-OAEP key", resp(`<saml:EncryptedAssertion><xenc:EncryptedData><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"/></xenc:EncryptedKey></ds:KeyInfo></xenc:EncryptedData></saml:EncryptedAssertion>`), true},
		{"too many elements", resp(strings.Repeat("<x/>", maxElements) + a), false},
		{"too deep", resp(strings.Repeat("<x>", maxDepth) + strings.Repeat("</x>", maxDepth) + a), false},
		{"unclosed", resp(a)[:60], false},
		{"second root", resp(a) + "<x/>", false},
		{"too large", resp(a + strings.Repeat(" ", maxResponseBytes)), false},
		// Issue 14 item 8: the guard read the first ID, crewjam's structs the last.
		{"Assertion with ID twice", resp(strings.Replace(a, `ID="a"`, `ID="a" ID="b"`, 1)), false},
		{"Response with ID twice", strings.Replace(resp(a), `ID="r1"`, `ID="r1" ID="r2"`, 1), false},
		{"ID twice, single and double quotes", resp(strings.Replace(a, `ID="a"`, `ID="a" ID='b'`, 1)), false},
		{"ID and a prefixed ID (encoding/xml ignores the namespace)", resp(strings.Replace(a, `ID="a"`, `ID="a" x:ID="b" xmlns:x="urn:x"`, 1)), false},
		{"ID and a namespace declaration xmlns:ID", resp(strings.Replace(a, `ID="a"`, `xmlns:ID="urn:x" ID="a"`, 1)), false},
		{"Recipient twice", resp(strings.Replace(a, `Recipient="https://sp/acs"`, `Recipient="https://sp/acs" Recipient="https://evil/acs"`, 1)), false},
		{"Algorithm twice", resp(`<saml:EncryptedAssertion><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc" Algorithm="http://www.w3.org/2001/04/xmlenc#tripledes-cbc"/></saml:EncryptedAssertion>`), false},
		{"a namespace declared twice", strings.Replace(resp(a), `xmlns:samlp="p"`, `xmlns:samlp="p" xmlns:samlp="q"`, 1), false},
		{"an attribute without a value", resp(strings.Replace(a, `ID="a"`, `ID="a" ID`, 1)), false},
		{"an unquoted value", resp(strings.Replace(a, `ID="a"`, `ID=a`, 1)), false},
		{"attributes with distinct local names", resp(strings.Replace(a, `ID="a"`, `ID="a" Version="2.0" xmlns:xs="urn:xs" xs:type="x"`, 1)), true},
		{"an element name with an empty prefix", resp(`<:Assertion/>` + a), false},
		{"an element name with two colons", resp(`<a:b:Assertion/>` + a), false},
		{"an attribute name with two colons", resp(strings.Replace(a, `ID="a"`, `ID="a" x:y:ID="b"`, 1)), false},
		{"a self-closing element with attributes", resp(`<x a="1" b="2"/><y/>` + a), true},
	}
	for _, tc := range cases {
		info, err := guard([]byte(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
		if tc.ok && (info.ResponseID != "r1" || info.InResponseTo != "id-1" || info.Destination != "https://sp/acs") {
			t.Errorf("%s: info %+v", tc.name, info)
		}
	}
	info, _ := guard([]byte(resp(a)))
	if info.Recipient != "https://sp/acs" {
		t.Errorf("Recipient %q", info.Recipient)
	}
}

// TestGuardPlaintext: the guard applied again to a decrypted EncryptedAssertion (issue 14 items 1, 7
// and 8): an Assertion root, the same limits, no repeated attribute, and nothing empty or text only.
func TestGuardPlaintext(t *testing.T) {
	const a = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a" Version="2.0"><saml:Issuer>i</saml:Issuer><saml:Subject><saml:NameID>n</saml:NameID></saml:Subject></saml:Assertion>`
	cases := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"an assertion", a, true},
		{"an assertion after an XML declaration", `<?xml version="1.0" encoding="UTF-8"?>` + a, true},
		{"empty", "", false},
		{"whitespace only", " \n\t", false},
		{"text only", "hello, world", false},
		{"a declaration only", `<?xml version="1.0"?>`, false},
		{"root is not an Assertion", `<saml:Response>` + a + `</saml:Response>`, false},
		{"an assertion inside the assertion", strings.Replace(a, "<saml:Issuer>", a+"<saml:Issuer>", 1), false},
		{"an encrypted assertion inside the assertion", strings.Replace(a, "<saml:Issuer>", "<saml:EncryptedAssertion/><saml:Issuer>", 1), false},
		{"DOCTYPE", `<!DOCTYPE a [<!ENTITY x "y">]>` + a, false},
		{"45,000 elements", strings.Replace(a, "<saml:Issuer>", strings.Repeat("<x/>", 45000)+"<saml:Issuer>", 1), false},
		{"more than maxElements", strings.Replace(a, "<saml:Issuer>", strings.Repeat("<x/>", maxElements)+"<saml:Issuer>", 1), false},
		{"too deep", strings.Replace(a, "<saml:Issuer>", strings.Repeat("<x>", maxDepth)+strings.Repeat("</x>", maxDepth)+"<saml:Issuer>", 1), false},
		{"too large", a + strings.Repeat(" ", maxResponseBytes), false},
		{"ID twice", strings.Replace(a, `ID="a"`, `ID="a" ID="b"`, 1), false},
		{"unclosed", a[:len(a)-5], false},
		{"a second root", a + "<x/>", false},
		{"RSA-1_5 inside", strings.Replace(a, "<saml:Issuer>", `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/><saml:Issuer>`, 1), false},
	}
	for _, tc := range cases {
		err := guardPlaintext([]byte(tc.doc))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errGuard)) {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestAttrIgnoresNamesInsideValues(t *testing.T) {
	tag := []byte(`samlp:Response Destination="x ID='evil'" ID="real"`)
	if got := attr(tag, "ID"); got != "real" {
		t.Fatalf("ID = %q", got)
	}
}

func FuzzGuard(f *testing.F) {
	f.Add([]byte(`<samlp:Response ID="r"><saml:Assertion ID="a"/></samlp:Response>`))
	f.Add([]byte(`<!-- x --><samlp:Response a='>' ><![CDATA[<]]><?pi?><saml:EncryptedAssertion/></samlp:Response>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := guard(b)
		if err == nil && info.ResponseID != "" && !strings.Contains(string(b), info.ResponseID) {
			t.Fatalf("ResponseID %q not in the input", info.ResponseID)
		}
	})
}

// FuzzGuardPlaintext checks the guard against the parser on decrypted plaintext: whatever the guard
// lets through and encoding/xml reads has one Assertion root, no element beyond the limits, and no
// element with two attributes of one local name.
func FuzzGuardPlaintext(f *testing.F) {
	f.Add([]byte(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:Issuer>i</saml:Issuer></saml:Assertion>`))
	f.Add([]byte(`<?xml version="1.0"?><Assertion ID='a' x:ID="b"><!-- c --><![CDATA[<Assertion>]]></Assertion>`))
	f.Add([]byte(""))
	f.Add([]byte("text"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if guardPlaintext(b) != nil {
			return
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		depth, elements, roots := 0, 0, 0
		for {
			tok, err := d.RawToken()
			if err != nil {
				return // the parser refuses what the guard let through: fine, it runs after
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				if depth == 0 {
					roots++
					if tok.Name.Local != "Assertion" || roots > 1 {
						t.Fatalf("root %d is %s", roots, tok.Name.Local)
					}
				}
				elements++
				depth++
				if elements > maxElements || depth > maxDepth {
					t.Fatalf("%d elements, depth %d passed the guard", elements, depth)
				}
				seen := map[string]bool{}
				for _, a := range tok.Attr {
					if seen[a.Name.Local] {
						t.Fatalf("%s has attribute %s twice", tok.Name.Local, a.Name.Local)
					}
					seen[a.Name.Local] = true
				}
			case xml.EndElement:
				depth--
			case xml.Directive:
				t.Fatalf("a directive passed the guard: %s", tok)
			}
		}
	})
}

// BenchmarkGuard is the pre-parse guard on a signed, Entra-shaped response; compare its ns/op with
// BenchmarkACS's bare-parse (target: at most 2%).
func BenchmarkGuard(b *testing.B) {
	idp, err := samltest.New("https://idp.example/x", "https://idp.example/sso", time.Time{}, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	doc, err := idp.Make(samltest.Response{ACS: "https://sp.example/saml/acme/acs", Audience: "https://sp.example/saml/acme/metadata",
		NameID: "bench@acme.com", Attrs: []samltest.Attr{{Name: "FirstName", Values: []string{"Bench"}}, {Name: "LastName", Values: []string{"Mark"}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := guard(doc); err != nil {
			b.Fatal(err)
		}
	}
}
