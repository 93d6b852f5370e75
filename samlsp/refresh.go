package samlsp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/store"
)

// IdP metadata given by URL is fetched again every RefresherConfig.Interval (SPEC.md "Admins"): by one
// replica at a time, the one whose store.ClaimMetadataFetch wins. New signing certificates are added
// at once, one gone from the metadata is removed only while the metadata lists a valid one, a new
// entity ID or SSO URL is applied; the change is stored with PutSSOSettings, so the admin audit shows
// it: as the system's (store.ActorSystem) when the schedule made it, as the caller's when someone
// asked for it (RefreshMetadata: the console's admin, the management API's key, the CLI). A failure
// (unreachable, refused address, not metadata) changes nothing and is recorded for the console
// (store.MetadataFetch). Every tenant's certificates expiring within store.CertificateWarning are
// announced once, by an sso.certificate_expiring event, whether its metadata came by URL or as a
// file.

// DefaultRefreshInterval is how often a tenant's metadata is fetched again unless told otherwise.
const DefaultRefreshInterval = 6 * time.Hour

// RefresherConfig configures NewRefresher.
type RefresherConfig struct {
	Store  store.Store
	Logger *zap.Logger
	// Policy says where metadata may be fetched from (safefetch: https to public addresses; loopback
	// only with its logged setting).
	Policy safefetch.Policy
	// Interval is how often each tenant is refreshed; 0: DefaultRefreshInterval.
	Interval time.Duration
	// Now is the clock of certificate validity; nil: time.Now. The schedule is the store's clock.
	Now func() time.Time
}

// Refresher refreshes tenants' IdP metadata. It is safe for concurrent use; several replicas may each
// run one on the same store.
type Refresher struct {
	st       store.Store
	log      *zap.Logger
	fetch    *safefetch.Fetcher
	interval time.Duration
	now      func() time.Time
}

// NewRefresher returns a Refresher; Store and Logger are required.
func NewRefresher(cfg RefresherConfig) (*Refresher, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("samlsp: refresher: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("samlsp: refresher: Logger is required")
	case cfg.Interval < 0:
		return nil, errors.New("samlsp: refresher: Interval may not be negative")
	}
	r := &Refresher{st: cfg.Store, log: cfg.Logger, fetch: safefetch.NewFetcher(cfg.Policy), interval: cfg.Interval, now: cfg.Now}
	if r.interval == 0 {
		r.interval = DefaultRefreshInterval
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Run refreshes what is due every tick until ctx ends. Failures are logged; the next tick tries again.
func (r *Refresher) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := r.RefreshDue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("metadata refresh", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshDue refreshes every tenant with SSO settings whose refresh is due and which this call claims
// (store.ClaimMetadataFetch), and returns how many it refreshed. A tenant's failure is recorded for it
// and does not stop the others; only a failure to list them is returned.
func (r *Refresher) RefreshDue(ctx context.Context) (int, error) {
	ts, err := r.st.ListTenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("samlsp: refresh: %w", err)
	}
	// The schedule's changes are the system's in the admin audit.
	sctx := store.WithActor(ctx, store.Actor{Kind: store.ActorSystem, Name: "IdP metadata refresh"})
	var n atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, refreshWorkers)
	defer wg.Wait()
	for _, t := range ts {
		set, err := r.st.SSOSettings(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && set.IdPMetadataURL == "" && len(set.IdPCertificatesPEM) == 0) {
			continue // nothing to fetch, no certificate to watch
		}
		if err != nil {
			r.log.Warn("metadata refresh: settings", zap.String("tenant", t.Slug), zap.Error(err))
			continue
		}
		claimed, err := r.st.ClaimMetadataFetch(ctx, t.ID, r.interval, false)
		if err != nil {
			r.log.Warn("metadata refresh: claim", zap.String("tenant", t.Slug), zap.Error(err))
			continue
		}
		if !claimed {
			continue
		}
		n.Add(1)
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if _, err := r.refresh(sctx, &t); err != nil && !loggedByRefresh(err) {
				r.log.Warn("metadata refresh failed", zap.String("tenant", t.Slug), zap.Error(err))
			}
		}()
	}
	wg.Wait()
	return int(n.Load()), nil
}

// loggedByRefresh reports whether refresh logged err itself (the fetch's outcome, a store failure) or
// it is no failure (no URL): RefreshDue logs only the rest, each failure once.
func loggedByRefresh(err error) bool {
	var mf *store.MetadataRefreshFailure
	var sf *storeFailure
	return errors.Is(err, store.ErrNoMetadataURL) || errors.As(err, &mf) || errors.As(err, &sf)
}

// refreshWorkers is how many tenants RefreshDue fetches at once: a URL that stalls for the whole
// fetch timeout then holds one worker, not every other tenant's refresh.
const refreshWorkers = 4

var _ store.MetadataRefresher = (*Refresher)(nil)

