package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
)

// ssoSettingsOf returns the tenant's stored SSO settings, or the defaults when none were stored.
func ssoSettingsOf(ctx context.Context, st store.Store, tenantID string) (*store.SSOSettings, error) {
	set, err := st.SSOSettings(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return store.DefaultSSOSettings(), nil
	}
	return set, err
}

// checkSSOSettings applies store's rules (SSOSettings.Validate) and names the offending setting as
// its flag.
func checkSSOSettings(s *store.SSOSettings) error {
	err := s.Validate()
	var se *store.SettingError
	if !errors.As(err, &se) {
		return err
	}
	msg := "--" + se.Setting + " " + se.Reason
	if errors.Is(err, store.ErrNoIdP) {
		msg += ": give --metadata-file or --metadata-url"
	}
	return errors.New(msg)
}

func (m *Main) ssoSet(ctx context.Context, args []string) error {
	var fs *flag.FlagSet
	f := struct {
		state, metaFile, metaURL, exclude, hard, soft, mobile, countryFormat, sigAlg, signedElement, idpInit string
		principal, secondary, first, last, email, country, department                                        string
		forceCountry, forceDepartment, skipDest, signRequests                                                bool
	}{}
	return m.runTenantCommand(ctx, tenantCommand{
		name: "sso set", args: "no arguments",
		flags: func(s *flag.FlagSet) {
			fs = s
			s.StringVar(&f.state, "state", "", "off, testing or active")
			s.StringVar(&f.metaFile, "metadata-file", "", "IdP metadata XML file")
			s.StringVar(&f.metaURL, "metadata-url", "", "IdP metadata URL (fetched now, once)")
			s.StringVar(&f.exclude, "exclude", "", "comma-separated emails that sign in with a password instead of SSO (replaces the list)")
			s.StringVar(&f.hard, "hard-timeout", "", "idle time after which a session ends (max 14d)")
			s.StringVar(&f.soft, "soft-timeout", "", "idle time after which the IdP is asked again silently (max 24h)")
			s.StringVar(&f.mobile, "mobile-hard-timeout", "", "hard timeout of sessions signed in with client=mobile (max 90d; 0: --hard-timeout)")
			s.StringVar(&f.countryFormat, "country-format", "", "iso or name")
			s.StringVar(&f.sigAlg, "signature-algorithm", "", "sha256 (RSA-SHA256/384/512) or sha1 (also RSA-SHA1)")
			s.StringVar(&f.signedElement, "signed-element", "", "what the IdP signs: assertion, response or both")
			s.StringVar(&f.principal, "principal-id-attr", "", "attribute with the immutable user id (mandatory when set; empty: off)")
			s.StringVar(&f.secondary, "secondary-email-attr", "", "attribute with a second email used to match users (empty: off)")
			s.StringVar(&f.first, "attr-first-name", "", "first-name attribute names, comma-separated")
			s.StringVar(&f.last, "attr-last-name", "", "last-name attribute names")
			s.StringVar(&f.email, "attr-email", "", "email attribute names")
			s.StringVar(&f.country, "attr-country", "", "country attribute names")
			s.StringVar(&f.department, "attr-department", "", "department attribute names")
			s.BoolVar(&f.forceCountry, "force-country", false, "ask for the country at first sign-in even when the assertion has it")
			s.BoolVar(&f.forceDepartment, "force-department", false, "ask for the team at first sign-in even when the department maps")
			s.BoolVar(&f.skipDest, "skip-destination-validation", false, "TESTING ONLY: do not check Destination and Recipient")
			s.BoolVar(&f.signRequests, "sign-requests", false, "sign AuthnRequests with the tenant's SP key")
			s.StringVar(&f.idpInit, "idp-initiated", "", "on (default) or off: accept unsolicited responses, e.g. from an IdP portal tile")
		},
		check: func([]string) error {
			if f.metaFile != "" && f.metaURL != "" {
				return errors.New("give --metadata-file or --metadata-url, not both")
			}
			return nil
		},
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			cur, err := ssoSettingsOf(ctx, st, t.ID)
			if err != nil {
				return err
			}
			var idp *samlsp.IdP
			switch {
			case f.metaFile != "":
				b, err := readLimited(f.metaFile)
				if err != nil {
					return fmt.Errorf("--metadata-file: %v", err)
				}
				if idp, err = samlsp.ParseIdPMetadata(b); err != nil {
					return fmt.Errorf("--metadata-file %s: %v", f.metaFile, err)
				}
			case f.metaURL != "":
				b, err := fetchMetadata(ctx, f.metaURL)
				if err != nil {
					return fmt.Errorf("--metadata-url: %v", err)
				}
				if idp, err = samlsp.ParseIdPMetadata(b); err != nil {
					return fmt.Errorf("--metadata-url %s: %v", f.metaURL, err)
				}
			}
			if idp != nil {
				cur.IdPEntityID, cur.IdPSSOURL, cur.IdPCertificatesPEM, cur.IdPMetadataURL = idp.EntityID, idp.SSOURL, idp.CertificatesPEM, f.metaURL
			}
			var perr error
			fs.Visit(func(fl *flag.Flag) {
				if perr != nil {
					return
				}
				switch fl.Name {
				case "state":
					cur.State = store.SSOState(f.state)
				case "exclude":
					cur.Exclude = nil
					for _, e := range strings.Split(f.exclude, ",") {
						if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
							cur.Exclude = append(cur.Exclude, e)
						}
					}
				case "hard-timeout":
					cur.HardTimeout, perr = parseDuration(f.hard)
				case "soft-timeout":
					cur.SoftTimeout, perr = parseDuration(f.soft)
				case "mobile-hard-timeout":
					cur.MobileHardTimeout, perr = parseDuration(f.mobile)
				case "country-format":
					cur.CountryFormat = store.CountryFormat(f.countryFormat)
				case "signature-algorithm":
					cur.SignatureAlgorithm = store.SignatureAlgorithm(f.sigAlg)
				case "signed-element":
					cur.SignedElement = store.SignedElement(f.signedElement)
				case "principal-id-attr":
					cur.PrincipalIDAttr = strings.TrimSpace(f.principal)
				case "secondary-email-attr":
					cur.SecondaryEmailAttr = strings.TrimSpace(f.secondary)
				case "attr-first-name":
					cur.AttrFirstName = strings.TrimSpace(f.first)
				case "attr-last-name":
					cur.AttrLastName = strings.TrimSpace(f.last)
				case "attr-email":
					cur.AttrEmail = strings.TrimSpace(f.email)
				case "attr-country":
					cur.AttrCountry = strings.TrimSpace(f.country)
				case "attr-department":
					cur.AttrDepartment = strings.TrimSpace(f.department)
				case "force-country":
					cur.ForceCountry = f.forceCountry
				case "force-department":
					cur.ForceDepartment = f.forceDepartment
				case "skip-destination-validation":
					cur.SkipDestinationValidation = f.skipDest
				case "sign-requests":
					cur.SignRequests = f.signRequests
				case "idp-initiated":
					switch f.idpInit {
					case "on":
						cur.NoIdPInitiated = false
					case "off":
						cur.NoIdPInitiated = true
					default:
						perr = errors.New("must be on or off")
					}
				}
				if perr != nil {
					perr = fmt.Errorf("--%s: %v", fl.Name, perr)
				}
			})
			if perr != nil {
				return perr
			}
			if err := checkSSOSettings(cur); err != nil {
				return err
			}
			if err := st.PutSSOSettings(ctx, t.ID, cur); err != nil {
				if errors.Is(err, store.ErrVersionMismatch) {
					return errors.New("the SSO settings changed while this command ran; run it again")
				}
				return err
			}
			for _, w := range cur.Warnings() {
				fmt.Fprintln(m.Stderr, "warning: "+w)
			}
			fmt.Fprintf(m.Stdout, "stored SSO settings of tenant %s (version %d, state %s)\n", t.Slug, cur.Version, cur.State)
			return nil
		},
	}, args)
}

