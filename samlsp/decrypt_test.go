package samlsp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"

	"github.com/scimsso/scimsso/samlsp/samltest"
)

// TestDecryptersRefuseWithoutPanicking drives the xmlenc registry directly with the inputs that make
// crewjam v0.5.1's own decrypters panic, and the algorithms scimsso refuses: each must be an error.
func TestDecryptersRefuseWithoutPanicking(t *testing.T) {
	if err := useCrewjam(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		alg    string
		keyLen int
		ct     int
	}{
		{"http://www.w3.org/2001/04/xmlenc#aes128-cbc", 16, 16 + 20}, // not whole blocks
		{"http://www.w3.org/2001/04/xmlenc#aes256-cbc", 32, 8},       // shorter than the IV
		{"http://www.w3.org/2009/xmlenc11#aes128-gcm", 16, 8},        // shorter than the nonce
		{"http://www.w3.org/2009/xmlenc11#aes256-gcm", 32, 12},       // nonce only
		{"http://www.w3.org/2001/04/xmlenc#tripledes-cbc", 8, 24},    // refused
		{"http://www.w3.org/2001/04/xmlenc#aes128-cbc", 8, 32},       // wrong key size
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/key%d/ct%d", tc.alg[strings.LastIndex(tc.alg, "#")+1:], tc.keyLen, tc.ct), func(t *testing.T) {
			d := etree.NewDocument()
			if err := d.ReadFromString(fmt.Sprintf(`<EncryptedData><EncryptionMethod Algorithm="%s"/><CipherData><CipherValue>%s</CipherValue></CipherData></EncryptedData>`,
				tc.alg, base64.StdEncoding.EncodeToString(make([]byte, tc.ct)))); err != nil {
				t.Fatal(err)
			}
			if _, err := xmlenc.Decrypt(make([]byte, tc.keyLen), d.Root()); err == nil {
				t.Fatal("decrypted")
			}
		})
	}
	d := etree.NewDocument()
	d.ReadFromString(`<EncryptedKey><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/><CipherData><CipherValue>AAAA</CipherValue></CipherData></EncryptedKey>`)
	if _, err := xmlenc.Decrypt(nil, d.Root()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("RSA-1_5: %v", err)
	}
}

// TestDecryptedPlaintextIsGuarded (issue 14 items 1, 7 and 8): the decrypters run the guard on the
// plaintext before crewjam parses it, so a plaintext that is empty or text only (which made crewjam
// panic), too large a tree, or an element with a repeated attribute is refused by the guard, and a
// real assertion passes.
func TestDecryptedPlaintextIsGuarded(t *testing.T) {
	if err := useCrewjam(); err != nil {
		t.Fatal(err)
	}
	const a = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0"><saml:Issuer>i</saml:Issuer></saml:Assertion>`
	cases := []struct {
		name      string
		plaintext string
		ok        bool
	}{
		{"an assertion", a, true},
		{"empty", "", false},
		{"text only", "admin@acme.com", false},
		{"45,000 elements", strings.Replace(a, "<saml:Issuer>", strings.Repeat("<x/>", 45000)+"<saml:Issuer>", 1), false},
		{"nested 100 deep", strings.Replace(a, "<saml:Issuer>", strings.Repeat("<x>", 100)+strings.Repeat("</x>", 100)+"<saml:Issuer>", 1), false},
		{"ID twice", strings.Replace(a, `ID="_a"`, `ID="_a" ID="_b"`, 1), false},
		{"a DOCTYPE", `<!DOCTYPE a>` + a, false},
	}
	for _, alg := range []string{samltest.AES128GCM, samltest.AES256GCM, samltest.AES128CBC, samltest.AES256CBC} {
		for _, tc := range cases {
			t.Run(alg[strings.LastIndex(alg, "#")+1:]+"/"+tc.name, func(t *testing.T) {
				key := make([]byte, 16)
				if strings.Contains(alg, "256") {
					key = make([]byte, 32)
				}
				ct, err := samltest.Seal(key, alg, []byte(tc.plaintext))
				if err != nil {
					t.Fatal(err)
				}
				d := etree.NewDocument()
				if err := d.ReadFromString(fmt.Sprintf(`<EncryptedData><EncryptionMethod Algorithm="%s"/><CipherData><CipherValue>%s</CipherValue></CipherData></EncryptedData>`,
					alg, base64.StdEncoding.EncodeToString(ct))); err != nil {
					t.Fatal(err)
				}
				pt, err := xmlenc.Decrypt(key, d.Root())
				switch {
				case tc.ok && (err != nil || string(pt) != tc.plaintext):
					t.Fatalf("decrypted %q, %v", pt, err)
				case !tc.ok && !errors.Is(err, errGuard):
					t.Fatalf("want the guard's refusal, got %q, %v", pt, err)
				}
			})
		}
	}
}
