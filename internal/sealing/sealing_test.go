package sealing_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/internal/sealing"
)

// keyLine is a key file line with a fresh random key.
func keyLine(t testing.TB, id string) string {
	t.Helper()
	b := make([]byte, sealing.KeySize)
	rand.Read(b)
	return id + ":" + base64.StdEncoding.EncodeToString(b) + "\n"
}

func mustParse(t *testing.T, text string) *sealing.Keyring {
	t.Helper()
	k, err := sealing.ParseKeyFile([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeyFile(t *testing.T) {
	k1, k2 := keyLine(t, "k1"), keyLine(t, "2026-07_b.x")
	_, k1Key, _ := strings.Cut(strings.TrimSpace(k1), ":")
	raw := make([]byte, 32)
	short := base64.StdEncoding.EncodeToString(raw[:16])
	long := base64.StdEncoding.EncodeToString(append(raw, 0))
	for _, c := range []struct {
		name, text string
		ids        []string
		err        string
	}{
		{"one key", k1, []string{"k1"}, ""},
		{"first seals, comments and blank lines skipped", "# rotated 2026-07\n\n" + k2 + "  \n" + k1, []string{"2026-07_b.x", "k1"}, ""},
		{"CRLF", strings.ReplaceAll(k1+k2, "\n", "\r\n"), []string{"k1", "2026-07_b.x"}, ""},
		{"no trailing newline", strings.TrimSuffix(k1, "\n"), []string{"k1"}, ""},
		{"empty", "", nil, "holds no key"},
		{"only comments", "# nothing\n\n", nil, "holds no key"},
		{"no colon", "k1" + k1Key + "\n", nil, "line 1: want KEYID:BASE64"},
		{"empty id", ":" + k1Key + "\n", nil, "line 1: a key id"},
		{"id with a space", "k 1:" + k1Key + "\n", nil, "line 1: a key id"},
		{"id too long", strings.Repeat("a", 65) + ":" + k1Key + "\n", nil, "a key id"},
		{"duplicate id", k1 + "# x\n" + k1, nil, `line 3: key id "k1" appears twice`},
		{"key not base64", "k1:not*base64\n", nil, "line 1: the key must be the base64 of 32"},
		{"key unpadded", "k1:" + strings.TrimRight(k1Key, "=") + "\n", nil, "base64 of 32"},
		{"key of 16 bytes", "k1:" + short + "\n", nil, "base64 of 32"},
		{"key of 33 bytes", "k1:" + long + "\n", nil, "base64 of 32"},
		{"second line bad", k1 + "k2:\n", nil, "line 2:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := sealing.ParseKeyFile([]byte(c.text))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				if strings.Contains(err.Error(), k1Key) {
					t.Errorf("the error echoes a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(k.IDs(), ","); got != strings.Join(c.ids, ",") {
				t.Errorf("ids = %s, want %s", got, strings.Join(c.ids, ","))
			}
			if k.Current() != c.ids[0] {
				t.Errorf("current = %s, want %s", k.Current(), c.ids[0])
			}
		})
	}
}

func TestLoadKeyFileRefusesLooseModes(t *testing.T) {
	text := keyLine(t, "k1")
	for _, c := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o604, false},
		{0o620, false},
		{0o644, false},
		{0o666, false},
	} {
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		k, err := sealing.LoadKeyFile(path)
		if c.ok {
			if err != nil || k.Current() != "k1" {
				t.Errorf("mode %04o: %v, want the key file loaded", c.mode, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o: err = %v, want a refusal naming group or others", c.mode, err)
		}
	}
	if _, err := sealing.LoadKeyFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing key file loaded")
	}
	if _, err := sealing.LoadKeyFile(t.TempDir()); err == nil {
		t.Error("a directory loaded as a key file")
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("k1:short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sealing.LoadKeyFile(bad); err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed key file: err = %v, want the line and the path", err)
	}
}

func TestSealOpen(t *testing.T) {
	old := keyLine(t, "old")
	ring := mustParse(t, old)
	secret := []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n")
	sealed, err := ring.Seal(secret, "tenant:a")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sealed, []byte("enc:v1:old:")) || bytes.Contains(sealed, []byte("PRIVATE KEY")) || !sealing.IsSealed(sealed) {
		t.Fatalf("sealed value %q: want enc:v1:old:… without the plaintext", sealed)
	}
	if id, ok := sealing.KeyID(sealed); !ok || id != "old" {
		t.Errorf("KeyID = %q, %t", id, ok)
	}
	again, _ := ring.Seal(secret, "tenant:a")
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if got, err := ring.Open(sealed, "tenant:a"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	// Rotation: a new key first in the file seals; values under the old key still open.
	rotated := mustParse(t, keyLine(t, "new")+old)
	if got, err := rotated.Open(sealed, "tenant:a"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	resealed, _ := rotated.Seal(secret, "tenant:a")
	if id, _ := sealing.KeyID(resealed); id != "new" {
		t.Errorf("rotated keyring seals under %q, want new", id)
	}

	// Plaintext (stored before a key file) opens as it is, with or without a keyring.
	for _, k := range []*sealing.Keyring{ring, nil} {
		if got, err := k.Open(secret, "tenant:a"); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("plaintext: %q, %v", got, err)
		}
	}

	// The same key under a second id: only the additional data tells the two apart.
	_, oldKey, _ := strings.Cut(old, ":")
	twin := mustParse(t, old+"twin:"+oldKey)
	relabelled := bytes.Replace(sealed, []byte(":old:"), []byte(":twin:"), 1)
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-3] ^= 1
	if flipped[len(flipped)-3] == '=' {
		flipped[len(flipped)-4] ^= 1
	}
	var keyErr *sealing.KeyError
	for _, c := range []struct {
		name    string
		ring    *sealing.Keyring
		value   []byte
		context string
		check   func(error) bool
	}{
		{"another context (moved to another tenant)", ring, sealed, "tenant:b", func(err error) bool { return errors.Is(err, sealing.ErrOpen) }},
		{"relabelled with another key id", twin, relabelled, "tenant:a", func(err error) bool { return errors.Is(err, sealing.ErrOpen) }},
		{"altered", ring, flipped, "tenant:a", func(err error) bool {
			return errors.Is(err, sealing.ErrOpen) || strings.Contains(err.Error(), "malformed")
		}},
		{"key id the file lacks", mustParse(t, keyLine(t, "other")), sealed, "tenant:a", func(err error) bool {
			return errors.As(err, &keyErr) && keyErr.ID == "old" && !keyErr.NoKeyring && strings.Contains(err.Error(), `key id "old", which the secret key file lacks`)
		}},
		{"same id, another key", mustParse(t, keyLine(t, "old")), sealed, "tenant:a", func(err error) bool { return errors.Is(err, sealing.ErrOpen) }},
		{"no keyring", nil, sealed, "tenant:a", func(err error) bool {
			return errors.As(err, &keyErr) && keyErr.NoKeyring && strings.Contains(err.Error(), "no secret key file is configured")
		}},
		{"newer format", ring, []byte("enc:v2:old:AAAA"), "tenant:a", func(err error) bool { return strings.Contains(err.Error(), "format") }},
		{"truncated", ring, sealed[:len("enc:v1:old:")+8], "tenant:a", func(err error) bool { return strings.Contains(err.Error(), "malformed") }},
		{"no key id", ring, []byte("enc:v1:AAAA"), "tenant:a", func(err error) bool { return strings.Contains(err.Error(), "malformed") }},
		{"bad base64", ring, []byte("enc:v1:old:!!!!"), "tenant:a", func(err error) bool { return strings.Contains(err.Error(), "malformed") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.ring.Open(c.value, c.context)
			if err == nil {
				t.Fatalf("opened: %q", got)
			}
			if !c.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzParseKeyFile: any text either parses into a keyring whose every key opens what it sealed, or is
// refused with an error that echoes no part of a key line; never a panic.
func FuzzParseKeyFile(f *testing.F) {
	f.Add([]byte(keyLine(f, "k1")))
	f.Add([]byte("# c\n\n" + keyLine(f, "a") + keyLine(f, "b")))
	f.Add([]byte("k1:AAAA\n"))
	f.Add([]byte(":\n"))
	f.Add([]byte("k1:" + strings.Repeat("A", 43) + "=\r\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		k, err := sealing.ParseKeyFile(text)
		if err != nil {
			for _, line := range strings.Split(string(text), "\n") {
				if _, key, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && len(key) >= 16 && strings.Contains(err.Error(), key) {
					t.Fatalf("error %q echoes a key", err)
				}
			}
			return
		}
		ids := k.IDs()
		if len(ids) == 0 || k.Current() != ids[0] {
			t.Fatalf("parsed with ids %v, current %q", ids, k.Current())
		}
		sealed, err := k.Seal([]byte("secret"), "ctx")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Open(sealed, "ctx"); err != nil || string(got) != "secret" {
			t.Fatalf("round trip: %q, %v", got, err)
		}
		if _, err := k.Open(sealed, "other"); !errors.Is(err, sealing.ErrOpen) {
			t.Fatalf("opened under another context: %v", err)
		}
	})
}
