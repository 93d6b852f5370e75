package csrf

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestCheck: a post passes only with the cookie's value in its field and no cross-site sign.
func TestCheck(t *testing.T) {
	g, err := New("https://sso.example.com/")
	if err != nil || g.Origin() != "https://sso.example.com" {
		t.Fatalf("New = %v, %v", g, err)
	}
	w := httptest.NewRecorder()
	tok, err := g.Token(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	c := w.Result().Cookies()[0]
	if c.Name != Cookie || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("cookie %+v", c)
	}
	other := "A" + tok[1:]
	if tok[0] == 'A' {
		other = "B" + tok[1:]
	}
	for _, tc := range []struct {
		name          string
		cookie, field string
		hdr           map[string]string
		want          bool
	}{
		{"same origin", tok, tok, map[string]string{"Origin": "https://sso.example.com", "Sec-Fetch-Site": "same-origin"}, true},
		{"no headers (old client)", tok, tok, nil, true},
		{"typed address", tok, tok, map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"no cookie", "", tok, nil, false},
		{"no field", tok, "", nil, false},
		{"other value", tok, other, nil, false},
		{"cookie not a secret", "x", "x", nil, false},
		{"cross-site origin", tok, tok, map[string]string{"Origin": "https://evil.example"}, false},
		{"null origin", tok, tok, map[string]string{"Origin": "null"}, false},
		{"http origin", tok, tok, map[string]string{"Origin": "http://sso.example.com"}, false},
		{"same-site", tok, tok, map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"cross-site fetch", tok, tok, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(url.Values{Field: {tc.field}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: Cookie, Value: tc.cookie})
			}
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			if !ParseForm(httptest.NewRecorder(), r) {
				t.Fatal("ParseForm refused a small form")
			}
			if got := g.Check(r); got != tc.want {
				t.Fatalf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestParseForm: only a small urlencoded body is read.
func TestParseForm(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		want              bool
	}{
		{"urlencoded", "application/x-www-form-urlencoded", "a=b", true},
		{"multipart", "multipart/form-data; boundary=x", "--x--", false},
		{"json", "application/json", "{}", false},
		{"too large", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", 17<<10), false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ctype)
		if got := ParseForm(httptest.NewRecorder(), r); got != tc.want {
			t.Errorf("%s: ParseForm = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"", "sso.example.com", "ftp://x", "/path"} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}
