package main

import (
	"strings"
	"testing"
)

// OpenID Connect Back-Channel Logout 1.0: clients registered with a back-channel logout URI, and the
// logout tokens they are sent when a session of theirs ends.

// TestClientAddBackchannelURI: client add takes a back-channel logout URI under the webhooks' rule
// (https; http and loopback only with --allow-http-loopback-webhooks, or its SCIMSSO_ variable), shows
// it in client list, and refuses anything else with one line and nothing stored.
func TestClientAddBackchannelURI(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	add := []string{"client", "add", "Wiki", "--redirect-uri", "https://wiki.acme.com/cb", "--db", db}
	for _, tc := range []struct {
		uri  string
		env  []string
		flag bool   // --allow-http-loopback-webhooks on the command line
		want string // "" registered, else a word of the refusal
	}{
		{"https://wiki.acme.com/oidc/backchannel", nil, false, ""},
		{"http://127.0.0.1:9000/bc", nil, true, ""},
		{"http://localhost:9000/bc", []string{"SCIMSSO_ALLOW_HTTP_LOOPBACK_WEBHOOKS=true"}, false, ""},
		{"http://wiki.acme.com/bc", nil, false, "https"},
		{"http://wiki.acme.com/bc", nil, true, "https"},
		{"http://127.0.0.1:9000/bc", nil, false, "loopback"},
		{"https://localhost/bc", nil, false, "loopback"},
		{"https://10.1.2.3/bc", nil, true, "private"},
		{"https://169.254.169.254/latest", nil, false, "private"},
		{"https://wiki.acme.com/bc#x", nil, false, "fragment"},
		{"https://u:p@wiki.acme.com/bc", nil, false, "user information"},
		{"wiki.acme.com/bc", nil, false, "scheme"},
	} {
		args := append(append([]string(nil), add...), "--backchannel-logout-uri", tc.uri)
		if tc.flag {
			args = append(args, "--allow-http-loopback-webhooks")
		}
		before := clientList(t, db)
		stdout, stderr, code := run(t, tc.env, args...)
		if tc.want == "" {
			if code != 0 || !strings.HasPrefix(stdout, "client_id=") {
				t.Errorf("%s: exit %d, %q, %q; want it registered", tc.uri, code, stdout, stderr)
				continue
			}
			id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(stdout, "client_id="), "\n", 2)[0])
			if line := lineOf(clientList(t, db), id); !strings.HasSuffix(line, " "+tc.uri) {
				t.Errorf("client list shows %q for the client registered with %s", line, tc.uri)
			}
			continue
		}
		if line := checkFailure(t, args, stdout, stderr, code); !strings.Contains(line, "--backchannel-logout-uri") || !strings.Contains(line, tc.want) {
			t.Errorf("%s: %q, want a refusal of --backchannel-logout-uri saying %q", tc.uri, line, tc.want)
		}
		if after := clientList(t, db); after != before {
			t.Errorf("%s: refused, yet the clients changed:\n%s", tc.uri, after)
		}
	}
	// Without the flag a client has none: list shows "-".
	stdout, _ := mustRun(t, db, "client", "add", "Plain", "--redirect-uri", "https://plain.acme.com/cb")
	id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(stdout, "client_id="), "\n", 2)[0])
	if line := lineOf(clientList(t, db), id); !strings.HasSuffix(line, " -") {
		t.Errorf("client list shows %q for a client without a back-channel logout URI", line)
	}
}

func clientList(t *testing.T, db string) string {
	t.Helper()
	out, _ := mustRun(t, db, "client", "list")
	return out
}

// lineOf returns the line of out that starts with id.
func lineOf(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, id+" ") {
			return strings.TrimRight(l, " ")
		}
	}
	return ""
}
