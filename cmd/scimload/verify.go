package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The verify phase is what a reverse proxy doing forward authentication sends for every request of a
// signed-in person: GET /auth/verify with the scimsso session cookie, answered 204. It first signs in
// -c users of this run through the ACS (untimed), one session per worker, then asks -v times.

// verify runs the verify phase.
func (l *loader) verify(ctx context.Context) ([]result, error) {
	idp, err := loadIdP(l.cfg.idpDir)
	if err != nil {
		return nil, err
	}
	picks, err := l.pick(max(1, min(l.cfg.c, l.cfg.n)))
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: l.cfg.timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	defer client.CloseIdleConnections()
	cookies := make([]string, len(picks))
	for j, i := range picks {
		form, err := l.signInForm(idp, l.tenant(), l.userName(i))
		if err != nil {
			return nil, err
		}
		if cookies[j], err = l.session(ctx, client, form); err != nil {
			return nil, fmt.Errorf("verify: signing %s in: %w", l.userName(i), err)
		}
	}
	return l.measure(ctx, l.cfg.v, []op{opVerify}, func(ctx context.Context, w *worker, j int) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin(w.base)+"/auth/verify", nil)
		if err != nil {
			w.finish(ctx, opVerify, 0, 0, err, "")
			return
		}
		req.Header.Set("Cookie", cookies[j%len(cookies)])
		req.Header.Set("User-Agent", userAgent)
		start := time.Now()
		status, err := w.send(req)
		d := time.Since(start)
		why := ""
		if err == nil && status != http.StatusNoContent {
			why = fmt.Sprintf("status %d, want 204", status)
		}
		w.finish(ctx, opVerify, d, status, err, why)
	})
}

// session posts a signed response to the first replica's ACS and returns the session cookie it sets,
// as name=value.
func (l *loader) session(ctx context.Context, client *http.Client, form []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, origin(l.cfg.bases[0])+"/saml/"+l.tenant()+"/acs", bytes.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if strings.HasSuffix(c.Name, "scimsso_session") && c.Value != "" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("the ACS answered %d without a session cookie", res.StatusCode)
}

// origin is the scheme and host of a base URL.
func origin(base string) string {
	u, _ := url.Parse(base)
	return u.Scheme + "://" + u.Host
}
