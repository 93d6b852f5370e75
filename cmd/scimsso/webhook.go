package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/webhooks"
)

// The webhooks' operator commands. Delivery itself runs in serve (startWebhooks).

// startWebhooks starts delivering events to webhooks (package webhooks, on river in the store's
// database) and registers its stop, which runs after the HTTP server has finished its requests and
// before the store closes. With deliver false (serve --deliver=false) it starts nothing: the events
// this process writes wait in the store for a process that delivers, which notices them within
// tens of milliseconds (store.EventsWritten follows other processes' writes).
func (m *Main) startWebhooks(ctx context.Context, s *sqlstore.Store, log *zap.Logger, loopback, deliver bool) error {
	log = log.Named("webhooks")
	if !deliver {
		log.Warn("this process delivers no events (--deliver=false): webhooks and back-channel logouts wait until a serve without it runs on the same store")
		return nil
	}
	if loopback {
		log.Warn("webhooks may be sent to loopback addresses over http (--" + loopbackFlag + "): for a receiver on this machine only")
	}
	db, dialect := s.JobsDB()
	svc, err := webhooks.New(webhooks.Config{Store: s, DB: db, Dialect: dialect, Logger: log, RiverLogger: slog.New(&zapSlog{log: log.Named("river")}),
		Metrics: m.metrics, Now: m.Now, AllowHTTPLoopback: loopback, Wake: s.EventsWritten(), Consumers: m.consumers(s)})
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	m.onClose(func() error {
		// A drain yields within seconds; one still running after this is taken up by another replica
		// (or this one's next start).
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return svc.Stop(sctx)
	})
	return nil
}

// consumers are the kinds of destination beyond webhooks: OpenID Connect back-channel logout, whose
// tokens the provider built by buildHandler signs (none without it: a process that serves no
// provider delivers no logout).
func (m *Main) consumers(s store.Store) map[string]webhooks.Consumer {
	if m.logoutToken == nil {
		return nil
	}
	return map[string]webhooks.Consumer{store.KindBackchannelLogout: &webhooks.Backchannel{Store: s, Token: m.logoutToken}}
}

// loopbackFlag is --allow-http-loopback-webhooks, on serve (delivery), webhook add and client create
// (the URL check): SCIMSSO_ALLOW_HTTP_LOOPBACK_WEBHOOKS sets them all.
const loopbackFlag = "allow-http-loopback-webhooks"

// registerLoopback declares loopbackFlag on fs into p, with the one help text every command shows.
func registerLoopback(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, loopbackFlag, false, "allow webhooks to http:// (or https://) loopback addresses, for a receiver on this machine; otherwise https to public addresses only")
}

// webhookAdd adds a webhook: its secret alone on stdout (shown only this once), its id on stderr.
func (m *Main) webhookAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhook add", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	url := fs.String("url", "", "where events are POSTed: https (http only to loopback, with --"+loopbackFlag+")")
	var types multiFlag
	fs.Var(&types, "types", "event types it gets, comma-separated or repeated (default: every type): "+strings.Join(store.EventTypes, ", "))
	var loopback bool
	registerLoopback(fs, &loopback)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("webhook add", pos, 0, "no arguments (the URL is --url)"); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("webhook add: --url is required")
	}
	// Checked before the store opens: a bad URL or type is wrong wherever the database is.
	if err := webhooks.CheckURL(*url, loopback); err != nil {
		return fmt.Errorf("webhook add: %w", err)
	}
	ts, err := store.ParseEventTypes(types...)
	if err != nil {
		return fmt.Errorf("webhook add: --types: %w", err)
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	w, err := webhooks.Add(ctx, s, *url, ts, loopback)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, w.Secret)
	fmt.Fprintf(m.Stderr, "added webhook %s for %s; the secret above is shown only once: it verifies the webhook-signature header\n", w.ID, typesText(w.Types))
	return nil
}

func typesText(ts []string) string {
	if len(ts) == 0 {
		return "every event type"
	}
	return strings.Join(ts, ",")
}

// webhookList lists the webhooks, never their secrets.
func (m *Main) webhookList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhook list", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("webhook list", pos, 0, "no arguments"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	hooks, err := s.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	last, err := s.LastEventSeq(ctx, false)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tTYPES\tCREATED\tBEHIND\tFAILING")
	for _, w := range hooks {
		if w.Kind != store.KindWebhook {
			continue
		}
		failing := "-"
		if w.Failures > 0 {
			failing = fmt.Sprintf("%d attempts", w.Failures)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", w.ID, w.URL, typesText(w.Types), w.CreatedAt.Format(time.RFC3339), max(last-w.Cursor, 0), failing)
	}
	return tw.Flush()
}

