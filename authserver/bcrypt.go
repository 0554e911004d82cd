package authserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt hashes are accepted so that users can be imported from an
// existing FastAPI/passlib or Django database without a password reset.
// They are only ever verified, never made: the first successful login
// replaces one with Argon2id (Store.rehash).

// maxBcryptCost bounds the work one stored hash may demand: cost 14 is
// already about 1.4 s per login here, and a planted cost 31 would be days.
const maxBcryptCost = 14

// bcryptMaxPassword is where bcrypt stops reading: longer passwords are
// compared on their first 72 bytes only, by every implementation.
const bcryptMaxPassword = 72

func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

var errBadBcrypt = errors.New("stored password hash is not a usable bcrypt hash")

func checkBcrypt(encoded string) error {
	if len(encoded) != 60 {
		return errBadBcrypt
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return errBadBcrypt
	}
	if cost > maxBcryptCost {
		return fmt.Errorf("bcrypt cost %d is above %d: every login would take seconds", cost, maxBcryptCost)
	}
	return nil
}

func (s *Store) verifyBcrypt(ctx context.Context, encoded, pw string) (bool, error) {
	if err := checkBcrypt(encoded); err != nil {
		return false, err
	}
	if len(pw) > bcryptMaxPassword {
		pw = pw[:bcryptMaxPassword]
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, err
	}
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(pw))
	release()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("verify bcrypt hash: %w", err)
	}
}
