package samlsp

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// TestDecryptersRefuseWithoutPanicking drives the xmlenc registry directly with the inputs that make
// crewjam v0.5.1's own decrypters panic, and the algorithms scimsso refuses: each must be an error.
func TestDecryptersRefuseWithoutPanicking(t *testing.T) {
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
