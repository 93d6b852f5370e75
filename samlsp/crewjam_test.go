package samlsp

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"

	"github.com/scimsso/scimsso/internal/gomod"
)

// TestCrewjamVersion fails when the crewjam/saml linked in is not the version crewjam.go's overrides
// were read against: re-check each of them (and the panics guard.go and decrypt.go work around) in
// the new version's source, then update crewjamChecked.
func TestCrewjamVersion(t *testing.T) {
	v, err := gomod.Version("github.com/crewjam/saml")
	if err != nil {
		t.Fatal(err)
	}
	if v != crewjamChecked {
		t.Fatalf("crewjam/saml is %s, but samlsp/crewjam.go's overrides were checked against %s: re-read each "+
			"(clock globals, decrypter registry, the captured missing-signature error, the %q prefix) in the "+
			"new version, then set crewjamChecked", v, crewjamChecked, decryptFailed)
	}
}

// TestCrewjamOverrides: after useCrewjam, crewjam's clock allowances are scimsso's and the missing-
// signature error was captured.
func TestCrewjamOverrides(t *testing.T) {
	if err := useCrewjam(); err != nil {
		t.Fatal(err)
	}
	if saml.MaxClockSkew != clockSkew || saml.MaxIssueDelay != issueDelay {
		t.Errorf("crewjam's clock allowances are %v and %v, want %v and %v", saml.MaxClockSkew, saml.MaxIssueDelay, clockSkew, issueDelay)
	}
	if errNoSignature == nil {
		t.Error("crewjam's missing-signature error was not captured")
	}
}

// TestEncryptionAlgorithmsAgree: the guard, crewjam's registry and the metadata all follow the one
// table: every offered algorithm is accepted by the guard; every accepted content algorithm is
// decrypted by scimsso's decrypter (which checks the key size before crewjam's would panic); every
// refused one is refused by both the guard and the registry.
func TestEncryptionAlgorithmsAgree(t *testing.T) {
	if err := useCrewjam(); err != nil {
		t.Fatal(err)
	}
	const doc = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` +
		`<EncryptedData><EncryptionMethod Algorithm="%s"/><KeyInfo><EncryptedKey><EncryptionMethod Algorithm="%s"/></EncryptedKey></KeyInfo></EncryptedData>` +
		`</saml:EncryptedAssertion></samlp:Response>`
	const aes, oaep = "http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	offered := map[string]bool{}
	for _, m := range offeredEncryption() {
		offered[m.Algorithm] = true
	}
	for _, a := range encryptionAlgorithms {
		t.Run(a.uri[strings.LastIndex(a.uri, "#")+1:], func(t *testing.T) {
			content, key := a.uri, oaep
			if a.key {
				content, key = aes, a.uri
			}
			_, err := guard([]byte(fmt.Sprintf(doc, content, key)))
			if a.refused != (err != nil) {
				t.Errorf("guard: %v (refused %v)", err, a.refused)
			}
			if offered[a.uri] && (a.refused || !a.offered) {
				t.Error("offered in the metadata but not marked offered, or refused")
			}
			if a.key && !a.refused {
				return // key transport is crewjam's own RSA-OAEP
			}
			d := etree.NewDocument()
			d.ReadFromString(fmt.Sprintf(`<EncryptedData><EncryptionMethod Algorithm="%s"/><CipherData><CipherValue>%s</CipherValue></CipherData></EncryptedData>`,
				a.uri, base64.StdEncoding.EncodeToString(make([]byte, 48))))
			_, err = xmlenc.Decrypt(make([]byte, 7), d.Root())
			want := "refused"
			if !a.refused {
				want = fmt.Sprintf("needs a %d-byte key", a.aesKeySize)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("registry: %v, want an error saying %q", err, want)
			}
		})
	}
}
