package authserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Errors of the user-management methods, for errors.Is.
var (
	ErrUserExists   = errors.New("user already exists")
	ErrUserNotFound = errors.New("user not found")
)

// errBadCredentials covers unknown user, wrong password and disabled user
// alike: the HTTP answer must not tell them apart. The wrapped variants
// exist only so that logs can.
var (
	errBadCredentials = errors.New("invalid username or password")
	errUnknownUser    = fmt.Errorf("%w (unknown user)", errBadCredentials)
	errUserDisabled   = fmt.Errorf("%w (user disabled)", errBadCredentials)
	errUserChanged    = fmt.Errorf("%w (user changed during login)", errBadCredentials)
)

// User is a row of ListUsers. The password hash is deliberately absent.
type User struct {
	Username       string
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ActiveSessions int // sessions with an unexpired, unrevoked refresh token
}

// AddUser creates an enabled user under the NFC form of username (see
// NormalizeUsername). It fails with ErrUserExists if the username is
// taken, ErrInvalidUsername or ErrInvalidPassword for bad input.
func (s *Store) AddUser(ctx context.Context, username, password string) error {
	username, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	if err := validatePassword(password); err != nil {
		return err
	}
	// Hash before taking the write lock: 30 ms of Argon2 must not block
	// every refresh in the meantime.
	h, err := s.hashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("add user %q: %w", username, err)
	}
	return s.insertUser(ctx, username, h)
}

// ImportUser creates an enabled user from a password hash made elsewhere:
// an Argon2id PHC string or a bcrypt hash ($2a$, $2b$, $2y$), as passlib,
// Django or FastAPI tutorials write them. A bcrypt hash is replaced by an
// Argon2id one at the user's first successful login. A hash of neither
// kind fails with ErrInvalidHash.
func (s *Store) ImportUser(ctx context.Context, username, hash string) error {
	username, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	if err := validateHash(hash); err != nil {
		return err
	}
	return s.insertUser(ctx, username, hash)
}

func (s *Store) insertUser(ctx context.Context, username, hash string) error {
	now := millis(time.Now())
	return s.writeTx(ctx, true, func(tx *sql.Tx) error {
		// Checked inside the write transaction; the UNIQUE constraint
		// backs it up should another process insert the name in between.
		var n int
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM myapp_auth_users WHERE username = ?`), username).Scan(&n); err != nil {
			return fmt.Errorf("add user %q: %w", username, err)
		}
		if n > 0 {
			return fmt.Errorf("add user %q: %w", username, ErrUserExists)
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO myapp_auth_users (username, password_hash, disabled, generation, created_at, updated_at)
			VALUES (?, ?, 0, 0, ?, ?)`), username, hash, now, now)
		if err != nil {
			return fmt.Errorf("add user %q: %w", username, err)
		}
		return nil
	})
}

// SetPassword replaces the user's password and revokes all their sessions:
// a password change is how users throw out a thief. Like every method
// naming a user, it looks up the NFC form of username.
func (s *Store) SetPassword(ctx context.Context, username, password string) error {
	username, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	if err := validatePassword(password); err != nil {
		return err
	}
	h, err := s.hashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", username, err)
	}
	return s.changeUser(ctx, username, "password changed",
		`UPDATE myapp_auth_users SET password_hash = ?, generation = generation + 1, updated_at = ? WHERE username = ?`, h)
}

// DisableUser stops the user from logging in and revokes all their
// sessions. Access tokens already issued stay valid until they expire.
func (s *Store) DisableUser(ctx context.Context, username string) error {
	username, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	return s.changeUser(ctx, username, "user disabled",
		`UPDATE myapp_auth_users SET disabled = 1, generation = generation + 1, updated_at = ? WHERE username = ?`)
}

// RevokeSessions signs the user out everywhere (`myapp auth user
// revoke`): every session is revoked, and the generation bump makes a
// login or refresh racing this one fail too.
func (s *Store) RevokeSessions(ctx context.Context, username string) error {
	username, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	return s.revokeSessions(ctx, username)
}

