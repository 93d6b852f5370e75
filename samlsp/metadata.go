package samlsp

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crewjam/saml"
)

// IdP is what scimsso takes from an identity provider's metadata.
type IdP struct {
	EntityID        string
	SSOURL          string   // the HTTP-Redirect SingleSignOnService
	CertificatesPEM []string // every signing certificate, for rollover
}

// maxMetadata bounds IdP metadata; real documents are a few KiB, Entra's ~20 KiB.
const maxMetadata = 1 << 20

// ParseIdPMetadata reads SAML 2.0 IdP metadata (an EntityDescriptor, or an EntitiesDescriptor holding
// exactly one IdP). It refuses documents with a DTD, without an HTTP-Redirect SSO endpoint or without a
// signing certificate, and certificates that do not parse.
func ParseIdPMetadata(b []byte) (*IdP, error) {
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("metadata is larger than %d bytes", maxMetadata)
	}
	if bytes.Contains(bytes.ToUpper(b), []byte("<!DOCTYPE")) {
		return nil, errors.New("metadata with a DOCTYPE is refused")
	}
	var eds []saml.EntityDescriptor
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err == nil && ed.EntityID != "" {
		eds = append(eds, ed)
	} else {
		var all saml.EntitiesDescriptor
		if err := xml.Unmarshal(b, &all); err != nil {
			return nil, &metadataError{"metadata is not a SAML EntityDescriptor", err}
		}
		eds = all.EntityDescriptors
	}
	var idps []saml.EntityDescriptor
	for _, e := range eds {
		if len(e.IDPSSODescriptors) > 0 {
			idps = append(idps, e)
		}
	}
	if len(idps) != 1 {
		return nil, fmt.Errorf("metadata must describe exactly one identity provider, found %d", len(idps))
	}
	e := idps[0]
	idp := &IdP{EntityID: strings.TrimSpace(e.EntityID)}
	for _, d := range e.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			if s.Binding == saml.HTTPRedirectBinding && idp.SSOURL == "" {
				idp.SSOURL = strings.TrimSpace(s.Location)
			}
		}
		for _, k := range d.KeyDescriptors {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					return nil, &metadataError{"signing certificate is not base64", err}
				}
				if _, err := x509.ParseCertificate(der); err != nil {
					return nil, &metadataError{"signing certificate does not parse", err}
				}
				p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
				if !slices.Contains(idp.CertificatesPEM, p) {
					idp.CertificatesPEM = append(idp.CertificatesPEM, p)
				}
			}
		}
	}
	switch {
	case idp.EntityID == "":
		return nil, errors.New("metadata has no entityID")
	case idp.SSOURL == "":
		return nil, errors.New("metadata has no SingleSignOnService with the HTTP-Redirect binding")
	case len(idp.CertificatesPEM) == 0:
		return nil, errors.New("metadata has no signing certificate")
	}
	return idp, nil
}

// metadataError is a refusal of metadata whose detail (an XML or x509 parser's words) may quote what
// the document holds: shown to whoever uploaded it, never recorded for a document fetched from a URL
// (the refresh keeps only text, which is ours).
type metadataError struct {
	text   string
	detail error
}

func (e *metadataError) Error() string { return e.text + ": " + e.detail.Error() }
