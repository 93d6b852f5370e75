package webhooks

import (
	"fmt"

	"github.com/scimsso/scimsso/internal/safefetch"
)

// LoopbackSetting is the setting that lets webhooks (and back-channel logout) go to loopback
// receivers over http, for a receiver on the same machine (tests, a sidecar).
const LoopbackSetting = "serve --allow-http-loopback-webhooks"

func policy(allowHTTPLoopback bool) safefetch.Policy {
	return safefetch.Policy{AllowHTTPLoopback: allowHTTPLoopback, LoopbackSetting: LoopbackSetting}
}

// CheckURL returns the reason raw may not be a webhook's (or a back-channel logout) URL, or nil:
// safefetch.CheckURL's rule (https to public addresses; http only to loopback with
// allowHTTPLoopback). The sender's dialer checks every connection again.
func CheckURL(raw string, allowHTTPLoopback bool) error {
	if err := safefetch.CheckURL(raw, policy(allowHTTPLoopback)); err != nil {
		return fmt.Errorf("webhook %w", err)
	}
	return nil
}
