package store

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// IdP metadata given by URL (SSOSettings.IdPMetadataURL) is fetched again periodically by one replica
// at a time, which takes the fetch with ClaimMetadataFetch (SPEC.md "Admins": "IdP metadata given by
// URL is fetched again periodically; new certificates are added before old ones go; certificates
// expiring within 30 days are shown in the console and announced by an event").

// EventSSOCertificateExpiring is the event of an IdP signing certificate of a tenant that expires
// within CertificateWarning: recorded once per certificate (AnnounceCertificateExpiring), its data a
// CertificateObject.
const EventSSOCertificateExpiring = "sso.certificate_expiring"

// CertificateWarning is how long before its expiry an IdP certificate is announced and shown.
const CertificateWarning = 30 * 24 * time.Hour

// MetadataFetch is the state of the periodic refresh of a tenant's IdP metadata, as the console shows
// it. A tenant whose metadata came as a file has one too (its certificates are watched for expiry on
// the same schedule), with URL "" and LastAt zero.
type MetadataFetch struct {
	TenantID string
	URL      string    // the URL last fetched
	NextAt   time.Time // when the next fetch is due
	LastAt   time.Time // when it was last tried; zero: never
	LastOKAt time.Time // when a fetch last succeeded; zero: never
	// LastError says why the last try failed (unreachable, refused address, not metadata); "" when it
	// succeeded. A failed fetch changes no setting.
	LastError string
}

// CertificateObject is an IdP signing certificate as the sso.certificate_expiring event shows it.
type CertificateObject struct {
	Tenant      string    `json:"tenant"`      // the tenant's slug
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, lower-case hex
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
}

// MetadataFetchStore is the periodic metadata fetch's part of the Store.
type MetadataFetchStore interface {
	// ClaimMetadataFetch takes the tenant's next fetch of its IdP metadata: when its fetch is due at
	// the store's time (or none was ever recorded), or force is set, it moves the next fetch to lease
	// after now and returns true; otherwise it changes nothing and returns false. The check and the move
	// are one conditional UPDATE, so of concurrent claims of one due fetch, from any replica, exactly
	// one returns true. ErrNotFound for an unknown tenant.
	ClaimMetadataFetch(ctx context.Context, tenantID string, lease time.Duration, force bool) (bool, error)
	// FinishMetadataFetch records the outcome of a fetch of url at the store's time: failure "" for a
	// success (LastOKAt moves), else why it failed (cut to a few hundred bytes); the next fetch is due
	// next after now. ErrNotFound for an unknown tenant.
	FinishMetadataFetch(ctx context.Context, tenantID, url, failure string, next time.Duration) error
	// MetadataFetch returns the tenant's fetch state, or ErrNotFound when none was ever claimed.
	MetadataFetch(ctx context.Context, tenantID string) (*MetadataFetch, error)
	// AnnounceCertificateExpiring records an sso.certificate_expiring event for the tenant's
	// certificate c (c.Tenant is filled in), unless one was recorded for that fingerprint before, and
	// reports whether it recorded it; the check and the event are one transaction, so a certificate is
	// announced once, whichever replica sees it first. ErrNotFound for an unknown tenant.
	AnnounceCertificateExpiring(ctx context.Context, tenantID string, c CertificateObject) (bool, error)
}

// ErrNoMetadataURL is MetadataRefresher's error for a tenant whose IdP metadata was not given by URL
// (its certificates are still checked for expiry).
var ErrNoMetadataURL = errors.New("the tenant's IdP metadata was not given by URL")

// ErrMetadataURLChanged is MetadataRefresher's error when the tenant's metadata URL changed while the
// old one was fetched: nothing is applied, nothing is recorded as a success, and the new URL is due
// at once.
var ErrMetadataURLChanged = errors.New("the metadata URL changed during the fetch; the new one is fetched next")

// MetadataRefreshFailure is MetadataRefresher's error for a refresh that failed and was recorded so
// (MetadataFetch.LastError): Reason is the text recorded, in words for the tenant's admin, which the
// console and the management API show; Err is what failed. Any other error is not for their eyes.
type MetadataRefreshFailure struct {
	Reason string
	Err    error
}

func (e *MetadataRefreshFailure) Error() string { return e.Reason }

// Unwrap returns what failed (ErrMetadataURLChanged, say).
func (e *MetadataRefreshFailure) Unwrap() error { return e.Err }

// MetadataRefresh is what one refresh of a tenant's IdP metadata did.
type MetadataRefresh struct {
	Fetched bool     // the metadata was fetched and read
	Changed bool     // the settings were changed (and stored)
	Added   []string // fingerprints of the certificates added
	Removed []string // fingerprints of the certificates removed
	// Kept are fingerprints of certificates the metadata no longer lists that were kept, because it
	// lists no valid certificate.
	Kept      []string
	Announced []string // fingerprints announced as expiring by this refresh
}

