package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/scimsso/scimsso/store"
)

// LogoutTokenFunc makes a signed logout token (OpenID Connect Back-Channel Logout 1.0) for client c:
// the session sid of user sub has ended. cmd passes the OpenID provider's (openid.Server.LogoutToken),
// which this package does not import.
type LogoutTokenFunc func(ctx context.Context, c *store.OIDCClient, sub, sid string) (string, error)

// Backchannel is the Consumer of kind store.KindBackchannelLogout: the destination of one OpenID
// Connect client (its Ref), made with the client when it registered a back-channel logout URI. For a
// session.ended event whose session the client held tokens of (the event's clients), it makes one
// POST to the client's URI: application/x-www-form-urlencoded, logout_token=JWT (§2.5). The token is
// made for each attempt: it lives two minutes, and retries go on for days. Every other event, and one
// of a client removed since, calls for nothing.
//
// Each client is a destination of its own, with its own cursor and retries, so that one client that
// does not answer holds up no other's logouts.
type Backchannel struct {
	Store interface {
		OIDCClient(ctx context.Context, id string) (*store.OIDCClient, error)
	}
	Token LogoutTokenFunc
}

// Requests implements Consumer.
func (b *Backchannel) Requests(ctx context.Context, w *store.Webhook, ev *store.Event, _ time.Time) ([]Request, error) {
	if ev.Type != store.EventSessionEnded {
		return nil, nil
	}
	var sess store.SessionObject
	if err := json.Unmarshal(ev.Data, &sess); err != nil {
		return nil, fmt.Errorf("session.ended event %s: %v", ev.ID, err)
	}
	if !slices.Contains(sess.Clients, w.Ref) {
		return nil, nil
	}
	c, err := b.Store.OIDCClient(ctx, w.Ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // removed since: nobody to tell
	}
	if err != nil {
		return nil, err
	}
	if c.BackchannelLogoutURI == "" {
		return nil, nil
	}
	tok, err := b.Token(ctx, c, sess.UserID, sess.ID)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return []Request{{URL: c.BackchannelLogoutURI, Header: h, Body: []byte(url.Values{"logout_token": {tok}}.Encode())}}, nil
}
