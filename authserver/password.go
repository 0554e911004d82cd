package authserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id with OWASP's recommended minimum (m=19 MiB, t=2, p=1): about
// 30 ms per hash here, slow enough to make offline guessing expensive and
// fast enough that logins need no queueing beyond the Store's semaphore.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16

	// minPasswordLen counts characters (runes), as a person counts them:
	// three CJK characters are three, not nine.
	minPasswordLen = 8
	// maxPasswordLen, in bytes of UTF-8, keeps request bodies small and
	// hashing predictable; it is far above anything a password manager
	// generates.
	maxPasswordLen = 1024
)

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// dummyHash is verified against when the user does not exist, so that an
// unknown username costs the same ~30 ms as a wrong password and response
// times do not reveal which usernames exist. Building it needs no Argon2
// run, so it costs nothing at start-up.
var dummyHash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
	argonMemory, argonTime, argonThreads,
	b64.EncodeToString([]byte("myapp-dummy-salt")), b64.EncodeToString(make([]byte, argonKeyLen)))

// Errors for bad input to the user-management methods, for errors.Is;
// the returned errors wrap them with the reason.
var (
	ErrInvalidPassword = errors.New("invalid password")
	ErrInvalidHash     = errors.New("unsupported password hash")
)

// ValidatePassword checks a new password against the bounds AddUser and
// SetPassword enforce, so that a caller can refuse it before any work.
func ValidatePassword(pw string) error { return validatePassword(pw) }

func validatePassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < minPasswordLen:
		return fmt.Errorf("%w: too short: %d characters, at least %d", ErrInvalidPassword, n, minPasswordLen)
	case len(pw) > maxPasswordLen:
		return fmt.Errorf("%w: too long: %d bytes, at most %d bytes of UTF-8", ErrInvalidPassword, len(pw), maxPasswordLen)
	}
	return nil
}

// hashPassword returns the PHC string for pw with a fresh random salt.
func (s *Store) hashPassword(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never fails since Go 1.24; it crashes the program instead
	release, err := s.acquireHash(ctx)
	if err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether pw matches encoded, an Argon2id PHC
// string or an imported bcrypt hash. The parameters come from the stored
// string, so hashes made with older settings keep working after the
// constants change.
func (s *Store) verifyPassword(ctx context.Context, encoded, pw string) (bool, error) {
	if isBcrypt(encoded) {
		return s.verifyBcrypt(ctx, encoded, pw)
	}
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	release()
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// needsRehash reports whether a stored hash should be replaced by one made
// with the current parameters at the next successful login.
func needsRehash(encoded string) bool {
	if isBcrypt(encoded) {
		return true
	}
	p, err := parsePHC(encoded)
	return err != nil || p.memory < argonMemory || p.time < argonTime
}

// ValidateHash checks a password hash as ImportUser would, so that a
// caller can refuse it before any work.
func ValidateHash(encoded string) error { return validateHash(encoded) }

// validateHash checks an imported hash before it is stored, so a typo
// fails at import and not at every login.
func validateHash(encoded string) error {
	if isBcrypt(encoded) {
		if err := checkBcrypt(encoded); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidHash, err)
		}
		return nil
	}
	if _, err := parsePHC(encoded); err != nil {
		return fmt.Errorf("%w: want an argon2id PHC string ($argon2id$v=19$...) or bcrypt ($2a$, $2b$, $2y$)", ErrInvalidHash)
	}
	return nil
}

// acquireHash waits for a hashing slot, or for ctx: a client that gives up
// while queued must not still cost a hash.
func (s *Store) acquireHash(ctx context.Context) (release func(), err error) {
	select {
	case s.hashes <- struct{}{}:
		return func() { <-s.hashes }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

var errBadHash = errors.New("stored password hash is not a supported argon2id PHC string")

// parsePHC decodes $argon2id$v=19$m=..,t=..,p=..$salt$hash. The bounds stop
// a corrupted or planted row from turning one login into gigabytes of
// allocation or minutes of CPU.
func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return phc{}, errBadHash
	}
	var p phc
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || n != 3 {
		return phc{}, errBadHash
	}
	if p.memory < 8*uint32(p.threads) || p.memory > 256*1024 || p.time < 1 || p.time > 16 || p.threads < 1 || p.threads > 16 {
		return phc{}, errBadHash
	}
	var err1, err2 error
	p.salt, err1 = b64.DecodeString(parts[4])
	p.key, err2 = b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(p.salt) < 8 || len(p.key) < 16 || len(p.key) > 64 {
		return phc{}, errBadHash
	}
	return p, nil
}
