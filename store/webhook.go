package store

import (
	"context"
	"time"
)

// Webhook kinds. Every destination of events has a cursor in the webhooks table and the same delivery
// (retries, order, give-up, visible attempts); its kind says how an event becomes the request it gets.
const (
	// KindWebhook is a webhook added by `scimsso webhook add`: each event of its types is POSTed as the
	// events API's JSON, signed with its secret (Standard Webhooks).
	KindWebhook = "webhook"
	// KindBackchannelLogout is the destination of an OpenID Connect client registered with a
	// back-channel logout URI, made with the client (CreateOIDCClient) and removed with it; its Ref is
	// the client's id, its URL the client's URI, its Types session.ended. Each session.ended event
	// whose session the client held tokens of is POSTed to it as a logout token.
	KindBackchannelLogout = "backchannel_logout"
)

// Webhook is a destination of events: a URL that gets, in seq order, every event of its Types that
// happened after it was added.
type Webhook struct {
	ID   string
	Kind string // KindWebhook unless another consumer of events (back-channel logout) made it
	// Ref is what a destination of another kind belongs to (an OpenID client's id), for its Consumer;
	// "" for a webhook.
	Ref string
	URL string
	// Types are the event types it gets; empty: every type.
	Types []string
	// Secret signs what it is sent: "whsec_" and the base64 of its key, as `webhook add` printed it.
	// The store keeps it sealed with its keyring (it must be read back to sign, so it cannot be
	// hashed). Lists leave it empty; Webhook returns it.
	Secret    string
	CreatedAt time.Time
	// Cursor is the seq of the last event delivered or given up: delivery resumes after it.
	Cursor int64
	// Failures counts the attempts failed since the last delivered event (it sets the backoff).
	Failures int
}

// Wants reports whether w gets events of type typ.
func (w *Webhook) Wants(typ string) bool {
	if len(w.Types) == 0 {
		return true
	}
	for _, t := range w.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Outcomes of a delivery attempt.
const (
	// DeliveryDelivered: the receiver answered 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryFailed: the receiver failed (non-2xx, timeout, connection refused); it will be retried.
	DeliveryFailed = "failed"
	// DeliveryGaveUp: the event was still undelivered long after it occurred; the webhook's cursor
	// moved past it. It can be sent again (`webhook deliveries ID --resend EVENT_ID`).
	DeliveryGaveUp = "gave_up"
)

// Delivery is one attempt to deliver an event to a webhook, or the record that delivery gave up.
type Delivery struct {
	WebhookID string
	EventID   string
	Seq       int64
	EventType string
	At        time.Time
	// Status is the HTTP status the receiver answered; 0 when none (a connection error, a timeout).
	Status int
	// Error says why an attempt failed, without secrets: "timeout", "connection refused", "HTTP 500".
	Error   string
	Outcome string // DeliveryDelivered, DeliveryFailed or DeliveryGaveUp
	// Resend marks an attempt made by `--resend`: it does not move the cursor.
	Resend bool
}

// WebhookStore is the webhooks' part of the Store: the destinations, their cursors and the record of
// their deliveries. Delivery itself (the job queue, HTTP) is package webhooks.
type WebhookStore interface {
	// CreateWebhook stores w with a new ID and the store's time, its Secret sealed and its Cursor as
	// given (the caller sets it to LastEventSeq, so the webhook gets only later events).
	CreateWebhook(ctx context.Context, w *Webhook) error
	// Webhook returns the webhook with its Secret opened; ErrNotFound for an unknown id, an error
	// naming the key id when the secret cannot be opened.
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks returns every webhook without its secret, oldest first.
	ListWebhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook removes the webhook and its deliveries; ErrNotFound for an unknown id.
	DeleteWebhook(ctx context.Context, id string) error
	// AdvanceWebhook records ds and moves the webhook's cursor from from to to (to >= from) and resets
	// its Failures, in one transaction, only if its cursor is still from: ErrVersionMismatch otherwise
	// (another delivery moved it; nothing is written), ErrNotFound for an unknown id.
	AdvanceWebhook(ctx context.Context, id string, from, to int64, ds []Delivery) error
	// FailWebhook is AdvanceWebhook for a drain that stopped at a failed attempt: it records ds and
	// failed, moves the cursor from from to to (to >= from: what ds delivered or gave up), and counts the
	// failure: Failures becomes 1 when the cursor moved and ds delivered an event (the receiver works
	// again, and this is another event failing), else one more. It returns Failures.
	FailWebhook(ctx context.Context, id string, from, to int64, ds []Delivery, failed Delivery) (int, error)
	// DeliveredAfter returns the ids of the events recorded delivered to the webhook (resends aside)
	// with a seq after after: a drain stopped by a failure may have delivered events past it.
	DeliveredAfter(ctx context.Context, webhookID string, after int64) (map[string]bool, error)
	// RecordDelivery records d (a resend) without touching the cursor; ErrNotFound for an unknown webhook.
	RecordDelivery(ctx context.Context, d Delivery) error
	// ListDeliveries returns the webhook's recorded deliveries of the outcome (every outcome when ""),
	// newest first, at most limit; the store keeps the latest MaxDeliveries a webhook and give-ups for
	// DeliveryRetention.
	ListDeliveries(ctx context.Context, webhookID, outcome string, limit int) ([]Delivery, error)
	// DeliveryOf returns the newest delivery recorded of event eventID to the webhook, or ErrNotFound.
	DeliveryOf(ctx context.Context, webhookID, eventID string) (*Delivery, error)
}

// BackchannelOf returns the back-channel logout destination of OpenID client clientID, whose
// deliveries `webhook deliveries CLIENT_ID` and the management API's client deliveries show:
// ErrNotFound when no client with a back-channel logout URI has that id.
func BackchannelOf(ctx context.Context, st WebhookStore, clientID string) (*Webhook, error) {
	ws, err := st.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if w.Kind == KindBackchannelLogout && w.Ref == clientID {
			return &w, nil
		}
	}
	return nil, ErrNotFound
}

// MaxDeliveries is how many attempts a webhook's delivery record keeps (give-ups are kept apart, for
// DeliveryRetention): Sweep deletes the older ones.
const MaxDeliveries = 1000

// DeliveryRetention is how long a given-up delivery is kept: as long as events are, since its event
// can be sent again until then.
const DeliveryRetention = 30 * 24 * time.Hour
