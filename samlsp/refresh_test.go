package samlsp_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/store/storetest"
)

// newMetadataServer is an IdP's metadata URL over TLS whose document the test changes, counting fetches.
func newMetadataServer(t *testing.T) *samltest.MetadataURL {
	m := samltest.NewMetadataURL(nil, true)
	t.Cleanup(m.Close)
	return m
}

// policy trusts m's certificate and allows loopback, where httptest listens.
func policy(m *samltest.MetadataURL) safefetch.Policy {
	pool := x509.NewCertPool()
	pool.AddCert(m.Certificate())
	return safefetch.Policy{AllowHTTPLoopback: true, LoopbackSetting: "test", RootCAs: pool}
}

func newIdP(t *testing.T, entityID string, notBefore, notAfter time.Time) *samltest.IdP {
	t.Helper()
	idp, err := samltest.New(entityID, "https://idp.example/sso", notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return idp
}

// tenantByURL creates tenant acme on st with SSO active for idp, its metadata given by url.
func tenantByURL(t *testing.T, st store.Store, idp *samltest.IdP, url string) *store.Tenant {
	t.Helper()
	tn := &store.Tenant{Slug: "acme", Name: "Acme", Domains: []string{"acme.com"}, SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	set := store.DefaultSSOSettings()
	set.State, set.IdPEntityID, set.IdPSSOURL = store.SSOActive, idp.EntityID, idp.SSOURL
	set.IdPCertificatesPEM, set.IdPMetadataURL = []string{idp.CertPEM()}, url
	if err := st.PutSSOSettings(ctx, tn.ID, set); err != nil {
		t.Fatal(err)
	}
	return tn
}

// refreshBackends runs test on a SQLite file and on PostgreSQL, each store on clock.
func refreshBackends(t *testing.T, test func(t *testing.T, open func() store.Store, clock *storetest.Clock)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			clock := storetest.NewClock(time.Now())
			path, url := filepath.Join(t.TempDir(), "s.db"), ""
			if backend == "postgres" {
				url = pgtest.URL(t)
			}
			open := func() store.Store {
				var st store.Store
				var err error
				if url != "" {
					st, err = sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: url, Now: clock.Now})
				} else {
					st, err = sqlstore.Open(context.Background(), sqlstore.Options{Path: path, Now: clock.Now})
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			test(t, open, clock)
		})
	}
}

