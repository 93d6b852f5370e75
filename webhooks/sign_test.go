package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks reference vector (libraries/go/webhook_symmetric_test.go,
// TestSymmetricWebhookSign, in github.com/standard-webhooks/standard-webhooks).
func TestSignReferenceVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+44 {
		t.Fatalf("secret %q: want whsec_ and the base64 of 32 bytes", secret)
	}
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	h, err := signedHeader(secret, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSecret()
	for _, tc := range []struct {
		name   string
		secret string
		mod    func(h http.Header) []byte
		now    time.Time
		ok     bool
	}{
		{"valid", secret, nil, now, true},
		{"without prefix", strings.TrimPrefix(secret, SecretPrefix), nil, now, true},
		{"another secret", other, nil, now, false},
		{"body changed", secret, func(http.Header) []byte { return []byte(`{"id":"evt_2"}`) }, now, false},
		{"id changed", secret, func(h http.Header) []byte { h.Set(HeaderID, "evt_2"); return body }, now, false},
		{"timestamp changed", secret, func(h http.Header) []byte { h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)); return body }, now, false},
		{"too old", secret, nil, now.Add(Tolerance + time.Second), false},
		{"from the future", secret, nil, now.Add(-Tolerance - time.Second), false},
		{"several signatures", secret, func(h http.Header) []byte {
			h.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x "+h.Get(HeaderSignature))
			return body
		}, now, true},
		{"no signature", secret, func(h http.Header) []byte { h.Del(HeaderSignature); return body }, now, false},
		{"empty v1", secret, func(h http.Header) []byte { h.Set(HeaderSignature, "v1,"); return body }, now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh, b := h.Clone(), body
			if tc.mod != nil {
				b = tc.mod(hh)
			}
			if err := Verify(tc.secret, hh, b, tc.now); (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
