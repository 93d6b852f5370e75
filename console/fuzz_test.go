package console_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// FuzzSSOForms: whatever a settings or metadata form holds, the console answers 303 (stored) or 400
// (nothing stored), never a 500, and a 400 leaves the stored version as it was; a 303 raises it by
// one, or not at all when the form held the stored settings.
func FuzzSSOForms(f *testing.F) {
	h := newHarness(f)
	f.Add(uint8(2), "14d", "")
	f.Add(uint8(3), "25h", "")
	f.Add(uint8(0), "active", "")
	f.Add(uint8(1), "a@acme.com,,B@acme.com", "")
	f.Add(uint8(19), "maybe", "")
	f.Add(uint8(0), "", "MIIB")
	f.Add(uint8(7), "\x00\xff", "bm90IGEgY2VydA==")
	f.Fuzz(func(t *testing.T, field uint8, value, cert string) {
		h.T = t // each input reports through its own t
		b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
		before := h.settingsOf(h.Tenant).Version
		name := store.SSOSettingTable[int(field)%len(store.SSOSettingTable)].Name
		res, _ := h.post(b, "/admin/acme/sso", "/admin/acme/sso", url.Values{name: {value}})
		check(t, h, res, before, "settings "+name+"="+strconv.Quote(value))
		before = h.settingsOf(h.Tenant).Version
		res, _ = h.Send(b, http.MethodPost, "/admin/acme/sso/metadata", url.Values{"csrf": {h.csrfOf(b)}, "version": {strconv.FormatInt(before, 10)},
			"entity_id": {value}, "sso_url": {"https://idp.example/sso"}, "cert": {cert}}, h.same())
		check(t, h, res, before, "metadata cert "+strconv.Quote(cert))
	})
}

func check(t *testing.T, h *harness, res *http.Response, before int64, what string) {
	t.Helper()
	after := h.settingsOf(h.Tenant).Version
	switch res.StatusCode {
	case http.StatusSeeOther:
		// Stored: one version more, or none when the form changed nothing (a no-op stores nothing).
		if after != before+1 && after != before {
			t.Fatalf("%s: 303 but version %d → %d", what, before, after)
		}
	case http.StatusBadRequest:
		if after != before {
			t.Fatalf("%s: 400 but version %d → %d", what, before, after)
		}
	default:
		t.Fatalf("%s: %d", what, res.StatusCode)
	}
}
