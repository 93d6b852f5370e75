package sqlstore

import (
	"context"
)

// Tenants' SP private keys are the one secret the store must give back in clear (samlsp signs and
// decrypts with them), so they cannot be hashed; with a keyring they are sealed here, where every
// write and read of the column passes, so no caller can forget to. A key stored before a keyring was
// configured is PEM and still reads; ResealSPKeys encrypts it.

// spKeyContext names the record a sealed SP key belongs to: the value copied into another tenant's
// row does not open there.
func spKeyContext(tenantID string) string { return "tenant:" + tenantID + ":sp-key" }

// sealSPKey is what the store writes for tenantID's SP key: sealed when there is a keyring.
func (s *Store) sealSPKey(tenantID string, keyPEM []byte) ([]byte, error) {
	if s.keys == nil {
		return keyPEM, nil
	}
	return s.keys.Seal(keyPEM, spKeyContext(tenantID))
}

// openSPKey returns tenantID's SP key PEM from what the store holds.
func (s *Store) openSPKey(tenantID string, stored []byte) ([]byte, error) {
	return s.keys.Open(stored, spKeyContext(tenantID))
}

// spKeys is where the SP keys are stored: one per tenant, reported by slug.
var spKeys = sealedKind{
	what:    "SP keys",
	list:    `SELECT id, slug, sp_key_pem, 0 FROM tenants ORDER BY slug`,
	update:  `UPDATE tenants SET sp_key_pem = ? WHERE id = ? AND sp_key_pem = ?`,
	context: spKeyContext,
}

// SPKeys reports how the tenants' SP private keys are held: serve logs it at start, so an operator
// learns of keys still in clear, or of a key file that lacks a key id in use, before a sign-in fails.
func (s *Store) SPKeys(ctx context.Context) (SPKeyReport, error) { return s.sealedReport(ctx, spKeys) }

// ResealSPKeys encrypts under the keyring's first key every SP key stored in clear or under another
// key, so the older key can then leave the key file (sealedKind's reseal).
func (s *Store) ResealSPKeys(ctx context.Context) (SPKeyReport, error) { return s.reseal(ctx, spKeys) }
