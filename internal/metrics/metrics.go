// Package metrics holds scimsso's Prometheus metrics, on the Prometheus client library, and the
// handler that serves them at /metrics. No label carries a tenant, user or anything a client chose
// freely: routes are templates, outcomes come from fixed lists, so the series stay few and the page
// reveals no customer.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one set of scimsso's metrics in a registry of its own (not the Prometheus default
// registry, a process global): cmd makes one per server and passes it to each package through its
// Config, so two servers in one process (tests) count apart. A nil *Metrics counts nothing, for
// packages built without one. Its methods are safe for concurrent use.
type Metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	signIns     *prometheus.CounterVec
	scimOps     *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
	lag         prometheus.Histogram
}

// New returns the metrics with the Go runtime's and the process's collectors beside them.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimsso_http_requests_total",
			Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimsso_http_request_duration_seconds",
			Help:    "HTTP request latency by route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimsso_signins_total",
			Help: "SAML sign-ins by outcome: ok, or the refusal code (replay, signature, time, …), unavailable or error.",
		}, []string{"outcome"}),
		scimOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimsso_scim_operations_total",
			Help: "SCIM operations by operation (create, replace, patch, delete, get, list) and status.",
		}, []string{"operation", "status"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimsso_store_errors_total",
			Help: "Store failures a request met: unavailable (database unreachable, answered 503) or internal (answered 500).",
		}, []string{"kind"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimsso_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered (2xx), failed (retried later) or gave_up.",
		}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scimsso_webhook_delivery_lag_seconds",
			Help:    "Time from an event's commit to its receiver's 2xx.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.signIns, m.scimOps, m.storeErrors, m.deliveries, m.lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Request records one HTTP request.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// SignIn records the outcome of one sign-in at the ACS.
func (m *Metrics) SignIn(outcome string) {
	if m == nil {
		return
	}
	m.signIns.WithLabelValues(outcome).Inc()
}

// SCIMOperation records one SCIM operation and the status it was answered with.
func (m *Metrics) SCIMOperation(op string, status int) {
	if m == nil {
		return
	}
	m.scimOps.WithLabelValues(op, strconv.Itoa(status)).Inc()
}

// Store kinds of failure.
const (
	StoreUnavailable = "unavailable"
	StoreInternal    = "internal"
)

// StoreError records a store failure of kind StoreUnavailable or StoreInternal.
func (m *Metrics) StoreError(kind string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(kind).Inc()
}

// WebhookDelivery records one delivery attempt's outcome: store.DeliveryDelivered, DeliveryFailed or
// DeliveryGaveUp.
func (m *Metrics) WebhookDelivery(outcome string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(outcome).Inc()
}

// WebhookLag records the time from an event's commit to its receiver's 2xx.
func (m *Metrics) WebhookLag(d time.Duration) {
	if m == nil {
		return
	}
	m.lag.Observe(d.Seconds())
}
