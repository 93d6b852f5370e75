package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// The webhooks' tables (migration 0010): each webhook's cursor (last_seq) over the events table, which
// is the outbox, and the record of its deliveries. Types are stored space-separated.

// webhookSecretContext names the record a sealed webhook secret belongs to: a value copied into another
// webhook's row does not open there.
func webhookSecretContext(id string) string { return "webhook:" + id + ":secret" }

// CreateWebhook implements store.Store.
func (s *Store) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	insert, err := s.newWebhook(w)
	if err != nil {
		return fmt.Errorf("sqlstore: create webhook: %w", err)
	}
	err = s.write(ctx, func(tx *wtx, now time.Time) error {
		if err := insert(tx, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, "", store.ActionWebhookAdded, w.ID, nil, store.NewWebhookAuditObject(w))
	})
	if err != nil {
		w.ID = "" // the insert ran, but its transaction did not commit
		return fmt.Errorf("sqlstore: create webhook: %w", err)
	}
	return nil
}

// newWebhook gives w a new id (and the default kind), seals its secret outside any transaction, and
// returns the insert to run in one, which also sets w's id and creation time: the one way a webhook row is
// made, by CreateWebhook and by CreateOIDCClient for a back-channel destination.
func (s *Store) newWebhook(w *store.Webhook) (func(tx *wtx, now time.Time) error, error) {
	id := uuid.NewString()
	if w.Kind == "" {
		w.Kind = store.KindWebhook
	}
	secret := []byte(w.Secret)
	if s.keys != nil {
		var err error
		if secret, err = s.keys.Seal(secret, webhookSecretContext(id)); err != nil {
			return nil, err
		}
	}
	return func(tx *wtx, now time.Time) error {
		_, err := tx.exec(context.Background(), `INSERT INTO webhooks (id, kind, ref, url, types, secret, created_at, last_seq, failures)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`, id, w.Kind, w.Ref, w.URL, joinSpaces(w.Types), nonNil(secret), micros(now), w.Cursor)
		if err == nil {
			w.ID, w.CreatedAt, w.Failures = id, fromMicros(micros(now)), 0
		}
		return err
	}, nil
}

const webhookCols = `id, kind, ref, url, types, created_at, last_seq, failures`

func scanWebhook(sc scanner, extra ...any) (*store.Webhook, error) {
	var w store.Webhook
	var types string
	var created int64
	if err := sc.Scan(append([]any{&w.ID, &w.Kind, &w.Ref, &w.URL, &types, &created, &w.Cursor, &w.Failures}, extra...)...); err != nil {
		return nil, err
	}
	w.Types, w.CreatedAt = splitSpaces(types), fromMicros(created)
	return &w, nil
}

// Webhook implements store.Store.
func (s *Store) Webhook(ctx context.Context, id string) (*store.Webhook, error) {
	if !storable(id) {
		return nil, fmt.Errorf("sqlstore: webhook: %w", store.ErrNotFound)
	}
	var sealed []byte
	w, err := scanWebhook(s.row(ctx, `SELECT `+webhookCols+`, secret FROM webhooks WHERE id = ?`, id), &sealed)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: webhook: %w", err)
	}
	secret, err := s.keys.Open(sealed, webhookSecretContext(id))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: webhook %s: secret: %w", id, err)
	}
	w.Secret = string(secret)
	return w, nil
}

