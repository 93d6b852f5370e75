// Package samltest is a SAML identity provider for tests: it signs real responses with a real key, in
// the shapes real IdPs send (assertion signed, Response signed, both; SHA-256 or SHA-1), so tests can
// drive scimsso's ACS the way an IdP does, and mutate what it made to attack it.
package samltest

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// The claim names Entra sends for the email and the country, which scimsso reads by default.
const (
	ClaimEmail   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	ClaimCountry = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/country"
)

// IdP is a test identity provider with its own signing key.
type IdP struct {
	EntityID string
	SSOURL   string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
}

// New makes an IdP with a fresh RSA-2048 key and a self-signed certificate valid from notBefore to notAfter
// (zero values: an hour ago to a year ahead).
func New(entityID, ssoURL string, notBefore, notAfter time.Time) (*IdP, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: entityID},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &IdP{EntityID: entityID, SSOURL: ssoURL, Key: key, Cert: cert}, nil
}

// CertPEM is the IdP's certificate in PEM.
func (p *IdP) CertPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw}))
}

// Fingerprint is the SHA-256 of the IdP's certificate (DER), lower-case hex: how scimsso names a
// certificate (store.IdPCertificate.Fingerprint, the management API's sha256).
func (p *IdP) Fingerprint() string {
	sum := sha256.Sum256(p.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Metadata is the IdP's SAML metadata, listing its certificate and those of extra (rollover).
func (p *IdP) Metadata(extra ...*x509.Certificate) []byte {
	var kds strings.Builder
	for _, c := range append([]*x509.Certificate{p.Cert}, extra...) {
		fmt.Fprintf(&kds, `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
			base64.StdEncoding.EncodeToString(c.Raw))
	}
	return []byte(fmt.Sprintf(`<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">%s
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
</md:IDPSSODescriptor></md:EntityDescriptor>`, xmlEscape(p.EntityID), kds.String(), xmlEscape(p.SSOURL)))
}

// Attr is one SAML attribute.
type Attr struct {
	Name   string
	Values []string
}

// Response describes the response to make. Zero values give a valid Entra-shaped response signed on
// the assertion with RSA-SHA256, issued now and valid for five minutes.
type Response struct {
	ACS          string // Destination and Recipient
	Audience     string // the SP entity ID
	InResponseTo string // "" for IdP-initiated
	NameID       string
	Attrs        []Attr
	Sign         string // "assertion" (default), "response", "both" or "none"
	SHA1         bool   // RSA-SHA1 with a SHA-1 digest
	Now          time.Time
	ValidFor     time.Duration
	AssertionID  string
	Status       string // default Success
	// Signer signs instead of the IdP (an attacker's key); its certificate goes in KeyInfo.
	Signer *IdP
	// NoKeyInfo leaves the certificate out of the signature, as PingFederate can.
	NoKeyInfo bool
	// Recipient overrides the SubjectConfirmationData Recipient (default ACS); Issuer the IdP's entity ID.
	Recipient, Issuer string
	// MoreAudienceRestrictions adds one AudienceRestriction per entry after the one naming Audience.
	MoreAudienceRestrictions []string
	// EditAssertion, when set, rewrites the assertion's XML before it is signed: what a misconfigured
	// IdP would sign (no Conditions, say).
	EditAssertion func(string) string
	// EncryptTo encrypts the (signed) assertion to this SP certificate as an EncryptedAssertion, with
	// Encryption (default AES256GCM); a signed Response then covers the EncryptedAssertion.
	EncryptTo  *x509.Certificate
	Encryption string
}

// Content-encryption algorithms of EncryptedAssertion.
const (
	AES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	AES256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	AES128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	AES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
)

const (
	nsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
)

// Make returns the response XML.
func (p *IdP) Make(r Response) ([]byte, error) {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	if r.ValidFor == 0 {
		r.ValidFor = 5 * time.Minute
	}
	if r.Sign == "" {
		r.Sign = "assertion"
	}
	if r.AssertionID == "" {
		r.AssertionID = "_a" + randHex(16)
	}
	if r.Status == "" {
		r.Status = "urn:oasis:names:tc:SAML:2.0:status:Success"
	}
	if r.Recipient == "" {
		r.Recipient = r.ACS
	}
	if r.Issuer == "" {
		r.Issuer = p.EntityID
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	irt := ""
	if r.InResponseTo != "" {
		irt = fmt.Sprintf(` InResponseTo="%s"`, xmlEscape(r.InResponseTo))
	}
	audiences := fmt.Sprintf(`<AudienceRestriction><Audience>%s</Audience></AudienceRestriction>`, xmlEscape(r.Audience))
	for _, a := range r.MoreAudienceRestrictions {
		audiences += fmt.Sprintf(`<AudienceRestriction><Audience>%s</Audience></AudienceRestriction>`, xmlEscape(a))
	}
	var attrs strings.Builder
	for _, a := range r.Attrs {
		fmt.Fprintf(&attrs, `<Attribute Name="%s">`, xmlEscape(a.Name))
		for _, v := range a.Values {
			fmt.Fprintf(&attrs, `<AttributeValue>%s</AttributeValue>`, xmlEscape(v))
		}
		attrs.WriteString(`</Attribute>`)
	}
	assertion := fmt.Sprintf(`<Assertion xmlns="%s" ID="%s" IssueInstant="%s" Version="2.0"><Issuer>%s</Issuer>`+
		`<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">%s</NameID>`+
		`<SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData%s NotOnOrAfter="%s" Recipient="%s"/></SubjectConfirmation></Subject>`+
		`<Conditions NotBefore="%s" NotOnOrAfter="%s">%s</Conditions>`+
		`<AttributeStatement>%s</AttributeStatement>`+
		`<AuthnStatement AuthnInstant="%s" SessionIndex="%s"><AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion>`,
		nsSAML, r.AssertionID, ts(r.Now), xmlEscape(r.Issuer), xmlEscape(r.NameID), irt, ts(r.Now.Add(r.ValidFor)), xmlEscape(r.Recipient),
		ts(r.Now.Add(-time.Minute)), ts(r.Now.Add(r.ValidFor)), audiences, attrs.String(), ts(r.Now), r.AssertionID)
	if r.EditAssertion != nil {
		assertion = r.EditAssertion(assertion)
	}
	signer := p
	if r.Signer != nil {
		signer = r.Signer
	}
	var err error
	if r.Sign == "assertion" || r.Sign == "both" {
		if assertion, err = signer.sign(assertion, r.SHA1, r.NoKeyInfo); err != nil {
			return nil, err
		}
	}
	if r.EncryptTo != nil {
		alg := r.Encryption
		if alg == "" {
			alg = AES256GCM
		}
		if assertion, err = EncryptAssertion([]byte(assertion), r.EncryptTo, alg); err != nil {
			return nil, err
		}
	}
	resp := fmt.Sprintf(`<samlp:Response xmlns:samlp="%s" ID="_r%s" Version="2.0" IssueInstant="%s" Destination="%s"%s>`+
		`<Issuer xmlns="%s">%s</Issuer><samlp:Status><samlp:StatusCode Value="%s"/></samlp:Status>%s</samlp:Response>`,
		nsSAMLP, randHex(16), ts(r.Now), xmlEscape(r.ACS), irt, nsSAML, xmlEscape(r.Issuer), xmlEscape(r.Status), assertion)
	if r.Sign == "response" || r.Sign == "both" {
		if resp, err = signer.sign(resp, r.SHA1, r.NoKeyInfo); err != nil {
			return nil, err
		}
	}
	return []byte(resp), nil
}

// EncryptAssertion returns an EncryptedAssertion holding plaintext encrypted with alg (AES-GCM or
// AES-CBC) under a fresh key, itself RSA-OAEP (SHA-1, MGF1-SHA1) encrypted to cert in the
// EncryptedData's KeyInfo, as Okta and Entra send it.
func EncryptAssertion(plaintext []byte, cert *x509.Certificate, alg string) (string, error) {
	size := map[string]int{AES128GCM: 16, AES256GCM: 32, AES128CBC: 16, AES256CBC: 32}[alg]
	if size == 0 {
		return "", fmt.Errorf("samltest: unknown encryption %s", alg)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", errors.New("samltest: the SP certificate has no RSA key")
	}
	key := make([]byte, size)
	rand.Read(key)
	ct, err := Seal(key, alg, plaintext)
	if err != nil {
		return "", err
	}
	ek, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return "", err
	}
	return EncryptedAssertionXML(alg, ek, ct), nil
}

// Seal encrypts plaintext with alg under key as XML Encryption lays it out: for GCM the 12-byte nonce,
// ciphertext and tag; for CBC the IV and the ciphertext of the plaintext padded to whole blocks (the
// last byte the pad length).
func Seal(key []byte, alg string, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(alg, "-gcm") {
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, g.NonceSize())
		rand.Read(nonce)
		return g.Seal(nonce, nonce, plaintext, nil), nil
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	return SealBlocks(key, append(append([]byte(nil), plaintext...), bytes.Repeat([]byte{byte(pad)}, pad)...))
}

// SealBlocks AES-CBC encrypts whole blocks under key with a random IV and no padding of its own: what
// an attacker who reuses a wrapped key can send, down to the padding byte.
func SealBlocks(key, blocks []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(blocks)%aes.BlockSize != 0 {
		return nil, errors.New("samltest: not whole blocks")
	}
	out := make([]byte, aes.BlockSize+len(blocks))
	rand.Read(out[:aes.BlockSize])
	cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], blocks)
	return out, nil
}