// revokeSessions is RevokeSessions for a name exactly as stored, such as
// a verified access token's sub (POST /logout/all).
func (s *Store) revokeSessions(ctx context.Context, username string) error {
	return s.changeUser(ctx, username, "logout all",
		`UPDATE myapp_auth_users SET generation = generation + 1, updated_at = ? WHERE username = ?`)
}

// changeUser runs update (whose last two parameters are updated_at and
// username) and revokes the user's sessions in the same durable
// transaction, locking user, sessions, tokens in that order. The
// generation bump also defeats a login or refresh that read the user
// before this change and writes after it.
func (s *Store) changeUser(ctx context.Context, username, reason, update string, args ...any) error {
	now := millis(time.Now())
	return s.writeTx(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(update), append(args, now, username)...)
		if err != nil {
			return fmt.Errorf("update user %q: %w", username, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update user %q: %w", username, err)
		} else if n == 0 {
			return fmt.Errorf("update user %q: %w", username, ErrUserNotFound)
		}
		var id int64
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT id FROM myapp_auth_users WHERE username = ?`), username).Scan(&id); err != nil {
			return fmt.Errorf("update user %q: %w", username, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE myapp_auth_sessions SET revoked_at = ?, revoke_reason = ?
			WHERE revoked_at IS NULL AND user_id = ?`), now, reason, id); err != nil {
			return fmt.Errorf("revoke sessions of %q: %w", username, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE myapp_auth_refresh_tokens SET successor = NULL
			WHERE successor IS NOT NULL AND session_id IN (SELECT id FROM myapp_auth_sessions WHERE user_id = ?)`), id); err != nil {
			return fmt.Errorf("revoke sessions of %q: %w", username, err)
		}
		return nil
	})
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT u.username, u.disabled, u.created_at, u.updated_at,
		(SELECT COUNT(*) FROM myapp_auth_sessions ss WHERE ss.user_id = u.id AND ss.revoked_at IS NULL AND ss.expires_at > ?
			AND EXISTS (SELECT 1 FROM myapp_auth_refresh_tokens t
				WHERE t.session_id = ss.id AND t.rotated_at IS NULL AND t.expires_at > ?))
		FROM myapp_auth_users u ORDER BY u.username`), millis(time.Now()), millis(time.Now()))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		var u User
		var created, updated int64
		if err := rows.Scan(&u.Username, &u.Disabled, &created, &updated, &u.ActiveSessions); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.CreatedAt, u.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// principal is what a successful password check yields: enough to start a
// session bound to the user's current generation.
type principal struct {
	id         int64
	username   string
	generation int64
}

// authenticate checks a login. Every failure returns errBadCredentials
// after the same single password hash, whether the user is unknown,
// disabled or typed the wrong password.
func (s *Store) authenticate(ctx context.Context, username, password string) (principal, error) {
	var p principal
	var hash string
	var disabled bool
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT id, username, password_hash, disabled, generation
		FROM myapp_auth_users WHERE username = ?`), username).Scan(&p.id, &p.username, &hash, &disabled, &p.generation)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := s.verifyPassword(ctx, dummyHash, password); err != nil {
			return principal{}, err
		}
		return principal{}, errUnknownUser
	case err != nil:
		return principal{}, fmt.Errorf("look up user: %w", err)
	}
	ok, err := s.verifyPassword(ctx, hash, password)
	if err != nil {
		return principal{}, fmt.Errorf("verify password of %q: %w", username, err)
	}
	if !ok {
		return principal{}, errBadCredentials
	}
	if disabled {
		return principal{}, errUserDisabled
	}
	if needsRehash(hash) {
		if err := s.rehash(ctx, p.id, hash, password); err != nil {
			return principal{}, err
		}
	}
	return p, nil
}

// rehash replaces an imported (bcrypt) or outdated hash once the user
// proves the password. It is no password change: the generation stays,
// and the update only applies if the hash is still the one checked.
func (s *Store) rehash(ctx context.Context, id int64, old, password string) error {
	h, err := s.hashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("upgrade password hash: %w", err)
	}
	return s.writeTx(ctx, true, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`UPDATE myapp_auth_users SET password_hash = ? WHERE id = ? AND password_hash = ?`), h, id, old)
		if err != nil {
			return fmt.Errorf("upgrade password hash: %w", err)
		}
		return nil
	})
}
