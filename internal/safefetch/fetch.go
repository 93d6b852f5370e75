package safefetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Bounds of Get.
const (
	// MaxBody is how much of an answer Get reads; a longer one is refused.
	MaxBody = 1 << 20
	// MaxRedirects is how many redirects Get follows, each target checked as the URL was.
	MaxRedirects = 3
	// Timeout bounds a whole Get: connecting, redirects, reading the answer.
	Timeout = 15 * time.Second
)

// Transport returns an http.Transport for p: connections only where Control allows, never through
// a proxy from the environment (the proxy would be the address dialled, and the target's address
// would go unchecked), TLS 1.2 or later, each step bounded by timeout. The caller may tune its pool.
func (p Policy) Transport(timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.Control()}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.RootCAs},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10, // a metadata or webhook answer needs no more; the default is 1 MiB
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
}

// Fetcher GETs documents (IdP metadata) under a Policy. It is safe for concurrent use.
type Fetcher struct {
	policy Policy
	client *http.Client
	// public fetches a URL whose host is not loopback: under a policy that allows loopback it is that
	// policy without it, so that only a URL naming loopback itself reaches loopback. A public URL that
	// redirects there, or whose name resolves there, is refused: a tenant admin's metadata URL,
	// checked without the setting when it was given, stays so when the periodic refresh, which runs
	// with the operator's setting, fetches it again.
	public *http.Client
}

// NewFetcher returns a Fetcher for p: MaxRedirects redirects at most, each target checked by
// CheckURL; Timeout for the whole of each Get.
func NewFetcher(p Policy) *Fetcher {
	f := &Fetcher{policy: p, client: newClient(p)}
	f.public = f.client
	if p.AllowHTTPLoopback {
		q := p
		q.AllowHTTPLoopback = false
		f.public = newClient(q)
	}
	return f
}

// newClient is Fetcher's client under p.
func newClient(p Policy) *http.Client {
	return &http.Client{
		Transport: p.Transport(Timeout),
		Timeout:   Timeout,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return &redirectError{fmt.Errorf("more than %d redirects", MaxRedirects)}
			}
			if err := checkURL(r.URL.String(), p, "its target"); err != nil {
				return &redirectError{err} // why only: the target's URL may carry what the server chose
			}
			return nil
		},
	}
}

// loopbackURL reports whether raw's host is a loopback address or name.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().IsLoopback()
	}
	return isLoopbackName(host)
}

// Get checks raw with CheckURL and fetches it: the body of a 200 answer of at most MaxBody bytes.
// Its errors say why in words that hold nothing the server sent and no part of the URL but what
// CheckURL names.
func (f *Fetcher) Get(ctx context.Context, raw string) ([]byte, error) {
	if err := CheckURL(raw, f.policy); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("URL %q is not a URL", raw)
	}
	req.Header.Set("User-Agent", "scimsso")
	client := f.public
	if loopbackURL(raw) {
		client = f.client
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, errors.New(Reason(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil {
		return nil, errors.New(Reason(err))
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("the answer is larger than %d bytes", MaxBody)
	}
	return b, nil
}

// Reason says why a request got no answer, in words that hold neither the URL (it may carry a
// token) nor anything the server sent.
func Reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var rde *redirectError
	var ae *AddressError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var ne net.Error
	switch {
	case errors.As(err, &rde):
		return rde.Error()
	case errors.As(err, &ae):
		return ae.Error()
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "DNS failure"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &certErr):
		return "TLS certificate not valid"
	}
	var re tls.RecordHeaderError
	if errors.As(err, &re) {
		return "TLS handshake failed (is it https?)"
	}
	return "connection failed"
}

// redirectError is CheckRedirect's refusal (a redirect to where CheckURL refuses, or too many), whose
// text is ours and says why.
type redirectError struct{ err error }

func (e *redirectError) Error() string { return "redirect refused: " + e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }
