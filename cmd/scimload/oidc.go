package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The oidc phase measures what an application costs scimsso when it signs in a person who is signed
// in already: the authorization code flow's round trip, GET /oidc/authorize with the session cookie
// (answered 302 to the redirect URI with a code) and then POST /oidc/token (client_secret_basic,
// answered 200 with an ID token). Each worker first signs in one user of this run as the signin phase
// does (an IdP-initiated POST to the ACS, untimed) and keeps the session cookie; its round trips then
// run over its keep-alive connection.

// oidc runs the oidc phase: -o round trips of a signed-in person.
func (l *loader) oidc(ctx context.Context) ([]result, error) {
	// One session per worker, made before the phase.
	cookies, err := l.sessions(ctx, max(1, min(l.cfg.c, l.cfg.o)))
	if err != nil {
		return nil, err
	}
	auth := "Basic " + basicAuth(l.cfg.clientID, l.cfg.clientSecret)
	return l.measure(ctx, l.cfg.o, []op{opAuthorize, opToken, opRoundTrip}, func(ctx context.Context, w *worker, j int) {
		o := origin(w.base)
		state := "s" + strconv.Itoa(j)
		q := url.Values{"client_id": {l.cfg.clientID}, "redirect_uri": {l.cfg.redirectURI}, "response_type": {"code"},
			"scope": {"openid"}, "state": {state}, "nonce": {"n" + strconv.Itoa(j)}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o+"/oidc/authorize?"+q.Encode(), nil)
		if err != nil {
			panic(err) // a URL made of a checked origin and an encoded query always parses
		}
		req.Header.Set("Cookie", cookies[w.id])
		start := time.Now()
		status, err := w.send(req)
		d1 := time.Since(start)
		code, why := "", ""
		if err == nil {
			code, why = oidcCode(status, w.hdr.Get("Location"), l.cfg.redirectURI, state)
		}
		w.finish(ctx, opAuthorize, d1, status, err, why)
		if err != nil || why != "" {
			w.finish(ctx, opRoundTrip, 0, status, err, "authorize failed")
			return
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {l.cfg.redirectURI}}.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, o+"/oidc/token", strings.NewReader(form))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		start2 := time.Now()
		status, err = w.send(req)
		d2 := time.Since(start2)
		why = ""
		if err == nil {
			why = oidcTokens(status, w.buf.Bytes())
		}
		w.finish(ctx, opToken, d2, status, err, why)
		w.finish(ctx, opRoundTrip, d1+d2, status, err, why)
	})
}

// oidcCode checks authorize's answer: a 302 to the redirect URI with a code and the state sent.
func oidcCode(status int, location, redirectURI, state string) (code, why string) {
	if status != http.StatusFound {
		return "", fmt.Sprintf("status %d, want 302 to the redirect URI", status)
	}
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, redirectURI+"?") {
		return "", fmt.Sprintf("redirect to %q, want %s?code=…", location, redirectURI)
	}
	q := u.Query()
	if q.Get("code") == "" || q.Get("state") != state {
		return "", fmt.Sprintf("redirect to %q, want a code and state %s", location, state)
	}
	return q.Get("code"), ""
}

// oidcTokens checks the token response: 200 with an access token and an ID token.
func oidcTokens(status int, body []byte) string {
	if status != http.StatusOK {
		return "want 200"
	}
	var t struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" || strings.Count(t.IDToken, ".") != 2 {
		return "want an access token and an ID token"
	}
	return ""
}

// basicAuth is client_secret_basic's credentials: each part form-encoded first (RFC 6749 §2.3.1).
func basicAuth(id, secret string) string {
	var b bytes.Buffer
	b.WriteString(url.QueryEscape(id))
	b.WriteByte(':')
	b.WriteString(url.QueryEscape(secret))
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

var errNoClient = errors.New("the oidc phase needs -client-id, -client-secret (or SCIMLOAD_CLIENT_SECRET) and -redirect-uri of a client registered with scimsso client add")
