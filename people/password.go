package people

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/scimsso/scimsso/store"
)

// argon2id parameters: OWASP's first recommendation (19 MiB, two passes, one lane): ~50 ms and 19 MB
// per check on this machine (BenchmarkPassword). maxPasswordChecks bounds how many run at once per
// server, so a burst of attempts from many addresses costs at most 4 × 19 MiB, not memory without bound.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	maxPassword  = store.MaxPassword // bytes; argon2 would take longer ones, the form should not
)

// HashPassword returns the argon2id hash of password in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), which is all that is ever stored.
func HashPassword(password string) (string, error) {
	if password == "" || len(password) > maxPassword {
		return "", fmt.Errorf("a password must be 1 to %d bytes", maxPassword)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

const maxPasswordChecks = 4

// dummyHash is verified against when an account has no password, so that answering takes as long
// as for an account that has one.
var dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2NpbXNzby1kdW1teS1zYWx0$0WNEpD1aFWmq4pdy3+Jhmvz3Iwq6WQSzhN2vBWjRmj4"

// checkPassword reports whether password matches encoded, an argon2id hash from HashPassword or a
// bcrypt hash (accepted for passwords moved from elsewhere). Comparison is constant-time.
func checkPassword(encoded, password string) (bool, error) {
	if len(password) > maxPassword {
		return false, nil
	}
	if strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$") {
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	}
	var version int
	var mem, iters uint32
	var threads uint8
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("stored password hash is neither argon2id nor bcrypt")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("stored argon2id hash has an unknown version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil || mem == 0 || mem > 1<<20 || iters == 0 || iters > 16 || threads == 0 {
		return false, errors.New("stored argon2id hash has bad parameters")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errors.New("stored argon2id salt is not base64")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 {
		return false, errors.New("stored argon2id hash is not base64")
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