func (m *Main) ssoShow(ctx context.Context, args []string) error {
	return m.runTenantCommand(ctx, tenantCommand{
		name: "sso show", args: "no arguments",
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			s, err := ssoSettingsOf(ctx, st, t.ID)
			if err != nil {
				return err
			}
			out := m.Stdout
			for _, w := range s.Warnings() {
				fmt.Fprintln(out, "WARNING: "+w)
			}
			fmt.Fprintf(out, "tenant:                      %s\nversion:                     %d\nstate:                       %s\n", t.Slug, s.Version, s.State)
			fmt.Fprintf(out, "IdP entity ID:               %s\nIdP SSO URL:                 %s\nIdP metadata URL:            %s\n", dash(s.IdPEntityID), dash(s.IdPSSOURL), dash(s.IdPMetadataURL))
			for i, c := range s.IdPCertificatesPEM {
				fmt.Fprintf(out, "IdP certificate %d:           %s\n", i+1, certSummary(c))
			}
			mobile := "same as hard-timeout"
			if s.MobileHardTimeout > 0 {
				mobile = s.MobileHardTimeout.String()
			}
			fmt.Fprintf(out, "exclude:                     %s\nhard-timeout:                %s\nsoft-timeout:                %s\nmobile-hard-timeout:         %s\n",
				dash(strings.Join(s.Exclude, ", ")), s.HardTimeout, s.SoftTimeout, mobile)
			fmt.Fprintf(out, "country-format:              %s\nsignature-algorithm:         %s\nsigned-element:              %s\n", s.CountryFormat, s.SignatureAlgorithm, s.SignedElement)
			fmt.Fprintf(out, "force-country:               %t\nforce-department:            %t\nskip-destination-validation: %t\nsign-requests:               %t\n", s.ForceCountry, s.ForceDepartment, s.SkipDestinationValidation, s.SignRequests)
			fmt.Fprintf(out, "idp-initiated:               %s\n", map[bool]string{false: "on", true: "off"}[s.NoIdPInitiated])
			fmt.Fprintf(out, "principal-id-attr:           %s\nsecondary-email-attr:        %s\n", dash(s.PrincipalIDAttr), dash(s.SecondaryEmailAttr))
			fmt.Fprintf(out, "attr-first-name:             %s\nattr-last-name:              %s\nattr-email:                  %s\nattr-country:                %s\nattr-department:             %s\n",
				s.AttrFirstName, s.AttrLastName, s.AttrEmail, s.AttrCountry, s.AttrDepartment)
			return nil
		},
	}, args)
}

