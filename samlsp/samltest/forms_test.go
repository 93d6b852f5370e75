package samltest

import (
	"net/url"
	"testing"
)

func TestForms(t *testing.T) {
	page, _ := url.Parse("https://idp.example/sso?SAMLRequest=x")
	body := []byte(`<html><body>
<form method="post"><input name="user" value="a&amp;b"><input type="password" name="password">
<input type="checkbox" name="remember"><input type="checkbox" name="terms" checked>
<select name="c"><option value="1">one</option><option selected>Two  words</option></select>
<textarea name="note">hi &lt;there&gt;</textarea><input type="submit" name="go" value="Sign in"><input name="off" disabled value="x"></form>
<form action="https://sp.example/acs" method="POST"><input type="hidden" name="SAMLResponse" value="PHg+"></form>
<form action="/search"><input name="q" value="z"></form></body></html>`)
	forms, err := Forms(page, body)
	if err != nil || len(forms) != 3 {
		t.Fatalf("%d forms, %v", len(forms), err)
	}
	f := forms[0]
	if f.Action.String() != page.String() || f.Method != "POST" {
		t.Fatalf("first form: %s %s", f.Method, f.Action)
	}
	want := url.Values{"user": {"a&b"}, "password": {""}, "terms": {"on"}, "c": {"Two words"}, "note": {"hi <there>"}}
	if f.Values.Encode() != want.Encode() {
		t.Fatalf("values %v, want %v", f.Values, want)
	}
	if forms[1].Action.String() != "https://sp.example/acs" || forms[1].Method != "POST" || forms[1].Values.Get("SAMLResponse") != "PHg+" {
		t.Fatalf("second form %+v", forms[1])
	}
	if forms[2].Action.String() != "https://idp.example/search" || forms[2].Method != "GET" {
		t.Fatalf("third form %+v", forms[2])
	}
}