// ListWebhooks implements store.Store.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	var out []store.Webhook
	err := s.each(ctx, `SELECT `+webhookCols+` FROM webhooks ORDER BY created_at, id`, nil, func(sc scanner) error {
		w, err := scanWebhook(sc)
		if err != nil {
			return err
		}
		out = append(out, *w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook implements store.Store. Its deliveries go with it (ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	if !storable(id) {
		return fmt.Errorf("sqlstore: delete webhook: %w", store.ErrNotFound)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		old, err := scanWebhook(tx.row(ctx, `DELETE FROM webhooks WHERE id = ? RETURNING `+webhookCols, id))
		if err != nil {
			return err // no such webhook: store.ErrNotFound
		}
		return s.audit(ctx, tx, now, "", store.ActionWebhookRemoved, id, store.NewWebhookAuditObject(old), nil)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete webhook: %w", err)
	}
	return nil
}

// AdvanceWebhook implements store.Store.
func (s *Store) AdvanceWebhook(ctx context.Context, id string, from, to int64, ds []store.Delivery) error {
	err := s.write(ctx, func(tx *wtx, _ time.Time) error {
		if err := moveCursor(ctx, tx, id, from, to, "0"); err != nil {
			return err
		}
		return insertDeliveries(ctx, tx, id, ds)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: advance webhook: %w", err)
	}
	return nil
}

// FailWebhook implements store.Store.
func (s *Store) FailWebhook(ctx context.Context, id string, from, to int64, ds []store.Delivery, failed store.Delivery) (int, error) {
	failures := "failures + 1"
	for _, d := range ds {
		if d.Outcome == store.DeliveryDelivered && to > from {
			failures = "1"
		}
	}
	var n int
	err := s.write(ctx, func(tx *wtx, _ time.Time) error {
		if err := moveCursor(ctx, tx, id, from, to, failures); err != nil {
			return err
		}
		if err := insertDeliveries(ctx, tx, id, append(ds[:len(ds):len(ds)], failed)); err != nil {
			return err
		}
		return tx.row(ctx, `SELECT failures FROM webhooks WHERE id = ?`, id).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: fail webhook: %w", err)
	}
	return n, nil
}

// moveCursor sets the webhook's cursor to to and its failures to the expression failures, if its cursor
// is still from: ErrVersionMismatch when another delivery moved it, ErrNotFound when it is gone.
func moveCursor(ctx context.Context, tx *wtx, id string, from, to int64, failures string) error {
	if to < from {
		return fmt.Errorf("cursor may not move back from %d to %d", from, to)
	}
	res, err := tx.exec(ctx, `UPDATE webhooks SET last_seq = ?, failures = `+failures+` WHERE id = ? AND last_seq = ?`, to, id, from)
	if err := affected(res, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var n int
	if err := tx.row(ctx, `SELECT count(*) FROM webhooks WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return store.ErrVersionMismatch
}

// insertDeliveries inserts ds in statements of 100, 10 or 1 rows: a drain's batch is then a few
// statements, not a round trip per event (on PostgreSQL that was a third of a delivery's time), in
// three texts the statement caches keep.
func insertDeliveries(ctx context.Context, tx *wtx, id string, ds []store.Delivery) error {
	for len(ds) > 0 {
		n := 1
		for _, k := range []int{100, 10} {
			if len(ds) >= k {
				n = k
				break
			}
		}
		args := make([]any, 0, 9*n)
		for _, d := range ds[:n] {
			args = append(args, id, d.EventID, d.Seq, d.EventType, micros(d.At), d.Status, d.Error, d.Outcome, b2i(d.Resend))
		}
		if _, err := tx.exec(ctx, insertDeliveries1+strings.Repeat(", "+deliveryRow, n-1), args...); err != nil {
			return err
		}
		ds = ds[n:]
	}
	return nil
}

const (
	deliveryRow       = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	insertDeliveries1 = `INSERT INTO webhook_deliveries (webhook_id, event_id, seq, event_type, at, status, error, outcome, resend) VALUES ` + deliveryRow
)

// DeliveredAfter implements store.Store.
func (s *Store) DeliveredAfter(ctx context.Context, webhookID string, after int64) (map[string]bool, error) {
	ids := map[string]bool{}
	err := s.each(ctx, `SELECT event_id FROM webhook_deliveries WHERE webhook_id = ? AND seq > ? AND outcome = ? AND resend = 0`,
		[]any{webhookID, after, store.DeliveryDelivered}, func(sc scanner) error {
			var id string
			if err := sc.Scan(&id); err != nil {
				return err
			}
			ids[id] = true
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: delivered after: %w", err)
	}
	return ids, nil
}

// RecordDelivery implements store.Store.
func (s *Store) RecordDelivery(ctx context.Context, d store.Delivery) error {
	err := s.write(ctx, func(tx *wtx, _ time.Time) error {
		var n int
		if err := tx.row(ctx, `SELECT count(*) FROM webhooks WHERE id = ?`, d.WebhookID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return insertDeliveries(ctx, tx, d.WebhookID, []store.Delivery{d})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: record delivery: %w", err)
	}
	return nil
}

const deliveryCols = `webhook_id, event_id, seq, event_type, at, status, error, outcome, resend`

func scanDelivery(sc scanner) (*store.Delivery, error) {
	var d store.Delivery
	var at int64
	var resend int
	if err := sc.Scan(&d.WebhookID, &d.EventID, &d.Seq, &d.EventType, &at, &d.Status, &d.Error, &d.Outcome, &resend); err != nil {
		return nil, err
	}
	d.At, d.Resend = fromMicros(at), resend != 0
	return &d, nil
}

// ListDeliveries implements store.Store.
func (s *Store) ListDeliveries(ctx context.Context, webhookID, outcome string, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlstore: list deliveries: limit %d: want > 0", limit)
	}
	if !storable(webhookID) || !storable(outcome) {
		return nil, nil // names no webhook (or outcome): none delivered
	}
	q, args := `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`, []any{webhookID, limit}
	if outcome != "" {
		// Index webhook_deliveries_by_outcome.
		q = `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE webhook_id = ? AND outcome = ? ORDER BY id DESC LIMIT ?`
		args = []any{webhookID, outcome, limit}
	}
	var out []store.Delivery
	err := s.each(ctx, q, args, func(sc scanner) error {
		d, err := scanDelivery(sc)
		if err != nil {
			return err
		}
		out = append(out, *d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list deliveries: %w", err)
	}
	return out, nil
}

// DeliveryOf implements store.Store. It reads the webhook's deliveries (no index by event: each
// delivery recorded would pay for one, for a look-up only a resend makes).
func (s *Store) DeliveryOf(ctx context.Context, webhookID, eventID string) (*store.Delivery, error) {
	if !storable(webhookID) || !storable(eventID) {
		return nil, fmt.Errorf("sqlstore: delivery of: %w", store.ErrNotFound)
	}
	d, err := scanDelivery(s.row(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ?
		ORDER BY id DESC LIMIT 1`, webhookID, eventID))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: delivery of %s: %w", strings.TrimSpace(eventID), err)
	}
	return d, nil
}

// sweepWebhooks deletes, within tx, the given-up deliveries older than DeliveryRetention and, of each
// webhook in ids, the attempts past its latest MaxDeliveries; Sweep calls it in its transaction.
func sweepWebhooks(ctx context.Context, tx *wtx, now time.Time, ids []string) (int64, error) {
	res, err := tx.exec(ctx, `DELETE FROM webhook_deliveries WHERE outcome = ? AND at < ?`,
		store.DeliveryGaveUp, micros(now.Add(-store.DeliveryRetention)))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	for _, id := range ids {
		res, err := tx.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ? AND outcome <> ? AND id < (
			SELECT id FROM webhook_deliveries WHERE webhook_id = ? AND outcome <> ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			id, store.DeliveryGaveUp, id, store.DeliveryGaveUp, store.MaxDeliveries-1)
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// webhookSecrets is where the webhooks' secrets are stored, reported by webhook id.
var webhookSecrets = sealedKind{
	what:    "webhook secrets",
	list:    `SELECT id, id, secret, 0 FROM webhooks ORDER BY id`,
	update:  `UPDATE webhooks SET secret = ? WHERE id = ? AND secret = ?`,
	context: webhookSecretContext,
}

// WebhookSecrets reports how the webhooks' secrets are held, as SPKeys does for the SP keys.
func (s *Store) WebhookSecrets(ctx context.Context) (WebhookSecretReport, error) {
	return s.sealedReport(ctx, webhookSecrets)
}

// ResealWebhookSecrets encrypts under the keyring's first key every webhook secret stored in clear or
// under another key, as ResealSPKeys does for the SP keys.
func (s *Store) ResealWebhookSecrets(ctx context.Context) (WebhookSecretReport, error) {
	return s.reseal(ctx, webhookSecrets)
}
