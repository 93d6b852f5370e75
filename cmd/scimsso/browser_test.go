package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/store/sqlstore"
)

// chromium returns Debian's Chromium. Without it the browser tests skip with a message, except under
// .ci/run, which installs it and sets SCIMSSO_REQUIRE_BROWSER=1 so that a skip cannot pass unnoticed.
func chromium(t *testing.T) string {
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("SCIMSSO_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SCIMSSO_REQUIRE_BROWSER=1 but %s is missing: %v", path, err)
		}
		t.Skipf("browser test skipped: %s is missing (apt-get install chromium, or run .ci/run, which does)", path)
	}
	return path
}

// TestBrowserCrossSiteSignIn signs in with headless Chromium through the demo IdP on another site:
// scimsso at https://sp.test, the IdP at http://idp.test, both mapped to loopback. The IdP's POST back
// to the ACS is cross-site, so it carries the request-binding cookie only because that cookie is
// SameSite=None; Secure. (IdP and SP both on 127.0.0.1 would be one site and hide that bug.)
func TestBrowserCrossSiteSignIn(t *testing.T) {
	chrome := chromium(t)
	ctx := context.Background()
	spLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("https://sp.test:%d", spLn.Addr().(*net.TCPAddr).Port)
	idpURL := fmt.Sprintf("http://idp.test:%d", idpLn.Addr().(*net.TCPAddr).Port)

	m := NewMain()
	m.Stdout, m.Stderr = io.Discard, io.Discard
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenant, _, err := m.demoTenant(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := m.buildHandler(st, zaptest.NewLogger(t), base)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := m.demoIdP(idpURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := demoConnect(ctx, st, tenant, handler, idp); err != nil {
		t.Fatal(err)
	}
	sp := httptest.NewUnstartedServer(handler)
	sp.Listener = spLn
	sp.StartTLS()
	defer sp.Close()
	idpSrv := &http.Server{Handler: publicIdP(idp)}
	go idpSrv.Serve(idpLn)
	defer idpSrv.Close()

	// Chromium may still be writing its profile for a moment after it is told to stop, so its directory
	// is removed with retries rather than by t.TempDir's strict cleanup.
	profile, err := os.MkdirTemp("", "scimsso-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP sp.test 127.0.0.1, MAP idp.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(profile),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	var loc, body string
	var cookies []*network.Cookie
	err = chromedp.Run(bctx,
		chromedp.Navigate(base+"/saml/demo/login?return_to=/me"),
		chromedp.WaitVisible(`#user`),
		chromedp.Location(&loc),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			cookies, err = network.GetCookies().WithURLs([]string{base + "/saml/demo/acs"}).Do(ctx)
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, idpURL+"/sso?") {
		t.Fatalf("the sign-in went to %s, want the IdP at %s", loc, idpURL)
	}
	var binding *network.Cookie
	for _, c := range cookies {
		if c.Name == "__Host-scimsso_binding" {
			binding = c
		}
	}
	if binding == nil || binding.SameSite != network.CookieSameSiteNone || !binding.Secure || !binding.HTTPOnly {
		t.Fatalf("binding cookie %+v: want SameSite=None, Secure, HttpOnly", binding)
	}
	err = chromedp.Run(bctx,
		chromedp.SendKeys(`#user`, "carol"),
		chromedp.SendKeys(`#password`, "carol-demo-password"),
		chromedp.Submit(`#user`),
		chromedp.ActionFunc(func(ctx context.Context) error {
			// The IdP's page posts itself to the ACS; wait until the browser has landed on /me.
			for {
				if err := chromedp.Location(&loc).Do(ctx); err != nil {
					return err
				}
				if loc == base+"/me" {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("still at %s: %w", loc, ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
		}),
		chromedp.Text(`body`, &body),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"userName":"carol@example.com"`) || !strings.Contains(body, `"source":"sso"`) {
		t.Fatalf("/me after the cross-site sign-in: %s", body)
	}
}