// ssoTestLink prints a one-time link that starts a test sign-in of the tenant: an admin opens it, signs
// in at the IdP and sees what the IdP sent and what scimsso would do, with nothing stored. Until the
// admin console exists this is how an admin gets one; the test page refuses everyone without a link.
func (m *Main) ssoTestLink(ctx context.Context, args []string) error {
	var base, expires *string
	var exp time.Time
	return m.runTenantCommand(ctx, tenantCommand{
		name: "sso test-link", args: "no arguments",
		flags: func(fs *flag.FlagSet) {
			base = fs.String("base-url", "http://localhost:8080", "public base URL of the server, as given to serve")
			expires = fs.String("expires", "1h", "how long the link may wait to be opened (at most 7d)")
		},
		check: func([]string) error {
			if !validBaseURL(*base) {
				return fmt.Errorf("--base-url %q must be an absolute http(s) URL without query or fragment", *base)
			}
			dur, err := parseDuration(*expires)
			if err != nil {
				return fmt.Errorf("--expires: %v", err)
			}
			if dur <= 0 || dur > store.MaxTestLinkLifetime {
				return fmt.Errorf("--expires must be positive and at most 7d, got %q", *expires)
			}
			exp = m.Now().Add(dur)
			return nil
		},
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			set, err := ssoSettingsOf(ctx, st, t.ID)
			if err != nil {
				return err
			}
			if set.State != store.SSOTesting && set.State != store.SSOActive {
				return fmt.Errorf("tenant %q: SSO state is %s; a test sign-in needs testing or active (sso set --state testing)", t.Slug, set.State)
			}
			link, err := samlsp.NewTestLink(ctx, st, *base, t, exp)
			if err != nil {
				return err
			}
			// The link alone on stdout, so LINK=$(scimsso sso test-link ...) works; everything else on stderr.
			fmt.Fprintln(m.Stdout, link)
			fmt.Fprintf(m.Stderr, "test link for tenant %s: starts one test sign-in, expires %s; it is shown only once\n", t.Slug, exp.UTC().Format(time.RFC3339))
			return nil
		},
	}, args)
}

// certSummary describes a certificate by subject, expiry and SHA-256 fingerprint.
func certSummary(p string) string {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return "(unreadable)"
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "(unreadable)"
	}
	sum := sha256.Sum256(c.Raw)
	return fmt.Sprintf("%s, expires %s, sha256 %X", c.Subject.CommonName, c.NotAfter.Format("2006-01-02"), sum[:8])
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20+1))
}

// fetchMetadata downloads IdP metadata once, with a timeout and a size bound.
func fetchMetadata(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u.Host, res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, 1<<20+1))
}