// EncryptedAssertionXML lays out an EncryptedAssertion with content encryption alg, the RSA-OAEP
// encrypted key ek in the EncryptedData's KeyInfo, and the ciphertext ct.
func EncryptedAssertionXML(alg string, ek, ct []byte) string {
	return fmt.Sprintf(`<EncryptedAssertion xmlns="%s"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">`+
		`<xenc:EncryptionMethod Algorithm="%s"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>`+
		`<xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>`+
		`<xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></EncryptedAssertion>`,
		nsSAML, alg, base64.StdEncoding.EncodeToString(ek), base64.StdEncoding.EncodeToString(ct))
}

// sign signs the root element of doc (enveloped, exclusive C14N) and places the Signature after the
// Issuer, where the schema puts it.
func (p *IdP) sign(doc string, sha1, noKeyInfo bool) (string, error) {
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		return "", err
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	ctx.Prefix = "ds"
	method := dsig.RSASHA256SignatureMethod
	if sha1 {
		method = dsig.RSASHA1SignatureMethod
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		return "", err
	}
	signed, err := ctx.SignEnveloped(d.Root())
	if err != nil {
		return "", err
	}
	// Serialize and re-read before moving anything: SignEnveloped's child is not fully attached.
	out := etree.NewDocument()
	out.SetRoot(signed)
	s, err := out.WriteToString()
	if err != nil {
		return "", err
	}
	d = etree.NewDocument()
	if err := d.ReadFromString(s); err != nil {
		return "", err
	}
	root := d.Root()
	sig := root.ChildElements()[len(root.ChildElements())-1]
	if noKeyInfo {
		if ki := sig.SelectElement("KeyInfo"); ki != nil {
			sig.RemoveChild(ki)
		}
	}
	root.RemoveChild(sig)
	root.InsertChildAt(1, sig) // after Issuer
	return d.WriteToString()
}

// Encode is what the HTTP-POST binding puts in the SAMLResponse field.
func Encode(doc []byte) string { return base64.StdEncoding.EncodeToString(doc) }

// RequestOf decodes the AuthnRequest of an HTTP-Redirect binding URL and returns its ID and ACS URL.
func RequestOf(redirect string) (id, acs string, err error) {
	u, err := url.Parse(redirect)
	if err != nil {
		return "", "", err
	}
	raw, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		return "", "", err
	}
	b, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 1<<20))
	if err != nil {
		return "", "", err
	}
	var req struct {
		ID  string `xml:"ID,attr"`
		ACS string `xml:"AssertionConsumerServiceURL,attr"`
	}
	if err := xml.Unmarshal(b, &req); err != nil {
		return "", "", err
	}
	return req.ID, req.ACS, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}
