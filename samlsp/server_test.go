package samlsp_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/gorilla/mux"
	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

func TestMetadataPublishesTheTenantsOwnKey(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenants := map[string]*store.Tenant{}
	for _, slug := range []string{"acme", "beta"} {
		key, cert, err := samlsp.GenerateKeyPair("scimsso "+slug, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tn := &store.Tenant{Slug: slug, Name: slug, Domains: []string{slug + ".com"}, SPKeyPEM: key, SPCertPEM: cert}
		if err := st.CreateTenant(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
		tenants[slug] = tn
	}
	r := mux.NewRouter()
	srv := httptest.NewServer(r)
	defer srv.Close()
	sessions, err := people.NewSessions(people.SessionsConfig{Store: st, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := samlsp.New(samlsp.Config{Store: st, Logger: zaptest.NewLogger(t), BaseURL: srv.URL, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	sp.Routes(r)

	for slug, tn := range tenants {
		res, err := http.Get(srv.URL + "/saml/" + slug + "/metadata")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/samlmetadata+xml" {
			t.Fatalf("%s: %d %s", slug, res.StatusCode, res.Header.Get("Content-Type"))
		}
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal(body, &ed); err != nil {
			t.Fatalf("%s: metadata does not parse: %v", slug, err)
		}
		if want := srv.URL + "/saml/" + slug + "/metadata"; ed.EntityID != want {
			t.Fatalf("%s: entity ID %q, want %q", slug, ed.EntityID, want)
		}
		spd := ed.SPSSODescriptors[0]
		if got := spd.AssertionConsumerServices[0]; got.Location != srv.URL+"/saml/"+slug+"/acs" || got.Binding != saml.HTTPPostBinding {
			t.Fatalf("%s: ACS %+v", slug, got)
		}
		block, _ := pem.Decode(tn.SPCertPEM)
		want, _ := x509.ParseCertificate(block.Bytes)
		published, err := base64.StdEncoding.DecodeString(spd.KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data)
		if err != nil || string(published) != string(want.Raw) {
			t.Fatalf("%s: published certificate is not the tenant's stored one", slug)
		}
	}
	res, err := http.Get(srv.URL + "/saml/nosuch/metadata")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", res.StatusCode)
	}
}
