// Package sealing encrypts secrets the store keeps at rest (tenants' SAML SP private keys) with
// AES-256-GCM under keys read from a key file, each with a key id so the file can rotate.
//
// A key file holds one key a line, "KEYID:BASE64", the base64 (standard, padded) of 32 random bytes;
// blank lines and lines starting with # are ignored. The first key seals; every key opens. A sealed
// value is the ASCII text "enc:v1:KEYID:BASE64(nonce || ciphertext || tag)"; the key id and a context
// the caller names (which record the value belongs to) are the GCM additional data, so a value copied
// to another record, or relabelled with another key id, does not open.
package sealing

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Prefix starts every value sealed in the current format; values without it are plaintext.
const Prefix = "enc:v1:"

// formatPrefix starts every sealed value of any version: a value with it but not Prefix was sealed by a
// newer format this binary cannot read, and is refused rather than taken for plaintext.
const formatPrefix = "enc:"

// KeySize is the length of a key: AES-256.
const KeySize = 32

// maxKeyFile bounds what LoadKeyFile reads: a key line is under 110 bytes, so 64 KiB is hundreds of keys.
const maxKeyFile = 64 << 10

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Keyring is a parsed key file. It is immutable and safe for concurrent use.
type Keyring struct {
	ids  []string // in file order: ids[0] seals
	aead map[string]cipher.AEAD
}

// ErrOpen means a sealed value did not authenticate under its key: a wrong key with that id, a value
// altered, or a value moved from another record (another context).
var ErrOpen = errors.New("sealing: value does not open (wrong key for its key id, altered, or moved from another record)")

// KeyError is returned by Open for a value sealed under a key id the keyring lacks.
type KeyError struct {
	// ID is the key id the value names.
	ID string
	// NoKeyring is set when there is no keyring at all (no key file configured).
	NoKeyring bool
}

func (e *KeyError) Error() string {
	if e.NoKeyring {
		return fmt.Sprintf("sealing: value is encrypted under key id %q but no secret key file is configured", e.ID)
	}
	return fmt.Sprintf("sealing: value is encrypted under key id %q, which the secret key file lacks", e.ID)
}

// LoadKeyFile reads and parses the key file at path. It refuses a file that group or others may read or
// write (the keys must be as private as the process) and anything ParseKeyFile refuses.
func LoadKeyFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sealing: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sealing: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sealing: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("sealing: key file %s may be read or written by group or others (mode %04o); chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("sealing: key file %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("sealing: key file %s is larger than %d bytes", path, maxKeyFile)
	}
	k, err := ParseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// ParseKeyFile parses the text of a key file (see the package comment). Its errors name the line but
// never echo a key.
func ParseKeyFile(b []byte) (*Keyring, error) {
	k := &Keyring{aead: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), maxKeyFile+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, enc, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("sealing: key file line %d: want KEYID:BASE64", n)
		}
		if !keyIDRE.MatchString(id) {
			return nil, fmt.Errorf("sealing: key file line %d: a key id is 1-64 of A-Z a-z 0-9 _ . -", n)
		}
		if _, dup := k.aead[id]; dup {
			return nil, fmt.Errorf("sealing: key file line %d: key id %q appears twice", n, id)
		}
		key, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("sealing: key file line %d: the key must be the base64 of %d random bytes (openssl rand -base64 32)", n, KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("sealing: key file line %d: %w", n, err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealing: key file line %d: %w", n, err)
		}
		k.ids = append(k.ids, id)
		k.aead[id] = gcm
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sealing: key file: %w", err)
	}
	if len(k.ids) == 0 {
		return nil, errors.New("sealing: key file holds no key")
	}
	return k, nil
}

// Current is the id of the key that seals: the first in the file.
func (k *Keyring) Current() string { return k.ids[0] }

// IDs returns the key ids in file order.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// additionalData binds a sealed value to its format, key id and context.
func additionalData(id, context string) []byte {
	return []byte(Prefix + id + ":" + context)
}

// Seal encrypts plaintext under the current key for context (which record it belongs to; Open must be
// given the same) with a random nonce. It returns the sealed value's text.
func (k *Keyring) Seal(plaintext []byte, context string) ([]byte, error) {
	id := k.ids[0]
	aead := k.aead[id]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealing: nonce: %w", err)
	}
	ct := aead.Seal(nonce, nonce, plaintext, additionalData(id, context))
	out := make([]byte, 0, len(Prefix)+len(id)+1+base64.StdEncoding.EncodedLen(len(ct)))
	out = append(out, Prefix...)
	out = append(out, id...)
	out = append(out, ':')
	return base64.StdEncoding.AppendEncode(out, ct), nil
}

// IsSealed reports whether value is in a sealed format (of any version) rather than plaintext.
func IsSealed(value []byte) bool { return bytes.HasPrefix(value, []byte(formatPrefix)) }

// KeyID returns the key id a sealed value names; ok is false for plaintext or an unknown format.
func KeyID(value []byte) (id string, ok bool) {
	rest, found := bytes.CutPrefix(value, []byte(Prefix))
	if !found {
		return "", false
	}
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return "", false
	}
	return string(rest[:i]), true
}

// Open returns the plaintext of a value Seal made for context. A value that is not sealed (stored
// before a key file was configured) is returned as it is. k may be nil (no key file): then only
// plaintext opens. Errors: *KeyError when k lacks the value's key id, ErrOpen when the value does not
// authenticate, another error for a malformed value or a format this binary does not know.
func (k *Keyring) Open(value []byte, context string) ([]byte, error) {
	if !IsSealed(value) {
		return value, nil
	}
	rest, ok := bytes.CutPrefix(value, []byte(Prefix))
	if !ok {
		return nil, errors.New("sealing: value is sealed in a format this version does not know")
	}
	id, enc, ok := bytes.Cut(rest, []byte(":"))
	if !ok || !keyIDRE.Match(id) {
		return nil, errors.New("sealing: malformed sealed value")
	}
	if k == nil {
		return nil, &KeyError{ID: string(id), NoKeyring: true}
	}
	aead, ok := k.aead[string(id)]
	if !ok {
		return nil, &KeyError{ID: string(id)}
	}
	ct, err := base64.StdEncoding.Strict().AppendDecode(nil, enc)
	if err != nil || len(ct) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealing: malformed sealed value")
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], additionalData(string(id), context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
