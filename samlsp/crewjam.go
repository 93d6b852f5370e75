package samlsp

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
)

// Every place scimsso reaches into crewjam/saml's process-wide state or depends on its private
// behaviour is in this file: the clock allowances (package variables), the XML Encryption decrypters
// (a global registry that a later registration overwrites), the error value crewjam compares by
// identity when a signature is missing, and the message prefix of a failed decryption. Each was read
// in crewjamChecked's source; TestCrewjamVersion fails when go.mod moves to another version, so that
// someone reads them again before it ships.
const crewjamChecked = "v0.5.1"

var (
	crewjamOnce sync.Once
	crewjamErr  error
)

// useCrewjam applies scimsso's overrides to crewjam once per process; New calls it, so a process that
// serves no SAML (every CLI command but serve and demo) never pays for it. The values set are
// constants: a second server in the same process sets nothing new.
func useCrewjam() error {
	crewjamOnce.Do(func() {
		// crewjam's 90 s MaxIssueDelay refuses an IdP whose clock is two minutes slow although the skew
		// allowance is three: see clockSkew and issueDelay.
		saml.MaxClockSkew = clockSkew
		saml.MaxIssueDelay = issueDelay
		registerDecrypters()
		if errNoSignature = captureNoSignatureError(); errNoSignature == nil {
			crewjamErr = errors.New("samlsp: this crewjam/saml no longer reports a missing signature as expected; the signed-element policy cannot be enforced")
		}
	})
	return crewjamErr
}

// registerDecrypters replaces crewjam's decrypters. crewjam v0.5.1's xmlenc panics on AES-CBC
// ciphertext that is not whole blocks, on AES-GCM ciphertext shorter than a nonce, and on 3DES with
// an 8-byte key; anyone holding a tenant's public SP certificate can send those. scimsso registers its
// length-checked AES decrypters (adding the GCM key sizes Okta offers) and refuses the algorithms the
// table marks refused (RSA-1_5, 3DES). The guard refuses those too; this is the second line.
func registerDecrypters() {
	for _, a := range encryptionAlgorithms {
		switch {
		case a.refused:
			xmlenc.RegisterDecrypter(refused(a.uri))
		case a.aesKeySize > 0:
			xmlenc.RegisterDecrypter(aesDecrypter{a.uri, a.aesKeySize, a.gcm})
		}
	}
}

// errNoSignature is crewjam's own "signature element not present" value. crewjam compares the
// Response's signature error with it by identity: any other outcome of a valid Response signature
// makes it skip the assertion's signature entirely. Returning it from the verifier after checking a
// Response signature ourselves makes crewjam go on to require a signed assertion, which the default
// signed-element=assertion needs. The value is unexported, so useCrewjam captures it once from crewjam.
var errNoSignature error

func captureNoSignatureError() error {
	now := time.Now().UTC().Format(time.RFC3339)
	doc := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r" Version="2.0" IssueInstant="` + now + `">` +
		`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
		`<saml:Assertion ID="a" Version="2.0" IssueInstant="` + now + `"><saml:Issuer>x</saml:Issuer></saml:Assertion></samlp:Response>`
	acs, _ := url.Parse("https://sp.invalid/acs")
	sp := saml.ServiceProvider{AcsURL: *acs, IDPMetadata: &saml.EntityDescriptor{EntityID: "x"}}
	_, err := sp.ParseXMLResponse([]byte(doc), []string{""}, *acs)
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil && ire.PrivateErr.Error() == "signature element not present" {
		return ire.PrivateErr
	}
	return nil
}

// decryptFailed is the prefix crewjam v0.5.1 puts on every failure of an EncryptedAssertion before its
// plaintext is an element: the key transport, the decrypter (and the plaintext guard in it), the
// round-trip validator and the parser.
const decryptFailed = "failed to decrypt EncryptedAssertion"

// isDecryptFailure reports whether crewjam failed err while decrypting or reading an
// EncryptedAssertion (by its private error's message: crewjam has no type for it).
func isDecryptFailure(err error) bool {
	var ire *saml.InvalidResponseError
	return errors.As(err, &ire) && ire.PrivateErr != nil && strings.HasPrefix(ire.PrivateErr.Error(), decryptFailed)
}
