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
	"os"
	"strings"
	"time"

	"github.com/scimsso/scimsso/platformapi"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
)

// ssoFlagError words an error of SSOSettings.Apply for the CLI: the setting named as its flag.
func ssoFlagError(err error) error {
	var se *store.SettingError
	if !errors.As(err, &se) {
		return errors.New("--" + err.Error()) // Set's: "hard-timeout: …"
	}
	msg := "--" + se.Setting + " " + se.Reason
	if errors.Is(err, store.ErrNoIdP) {
		msg += ": give --metadata-file or --metadata-url"
	}
	return errors.New(msg)
}

func (m *Main) ssoSet(ctx context.Context, args []string) error {
	var fs *flag.FlagSet
	var metaFile, metaURL string
	var loopback bool
	return m.runTenantCommand(ctx, tenantCommand{
		name: "sso set", args: "no arguments",
		flags: func(s *flag.FlagSet) {
			fs = s
			s.StringVar(&metaFile, "metadata-file", "", "IdP metadata XML file")
			s.StringVar(&metaURL, "metadata-url", "", "IdP metadata URL: https to a public address; fetched now, then again periodically by serve (--metadata-refresh)")
			registerMetadataLoopback(s, &loopback)
			// Every other flag is a setting of store's table, parsed by SSOSettings.Set, the one parser
			// the management API and the console use too.
			for _, st := range store.SSOSettingTable {
				if st.Bool {
					s.Bool(st.Name, false, st.Help)
				} else {
					s.String(st.Name, "", st.Help)
				}
			}
		},
		check: func([]string) error {
			if metaFile != "" && metaURL != "" {
				return errors.New("give --metadata-file or --metadata-url, not both")
			}
			return nil
		},
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			cur, err := store.SSOSettingsOf(ctx, st, t.ID)
			if err != nil {
				return err
			}
			var idp *samlsp.IdP
			switch {
			case metaFile != "":
				b, err := readLimited(metaFile)
				if err != nil {
					return fmt.Errorf("--metadata-file: %v", err)
				}
				if idp, err = samlsp.ParseIdPMetadata(b); err != nil {
					return fmt.Errorf("--metadata-file %s: %v", metaFile, err)
				}
			case metaURL != "":
				b, err := fetchMetadata(ctx, metaURL, loopback)
				if err != nil {
					return fmt.Errorf("--metadata-url: %v", err)
				}
				if idp, err = samlsp.ParseIdPMetadata(b); err != nil {
					return fmt.Errorf("--metadata-url %s: %v", metaURL, err)
				}
			}
			var newIdP *store.SSOIdP
			if idp != nil {
				newIdP = &store.SSOIdP{EntityID: idp.EntityID, SSOURL: idp.SSOURL, CertificatesPEM: idp.CertificatesPEM, MetadataURL: metaURL}
			}
			var changes []store.SSOChange
			fs.Visit(func(fl *flag.Flag) {
				// --tenant, --db and the metadata flags are not settings: passed over.
				if _, ok := store.SSOSettingNamed(fl.Name); ok {
					changes = append(changes, store.SSOChange{Name: fl.Name, Value: fl.Value.String()})
				}
			})
			if err := cur.Apply(newIdP, changes); err != nil {
				return ssoFlagError(err)
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
			s, err := store.SSOSettingsOf(ctx, st, t.ID)
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
				fmt.Fprintf(out, "IdP certificate %d:           %s\n", i+1, certSummary(c, m.Now()))
			}
			if s.IdPMetadataURL != "" {
				fmt.Fprintf(out, "IdP metadata refresh:        %s\n", fetchSummary(ctx, st, t.ID))
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
			if *expires == "" { // a flag given empty is a mistake, not ParseLifetime's "not given"
				return errors.New("--expires: give a lifetime such as 1h (at most 7d)")
			}
			dur, err := store.ParseLifetime(*expires, 0, store.MaxTestLinkLifetime)
			if err != nil {
				return fmt.Errorf("--%v", err)
			}
			exp = m.Now().Add(dur)
			return nil
		},
		run: func(ctx context.Context, st store.Store, t *store.Tenant, _ []string) error {
			set, err := store.SSOSettingsOf(ctx, st, t.ID)
			if err != nil {
				return err
			}
			if !set.CanTest() {
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

// parseIdPMetadata is samlsp.ParseIdPMetadata for the management API.
func parseIdPMetadata(b []byte) (platformapi.IdPMetadata, error) {
	idp, err := samlsp.ParseIdPMetadata(b)
	if err != nil {
		return platformapi.IdPMetadata{}, err
	}
	return platformapi.IdPMetadata{EntityID: idp.EntityID, SSOURL: idp.SSOURL, CertificatesPEM: idp.CertificatesPEM}, nil
}

// fetchSummary describes the state of the periodic fetch of the tenant's IdP metadata.
func fetchSummary(ctx context.Context, st store.Store, tenantID string) string {
	f, err := st.MetadataFetch(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return "not fetched again since it was set (serve fetches it when due)"
	}
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	out := "last success " + at(f.LastOKAt) + ", next " + at(f.NextAt)
	if f.LastError != "" {
		out += ", last try " + at(f.LastAt) + " failed: " + f.LastError
	}
	return out
}

// certSummary describes a certificate by subject, expiry and SHA-256 fingerprint, and says when it
// expires within store.CertificateWarning of now.
func certSummary(p string, now time.Time) string {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return "(unreadable)"
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "(unreadable)"
	}
	sum := sha256.Sum256(c.Raw)
	out := fmt.Sprintf("%s, expires %s, sha256 %X", c.Subject.CommonName, c.NotAfter.Format("2006-01-02"), sum[:8])
	if c.NotAfter.Before(now.Add(store.CertificateWarning)) {
		out += " (EXPIRES WITHIN 30 DAYS)"
	}
	return out
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20+1))
}
