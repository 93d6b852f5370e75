package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// How one attempt is made.
const (
	// AttemptTimeout bounds an attempt: connecting, sending and reading the answer.
	AttemptTimeout = 10 * time.Second
	// MaxResponse is how much of a receiver's answer is read; the rest is not.
	MaxResponse = 64 << 10
	// UserAgent is the User-Agent of every attempt.
	UserAgent = "scimsso-webhooks"
)

// sender makes attempts: one POST each, redirects not followed (a 3xx is a failure), through a dialer
// that refuses addresses CheckURL refuses, never through a proxy from the environment (it would be
// the address dialled, and the receiver's address would go unchecked).
//
// It calls the Transport itself, not an http.Client: a Client's work per request is for redirects,
// cookies and its Timeout (copying the headers, a deadline wrapped around the Transport's), none of
// which an attempt uses, and measured a sixth of an attempt's CPU. The attempt's deadline is its
// context's, which covers reading the answer as Client.Timeout did.
type sender struct {
	tr      *http.Transport
	timeout time.Duration
}

// closeIdle closes the sender's idle connections.
func (s *sender) closeIdle() { s.tr.CloseIdleConnections() }

func newSender(allowLoopback bool, timeout time.Duration) *sender {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: dialControl(allowLoopback)}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		// A drain sends up to lanes requests at once to one receiver: with fewer idle connections kept,
		// every round of lanes would close some and dial anew (measured: a tenth of delivery's CPU).
		MaxIdleConns:        4 * lanes,
		MaxIdleConnsPerHost: 2 * lanes,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
		// The answer is read only to be discarded: asking for it gzipped would cost a decompressor.
		DisableCompression: true,
	}
	return &sender{tr: tr, timeout: timeout}
}

// result is the outcome of one attempt.
type result struct {
	ok     bool
	status int    // 0 without an answer
	reason string // why it failed: no secrets, no URL
	sent   int    // requests answered 2xx (an attempt of zero requests is ok with none sent)
}

// post makes one attempt at r: ok for a 2xx answer. At most MaxResponse of the answer is read.
func (s *sender) post(ctx context.Context, r Request) result {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	// What an http.Client would check or do with the URL and a Transport does not: the scheme, and
	// userinfo (a Client sends it as Basic credentials; CheckURL refuses it when a URL is stored).
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" || req.URL.User != nil {
		return result{reason: "bad URL"}
	}
	if r.Header != nil {
		req.Header = r.Header // the Request is the attempt's own
	}
	req.Header["User-Agent"] = []string{UserAgent}
	resp, err := s.tr.RoundTrip(req)
	if err != nil {
		return result{reason: reason(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponse))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return result{ok: true, status: resp.StatusCode}
	}
	why := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if resp.StatusCode/100 == 3 {
		why += " (redirects are not followed)"
	}
	return result{status: resp.StatusCode, reason: why}
}

// reason says why an attempt got no answer, in words that hold neither the URL (it may carry a token)
// nor anything the receiver sent.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ae *errAddress
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var ne net.Error
	switch {
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
		return "connection closed by the receiver"
	case errors.As(err, &certErr):
		return "TLS certificate not valid"
	}
	var re tls.RecordHeaderError
	if errors.As(err, &re) {
		return "TLS handshake failed (is it https?)"
	}
	return "connection failed"
}
