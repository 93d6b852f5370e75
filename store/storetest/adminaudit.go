package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// testAdminAudit: every administrative write records one AdminAction with the context's actor, in its
// own transaction; its objects hold no secret or hash; a refused write records none.
func testAdminAudit(t *testing.T, s store.Store, clock *Clock) {
	who := store.Actor{Kind: store.ActorAdmin, ID: "admin-1", Name: "ada@acme.test"}
	actx := store.WithActor(ctx, who)
	tn := &store.Tenant{Slug: "acme", Name: "Acme", Domains: []string{"Acme.test"}, SPKeyPEM: []byte("SP-PRIVATE-KEY"), SPCertPEM: []byte("cert")}
	if err := s.CreateTenant(actx, tn); err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, s, tn.ID, "ada@acme.test", "")
	tokenHash := hashOf("scim-token-secret")
	tok := &store.Token{TenantID: tn.ID, Name: "okta", Hash: tokenHash}
	apiHash := hashOf("api-key-secret")
	key := &store.APIKey{Name: "ops", Scopes: []string{store.ScopeManage}, Hash: apiHash}
	hook := &store.Webhook{URL: "https://hooks.test/x", Secret: "whsec_c2VjcmV0c2VjcmV0", Types: []string{store.EventUserCreated}}
	client := &store.OIDCClient{Name: "app", RedirectURIs: []string{"https://app.test/cb"}, SecretHash: hashOf("client-secret")}
	set := store.DefaultSSOSettings()
	linkHash := hashOf("setup-link-secret")

	steps := []struct {
		action string
		target func() string
		write  func() error
		// refused is the same kind of write refused by the store (nil: none to try): it records nothing.
		refused func() error
	}{
		{store.ActionDomainAdded, func() string { return "second.test" }, func() error { return s.AddDomain(actx, tn.ID, "Second.test") },
			func() error { return s.AddDomain(actx, tn.ID, "acme.test") }},
		{store.ActionDomainRemoved, func() string { return "second.test" }, func() error { return s.RemoveDomain(actx, tn.ID, "second.test") },
			func() error { return s.RemoveDomain(actx, tn.ID, "never.test") }},
		{store.ActionSCIMTokenIssued, func() string { return tok.ID }, func() error { return s.CreateToken(actx, tok) },
			func() error { return s.CreateToken(actx, &store.Token{TenantID: tn.ID, Name: "copy", Hash: tokenHash}) }},
		{store.ActionSCIMTokenRevoked, func() string { return tok.ID }, func() error { return s.RevokeToken(actx, tn.ID, tok.ID) },
			func() error { return s.RevokeToken(actx, tn.ID, tok.ID) }},
		{store.ActionSSOSettingsChanged, func() string { return "" }, func() error { return s.PutSSOSettings(actx, tn.ID, set) },
			func() error { stale := *set; stale.Version = 0; return s.PutSSOSettings(actx, tn.ID, &stale) }},
		{store.ActionTeamCreated, func() string { return "" }, func() error { return s.CreateTeam(actx, tn.ID, &store.Team{Name: "Sales"}) },
			func() error { return s.CreateTeam(actx, tn.ID, &store.Team{Name: "Sales"}) }},
		{store.ActionDepartmentMapReplaced, func() string { return "" },
			func() error {
				return s.ReplaceDepartmentMap(actx, tn.ID, []store.DepartmentMapping{{Department: "Field", Team: "Sales"}})
			},
			func() error {
				return s.ReplaceDepartmentMap(actx, tn.ID, []store.DepartmentMapping{{Department: "Field", Team: "No such team"}})
			}},
		{store.ActionPasswordSet, func() string { return u.ID }, func() error { return s.SetPassword(actx, tn.ID, u.ID, "$argon2id$PASSWORD-HASH") },
			func() error { return s.SetPassword(actx, tn.ID, "nobody", "$argon2id$PASSWORD-HASH") }},
		{store.ActionAdminAdded, func() string { return u.ID }, func() error { return s.SetAdmin(actx, tn.ID, u.ID, true) },
			func() error { return s.SetAdmin(actx, tn.ID, "nobody", true) }},
		{store.ActionSetupLinkCreated, func() string { return "" },
			func() error {
				return s.CreateSetupLink(actx, &store.SetupLink{TenantID: tn.ID, Scopes: []string{store.AdminScopeSSO}, Hash: linkHash, ExpiresAt: clock.Now().Add(time.Hour)})
			},
			func() error {
				return s.CreateSetupLink(actx, &store.SetupLink{TenantID: tn.ID, Scopes: []string{store.AdminScopeSSO}, Hash: linkHash, ExpiresAt: clock.Now().Add(time.Hour)})
			}},
		{store.ActionSetupLinkUsed, func() string { return "" },
			func() error {
				_, err := s.UseSetupLink(actx, linkHash, &store.AdminSession{IDHash: hashOf("console"), ExpiresAt: clock.Now().Add(time.Hour)})
				return err
			},
			func() error {
				_, err := s.UseSetupLink(actx, linkHash, &store.AdminSession{IDHash: hashOf("console2"), ExpiresAt: clock.Now().Add(time.Hour)})
				return err
			}},
		{store.ActionAdminRemoved, func() string { return u.ID }, func() error { return s.SetAdmin(actx, tn.ID, u.ID, false) }, nil},
		{store.ActionAPIKeyCreated, func() string { return key.ID }, func() error { return s.CreateAPIKey(actx, key) },
			func() error {
				return s.CreateAPIKey(actx, &store.APIKey{Name: "copy", Scopes: []string{store.ScopeManage}, Hash: apiHash})
			}},
		{store.ActionAPIKeyRevoked, func() string { return key.ID }, func() error { return s.RevokeAPIKey(actx, key.ID) },
			func() error { return s.RevokeAPIKey(actx, key.ID) }},
		{store.ActionWebhookAdded, func() string { return hook.ID }, func() error { return s.CreateWebhook(actx, hook) }, nil},
		{store.ActionWebhookRemoved, func() string { return hook.ID }, func() error { return s.DeleteWebhook(actx, hook.ID) },
			func() error { return s.DeleteWebhook(actx, hook.ID) }},
		{store.ActionOIDCClientAdded, func() string { return client.ID }, func() error { return s.CreateOIDCClient(actx, client) }, nil},
		{store.ActionOIDCClientRemoved, func() string { return client.ID }, func() error { return s.DeleteOIDCClient(actx, client.ID) },
			func() error { return s.DeleteOIDCClient(actx, client.ID) }},
		{store.ActionSSOTestStarted, func() string { return "" },
			func() error {
				return s.CreateTestLink(actx, &store.TestLink{TenantID: tn.ID, Hash: hashOf("test-link-secret"), ExpiresAt: clock.Now().Add(time.Hour)})
			}, nil},
		{store.ActionOIDCKeyRotated, func() string { return "" },
			func() error {
				_, err := s.AddOIDCKeys(actx, []store.OIDCKey{{ID: "kid-1", Algorithm: "RS256", PrivateKeyPEM: []byte("OIDC-PRIVATE-KEY"), PublicKeyPEM: []byte("pub")}}, time.Hour, false)
				return err
			}, nil},
	}

	last := func() store.AdminAction {
		t.Helper()
		as, err := s.ListAdminActions(ctx, store.AdminActionQuery{Limit: 1})
		if err != nil || len(as) != 1 {
			t.Fatalf("ListAdminActions = %+v, %v", as, err)
		}
		return as[0]
	}
	first := last()
	if first.Action != store.ActionTenantCreated || first.Actor != who || first.TenantID != tn.ID || first.Before != "" ||
		!strings.Contains(first.After, `"domains":["acme.test"]`) {
		t.Fatalf("CreateTenant recorded %+v", first)
	}
	// CreateTenant refused (the slug is taken) records nothing.
	if err := s.CreateTenant(actx, &store.Tenant{Slug: "acme", Name: "again", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}); err == nil {
		t.Fatal("CreateTenant with a taken slug succeeded")
	}
	prev := last()
	if prev.Seq != first.Seq {
		t.Fatalf("a refused CreateTenant recorded %+v", prev)
	}
	// From here the actor is a real admin of the tenant, as SetAdmin requires of an ActorAdmin.
	root := mustUser(t, s, tn.ID, "root@acme.test", "")
	if err := s.SetAdmin(ctx, tn.ID, root.ID, true); err != nil {
		t.Fatal(err)
	}
	who.ID = root.ID
	actx = store.WithActor(ctx, who)
	prev = last()
	for _, st := range steps {
		clock.Add(time.Second)
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		got := last()
		if got.Seq <= prev.Seq || got.Action != st.action || got.Actor != who || !got.Time.Equal(clock.Now()) {
			t.Fatalf("%s recorded %+v", st.action, got)
		}
		if want := st.target(); want != "" && got.Target != want {
			t.Errorf("%s: target %q, want %q", st.action, got.Target, want)
		}
		if got.Before == "" && got.After == "" {
			t.Errorf("%s: neither before nor after", st.action)
		}
		for _, secret := range []string{"SP-PRIVATE-KEY", "PASSWORD-HASH", "OIDC-PRIVATE-KEY", "whsec_", "hash", "secret"} {
			if strings.Contains(got.Before+got.After, secret) {
				t.Errorf("%s: audit object holds %q: %s / %s", st.action, secret, got.Before, got.After)
			}
		}
		prev = got
		if st.refused != nil {
			if err := st.refused(); err == nil {
				t.Fatalf("%s: the refused write succeeded", st.action)
			}
			if again := last(); again.Seq != prev.Seq {
				t.Errorf("%s: a refused write recorded %+v", st.action, again)
			}
		}
	}
	// Storing the settings as they are records nothing and keeps the version; so does a first start
	// making the OIDC keys when there are some.
	cur, err := s.SSOSettings(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := cur.Version
	if err := s.PutSSOSettings(actx, tn.ID, cur); err != nil || cur.Version != v || last().Seq != prev.Seq {
		t.Fatalf("PutSSOSettings of the stored settings: %v, version %d (was %d), last entry %+v", err, cur.Version, v, last())
	}
	if stored, err := s.SSOSettings(ctx, tn.ID); err != nil || stored.Version != v {
		t.Fatalf("stored version after a no-op = %+v, %v; want %d", stored, err, v)
	}
	if added, err := s.AddOIDCKeys(ctx, []store.OIDCKey{{ID: "kid-2", Algorithm: "RS256", PrivateKeyPEM: []byte("k"), PublicKeyPEM: []byte("p")}}, time.Hour, true); err != nil || added || last().Seq != prev.Seq {
		t.Fatalf("AddOIDCKeys(onlyIfNone) with keys present: %v, %v, last %+v", added, err, last())
	}
	// The CLI's writes name no actor: ActorOf gives the CLI.
	if err := s.AddDomain(ctx, tn.ID, "cli.test"); err != nil {
		t.Fatal(err)
	}
	if got := last(); got.Actor != (store.Actor{Kind: store.ActorCLI}) {
		t.Fatalf("a write without an actor recorded %+v", got.Actor)
	}
	// The tenant's own log holds its entries, not the platform's (API keys, clients, webhooks).
	mine, err := s.ListAdminActions(ctx, store.AdminActionQuery{TenantID: tn.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range mine {
		if a.TenantID != tn.ID || strings.HasPrefix(a.Action, "api_key.") || strings.HasPrefix(a.Action, "webhook.") {
			t.Fatalf("tenant log holds %+v", a)
		}
	}
}
