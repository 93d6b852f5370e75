package store_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scimsso/scimsso/store"
)

func testCert(t testing.TB, name string, notBefore, notAfter time.Time) store.IdPCertificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.ParseIdPCertificate(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	return *c
}

// TestMergeIdPCertificates: new certificates are added at once; a withdrawn one goes only while the
// metadata lists a valid one; order is kept; a PEM written differently is the same certificate.
func TestMergeIdPCertificates(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	year := 365 * 24 * time.Hour
	a := testCert(t, "a", now.Add(-year), now.Add(year))
	b := testCert(t, "b", now.Add(-time.Hour), now.Add(2*year))
	expired := testCert(t, "expired", now.Add(-2*year), now.Add(-time.Hour))
	future := testCert(t, "future", now.Add(time.Hour), now.Add(year))
	names := map[string]string{a.PEM: "a", b.PEM: "b", expired.PEM: "expired", future.PEM: "future"}
	reflowed := strings.ReplaceAll(a.PEM, "\n", "\r\n")
	names[reflowed] = "a"
	for _, tc := range []struct {
		name   string
		held   []string
		listed []store.IdPCertificate
		want   []string
	}{
		{"unchanged", []string{a.PEM}, []store.IdPCertificate{a}, []string{"a"}},
		{"next key published", []string{a.PEM}, []store.IdPCertificate{a, b}, []string{"a", "b"}},
		{"old key withdrawn", []string{a.PEM, b.PEM}, []store.IdPCertificate{b}, []string{"b"}},
		{"rolled over at once", []string{a.PEM}, []store.IdPCertificate{b}, []string{"b"}},
		{"only an expired one listed", []string{a.PEM}, []store.IdPCertificate{expired}, []string{"a"}},
		{"only a not yet valid one listed", []string{a.PEM}, []store.IdPCertificate{future}, []string{"a", "future"}},
		{"nothing listed", []string{a.PEM}, nil, []string{"a"}},
		{"the same certificate in another PEM layout", []string{reflowed}, []store.IdPCertificate{a}, []string{"a"}},
		{"nothing held", nil, []store.IdPCertificate{a, b}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range store.MergeIdPCertificates(tc.held, tc.listed, now) {
				got = append(got, names[p])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("MergeIdPCertificates = %v, want %v", got, tc.want)
			}
		})
	}
	if !expired.Expiring(now) || a.Expiring(now) || !testCert(t, "soon", now, now.Add(29*24*time.Hour)).Expiring(now) {
		t.Error("Expiring")
	}
}

// TestMetadataRefreshSummary: what a refresh did, as the CLI prints it and the console shows it.
func TestMetadataRefreshSummary(t *testing.T) {
	for _, c := range []struct {
		res  store.MetadataRefresh
		want string
	}{
		{store.MetadataRefresh{Fetched: true}, "nothing changed"},
		{store.MetadataRefresh{Fetched: true, Changed: true}, "settings changed"},
		{store.MetadataRefresh{Fetched: true, Changed: true, Added: []string{"a"}}, "settings changed: 1 certificate(s) added"},
		{store.MetadataRefresh{Fetched: true, Changed: true, Added: []string{"a", "b"}, Removed: []string{"c"}}, "settings changed: 2 certificate(s) added, 1 certificate(s) removed"},
		{store.MetadataRefresh{Fetched: true, Kept: []string{"c"}}, "nothing changed; 1 certificate(s) no longer listed kept, as the metadata lists no valid one"},
	} {
		if got := c.res.Summary(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.res, got, c.want)
		}
	}
}

// TestSignInRecordBound: every text of a record is cut to its bound at a character boundary, made
// valid UTF-8 without NUL bytes, and the email compared in lower case.
func TestSignInRecordBound(t *testing.T) {
	r := store.SignInRecord{Reason: strings.Repeat("ü", store.MaxSignInReason), Email: "A@B.COM\x00", Issuer: "x\xffy", Code: strings.Repeat("c", 1000)}
	r.Bound()
	if len(r.Reason) > store.MaxSignInReason || !strings.HasSuffix(r.Reason, "…") || strings.ContainsRune(r.Reason, '\uFFFD') {
		t.Errorf("reason %d bytes: %q", len(r.Reason), r.Reason[len(r.Reason)-8:])
	}
	if r.Email != "a@b.com" || r.Issuer != "x\uFFFDy" || len(r.Code) > 320 {
		t.Errorf("bounded %+v", r)
	}
	if got := store.Clip("short", 10); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
}

// FuzzMergeIdPCertificates: whatever the held and listed certificates are (the listed ones come from
// an IdP's metadata), the merge never panics and never leaves a tenant that held a certificate
// without one.
func FuzzMergeIdPCertificates(f *testing.F) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a := testCert(f, "a", now.Add(-time.Hour), now.Add(time.Hour))
	old := testCert(f, "old", now.Add(-2*time.Hour), now.Add(-time.Hour))
	f.Add(a.PEM, old.PEM)
	f.Add(old.PEM, a.PEM)
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "")
	f.Fuzz(func(t *testing.T, held, listedPEM string) {
		var listed []store.IdPCertificate
		if c, err := store.ParseIdPCertificate(listedPEM); err == nil {
			listed = append(listed, *c)
		}
		out := store.MergeIdPCertificates([]string{held}, listed, now)
		if _, err := store.ParseIdPCertificate(held); err == nil && len(out) == 0 {
			t.Fatalf("held %q, listed %d: left with no certificate", held, len(listed))
		}
	})
}

// FuzzClip: Clip returns valid UTF-8 without NUL, within its bound, for any text.
func FuzzClip(f *testing.F) {
	f.Add("plain", 10)
	f.Add("ééééé\x00\xff", 6)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 4 || n > 1<<16 {
			return
		}
		got := store.Clip(s, n)
		if len(got) > n || !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 {
			t.Fatalf("Clip(%q, %d) = %q", s, n, got)
		}
	})
}
