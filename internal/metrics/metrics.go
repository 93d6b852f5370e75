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

var (
	registry = prometheus.NewRegistry()

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimsso_http_requests_total",
		Help: "HTTP requests by route template, method and status.",
	}, []string{"route", "method", "status"})

	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scimsso_http_request_duration_seconds",
		Help:    "HTTP request latency by route template.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})

	signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimsso_signins_total",
		Help: "SAML sign-ins by outcome: ok, or the refusal code (replay, signature, time, …), unavailable or error.",
	}, []string{"outcome"})

	scimOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimsso_scim_operations_total",
		Help: "SCIM operations by operation (create, replace, patch, delete, get, list) and status.",
	}, []string{"operation", "status"})

	storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimsso_store_errors_total",
		Help: "Store failures a request met: unavailable (database unreachable, answered 503) or internal (answered 500).",
	}, []string{"kind"})
)

func init() {
	registry.MustRegister(requests, latency, signIns, scimOps, storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the metrics in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
}

// Request records one HTTP request.
func Request(route, method string, status int, d time.Duration) {
	requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	latency.WithLabelValues(route).Observe(d.Seconds())
}

// SignIn records the outcome of one sign-in at the ACS.
func SignIn(outcome string) { signIns.WithLabelValues(outcome).Inc() }

// SCIMOperation records one SCIM operation and the status it was answered with.
func SCIMOperation(op string, status int) { scimOps.WithLabelValues(op, strconv.Itoa(status)).Inc() }

// Store kinds of failure.
const (
	StoreUnavailable = "unavailable"
	StoreInternal    = "internal"
)

// StoreError records a store failure of kind StoreUnavailable or StoreInternal.
func StoreError(kind string) { storeErrors.WithLabelValues(kind).Inc() }
