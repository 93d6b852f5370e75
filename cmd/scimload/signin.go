package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/samlsp/samltest"
)

// The signin phase signs in users the create phase made, the way an IdP's unsolicited (IdP-initiated)
// HTTP-POST does: one POST of a signed SAMLResponse to the ACS, answered with 303 and a session. The
// responses are signed before the phase starts, so the measured time is the server's, not the signing.

const idpEntityID = "https://scimload.invalid/idp"

// writeIdP makes a new IdP key and certificate in dir, with the metadata scimsso needs to trust it.
func writeIdP(dir string, stdout io.Writer) error {
	idp, err := samltest.New(idpEntityID, idpEntityID+"/sso", time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(idp.Key)})
	for name, b := range map[string][]byte{"key.pem": key, "cert.pem": []byte(idp.CertPEM()), "metadata.xml": idp.Metadata()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "wrote %s/{key.pem,cert.pem,metadata.xml}; trust it with:\n  scimsso sso set --tenant TENANT --metadata-file %s --state active\n",
		dir, filepath.Join(dir, "metadata.xml"))
	return err
}

// loadIdP reads the IdP writeIdP made.
func loadIdP(dir string) (*samltest.IdP, error) {
	kb, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, err
	}
	cb, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		return nil, err
	}
	key, cert, err := samlsp.ParseKeyPair(kb, cb)
	if err != nil {
		return nil, fmt.Errorf("-idp %s: %w", dir, err)
	}
	return &samltest.IdP{EntityID: idpEntityID, SSOURL: idpEntityID + "/sso", Key: key, Cert: cert}, nil
}

// signin runs the signin phase: -s sign-ins of random users of this run.
func (l *loader) signin(ctx context.Context) ([]result, error) {
	idp, err := loadIdP(l.cfg.idpDir)
	if err != nil {
		return nil, err
	}
	picks, err := l.pick(l.cfg.s)
	if err != nil {
		return nil, err
	}
	tenant := l.tenant()
	forms := make([][]byte, len(picks))
	errs := make([]error, len(picks))
	var wg sync.WaitGroup
	for g := range runtime.NumCPU() {
		wg.Go(func() {
			for j := g; j < len(picks); j += runtime.NumCPU() {
				forms[j], errs[j] = l.signInForm(idp, tenant, l.userName(picks[j]))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("signing responses: %w", err)
	}
	// The ACS of each replica workers send to; the responses name the service's ACS (-sp-base).
	replicaACS := map[string]string{}
	for _, b := range l.cfg.bases {
		u, _ := url.Parse(b)
		replicaACS[b] = u.Scheme + "://" + u.Host + "/saml/" + tenant + "/acs"
	}
	return l.measure(ctx, len(picks), []op{opSignIn}, func(ctx context.Context, w *worker, j int) {
		start := time.Now()
		status, err := w.post(ctx, replicaACS[w.base], forms[j])
		d := time.Since(start)
		why := ""
		if err == nil && status != http.StatusSeeOther {
			why = fmt.Sprintf("status %d, want 303", status)
		}
		w.finish(ctx, opSignIn, d, status, err, why)
	})
}

// tenant is the slug of -base's tenant.
func (l *loader) tenant() string { return l.cfg.base[strings.LastIndexByte(l.cfg.base, '/')+1:] }

// signInForm is the body of the IdP's auto-post form that signs email in to the tenant: an unsolicited
// signed response for the service's ACS (-sp-base).
func (l *loader) signInForm(idp *samltest.IdP, tenant, email string) ([]byte, error) {
	doc, err := idp.Make(samltest.Response{ACS: l.cfg.spBase + "/saml/" + tenant + "/acs", Audience: l.cfg.spBase + "/saml/" + tenant + "/metadata",
		NameID: email, ValidFor: 30 * time.Minute,
		Attrs: []samltest.Attr{
			{Name: samltest.ClaimEmail, Values: []string{email}},
			{Name: samltest.ClaimCountry, Values: []string{"US"}},
		}})
	return []byte(url.Values{"SAMLResponse": {samltest.Encode(doc)}}.Encode()), err
}

// post sends a form as a browser posts the IdP's auto-submitting form, and reads the whole answer.
func (w *worker) post(ctx context.Context, u string, form []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(form))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return w.send(req)
}

// sessions signs in n users of this run before a phase (untimed), the x-th at replica x mod replicas as
// runJobs assigns workers, and returns each session's Cookie header.
func (l *loader) sessions(ctx context.Context, n int) ([]string, error) {
	idp, err := loadIdP(l.cfg.idpDir)
	if err != nil {
		return nil, err
	}
	picks, err := l.pick(n)
	if err != nil {
		return nil, err
	}
	cookies := make([]string, n)
	for x := range cookies {
		base := l.cfg.bases[x%len(l.cfg.bases)]
		form, err := l.signInForm(idp, l.tenant(), l.userName(picks[x]))
		if err != nil {
			return nil, err
		}
		if cookies[x], err = l.signInSession(ctx, base, origin(base)+"/saml/"+l.tenant()+"/acs", form); err != nil {
			return nil, fmt.Errorf("signing %s in: %w", l.userName(picks[x]), err)
		}
	}
	return cookies, nil
}

// signInSession posts a sign-in form to acs and returns the Cookie header of the session it started.
func (l *loader) signInSession(ctx context.Context, base, acs string, form []byte) (string, error) {
	w := &worker{l: l, base: base}
	defer w.closeConn()
	status, err := w.post(ctx, acs, form)
	if err != nil {
		return "", err
	}
	if status != http.StatusSeeOther {
		return "", fmt.Errorf("sign-in at %s: status %d, want 303: %s", acs, status, snippet(w.buf.Bytes()))
	}
	var cookies []string
	for _, c := range (&http.Response{Header: w.hdr}).Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) == 0 {
		return "", fmt.Errorf("sign-in at %s: no session cookie", acs)
	}
	return strings.Join(cookies, "; "), nil
}

// origin is the scheme and host of a base URL.
func origin(base string) string {
	u, _ := url.Parse(base)
	return u.Scheme + "://" + u.Host
}
