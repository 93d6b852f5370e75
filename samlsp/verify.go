package samlsp

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// Signature and digest algorithms by setting. "sha256" accepts the SHA-2 family only; "sha1" adds
// SHA-1, which some older IdPs (OneLogin's old default, ADFS when asked) still use.
var (
	sha2Signatures = map[string]bool{
		dsig.RSASHA256SignatureMethod: true,
		dsig.RSASHA384SignatureMethod: true,
		dsig.RSASHA512SignatureMethod: true,
	}
	sha2Digests = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
)

const (
	sha1Signature = dsig.RSASHA1SignatureMethod
	sha1Digest    = "http://www.w3.org/2000/09/xmldsig#sha1"
	samlAssertNS  = "urn:oasis:names:tc:SAML:2.0:assertion"
)

// verifier is scimsso's signature policy, installed as crewjam's SignatureVerifier for one parse. It
// checks the algorithms, tries the tenant's certificates one at a time (so a rollover pair works
// without a certificate in KeyInfo), tolerates an expired IdP certificate pinned in metadata (the SAML
// metadata interoperability profile: the key is trusted, not the certificate's dates), refuses a
// NameID from a foreign namespace in the signed assertion, and records what it verified.
type verifier struct {
	certs      []*x509.Certificate
	allowSHA1  bool
	checkResp  bool // the Response's signature: verified, then crewjam is told to check the assertion's too
	now        time.Time
	verified   []string // "Response#ID" and "Assertion#ID" of every verified element
	algorithms []string // the signature and digest algorithms of verified elements
	usedCert   *x509.Certificate
}

func (v *verifier) VerifySignature(_ *dsig.ValidationContext, el *etree.Element) error {
	sig := el.FindElement("./Signature")
	if sig == nil {
		return errors.New("signature element not present")
	}
	sm := sig.FindElement("./SignedInfo/SignatureMethod")
	if sm == nil {
		return errors.New("signature has no SignatureMethod")
	}
	alg := sm.SelectAttrValue("Algorithm", "")
	if !sha2Signatures[alg] && !(v.allowSHA1 && alg == sha1Signature) {
		return fmt.Errorf("signature algorithm %s is not allowed by signature-algorithm", alg)
	}
	refs := sig.FindElements("./SignedInfo/Reference")
	if len(refs) != 1 {
		return fmt.Errorf("signature has %d references, want 1", len(refs))
	}
	dm := refs[0].FindElement("./DigestMethod")
	if dm == nil {
		return errors.New("signature reference has no DigestMethod")
	}
	if d := dm.SelectAttrValue("Algorithm", ""); !sha2Digests[d] && !(v.allowSHA1 && d == sha1Digest) {
		return fmt.Errorf("digest algorithm %s is not allowed by signature-algorithm", d)
	}
	candidates := v.certs
	if x := sig.FindElement("./KeyInfo/X509Data/X509Certificate"); x != nil {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(x.Text()), ""))
		if err != nil {
			return fmt.Errorf("KeyInfo certificate: %v", err)
		}
		candidates = nil
		for _, c := range v.certs {
			if bytes.Equal(c.Raw, der) {
				candidates = []*x509.Certificate{c}
			}
		}
		if candidates == nil {
			return errors.New("signed with a certificate that is not one of the tenant's IdP certificates")
		}
	}
	var out *etree.Element
	var lastErr error
	for _, c := range candidates {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		vc.IdAttribute = "ID"
		vc.Clock = dsig.NewFakeClockAt(within(v.now, c))
		if out, lastErr = vc.Validate(el); lastErr == nil {
			v.usedCert = c
			break
		}
	}
	if lastErr != nil {
		return fmt.Errorf("signature on %s: %v", el.Tag, lastErr)
	}
	if el.Tag == "Assertion" {
		if err := checkNameIDs(out); err != nil {
			return err
		}
	}
	v.verified = append(v.verified, el.Tag+"#"+el.SelectAttrValue("ID", ""))
	v.algorithms = append(v.algorithms, alg, dm.SelectAttrValue("Algorithm", ""))
	if el.Tag == "Response" && v.checkResp {
		return errNoSignature
	}
	return nil
}

// within moves t into c's validity period, so an expired pinned certificate still verifies.
func within(t time.Time, c *x509.Certificate) time.Time {
	switch {
	case t.Before(c.NotBefore):
		return c.NotBefore
	case t.After(c.NotAfter):
		return c.NotAfter
	}
	return t
}

// checkNameIDs refuses a Subject with other than one NameID from the SAML assertion namespace: crewjam
// reads NameID in any namespace (GO-2026-6909), so a foreign one after the real one would win.
func checkNameIDs(assertion *etree.Element) error {
	for _, subj := range assertion.ChildElements() {
		if subj.Tag != "Subject" {
			continue
		}
		n := 0
		for _, c := range subj.ChildElements() {
			if c.Tag != "NameID" {
				continue
			}
			if c.NamespaceURI() != samlAssertNS {
				return fmt.Errorf("the Subject has a NameID in namespace %q", c.NamespaceURI())
			}
			n++
		}
		if n > 1 {
			return fmt.Errorf("the Subject has %d NameIDs", n)
		}
	}
	return nil
}

// audienceCheck is crewjam's ValidateAudienceRestriction for the SP entityID: at least one
// AudienceRestriction, and every one of them naming this SP. Conditions are ANDed (SAML core 2.5.1.4):
// an assertion restricted to this SP and to another one is not for this SP alone, and crewjam's own
// check (and scimsso's before) took any one match.
// crewjam keeps one Audience per AudienceRestriction (the last); a restriction listing this SP before
// another audience is refused, never wrongly accepted.
func audienceCheck(entityID string) func(*saml.Assertion) error {
	return func(a *saml.Assertion) error {
		if a.Conditions == nil || len(a.Conditions.AudienceRestrictions) == 0 {
			return errors.New("the assertion has no AudienceRestriction")
		}
		for _, ar := range a.Conditions.AudienceRestrictions {
			if ar.Audience.Value != entityID {
				return fmt.Errorf("an AudienceRestriction names %q, not this tenant's entity ID %s (conditions are ANDed)", ar.Audience.Value, entityID)
			}
		}
		return nil
	}
}

// has reports whether the verifier verified the element with that tag and ID.
func (v *verifier) has(tag, id string) bool {
	return slices.Contains(v.verified, tag+"#"+id)
}