// RefreshMetadata implements store.MetadataRefresher: the console's, the management API's and `sso
// refresh-metadata`'s "refresh now". A change is recorded as the actor ctx carries (store.ActorOf):
// whoever pressed the button made it, not the schedule.
func (r *Refresher) RefreshMetadata(ctx context.Context, tenantID string) (*store.MetadataRefresh, error) {
	// Finished whatever the caller does meanwhile (a closed tab, a client's timeout): a refresh cut
	// short by its caller would be recorded as a failure of the IdP's. Only Run's own end (shutdown)
	// interrupts one. Bounded all the same: the fetch by safefetch.Timeout, the whole by this.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), safefetch.Timeout+15*time.Second)
	defer cancel()
	t, err := r.st.TenantByID(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("samlsp: refresh: %w", err)
	}
	set, err := r.st.SSOSettings(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && set.IdPMetadataURL == "") {
		// Nothing to fetch, and nothing to schedule: the certificates (if any) are still checked.
		res := &store.MetadataRefresh{}
		if err == nil {
			if err := r.announce(ctx, t, res); err != nil {
				return res, err
			}
		}
		return res, store.ErrNoMetadataURL
	}
	if err != nil {
		return nil, fmt.Errorf("samlsp: refresh: %w", err)
	}
	if _, err := r.st.ClaimMetadataFetch(ctx, t.ID, r.interval, true); err != nil {
		return nil, fmt.Errorf("samlsp: refresh: %w", err)
	}
	return r.refresh(ctx, t)
}

// maxFailure bounds the text of a failed refresh that is logged and kept for the console.
const maxFailure = 300

// refresh does one claimed refresh of tenant t: fetch, read and apply the metadata when it has a URL,
// record the outcome, announce expiring certificates.
func (r *Refresher) refresh(ctx context.Context, t *store.Tenant) (*store.MetadataRefresh, error) {
	res := &store.MetadataRefresh{}
	set, err := r.st.SSOSettings(ctx, t.ID)
	if err != nil {
		return res, fmt.Errorf("samlsp: refresh: %w", err)
	}
	var ferr error
	if set.IdPMetadataURL != "" {
		url := set.IdPMetadataURL
		ferr = r.apply(ctx, t, url, res)
		failure := ""
		next := r.interval
		if errors.Is(ferr, store.ErrMetadataURLChanged) {
			next = 0 // the new URL is due at once
		}
		var sf *storeFailure
		if errors.As(ferr, &sf) {
			failure, next = "scimsso could not read or store the tenant's settings; it is tried again soon", min(next, r.interval, 30*time.Minute)
			r.log.Error("IdP metadata refresh: store", zap.String("tenant", t.Slug), zap.Error(sf.err))
		} else if ferr != nil && ctx.Err() != nil {
			// Cut short by this server's shutdown (Run's end; RefreshMetadata is never cut short),
			// not the IdP's doing: said so, not as the IdP's "cancelled", and tried again soon by
			// whichever replica runs.
			failure, next = "interrupted: the server stopped during the fetch; it is tried again within minutes", min(next, time.Minute)
			r.log.Info("IdP metadata refresh interrupted", zap.String("tenant", t.Slug))
		} else if ferr != nil {
			// Cut before it is logged or recorded: whatever a failure's text holds, it is bounded.
			failure = store.Clip(ferr.Error(), maxFailure)
			next = min(next, r.interval, 30*time.Minute) // a passing failure should not last hours
			r.log.Warn("IdP metadata refresh failed", zap.String("tenant", t.Slug), zap.String("reason", failure))
		} else {
			r.log.Info("IdP metadata refreshed", zap.String("tenant", t.Slug), zap.Bool("changed", res.Changed),
				zap.Strings("added", res.Added), zap.Strings("removed", res.Removed), zap.Strings("kept", res.Kept))
		}
		// Recorded even when ctx ended meanwhile (shutdown): otherwise the claim's lease (the whole
		// interval) would stand as the next fetch time.
		if err := r.st.FinishMetadataFetch(context.WithoutCancel(ctx), t.ID, url, failure, next); err != nil {
			return res, fmt.Errorf("samlsp: refresh: %w", err)
		}
		if ferr != nil && sf == nil {
			ferr = &store.MetadataRefreshFailure{Reason: failure, Err: ferr}
		}
	} else {
		ferr = store.ErrNoMetadataURL
	}
	if err := r.announce(ctx, t, res); err != nil {
		return res, err
	}
	return res, ferr
}

