package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/scimsso/scimsso/internal/safefetch"
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

// sender makes attempts: one POST each, redirects not followed (a 3xx is a failure), through
// safefetch's transport, which refuses addresses CheckURL refuses and uses no proxy.
type sender struct {
	client *http.Client
}

// closeIdle closes the sender's idle connections.
func (s *sender) closeIdle() { s.client.CloseIdleConnections() }

func newSender(allowLoopback bool, timeout time.Duration) *sender {
	tr := policy(allowLoopback).Transport(timeout)
	// A drain sends up to lanes requests at once to one receiver: with fewer idle connections kept,
	// every round of lanes would close some and dial anew (measured: a tenth of delivery's CPU).
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4*lanes, 2*lanes
	return &sender{client: &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return result{reason: "bad URL"}
	}
	if r.Header != nil {
		req.Header = r.Header // the Request is the attempt's own
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return result{reason: safefetch.Reason(err)}
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
