package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// writeKeyFile writes a key file of fresh keys with the ids given (the first encrypts) at mode 0600
// and returns its path and the line of each id.
func writeKeyFile(t *testing.T, ids ...string) (path string, lines map[string]string) {
	t.Helper()
	lines = map[string]string{}
	var text string
	for _, id := range ids {
		b := make([]byte, 32)
		rand.Read(b)
		lines[id] = id + ":" + base64.StdEncoding.EncodeToString(b) + "\n"
		text += lines[id]
	}
	path = filepath.Join(t.TempDir(), "secret.keys")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, lines
}

// writeFile0600 writes text to a new file of mode 0600 and returns its path.
func writeFile0600(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret.keys")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// spKeyColumn reads tenant slug's stored SP key straight from the SQLite file.
func spKeyColumn(t *testing.T, db, slug string) []byte {
	t.Helper()
	raw, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var b []byte
	if err := raw.QueryRow("SELECT sp_key_pem FROM tenants WHERE slug = ?", slug).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// logged returns the log lines with message msg.
func logged(t *testing.T, s *server, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range s.logLines(t) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

const (
	msgUnencrypted = "SP private keys are stored unencrypted: set --secret-key-file to encrypt them at rest"
	msgExposed     = "database files may be read or written by group or others; they hold every tenant's data: chmod 600 them"
	msgStale       = "some SP private keys are not encrypted under the current key: run scimsso secrets rotate"
	msgUnreadable  = "a tenant's SP private key cannot be read: sign-in for this tenant will fail"
)

// TestSecretKeyFileRefused: a key file that is missing, malformed or open to group or others is
// refused by serve (in its config check, before the database is created) and by the commands that
// create tenants, with one clear line.
func TestSecretKeyFileRefused(t *testing.T) {
	t.Parallel()
	loose := writeFile0600(t, "k1:"+base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n")
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "--secret-key-file"},
		{"malformed", writeFile0600(t, "k1:c2hvcnQ=\n"), "line 1: the key must be the base64 of 32 random bytes"},
		{"empty", writeFile0600(t, "# nothing yet\n"), "holds no key"},
		{"readable by others", loose, "may be read or written by group or others (mode 0644)"},
	} {
		for _, args := range [][]string{
			{"serve", "--addr", "127.0.0.1:0"},
			{"tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com"},
			{"secrets", "rotate"},
		} {
			t.Run(c.name+"/"+args[0], func(t *testing.T) {
				db := newDB(t)
				args := append(args, "--db", db, "--secret-key-file", c.path)
				stdout, stderr, code := run(t, nil, args...)
				if line := checkFailure(t, args, stdout, stderr, code); !strings.Contains(line, c.want) {
					t.Errorf("error %q does not say %q", line, c.want)
				}
				if _, err := os.Stat(db); err == nil {
					t.Errorf("the database was created before the key file was refused")
				}
			})
		}
	}
	t.Run("rotate without a key file", func(t *testing.T) {
		if line := mustFail(t, newDB(t), "secrets", "rotate"); !strings.Contains(line, "--secret-key-file is required") {
			t.Errorf("error %q", line)
		}
	})
}

// TestServeWarnsAtRest: serve warns once at start when the database files are open to group or others
// (it does not change their mode) and when SP keys are stored unencrypted.
func TestServeWarnsAtRest(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("tenant create made the database %04o, want 0600", m)
	}
	s := startServer(t, db)
	if n := len(logged(t, s, msgExposed)); n != 0 {
		t.Errorf("a 0600 database drew %d warnings about its mode", n)
	}
	if n := len(logged(t, s, msgUnencrypted)); n != 1 {
		t.Errorf("without a key file serve logged %q %d times, want once", msgUnencrypted, n)
	}
	s.signal(t, os.Interrupt)
	s.wait(t, 10*time.Second)

	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, db)
	lines := logged(t, s, msgExposed)
	if len(lines) != 1 || lines[0]["level"] != "warn" {
		t.Fatalf("a 0644 database: %d warnings %v, want one\n%s", len(lines), lines, s.logs(t))
	}
	if files, _ := lines[0]["files"].([]any); len(files) == 0 || !strings.Contains(files[0].(string), db+" (0644)") {
		t.Errorf("the warning names %v, want %s (0644)", lines[0]["files"], db)
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("serve changed the database's mode: %v %v", fi.Mode(), err)
	}
}