// apply fetches and reads the metadata at url and stores what changed, retrying once when the
// settings changed meanwhile.
func (r *Refresher) apply(ctx context.Context, t *store.Tenant, url string, res *store.MetadataRefresh) error {
	b, err := r.fetch.Get(ctx, url)
	if err != nil {
		return fmt.Errorf("fetching the metadata: %v", err)
	}
	idp, err := ParseIdPMetadata(b)
	var me *metadataError
	if errors.As(err, &me) {
		return fmt.Errorf("reading the metadata: %s", me.text) // the detail may quote the remote document
	}
	if err != nil {
		return fmt.Errorf("reading the metadata: %v", err)
	}
	if len(idp.CertificatesPEM) > store.MaxIdPCertificates {
		return fmt.Errorf("the metadata lists %d certificates, more than the %d a tenant may hold", len(idp.CertificatesPEM), store.MaxIdPCertificates)
	}
	listed := make([]store.IdPCertificate, 0, len(idp.CertificatesPEM))
	for _, p := range idp.CertificatesPEM {
		c, err := store.ParseIdPCertificate(p)
		if err != nil {
			return errors.New("reading the metadata: a signing certificate cannot be read")
		}
		listed = append(listed, *c)
	}
	res.Fetched = true
	for attempt := 0; ; attempt++ {
		set, err := r.st.SSOSettings(ctx, t.ID)
		if err != nil {
			return &storeFailure{err}
		}
		if set.IdPMetadataURL != url {
			return store.ErrMetadataURLChanged // not a success of the new URL: fetched next
		}
		held, _ := set.IdPCertificates()
		next := store.MergeIdPCertificates(set.IdPCertificatesPEM, listed, r.now())
		res.Added, res.Removed, res.Kept = diff(held, listed, next)
		if slices.Equal(next, set.IdPCertificatesPEM) && set.IdPEntityID == idp.EntityID && set.IdPSSOURL == idp.SSOURL {
			return nil
		}
		set.IdPCertificatesPEM, set.IdPEntityID, set.IdPSSOURL = next, idp.EntityID, idp.SSOURL
		if err := set.Validate(); err != nil {
			// Only the setting's name: the rule's words may quote the remote entity ID or SSO URL.
			var se *store.SettingError
			if errors.As(err, &se) {
				return fmt.Errorf("the metadata would make the settings invalid (%s)", se.Setting)
			}
			return errors.New("the metadata would make the settings invalid")
		}
		err = r.st.PutSSOSettings(ctx, t.ID, set)
		if errors.Is(err, store.ErrVersionMismatch) && attempt == 0 {
			continue
		}
		if errors.Is(err, store.ErrVersionMismatch) {
			return errors.New("the SSO settings changed twice while the metadata was applied")
		}
		if err != nil {
			return &storeFailure{err}
		}
		res.Changed = true
		return nil
	}
}

// storeFailure is apply's error when the store failed: not the IdP's doing and not for the tenant
// admin's eyes (its text may name the database), so it is recorded in words of our own and returned
// as it is, for the console and the API to answer as any store failure.
type storeFailure struct{ err error }

func (e *storeFailure) Error() string { return e.err.Error() }
func (e *storeFailure) Unwrap() error { return e.err }

// diff names, by fingerprint, the certificates added to held, removed from it, and kept though the
// metadata (listed) no longer has them, to reach next.
func diff(held, listed []store.IdPCertificate, next []string) (added, removed, kept []string) {
	inNext := map[string]bool{}
	for _, p := range next {
		if c, err := store.ParseIdPCertificate(p); err == nil {
			inNext[c.Fingerprint] = true
		}
	}
	inHeld, inListed := map[string]bool{}, map[string]bool{}
	for _, c := range listed {
		inListed[c.Fingerprint] = true
	}
	for _, c := range held {
		inHeld[c.Fingerprint] = true
		switch {
		case !inNext[c.Fingerprint]:
			removed = append(removed, c.Fingerprint)
		case !inListed[c.Fingerprint]:
			kept = append(kept, c.Fingerprint)
		}
	}
	for _, c := range listed {
		if !inHeld[c.Fingerprint] && inNext[c.Fingerprint] {
			added = append(added, c.Fingerprint)
			inHeld[c.Fingerprint] = true
		}
	}
	return added, removed, kept
}

// announce records an sso.certificate_expiring event for each of the tenant's certificates that
// expires within store.CertificateWarning and was not announced before.
func (r *Refresher) announce(ctx context.Context, t *store.Tenant, res *store.MetadataRefresh) error {
	set, err := r.st.SSOSettings(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("samlsp: refresh: %w", err)
	}
	certs, _ := set.IdPCertificates()
	now := r.now()
	for _, c := range certs {
		if !c.Expiring(now) {
			continue
		}
		done, err := r.st.AnnounceCertificateExpiring(ctx, t.ID, store.CertificateObject{Fingerprint: c.Fingerprint, Subject: c.Subject, NotAfter: c.NotAfter})
		if err != nil {
			return fmt.Errorf("samlsp: refresh: %w", err)
		}
		if done {
			res.Announced = append(res.Announced, c.Fingerprint)
			r.log.Warn("IdP certificate expiring", zap.String("tenant", t.Slug), zap.String("fingerprint", c.Fingerprint),
				zap.Time("not_after", c.NotAfter))
		}
	}
	return nil
}