// webhookRemove removes a webhook: delivery to it stops at once.
func (m *Main) webhookRemove(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhook remove", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("webhook remove", pos, 1, "ID"); err != nil {
		return err
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	// A client's back-channel logout goes with the client, not on its own.
	if w, err := s.Webhook(ctx, pos[0]); err == nil && w.Kind == store.KindBackchannelLogout {
		return fmt.Errorf("%s is the back-channel logout of OpenID client %s: remove the client, or add it again without --backchannel-logout-uri", pos[0], w.Ref)
	}
	if err := s.DeleteWebhook(ctx, pos[0]); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("unknown webhook %q", pos[0])
	} else if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "removed webhook %s\n", pos[0])
	return nil
}

// webhookDeliveries lists a webhook's recent attempts and give-ups, newest first, or with --resend
// enqueues one more delivery of an event.
func (m *Main) webhookDeliveries(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhook deliveries", flag.ContinueOnError)
	var d dbFlags
	d.register(fs)
	limit := fs.Int("limit", 50, "how many of the latest deliveries to list (at most 1000)")
	outcome := fs.String("outcome", "", "list only deliveries of this outcome: delivered, failed or gave_up (a give-up stays listed behind any number of deliveries)")
	resend := fs.String("resend", "", "EVENT_ID: send this event to the webhook once more (a server delivers it within seconds)")
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("webhook deliveries", pos, 1, "ID"); err != nil {
		return err
	}
	if *limit < 1 || *limit > store.MaxDeliveries {
		return fmt.Errorf("webhook deliveries: --limit must be 1 to %d", store.MaxDeliveries)
	}
	switch *outcome {
	case "", store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryGaveUp:
	default:
		return fmt.Errorf("webhook deliveries: --outcome must be %s, %s or %s", store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryGaveUp)
	}
	s, err := m.openExistingStore(ctx, d)
	if err != nil {
		return err
	}
	id := pos[0]
	if _, err := s.Webhook(ctx, id); errors.Is(err, store.ErrNotFound) {
		// An OpenID client's id names its back-channel logout deliveries.
		if id, err = backchannelOf(ctx, s, id); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if *resend != "" {
		return m.resend(ctx, s, id, *resend)
	}
	ds, err := s.ListDeliveries(ctx, id, *outcome, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tEVENT\tSEQ\tTYPE\tOUTCOME\tSTATUS\tERROR")
	for _, d := range ds {
		status, outcome, errText := "-", d.Outcome, d.Error
		if d.Status != 0 {
			status = fmt.Sprint(d.Status)
		}
		if d.Resend {
			outcome += " (resend)"
		}
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.At.Format(time.RFC3339), d.EventID, d.Seq, d.EventType, outcome, status, errText)
	}
	return tw.Flush()
}

// backchannelOf returns the id of the back-channel logout destination of OpenID client clientID, or
// an error saying that no webhook or client with a back-channel logout URI has that id.
func backchannelOf(ctx context.Context, s store.Store, clientID string) (string, error) {
	w, err := store.BackchannelOf(ctx, s, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("unknown webhook %q (nor an OpenID client with a back-channel logout URI)", clientID)
	}
	if err != nil {
		return "", err
	}
	return w.ID, nil
}

// resendEvent enqueues one more delivery of event eventID to destination id as a job in the store's
// database, where a server's delivery takes it: `webhook deliveries --resend` and the management
// API's resend. ErrNotFound (wrapped) when the event was never sent there.
func resendEvent(ctx context.Context, s *sqlstore.Store, id, eventID string) error {
	db, dialect := s.JobsDB()
	svc, err := webhooks.New(webhooks.Config{Store: s, DB: db, Dialect: dialect, Logger: zap.NewNop(), InsertOnly: true})
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	return svc.Resend(ctx, id, eventID)
}

// resend enqueues the resend job in the store's database, where a server's delivery takes it.
func (m *Main) resend(ctx context.Context, s *sqlstore.Store, id, eventID string) error {
	if err := resendEvent(ctx, s, id, eventID); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("webhook deliveries: event %q was never sent to webhook %s (see 'scimsso webhook deliveries %s')", eventID, id, id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "event %s will be sent to webhook %s again\n", eventID, id)
	return nil
}
