package openid

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// maxRedirectURI bounds a redirect URI, registered or sent.
const maxRedirectURI = 2048

// authorizeParams bounds each authorization request parameter scimsso reads or stores (the request is
// stored before anyone signs in, so what anyone can make the store hold is bounded). Each may be given
// once (RFC 6749 §3.1); unknown parameters are ignored, as the RFC says.
var authorizeParams = map[string]int{
	"client_id": maxClientID, "redirect_uri": maxRedirectURI, "response_type": 64, "response_mode": 32, "scope": 512,
	"state": 1024, "nonce": 512, "code_challenge": 128, "code_challenge_method": 16, "prompt": 64, "max_age": 10,
	"login_hint": 254, "organization": 63, "id_token_hint": 8192, "display": 16, "ui_locales": 128, "acr_values": 256,
	"request": 0, "request_uri": 0,
}

var (
	slugRE = regexp.MustCompile(`^[a-z0-9-]{2,63}$`)
	// pkceRE is RFC 7636's code_verifier (and S256 code_challenge) alphabet and length.
	pkceRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// checkAuthorizeParams refuses what the op package would take but scimsso must not: a parameter given
// twice or too long, a request object (not offered), a malformed max_age, organization or PKCE
// challenge. Its errors are OAuth errors for the client's redirect URI.
func checkAuthorizeParams(form url.Values) error {
	if _, ok := form["request_uri"]; ok {
		return &oidc.Error{ErrorType: "request_uri_not_supported", Description: "request_uri is not offered"}
	}
	if _, ok := form["request"]; ok {
		return oidc.ErrRequestNotSupported().WithDescription("request objects are not offered")
	}
	for name, max := range authorizeParams {
		vs := form[name]
		if len(vs) > 1 {
			return oidc.ErrInvalidRequest().WithDescription("%s is given more than once", name)
		}
		if len(vs) == 1 && len(vs[0]) > max {
			return oidc.ErrInvalidRequest().WithDescription("%s is longer than %d characters", name, max)
		}
	}
	if v := form.Get("max_age"); v != "" {
		if _, err := strconv.ParseUint(v, 10, 31); err != nil {
			return oidc.ErrInvalidRequest().WithDescription("max_age must be a number of seconds")
		}
	}
	if v := form.Get("organization"); v != "" && !slugRE.MatchString(v) {
		return oidc.ErrInvalidRequest().WithDescription("organization must be a tenant slug")
	}
	if v := form.Get("code_challenge"); v != "" && !pkceRE.MatchString(v) {
		return oidc.ErrInvalidRequest().WithDescription("code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9 and -._~")
	}
	if v := form.Get("login_hint"); strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return oidc.ErrInvalidRequest().WithDescription("login_hint holds a control character")
	}
	return nil
}

// tokenParams bounds the token request's parameters; each may be given once (RFC 6749 §3.2).
var tokenParams = map[string]int{
	"grant_type": 64, "code": 64, "redirect_uri": maxRedirectURI, "code_verifier": 128, "refresh_token": 64,
	"client_id": maxClientID, "client_secret": 128, "scope": 512, "client_assertion": 0, "client_assertion_type": 0,
}

// checkTokenParams refuses a token request with a parameter given twice or too long, a malformed PKCE
// verifier, or a client assertion (private_key_jwt is not offered).
func checkTokenParams(form url.Values) *oidc.Error {
	if _, ok := form["client_assertion"]; ok {
		return oidc.ErrInvalidClient().WithDescription("client assertions are not offered: use client_secret_basic, client_secret_post or PKCE")
	}
	for name, max := range tokenParams {
		vs := form[name]
		if len(vs) > 1 {
			return oidc.ErrInvalidRequest().WithDescription("%s is given more than once", name)
		}
		if len(vs) == 1 && len(vs[0]) > max {
			return oidc.ErrInvalidRequest().WithDescription("%s is longer than %d characters", name, max)
		}
	}
	if v, ok := form["code_verifier"]; ok && !pkceRE.MatchString(v[0]) {
		return oidc.ErrInvalidRequest().WithDescription("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9 and -._~")
	}
	return nil
}

// CheckRedirectURI checks a redirect URI (or post-logout redirect URI) before a client is registered
// with it: an absolute https URL, or http for a loopback host (an application on the developer's
// machine); no fragment, no user information, at most 2048 bytes. Custom schemes of native apps are
// not offered: the op package would match them leniently.
func CheckRedirectURI(s string) error {
	if len(s) > maxRedirectURI {
		return fmt.Errorf("redirect URI is longer than %d bytes", maxRedirectURI)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("redirect URI %q: %v", s, err)
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("redirect URI %q is not an absolute URL", s)
	case u.User != nil:
		return fmt.Errorf("redirect URI %q holds user information", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("redirect URI %q has a fragment", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("redirect URI %q: plain http only for localhost; use https", s)
	}
	return fmt.Errorf("redirect URI %q: the scheme must be https (or http for localhost)", s)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
