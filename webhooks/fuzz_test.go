package webhooks

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify: whatever headers and body a receiver is sent, Verify answers without panicking, and
// accepts only what the secret signed.
func FuzzVerify(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1614265330, 0)
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("", "", "", []byte(nil))
	f.Add("id", "-1", "v1, v1,,, v2,abc", []byte("{}"))
	f.Add("id", "99999999999999999999", "v1,====", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if Verify(secret, h, body, now) == nil && ts != "1614265330" {
			// Only a timestamp that reads as now can pass (within Tolerance, and the fuzzer would have to
			// forge the HMAC of another): anything else accepted is a bug.
			if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || now.Sub(time.Unix(sec, 0)).Abs() > Tolerance {
				t.Fatalf("accepted %q %q %q %q", id, ts, sig, body)
			}
		}
	})
}
