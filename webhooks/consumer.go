package webhooks

import (
	"context"
	"net/http"
	"time"

	"github.com/scimsso/scimsso/store"
)

// Request is one POST an event calls for.
type Request struct {
	URL    string
	Header http.Header
	Body   []byte
}

// Consumer turns an event into what one destination (a store.Webhook of its kind) is sent: zero
// requests (the event is not for it), or one or more, all of which must be answered 2xx for the event
// to count as delivered. It is called afresh for every attempt, at now, so that signatures and
// timestamps are the attempt's own. Its error fails the attempt (and is retried); it says nothing
// secret. Implementations must be safe for concurrent use.
//
// Package webhooks delivers for every kind alike: in seq order per destination, retried with backoff,
// given up after GiveUpAfter, recorded in the destination's deliveries, sent again on request. The
// kind store.KindWebhook is built in (webhookConsumer); another (OpenID Connect back-channel logout)
// is added through Config.Consumers, with its destinations stored as store.Webhooks of its kind.
type Consumer interface {
	Requests(ctx context.Context, w *store.Webhook, ev *store.Event, now time.Time) ([]Request, error)
}

// webhookConsumer POSTs each event of the webhook's types as the events API shows it, signed.
type webhookConsumer struct{}

func (webhookConsumer) Requests(_ context.Context, w *store.Webhook, ev *store.Event, now time.Time) ([]Request, error) {
	if !w.Wants(ev.Type) {
		return nil, nil
	}
	body, err := store.EventJSON(*ev) // the bytes GET /api/v1/events lists it as
	if err != nil {
		return nil, err
	}
	h, err := signedHeader(w.Secret, ev.ID, now, body)
	if err != nil {
		return nil, err
	}
	return []Request{{URL: w.URL, Header: h, Body: body}}, nil
}
