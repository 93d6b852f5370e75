package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/internal/sealing"
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

// SPKeyReport says how the tenants' SP private keys are held.
type SPKeyReport struct {
	// Current counts the keys encrypted under the keyring's first key.
	Current int
	// Older counts the keys encrypted under another key of the keyring.
	Older int
	// Plain counts the keys stored unencrypted.
	Plain int
	// Unreadable maps the slug of each tenant whose key does not open to the reason: its key id is not
	// in the keyring (or there is none), or it fails to authenticate. Sign-in fails for these tenants.
	Unreadable map[string]error
	// Resealed counts the keys ResealSPKeys encrypted under the first key (included in Current).
	Resealed int
}

// Stale is how many readable keys are not under the keyring's first key.
func (r SPKeyReport) Stale() int { return r.Older + r.Plain }

type spKeyRow struct {
	id, slug string
	stored   []byte
}

func (s *Store) spKeyRows(ctx context.Context) ([]spKeyRow, error) {
	var out []spKeyRow
	err := s.each(ctx, `SELECT id, slug, sp_key_pem FROM tenants ORDER BY slug`, nil, func(sc scanner) error {
		var r spKeyRow
		if err := sc.Scan(&r.id, &r.slug, &r.stored); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sp keys: %w", err)
	}
	return out, nil
}

// replaceSealed writes each sealed value in place of the stored value it was made from, in one
// transaction; update is `UPDATE … SET col = ? WHERE id = ? AND col = ?`, so a row changed meanwhile is
// left as it is. It returns how many rows it replaced.
func (s *Store) replaceSealed(ctx context.Context, update string, ids []string, stored, sealed [][]byte) (int, error) {
	var n int
	err := s.write(ctx, func(tx *wtx, _ time.Time) error {
		n = 0
		for i, id := range ids {
			res, err := tx.exec(ctx, update, sealed[i], id, stored[i])
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err == nil && k == 1 {
				n++
			}
		}
		return nil
	})
	return n, err
}

// classify opens every row's key and counts it in rep; it returns the rows that are readable but not
// under the first key, with their plaintext.
func (s *Store) classify(rows []spKeyRow, rep *SPKeyReport) (stale []spKeyRow, plain [][]byte) {
	rep.Unreadable = map[string]error{}
	for _, r := range rows {
		pt, err := s.openSPKey(r.id, r.stored)
		if err != nil {
			rep.Unreadable[r.slug] = err
			continue
		}
		id, sealed := sealing.KeyID(r.stored)
		switch {
		case !sealed:
			rep.Plain++
		case s.keys != nil && id == s.keys.Current():
			rep.Current++
			continue
		default:
			rep.Older++
		}
		stale = append(stale, r)
		plain = append(plain, pt)
	}
	return stale, plain
}

// SPKeys reports how the tenants' SP private keys are held: serve logs it at start, so an operator
// learns of keys still in clear, or of a key file that lacks a key id in use, before a sign-in fails.
func (s *Store) SPKeys(ctx context.Context) (SPKeyReport, error) {
	rows, err := s.spKeyRows(ctx)
	if err != nil {
		return SPKeyReport{}, err
	}
	var rep SPKeyReport
	s.classify(rows, &rep)
	return rep, nil
}

// ResealSPKeys encrypts under the keyring's first key every SP key stored in clear or under another
// key, so the older key can then leave the key file. Each key is replaced only if it is still the
// value read (a concurrent change wins), all in one transaction. Keys that do not open are left as
// they are and reported. Without a keyring it refuses.
func (s *Store) ResealSPKeys(ctx context.Context) (SPKeyReport, error) {
	if s.keys == nil {
		return SPKeyReport{}, errors.New("sqlstore: reseal SP keys: no secret key file is configured")
	}
	rows, err := s.spKeyRows(ctx)
	if err != nil {
		return SPKeyReport{}, err
	}
	var rep SPKeyReport
	stale, plain := s.classify(rows, &rep)
	if len(stale) == 0 {
		return rep, nil
	}
	sealed := make([][]byte, len(stale))
	for i, r := range stale {
		if sealed[i], err = s.sealSPKey(r.id, plain[i]); err != nil {
			return SPKeyReport{}, fmt.Errorf("sqlstore: reseal SP keys: %w", err)
		}
	}
	ids, stored := make([]string, len(stale)), make([][]byte, len(stale))
	for i, r := range stale {
		ids[i], stored[i] = r.id, r.stored
	}
	n, err := s.replaceSealed(ctx, `UPDATE tenants SET sp_key_pem = ? WHERE id = ? AND sp_key_pem = ?`, ids, stored, sealed)
	if err != nil {
		return SPKeyReport{}, fmt.Errorf("sqlstore: reseal SP keys: %w", mapErr(err))
	}
	// Report the state now: what was resealed is current; a key changed meanwhile is counted again.
	after, err := s.SPKeys(ctx)
	if err != nil {
		return SPKeyReport{}, err
	}
	after.Resealed = n
	return after, nil
}