// Summary says what the refresh did, in words for a person: "nothing changed", or "settings changed"
// with how many certificates were added and removed, and how many no longer listed were kept. The
// CLI prints it and the console shows it, so both say the same.
func (r *MetadataRefresh) Summary() string {
	what := "nothing changed"
	if r.Changed {
		var parts []string
		for _, p := range []struct {
			n    int
			verb string
		}{{len(r.Added), "added"}, {len(r.Removed), "removed"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d certificate(s) %s", p.n, p.verb))
			}
		}
		what = "settings changed"
		if len(parts) > 0 {
			what += ": " + strings.Join(parts, ", ")
		}
	}
	if len(r.Kept) > 0 {
		what += fmt.Sprintf("; %d certificate(s) no longer listed kept, as the metadata lists no valid one", len(r.Kept))
	}
	return what
}

// MetadataRefresher refreshes a tenant's IdP metadata from its URL on demand: what the console's and
// the management API's "refresh now" call. cmd hands them samlsp's Refresher, which implements it.
type MetadataRefresher interface {
	// RefreshMetadata fetches the tenant's metadata now, whatever the schedule, applies it as the
	// periodic refresh does, recording a change as the actor ctx carries (ActorOf: the admin who
	// asked, not the schedule's ActorSystem), and returns what it did. ErrNoMetadataURL when the
	// metadata was not given by URL; ErrNotFound (wrapped) for an unknown tenant; otherwise an error
	// says why the fetch or the change failed, in words fit for the tenant's admin, and nothing was
	// changed.
	RefreshMetadata(ctx context.Context, tenantID string) (*MetadataRefresh, error)
}

// IdPCertificate is what the console shows of one of a tenant's IdP signing certificates.
type IdPCertificate struct {
	PEM         string
	Fingerprint string // SHA-256 of the DER, lower-case hex
	Subject     string
	NotBefore   time.Time
	NotAfter    time.Time
}

// Valid reports whether the certificate is within its validity at now.
func (c IdPCertificate) Valid(now time.Time) bool {
	return !now.Before(c.NotBefore) && now.Before(c.NotAfter)
}

// Expiring reports whether the certificate expires within CertificateWarning of now (or has expired).
func (c IdPCertificate) Expiring(now time.Time) bool {
	return c.NotAfter.Before(now.Add(CertificateWarning))
}

// ParseIdPCertificate reads one PEM certificate of SSOSettings.IdPCertificatesPEM.
func ParseIdPCertificate(p string) (*IdPCertificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, err
	}
	fp := sha256.Sum256(c.Raw)
	return &IdPCertificate{PEM: p, Fingerprint: hex.EncodeToString(fp[:]), Subject: c.Subject.String(),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}, nil
}

// IdPCertificates returns s's IdP signing certificates, in order, each read; a certificate that does
// not parse is an error naming its position.
func (s *SSOSettings) IdPCertificates() ([]IdPCertificate, error) {
	out := make([]IdPCertificate, 0, len(s.IdPCertificatesPEM))
	for i, p := range s.IdPCertificatesPEM {
		c, err := ParseIdPCertificate(p)
		if err != nil {
			return nil, fmt.Errorf("IdP certificate %d: %w", i+1, err)
		}
		out = append(out, *c)
	}
	return out, nil
}

// MaxIdPCertificates bounds a tenant's IdP certificates: an IdP lists two at a rollover, and every
// signature is checked against each, so a list a metadata refresh could grow without bound (an IdP
// rotating keys often, or a hostile metadata URL) would slow every sign-in of the tenant.
const MaxIdPCertificates = 10

// MergeIdPCertificates returns the certificates a tenant keeps when its IdP's metadata now lists
// listed (PEM): every listed unexpired certificate not held yet is added at once (a rollover's new key is
// trusted before the IdP signs with it); a held certificate the metadata no longer lists is removed
// only when the metadata lists at least one certificate valid at now, so that the tenant is never
// left without a certificate that works. Certificates compare by fingerprint; order is held first,
// then the new ones as listed.
func MergeIdPCertificates(held []string, listed []IdPCertificate, now time.Time) []string {
	in := map[string]bool{}
	anyValid := false
	for _, c := range listed {
		in[c.Fingerprint] = true
		anyValid = anyValid || c.Valid(now)
	}
	var out []string
	have := map[string]bool{}
	for _, p := range held {
		c, err := ParseIdPCertificate(p)
		if err != nil {
			continue // not a certificate: never a working one
		}
		have[c.Fingerprint] = true
		if in[c.Fingerprint] || !anyValid {
			out = append(out, p)
		}
	}
	for _, c := range listed {
		// An expired certificate is never added: it can verify nothing new and would only take room.
		if !have[c.Fingerprint] && now.Before(c.NotAfter) {
			have[c.Fingerprint] = true
			out = append(out, c.PEM)
		}
	}
	return out
}
