package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/store"
)

// The sign-in log (store.SignInLogStore): sign_in_log holds the records, sign_in_refusals numbers the
// refusals of each tenant, minute and class so that the cap is exact on any number of replicas.

const signInCols = `seq, tenant_id, at, outcome, method, user_id, email, code, reason, ref, issuer, verified, client_addr, count`

// RecordSignIn implements store.Store.
func (s *Store) RecordSignIn(ctx context.Context, r *store.SignInRecord) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		return s.recordSignIn(ctx, tx, now, r)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: record sign-in: %w", err)
	}
	return nil
}

// AddRefusals implements store.Store.
func (s *Store) AddRefusals(ctx context.Context, tenantID string, at time.Time, class store.SignInClass, n int) error {
	bucket := store.SignInBucket(at, class)
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		_, err := tx.exec(ctx, `UPDATE sign_in_log SET count = count + ? WHERE tenant_id = ? AND bucket = ?`, n, tenantID, bucket+1)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: add refusals: %w", err)
	}
	return nil
}

// recordSignIn writes r within tx at now, capping refusals (store.MaxRefusalsPerMinute per tenant,
// minute and class). SignIn and PasswordSignIn call it for the accepted sign-in they write.
func (s *Store) recordSignIn(ctx context.Context, tx *wtx, now time.Time, r *store.SignInRecord) error {
	r.Bound()
	r.Time, r.Count, r.Seq = fromMicros(micros(now)), 1, 0
	if r.Capped() {
		// The bucket names the minute and the class: verified refusals (what the tenant's IdP signed)
		// are counted apart from anyone's garbage, which can never use up their room.
		bucket := store.SignInBucket(now, r.Class())
		var n int
		err := tx.row(ctx, `INSERT INTO sign_in_refusals (tenant_id, bucket, n) VALUES (?, ?, 1)
			ON CONFLICT (tenant_id, bucket) DO UPDATE SET n = sign_in_refusals.n + 1 RETURNING n`, r.TenantID, bucket).Scan(&n)
		if err != nil {
			return err
		}
		if n > store.MaxRefusalsPerMinute {
			more := store.SignInRecord{TenantID: r.TenantID, Time: r.Time, Outcome: store.SignInRefused, Method: r.Method,
				Code: store.SignInCodeMore, Verified: r.Verified, FromIdP: r.FromIdP, Count: 1,
				Reason: fmt.Sprintf("more than %d refused sign-ins in this minute; the rest are counted here, not recorded one by one", store.MaxRefusalsPerMinute)}
			switch {
			case r.Method == store.SignInTest:
				more.Reason = fmt.Sprintf("more than %d refused or test sign-ins in this minute; the rest are counted here, not recorded one by one", store.MaxRefusalsPerMinute)
			case r.Verified:
				more.Reason += " (responses signed by the IdP: a replayed or misconfigured stream)"
			case r.FromIdP:
				more.Reason += " (unverified responses naming the tenant's IdP as issuer: a missed key rollover, or someone posing as it)"
			}
			err := tx.row(ctx, `INSERT INTO sign_in_log (tenant_id, at, outcome, method, user_id, email, code, reason, ref, issuer, verified, client_addr, count, bucket)
				VALUES (?, ?, ?, ?, '', '', ?, ?, '', '', ?, '', 1, ?)
				ON CONFLICT (tenant_id, bucket) WHERE bucket > 0 DO UPDATE SET count = sign_in_log.count + 1 RETURNING seq, count`,
				more.TenantID, micros(now), string(more.Outcome), string(more.Method), more.Code, more.Reason, b2i(more.Verified), bucket+1).
				Scan(&more.Seq, &more.Count)
			if err != nil {
				return err
			}
			*r = more
			return nil
		}
	}
	return tx.row(ctx, `INSERT INTO sign_in_log (tenant_id, at, outcome, method, user_id, email, code, reason, ref, issuer, verified, client_addr, count, bucket)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0) RETURNING seq`,
		r.TenantID, micros(now), string(r.Outcome), string(r.Method), r.UserID, r.Email, r.Code, r.Reason, r.Ref, r.Issuer,
		b2i(r.Verified), r.ClientAddr).Scan(&r.Seq)
}

// logAccepted records the accepted sign-in of u in the tenant's log within tx, when rec is not nil
// (SignIn.Log, PasswordSignIn.Log); rec gets the stored values.
func (s *Store) logAccepted(ctx context.Context, tx *wtx, now time.Time, tenantID string, u *store.User, rec *store.SignInRecord) error {
	if rec == nil {
		return nil
	}
	rec.TenantID, rec.Outcome, rec.UserID, rec.Email, rec.Code = tenantID, store.SignInAccepted, u.ID, u.UserName, ""
	return s.recordSignIn(ctx, tx, now, rec)
}

// ListSignIns implements store.Store.
func (s *Store) ListSignIns(ctx context.Context, q store.SignInQuery) ([]store.SignInRecord, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = 100
	case limit > 500:
		limit = 500
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	where, args := `tenant_id = ? AND seq < ?`, []any{q.TenantID, before}
	if q.Outcome != "" {
		where += ` AND outcome = ?`
		args = append(args, string(q.Outcome))
	}
	if q.Email != "" {
		where += ` AND email = ?`
		args = append(args, store.Key(q.Email))
	}
	if q.Ref != "" {
		// No index: the log of a tenant is bounded (30 days, refusals capped per minute), and an admin
		// looks a reference up once, not in a loop.
		where += ` AND ref = ?`
		args = append(args, q.Ref)
	}
	if !storable(q.TenantID) || !storable(q.Email) || !storable(q.Ref) {
		return []store.SignInRecord{}, nil
	}
	out := []store.SignInRecord{}
	err := s.each(ctx, `SELECT `+signInCols+` FROM sign_in_log WHERE `+where+` ORDER BY seq DESC LIMIT ?`, append(args, limit),
		func(sc scanner) error {
			var r store.SignInRecord
			var at int64
			var verified int
			var outcome, method string
			if err := sc.Scan(&r.Seq, &r.TenantID, &at, &outcome, &method, &r.UserID, &r.Email, &r.Code, &r.Reason, &r.Ref,
				&r.Issuer, &verified, &r.ClientAddr, &r.Count); err != nil {
				return err
			}
			r.Time, r.Verified = fromMicros(at), verified != 0
			r.Outcome, r.Method = store.SignInOutcome(outcome), store.SignInMethod(method)
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sign-ins: %w", err)
	}
	return out, nil
}

// sweepSignIns deletes the sign-in records older than store.SignInRetention, sweepBatch at a time,
// each batch its own transaction (a month of a busy tenant's refusals must not hold the one writer),
// and the refusal counts of minutes past.
func (s *Store) sweepSignIns(ctx context.Context) (int64, error) {
	var n int64
	for {
		var k int64
		err := s.write(ctx, func(tx *wtx, now time.Time) error {
			res, err := tx.exec(ctx, `DELETE FROM sign_in_log WHERE seq IN (SELECT seq FROM sign_in_log WHERE at < ? ORDER BY at LIMIT ?)`,
				micros(now.Add(-store.SignInRetention)), sweepBatch)
			if err != nil {
				return err
			}
			k, _ = res.RowsAffected()
			if k < sweepBatch {
				res, err := tx.exec(ctx, `DELETE FROM sign_in_refusals WHERE bucket < ?`, store.SignInBucket(now.Add(-time.Minute), 0))
				if err != nil {
					return err
				}
				m, _ := res.RowsAffected()
				n += m
			}
			return nil
		})
		n += k
		if err != nil || k < sweepBatch {
			return n, err
		}
	}
}
