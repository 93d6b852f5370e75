package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/store"
)

// The secrets the store must give back in clear (SP private keys, OIDC signing keys, webhook
// secrets) are sealed with the keyring when there is one. They are reported and resealed alike: one
// sealedKind each, one report type, one classification and one reseal.

// SealedReport says how one kind of sealed secret is held. SPKeyReport, OIDCKeyReport and
// WebhookSecretReport are it.
type SealedReport struct {
	// Current counts the values encrypted under the keyring's first key.
	Current int
	// Older counts the values encrypted under another key of the keyring.
	Older int
	// Plain counts the values stored unencrypted.
	Plain int
	// Unreadable maps the name of each value that does not open (a tenant's slug for SP keys, a key
	// id, a webhook id) to the reason: its key id is not in the keyring (or there is none), or it
	// fails to authenticate. What needs it fails: a tenant's sign-in, a webhook's delivery.
	Unreadable map[string]error
	// UnreadableRetiring are the values of Unreadable that are retiring (OIDC signing keys replaced by
	// a rotation): they only verify, with their public half, until they leave the key set, so they
	// need no fixing.
	UnreadableRetiring int
	// Resealed counts the values a reseal encrypted under the first key (included in Current).
	Resealed int
}

// Stale is how many readable values are not under the keyring's first key.
func (r SealedReport) Stale() int { return r.Older + r.Plain }

// SPKeyReport says how the tenants' SP private keys are held (Unreadable by tenant slug).
type SPKeyReport = SealedReport

// OIDCKeyReport says how the OpenID provider's signing keys not yet retired are held (Unreadable by
// key id).
type OIDCKeyReport = SealedReport

// WebhookSecretReport says how the webhooks' secrets are held (Unreadable by webhook id).
type WebhookSecretReport = SealedReport

// sealedKind is where one kind of sealed secret is stored.
type sealedKind struct {
	what string // in errors: "SP keys"
	// list selects id, name, stored value and whether it is retiring, of every value to report.
	list string
	args func(s *Store) []any
	// update is `UPDATE … SET col = ? WHERE id = ? AND col = ?`: a row changed meanwhile is left as is.
	update string
	// context names the record a value is sealed for: a value copied into another row does not open.
	context func(id string) string
}

type sealedRow struct {
	id, name string
	stored   []byte
	retiring bool
}

// sealedState opens every value of the kind and counts it in a report; it returns the rows that are
// readable but not under the first key, with their plaintext.
func (s *Store) sealedState(ctx context.Context, k sealedKind) (rep SealedReport, stale []sealedRow, plain [][]byte, err error) {
	var args []any
	if k.args != nil {
		args = k.args(s)
	}
	var rows []sealedRow
	err = s.each(ctx, k.list, args, func(sc scanner) error {
		var r sealedRow
		var retiring int64
		if err := sc.Scan(&r.id, &r.name, &r.stored, &retiring); err != nil {
			return err
		}
		r.retiring = retiring != 0
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return rep, nil, nil, fmt.Errorf("sqlstore: %s: %w", k.what, err)
	}
	rep.Unreadable = map[string]error{}
	for _, r := range rows {
		pt, err := s.keys.Open(r.stored, k.context(r.id))
		if err != nil {
			rep.Unreadable[r.name] = err
			if r.retiring {
				rep.UnreadableRetiring++
			}
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
	return rep, stale, plain, nil
}

// sealedReport reports how the kind's values are held.
func (s *Store) sealedReport(ctx context.Context, k sealedKind) (SealedReport, error) {
	rep, _, _, err := s.sealedState(ctx, k)
	return rep, err
}

// reseal encrypts under the keyring's first key every value of the kind stored in clear or under
// another key, so the older key can then leave the key file. Each is replaced only if it is still the
// value read (a concurrent change wins), all in one transaction. Values that do not open are left as
// they are and reported. Without a keyring it refuses. The report is of the state after.
func (s *Store) reseal(ctx context.Context, k sealedKind) (SealedReport, error) {
	if s.keys == nil {
		return SealedReport{}, fmt.Errorf("sqlstore: reseal %s: %w", k.what, errNoKeyring)
	}
	rep, stale, plain, err := s.sealedState(ctx, k)
	if err != nil || len(stale) == 0 {
		return rep, err
	}
	ids, stored, sealed := make([]string, len(stale)), make([][]byte, len(stale)), make([][]byte, len(stale))
	for i, r := range stale {
		ids[i], stored[i] = r.id, r.stored
		if sealed[i], err = s.keys.Seal(plain[i], k.context(r.id)); err != nil {
			return SealedReport{}, fmt.Errorf("sqlstore: reseal %s: %w", k.what, err)
		}
	}
	var n int
	err = s.write(ctx, func(tx *wtx, now time.Time) error {
		n = 0
		for i, id := range ids {
			res, err := tx.exec(ctx, k.update, sealed[i], id, stored[i])
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err == nil && k == 1 {
				n++
			}
		}
		if n == 0 {
			return nil
		}
		return s.audit(ctx, tx, now, "", store.ActionSecretsResealed, "", nil, store.ResealAuditObject{What: k.what, Resealed: n})
	})
	if err != nil {
		return SealedReport{}, fmt.Errorf("sqlstore: reseal %s: %w", k.what, mapErr(err))
	}
	// The state now: what was resealed is current; a value changed meanwhile is counted again.
	after, err := s.sealedReport(ctx, k)
	if err != nil {
		return SealedReport{}, err
	}
	after.Resealed = n
	return after, nil
}

// errNoKeyring refuses a reseal without a keyring.
var errNoKeyring = errors.New("no secret key file is configured")
