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

// FuzzPageForms: whatever the SCIM, People and Teams forms, a department map file or a search hold,
// the console answers with success (200 or 303) or a 400 that stored nothing, never a 500.
func FuzzPageForms(f *testing.F) {
	h := newHarness(f)
	f.Add(uint8(0), "Okta", "90d")
	f.Add(uint8(0), "", "soon")
	f.Add(uint8(1), "Sales", "")
	f.Add(uint8(1), " x\x00", "")
	f.Add(uint8(2), "department,team\nR&D,Sales\n", "")
	f.Add(uint8(2), "a,\"b\nc", "")
	f.Add(uint8(3), "a@acme.com, b", "")
	f.Add(uint8(4), "%zz", "-1")
	f.Add(uint8(4), "\x00", "")
	f.Add(uint8(4), "user\xff", "2")
	f.Add(uint8(4), "", "")
	f.Fuzz(func(t *testing.T, form uint8, value, extra string) {
		h.T = t
		b := h.consoleOf(h.Tenant, store.AdminScopeSSO, store.AdminScopeSCIM)
		before := h.stateOf(h.Tenant)
		var res *http.Response
		switch form % 5 {
		case 0:
			res, _ = h.post(b, "/admin/acme/scim", "/admin/acme/scim/tokens", url.Values{"name": {value}, "expires": {extra}})
		case 1:
			res, _ = h.post(b, "/admin/acme/teams", "/admin/acme/teams", url.Values{"name": {value}, "hidden": {extra}})
		case 2:
			res, _ = h.uploadFile(b, "/admin/acme/teams", "/admin/acme/teams/department-map", "map", []byte(value))
		case 3:
			res, _ = h.post(b, "/admin/acme/people", "/admin/acme/people/exclude", url.Values{"exclude": {value}})
		case 4:
			res, _ = h.get(b, "/admin/acme/people?"+url.Values{"q": {value}, "page": {extra}}.Encode())
			if res.StatusCode != http.StatusOK {
				t.Fatalf("search %q page %q: %d", value, extra, res.StatusCode)
			}
			for _, q := range []string{"/admin/acme/signins?" + url.Values{"email": {value}, "before": {extra}, "outcome": {value}, "ref": {value}}.Encode(),
				"/admin/acme/audit?" + url.Values{"before": {extra}}.Encode()} {
				if res, _ := h.get(b, q); res.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d", q, res.StatusCode)
				}
			}
			return
		}
		switch res.StatusCode {
		case http.StatusOK, http.StatusSeeOther:
		case http.StatusBadRequest:
			if after := h.stateOf(h.Tenant); after != before {
				t.Fatalf("form %d %q %q: 400 but stored:\n%s\n→\n%s", form%5, value, extra, before, after)
			}
		default:
			t.Fatalf("form %d %q %q: %d", form%5, value, extra, res.StatusCode)
		}
	})
}