// TestSPKeysEncryptedAtRest drives the key file end to end on a real binary: tenant create writes the
// SP key encrypted (no PEM in the column), serve signs in with it, secrets rotate moves it to a new
// first key, and a key file lacking the key id in use makes serve log which tenant cannot sign in and
// refuse that tenant's sign-in with a plain error page, never a panic.
func TestSPKeysEncryptedAtRest(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	keyFile, lines := writeKeyFile(t, "k1")
	env := []string{"SCIMSSO_DB=" + db, "SCIMSSO_SECRET_KEY_FILE=" + keyFile}
	mustRunEnv := func(env []string, args ...string) string {
		t.Helper()
		stdout, stderr, code := run(t, env, args...)
		if code != 0 {
			t.Fatalf("scimsso %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	mustRunEnv(env, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com")
	col := spKeyColumn(t, db, "acme")
	if !bytes.HasPrefix(col, []byte("enc:v1:k1:")) || bytes.Contains(col, []byte("PRIVATE KEY")) || bytes.Contains(col, []byte("-----")) {
		t.Fatalf("the stored SP key is %.40q…, want enc:v1:k1:… and no PEM", col)
	}
	tokOut := mustRunEnv(env, "token", "issue", "--tenant", "acme")
	tok := strings.TrimSpace(tokOut)
	idp, err := samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	meta := writeFile0600(t, string(idp.Metadata()))
	mustRunEnv(env, "sso", "set", "--tenant", "acme", "--metadata-file", meta, "--state", "active", "--sign-requests")

	// Without the key file, what does not use the private key works (tenant reads never carry it); what
	// does fails by name rather than hand out ciphertext as a key (below, at sign-in).
	if out := mustRunEnv([]string{"SCIMSSO_DB=" + db}, "tenant", "show", "acme"); !strings.Contains(out, "acme") {
		t.Errorf("tenant show without the key file: %q", out)
	}

	s := startServerEnv(t, db, []string{"SCIMSSO_SECRET_KEY_FILE=" + keyFile})
	for _, msg := range []string{msgUnencrypted, msgStale, msgUnreadable} {
		if n := len(logged(t, s, msg)); n != 0 {
			t.Errorf("serve with every key current logged %q", msg)
		}
	}
	createUser(t, s.url, "acme", tok, "alice@acme.com")
	signIn := func(s *server) {
		t.Helper()
		id, binding := startSignIn(t, s.url)
		res, session := postResponse(t, s.url, samlResponse(t, idp, id, "alice@acme.com"), binding)
		if session == nil || meStatus(t, s.url, session) != http.StatusOK {
			t.Fatalf("sign-in with an encrypted SP key: %d\n%s", res.StatusCode, s.logs(t))
		}
	}
	signIn(s)
	s.signal(t, os.Interrupt)
	s.wait(t, 10*time.Second)

	// Rotation: k2 first in the file; the k1 value still opens; rotate moves it under k2.
	b := make([]byte, 32)
	rand.Read(b)
	k2 := writeFile0600(t, "k2:"+base64.StdEncoding.EncodeToString(b)+"\n"+lines["k1"])
	rotEnv := []string{"SCIMSSO_DB=" + db, "SCIMSSO_SECRET_KEY_FILE=" + k2}
	s = startServerEnv(t, db, rotEnv[1:])
	if l := logged(t, s, msgStale); len(l) != 1 || l[0]["older_key"] != 1.0 {
		t.Errorf("serve with a new first key: %v, want one warning counting 1 key under an older key", l)
	}
	signIn(s)
	s.signal(t, os.Interrupt)
	s.wait(t, 10*time.Second)
	if out := mustRunEnv(rotEnv, "secrets", "rotate"); out != "re-encrypted 1 SP private keys; 1 tenants' keys are under the current key\n" {
		t.Errorf("secrets rotate printed %q", out)
	}
	if col := spKeyColumn(t, db, "acme"); !bytes.HasPrefix(col, []byte("enc:v1:k2:")) {
		t.Errorf("after rotate the stored key is %.12q…, want enc:v1:k2:", col)
	}
	if out := mustRunEnv(rotEnv, "secrets", "rotate"); !strings.HasPrefix(out, "re-encrypted 0 ") {
		t.Errorf("a second rotate printed %q, want nothing re-encrypted", out)
	}
	// The rotation that re-encrypted is in the admin audit log, once: the second changed nothing.
	if got := resealActions(t, db, rotEnv); len(got) != 1 || got[0].Actor.Kind != store.ActorCLI || !strings.Contains(got[0].After, `"what":"SP keys","resealed":1`) {
		t.Errorf("secrets.resealed entries %+v, want one by the CLI naming 1 SP key", got)
	}

	// The old file, which lacks k2: serve starts, says which tenant cannot sign in, and refuses it.
	s = startServerEnv(t, db, []string{"SCIMSSO_SECRET_KEY_FILE=" + keyFile})
	l := logged(t, s, msgUnreadable)
	if len(l) != 1 || l[0]["tenant"] != "acme" || l[0]["level"] != "error" || !strings.Contains(l[0]["error"].(string), `key id "k2", which the secret key file lacks`) {
		t.Errorf("serve with a key file lacking k2: %v, want one error naming acme and k2", l)
	}
	res, body := do(t, http.MethodGet, s.url+"/saml/acme/login", nil)
	if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "k2") {
		t.Errorf("sign-in with the key unreadable: %d %q, want a plain 500 page", res.StatusCode, body)
	}
	if logs := s.logs(t); !strings.Contains(logs, `key id \"k2\", which the secret key file lacks`) || strings.Contains(logs, "panic") {
		t.Errorf("the refused sign-in's log does not name the missing key id, or a panic was logged:\n%s", logs)
	}
	if out, stderr, code := run(t, rotEnv[:1], "secrets", "rotate", "--secret-key-file", keyFile); code != 1 || out != "" ||
		!strings.Contains(stderr, "1 could not be read and were left as they are: acme (") {
		t.Errorf("rotate with a key file lacking k2: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// Only what uses the key needs it: the operator commands that read tenants work without the key
	// file at all, as with one that lacks the key id (found in review: one unreadable key broke
	// tenant list for every tenant).
	for _, env := range [][]string{rotEnv[:1], {rotEnv[0], "SCIMSSO_SECRET_KEY_FILE=" + keyFile}} {
		if out := mustRunEnv(env, "tenant", "list"); !strings.Contains(out, "acme") {
			t.Errorf("tenant list with %v: %q, want acme listed", env[1:], out)
		}
	}
}

// TestSecretsRotateOIDCKeys: secrets rotate re-encrypts the OpenID provider's signing keys too: keys
// made before a key file was configured (stored in clear) and keys under an older key id end up under
// the file's first key, and the provider still signs with them.
func TestSecretsRotateOIDCKeys(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	mustRun(t, db, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com")
	mustRun(t, db, "oidc", "rotate-key") // no key file: the keys are stored in clear
	column := func() []string {
		t.Helper()
		raw, err := sql.Open("sqlite3", db)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		rows, err := raw.Query("SELECT private_key FROM oidc_keys ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			out = append(out, string(b))
		}
		return out
	}
	if keys := column(); len(keys) != 2 || !strings.Contains(keys[0], "PRIVATE KEY") {
		t.Fatalf("signing keys made without a key file: %.30q, want 2 in clear", keys)
	}
	keyFile, lines := writeKeyFile(t, "k1")
	env := []string{"SCIMSSO_DB=" + db, "SCIMSSO_SECRET_KEY_FILE=" + keyFile}
	stdout, stderr, code := run(t, env, "secrets", "rotate")
	if code != 0 || !strings.Contains(stdout, "re-encrypted 2 OIDC signing keys; 2 are under the current key\n") {
		t.Fatalf("secrets rotate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, k := range column() {
		if !strings.HasPrefix(k, "enc:v1:k1:") || strings.Contains(k, "PRIVATE KEY") {
			t.Errorf("after rotate a signing key is stored as %.20q…, want enc:v1:k1:", k)
		}
	}
	// A new first key: the keys move under it.
	b := make([]byte, 32)
	rand.Read(b)
	k2 := writeFile0600(t, "k2:"+base64.StdEncoding.EncodeToString(b)+"\n"+lines["k1"])
	env = []string{"SCIMSSO_DB=" + db, "SCIMSSO_SECRET_KEY_FILE=" + k2}
	s := startServerEnv(t, db, env[1:])
	if l := logged(t, s, "some OIDC signing keys are not encrypted under the current key: run scimsso secrets rotate"); len(l) != 1 || l[0]["older_key"] != 2.0 {
		t.Errorf("serve with a new first key: %v, want one warning counting 2 signing keys under an older key", l)
	}
	s.signal(t, os.Interrupt)
	s.wait(t, 10*time.Second)
	if stdout, stderr, code = run(t, env, "secrets", "rotate"); code != 0 || !strings.Contains(stdout, "re-encrypted 2 OIDC signing keys") {
		t.Fatalf("secrets rotate to k2: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, k := range column() {
		if !strings.HasPrefix(k, "enc:v1:k2:") {
			t.Errorf("after the second rotate a signing key is stored as %.20q…, want enc:v1:k2:", k)
		}
	}
	// The provider still publishes and signs with them.
	s = startServerEnv(t, db, env[1:])
	res, body := do(t, http.MethodGet, s.url+"/oidc/jwks", nil)
	if res.StatusCode != http.StatusOK || strings.Count(body, `"kid"`) != 2 {
		t.Errorf("jwks after the rotations: %d %s", res.StatusCode, body)
	}
}

// resealActions returns the secrets.resealed entries of the admin audit log, opening the store with
// the key file env names.
func resealActions(t *testing.T, db string, env []string) []store.AdminAction {
	t.Helper()
	var keyFile string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "SCIMSSO_SECRET_KEY_FILE="); ok {
			keyFile = v
		}
	}
	keys, err := sealing.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db, Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	as, err := st.ListAdminActions(context.Background(), store.AdminActionQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AdminAction
	for _, a := range as {
		if a.Action == store.ActionSecretsResealed {
			out = append(out, a)
		}
	}
	return out
}
