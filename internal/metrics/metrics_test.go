package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestApart: each Metrics has its own registry, so what one counts the other does not show; a nil
// Metrics counts nothing and does not panic.
func TestApart(t *testing.T) {
	a, b := New(), New()
	a.Request("/healthz", "GET", 200, time.Millisecond)
	a.SignIn("ok")
	a.SCIMOperation("create", 201)
	a.StoreError(StoreUnavailable)
	var none *Metrics
	none.Request("/healthz", "GET", 200, time.Millisecond)
	none.SignIn("ok")
	none.SCIMOperation("create", 201)
	none.StoreError(StoreInternal)

	for _, series := range []string{
		`scimsso_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`scimsso_signins_total{outcome="ok"} 1`,
		`scimsso_scim_operations_total{operation="create",status="201"} 1`,
		`scimsso_store_errors_total{kind="unavailable"} 1`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(scrape(t, a), series) {
			t.Errorf("a lacks %s", series)
		}
	}
	if body := scrape(t, b); strings.Contains(body, "scimsso_http_requests_total{") || strings.Contains(body, "scimsso_signins_total{") {
		t.Errorf("b shows a's counts:\n%s", body)
	}
}