// TestMetadataRefresh: a tenant's metadata given by URL is fetched again when due: a new certificate is
// added at once, the old one removed once the metadata lists a valid one, never the last working
// one; a new entity ID and SSO URL are applied; a server that fails or sends no metadata, and a URL
// at a private address, change nothing and are recorded; a certificate expiring soon is announced
// once; two replicas due at once fetch once.
func TestMetadataRefresh(t *testing.T) {
	refreshBackends(t, func(t *testing.T, open func() store.Store, clock *storetest.Clock) {
		st := open()
		now := time.Now()
		a := newIdP(t, "https://idp.example/acme", now.Add(-time.Hour), now.Add(365*24*time.Hour))
		b := newIdP(t, "https://idp.example/acme", now.Add(-time.Hour), now.Add(2*365*24*time.Hour))
		md := newMetadataServer(t)
		tn := tenantByURL(t, st, a, md.URL+"/metadata")
		const interval = 6 * time.Hour
		newRefresher := func(st store.Store, p safefetch.Policy) *samlsp.Refresher {
			r, err := samlsp.NewRefresher(samlsp.RefresherConfig{Store: st, Logger: zaptest.NewLogger(t), Policy: p, Interval: interval})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := newRefresher(st, policy(md))
		certs := func() []string {
			t.Helper()
			s, err := st.SSOSettings(ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := s.IdPCertificates()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range cs {
				out = append(out, c.Fingerprint)
			}
			return out
		}
		due := func(want int) {
			t.Helper()
			n, err := r.RefreshDue(ctx)
			if err != nil || n != want {
				t.Fatalf("RefreshDue = %d, %v; want %d", n, err, want)
			}
		}
		fetch := func() *store.MetadataFetch {
			t.Helper()
			f, err := st.MetadataFetch(ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		fa, fb := a.Fingerprint(), b.Fingerprint()

		// The IdP publishes its next key beside the current one: added at once.
		md.Serve(a.Metadata(b.Cert))
		due(1)
		if got := certs(); !slices.Equal(got, []string{fa, fb}) {
			t.Fatalf("after the new key was published: %v, want [a b]", got)
		}
		// The change is the system's in the admin audit, with the certificates before and after.
		acts, err := st.ListAdminActions(ctx, store.AdminActionQuery{TenantID: tn.ID, Limit: 10})
		if err != nil || len(acts) == 0 || acts[0].Action != "sso.settings_changed" || acts[0].Actor.Kind != store.ActorSystem ||
			strings.Count(acts[0].After, "BEGIN CERTIFICATE") != 2 || strings.Count(acts[0].Before, "BEGIN CERTIFICATE") != 1 {
			t.Errorf("admin audit of the refresh: %+v, %v", acts, err)
		}
		due(0) // not due again before the interval
		if f := fetch(); f.LastError != "" || f.LastOKAt.IsZero() || !f.NextAt.Equal(clock.Now().Add(interval).Truncate(time.Microsecond)) {
			t.Errorf("fetch state %+v", f)
		}

		// The old key is gone from the metadata, which lists a valid one: removed.
		clock.Add(interval)
		md.Serve(b.Metadata())
		due(1)
		if got := certs(); !slices.Equal(got, []string{fb}) {
			t.Fatalf("after the old key was withdrawn: %v, want [b]", got)
		}

		// Metadata listing only an expired certificate never takes the working one away.
		expired := newIdP(t, "https://idp.example/acme", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		res, err := r.RefreshMetadata(ctx, tn.ID)
		if err != nil || res.Changed {
			t.Fatalf("Refresh with nothing new = %+v, %v", res, err)
		}
		md.Serve(expired.Metadata())
		res, err = r.RefreshMetadata(ctx, tn.ID)
		if err != nil || !slices.Equal(res.Kept, []string{fb}) || len(res.Removed) != 0 {
			t.Fatalf("Refresh with only an expired certificate = %+v, %v", res, err)
		}
		if got := certs(); !slices.Equal(got, []string{fb}) {
			t.Fatalf("after metadata of an expired key only: %v, want [b] (an expired key is never added)", got)
		}

		// A new entity ID and SSO URL are applied (with a valid key: the expired one goes).
		moved, err := samltest.New("https://idp.example/acme-2", "https://idp.example/sso-2", now.Add(-time.Hour), now.Add(365*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// Asked for by someone (here the console's admin), the change is theirs in the admin audit.
		md.Serve(moved.Metadata(b.Cert))
		admin := store.Actor{Kind: store.ActorAdmin, ID: "u1", Name: "ada@acme.com"}
		if _, err := r.RefreshMetadata(store.WithActor(ctx, admin), tn.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := st.SSOSettings(ctx, tn.ID)
		if got.IdPEntityID != "https://idp.example/acme-2" || got.IdPSSOURL != "https://idp.example/sso-2" || len(got.IdPCertificatesPEM) != 2 {
			t.Fatalf("after the IdP moved: %+v", got)
		}
		if acts, err := st.ListAdminActions(ctx, store.AdminActionQuery{TenantID: tn.ID, Limit: 1}); err != nil || len(acts) != 1 || acts[0].Actor != admin {
			t.Errorf("admin audit of a refresh asked for by an admin: %+v, %v", acts, err)
		}
		version := got.Version

		// Failures change nothing and are recorded; the next try comes sooner.
		okAt := fetch().LastOKAt
		for _, tc := range []struct {
			name   string
			setup  func()
			reason string
		}{
			{"HTTP 500", func() { md.Fail(http.StatusInternalServerError) }, "HTTP 500"},
			{"not metadata", func() { md.Serve([]byte("<html>maintenance</html>")) }, "reading the metadata"},
			{"XML the parser quotes", func() { md.Serve([]byte("<remotesecret></y>")) }, "not a SAML EntityDescriptor"},
			{"a DOCTYPE", func() { md.Serve([]byte(`<!DOCTYPE x [<!ENTITY e "e">]><x/>`)) }, "DOCTYPE"},
			{"too many certificates", func() {
				var many []*x509.Certificate
				for range store.MaxIdPCertificates {
					many = append(many, newIdP(t, "https://idp.example/acme", now.Add(-time.Hour), now.Add(time.Hour)).Cert)
				}
				md.Serve(moved.Metadata(many...))
			}, "more than the 10"},
		} {
			tc.setup()
			if _, err := r.RefreshMetadata(ctx, tn.ID); err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("%s: Refresh = %v", tc.name, err)
			}
			f := fetch()
			if strings.Contains(f.LastError, "remotesecret") {
				t.Errorf("%s: the recorded failure quotes the document: %q", tc.name, f.LastError)
			}
			if !strings.Contains(f.LastError, tc.reason) || !f.LastOKAt.Equal(okAt) || !f.NextAt.Before(clock.Now().Add(time.Hour)) {
				t.Errorf("%s: fetch state %+v", tc.name, f)
			}
			if s, _ := st.SSOSettings(ctx, tn.ID); s.Version != version {
				t.Errorf("%s: the settings changed (version %d, was %d)", tc.name, s.Version, version)
			}
		}

		// The URL changed while the old one was fetched: nothing applied, no success recorded, the new
		// URL due at once.
		md.Serve(b.Metadata())
		changed := func() {
			s, _ := st.SSOSettings(ctx, tn.ID)
			s.IdPMetadataURL = md.URL + "/other"
			if err := st.PutSSOSettings(ctx, tn.ID, s); err != nil {
				t.Error(err)
			}
		}
		md.OnFetch.Store(&changed)
		if _, err := r.RefreshMetadata(ctx, tn.ID); !errors.Is(err, store.ErrMetadataURLChanged) {
			t.Errorf("URL changed during the fetch: %v", err)
		}
		md.OnFetch.Store(nil)
		if f := fetch(); !f.LastOKAt.Equal(okAt) || f.LastError == "" || f.NextAt.After(clock.Now()) {
			t.Errorf("URL changed during the fetch: fetch state %+v", f)
		}
		got, _ = st.SSOSettings(ctx, tn.ID)

		// A fetch cut short by shutdown: TestMetadataRefreshInterrupted.

		// A URL at a private address is refused before any connection, whatever the policy allows.
		got.IdPMetadataURL = "https://10.0.0.7/metadata"
		if err := st.PutSSOSettings(ctx, tn.ID, got); err != nil {
			t.Fatal(err)
		}
		before := md.Fetches.Load()
		if _, err := r.RefreshMetadata(ctx, tn.ID); err == nil || !strings.Contains(err.Error(), "private address") {
			t.Errorf("private URL: %v", err)
		}
		if f := fetch(); !strings.Contains(f.LastError, "private address") || md.Fetches.Load() != before {
			t.Errorf("private URL: fetch state %+v", f)
		}
		// Without the loopback setting, the test server itself (127.0.0.1) is refused the same way.
		got, _ = st.SSOSettings(ctx, tn.ID)
		got.IdPMetadataURL = md.URL + "/metadata"
		if err := st.PutSSOSettings(ctx, tn.ID, got); err != nil {
			t.Fatal(err)
		}
		strict := policy(md)
		strict.AllowHTTPLoopback = false
		if _, err := newRefresher(st, strict).RefreshMetadata(ctx, tn.ID); err == nil || !strings.Contains(err.Error(), "loopback") || md.Fetches.Load() != before {
			t.Errorf("loopback without the setting: %v", err)
		}

		// Two replicas, due at once: one fetch.
		md.Serve(moved.Metadata(b.Cert))
		clock.Add(interval)
		other := newRefresher(open(), policy(md))
		before = md.Fetches.Load()
		var wg sync.WaitGroup
		var refreshed atomic.Int64
		for _, rr := range []*samlsp.Refresher{r, other, r, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := rr.RefreshDue(ctx)
				if err != nil {
					t.Error(err)
				}
				refreshed.Add(int64(n))
			}()
		}
		wg.Wait()
		if n := md.Fetches.Load() - before; n != 1 || refreshed.Load() != 1 {
			t.Errorf("4 racing refreshes on 2 replicas fetched %d times, refreshed %d, want 1", n, refreshed.Load())
		}
	})
}

// TestCertificateExpiringAnnounced: a certificate expiring within 30 days is announced by one
// sso.certificate_expiring event, whatever the number of refreshes; one that is not, by none.
func TestCertificateExpiringAnnounced(t *testing.T) {
	refreshBackends(t, func(t *testing.T, open func() store.Store, clock *storetest.Clock) {
		st := open()
		now := time.Now()
		soon := newIdP(t, "https://idp.example/acme", now.Add(-time.Hour), now.Add(10*24*time.Hour))
		later := newIdP(t, "https://idp.example/acme", now.Add(-time.Hour), now.Add(300*24*time.Hour))
		md := newMetadataServer(t)
		md.Serve(soon.Metadata(later.Cert))
		tn := tenantByURL(t, st, soon, md.URL+"/metadata")
		r, err := samlsp.NewRefresher(samlsp.RefresherConfig{Store: st, Logger: zaptest.NewLogger(t), Policy: policy(md), Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := r.RefreshDue(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := r.RefreshMetadata(ctx, tn.ID); err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Hour)
		}
		evs, err := st.ListEvents(ctx, store.EventQuery{Types: []string{store.EventSSOCertificateExpiring}})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d sso.certificate_expiring events, want 1", len(evs))
		}
		var c store.CertificateObject
		if err := json.Unmarshal(evs[0].Data, &c); err != nil || c.Fingerprint != soon.Fingerprint() || c.Tenant != "acme" ||
			!c.NotAfter.Equal(soon.Cert.NotAfter.UTC()) {
			t.Errorf("event data %s: %+v, %v", evs[0].Data, c, err)
		}
		// A tenant whose metadata came as a file has its certificates watched too; Refresh says there is
		// nothing to fetch.
		s, _ := st.SSOSettings(ctx, tn.ID)
		s.IdPMetadataURL = ""
		if err := st.PutSSOSettings(ctx, tn.ID, s); err != nil {
			t.Fatal(err)
		}
		if _, err := r.RefreshMetadata(ctx, tn.ID); !errors.Is(err, store.ErrNoMetadataURL) {
			t.Errorf("Refresh without a URL: %v", err)
		}
	})
}

// TestMetadataRefreshInterrupted: a scheduled fetch cut short by the server's own shutdown (Run's
// context) is recorded as interrupted (not as the IdP's failure) and is due again within a minute,
// not at the claim's lease; a refresh asked for is finished whatever its caller does meanwhile.
func TestMetadataRefreshInterrupted(t *testing.T) {
	refreshBackends(t, func(t *testing.T, open func() store.Store, clock *storetest.Clock) {
		st := open()
		ms := newMetadataServer(t)
		idp := newIdP(t, "https://idp.example/acme", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
		ms.Serve(idp.Metadata())
		tn := tenantByURL(t, st, idp, ms.URL+"/md")
		core, logs := observer.New(zap.InfoLevel)
		r, err := samlsp.NewRefresher(samlsp.RefresherConfig{Store: st, Logger: zap.New(core), Policy: policy(ms), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		state := func() *store.MetadataFetch {
			t.Helper()
			f, err := st.MetadataFetch(context.Background(), tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		shutdown, stop := context.WithCancel(context.Background())
		cut := func() { stop() }
		ms.OnFetch.Store(&cut)
		if n, err := r.RefreshDue(shutdown); err != nil || n != 1 {
			t.Fatalf("RefreshDue = %d, %v", n, err)
		}
		if f := state(); !strings.HasPrefix(f.LastError, "interrupted") || f.NextAt.After(clock.Now().Add(time.Minute)) || !f.LastOKAt.IsZero() {
			t.Fatalf("after a fetch cut by shutdown: %+v", f)
		}
		// Logged once, as what it is: not also as a failure by RefreshDue.
		if n, warns := logs.FilterMessage("IdP metadata refresh interrupted").Len(), logs.FilterLevelExact(zap.WarnLevel).Len(); n != 1 || warns != 0 {
			t.Fatalf("the interrupted fetch logged %d times, with %d warnings: %v", n, warns, logs.All())
		}

		caller, leave := context.WithCancel(context.Background())
		gone := func() { leave() }
		ms.OnFetch.Store(&gone)
		if _, err := r.RefreshMetadata(caller, tn.ID); err != nil {
			t.Fatalf("a refresh whose caller left: %v", err)
		}
		if f := state(); f.LastError != "" || f.LastOKAt.IsZero() {
			t.Fatalf("after a refresh whose caller left: %+v", f)
		}
	})
}

// failingPut is a store whose PutSSOSettings fails as a database would, naming itself.
type failingPut struct{ store.Store }

func (failingPut) PutSSOSettings(context.Context, string, *store.SSOSettings) error {
	return errors.New("failed to connect to user=scimsso host=db.internal")
}

// TestMetadataRefreshStoreFailure: a refresh whose store fails is not the IdP's failure: it is
// recorded in scimsso's own words (the tenant's admin sees the state; the database's text is not for
// them) and returned as it is, not as a MetadataRefreshFailure the console and the API would show.
func TestMetadataRefreshStoreFailure(t *testing.T) {
	refreshBackends(t, func(t *testing.T, open func() store.Store, clock *storetest.Clock) {
		st := open()
		ms := newMetadataServer(t)
		old := newIdP(t, "https://idp.example/acme", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
		tn := tenantByURL(t, st, old, ms.URL+"/md")
		rolled := newIdP(t, "https://idp.example/acme", time.Now().Add(-time.Hour), time.Now().Add(2*365*24*time.Hour))
		ms.Serve(rolled.Metadata(old.Cert))
		r, err := samlsp.NewRefresher(samlsp.RefresherConfig{Store: failingPut{st}, Logger: zaptest.NewLogger(t), Policy: policy(ms), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.RefreshMetadata(ctx, tn.ID)
		var shown *store.MetadataRefreshFailure
		if err == nil || errors.As(err, &shown) {
			t.Fatalf("a store failure: %v (shown as the IdP's: %v)", err, shown != nil)
		}
		f, err := st.MetadataFetch(ctx, tn.ID)
		if err != nil || strings.Contains(f.LastError, "db.internal") || !strings.Contains(f.LastError, "could not read or store") ||
			f.NextAt.After(clock.Now().Add(30*time.Minute)) {
			t.Fatalf("recorded: %+v, %v", f, err)
		}
	})
}
