package authserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Refresh failures. The HTTP layer answers all of them with 401
// invalid_grant and uses the text as the detail.
var (
	errTokenUnknown   = errors.New("invalid refresh token")
	errTokenExpired   = errors.New("refresh token expired")
	errSessionRevoked = errors.New("session revoked")
	errTokenReused    = errors.New("refresh token already used; session revoked")
)

// policy carries the server's lifetimes into a store operation, with the
// request's notion of now (injectable for tests).
type policy struct {
	now    time.Time
	idle   time.Duration // lifetime of each refresh token (Options.RefreshTTL)
	maxAge time.Duration // absolute lifetime of a session (Options.SessionMaxAge)
	grace  time.Duration // Options.Grace
}

// issued is the outcome of a login or refresh. username and sessionID are
// also filled on failure where known, for logging.
type issued struct {
	username  string
	sessionID string
	refresh   string
	expires   time.Time // of the refresh token, for the cookie
	duplicate bool      // answered from the grace window
}

// createSession starts a session for a user whose password was just
// checked. The insert only happens if the user is still enabled and at the
// generation the check saw: a password change, disable or logout-all that
// committed in between makes the login fail instead of outliving it. The
// user row is read with a shared lock, so such a change still in progress
// is waited for rather than read around.
func (s *Store) createSession(ctx context.Context, p principal, pol policy) (issued, error) {
	out := issued{username: p.username}
	now := millis(pol.now)
	sessExp := millis(pol.now.Add(pol.maxAge))
	tokExp := min(millis(pol.now.Add(pol.idle)), sessExp)
	out.expires = time.UnixMilli(tokExp)
	err := s.writeTx(ctx, false, func(tx *sql.Tx) error {
		out.sessionID, out.refresh = newID(), newRefreshToken()
		var gen int64
		var disabled bool
		err := s.hotQueryRow(ctx, tx, sqlSessionUser+s.d.forShare, p.id).Scan(&gen, &disabled)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errUserChanged
		case err != nil:
			return fmt.Errorf("create session: %w", err)
		case disabled || gen != p.generation:
			return errUserChanged
		}
		if _, err := s.hotExec(ctx, tx, sqlNewSession, out.sessionID, p.id, gen, now, sessExp); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if _, err := s.hotExec(ctx, tx, sqlNewToken, hashRefreshToken(out.refresh), out.sessionID, now, tokExp); err != nil {
			return fmt.Errorf("store refresh token: %w", err)
		}
		return nil
	})
	return out, err
}

// rotate exchanges a refresh token for its successor (RFC 9700 §4.14.2):
//   - the current token of a live session is marked rotated and replaced;
//   - a rotated token presented again within the grace window gets the
//     same successor it got the first time (two tabs refreshing at once,
//     or a client retrying after a lost response);
//   - a rotated token presented later means two parties hold the session,
//     one of them a thief, so the whole session is revoked.
//
// The read and the writes share one transaction holding the session's
// lock (SQLite: the write lock), so concurrent refreshes of one token are
// strictly ordered, across processes too, and exactly one rotates.
func (s *Store) rotate(ctx context.Context, presented string, pol policy) (issued, error) {
	h := hashRefreshToken(presented)
	now := millis(pol.now)
	// The successor and its sealed copy are made before the transaction,
	// which on SQLite holds the one write connection every refresh queues
	// for; they are CPU work only. A refused refresh wastes them, cheaply.
	next := newRefreshToken()
	var seal []byte
	if pol.grace > 0 {
		seal = sealSuccessor(presented, next, h)
	}
	var out issued
	var outcome error // a refusal, decided inside the transaction
	err := s.writeTx(ctx, false, func(tx *sql.Tx) error {
		out, outcome = issued{}, nil
		if s.d.lockSession != "" {
			var sid string
			err := s.hotQueryRow(ctx, tx, s.d.lockSession, h).Scan(&sid)
			if errors.Is(err, sql.ErrNoRows) {
				outcome = errTokenUnknown
				return nil
			} else if err != nil {
				return fmt.Errorf("lock session: %w", err)
			}
		}
		var (
			tokExp, sessExp      int64
			rotatedAt, revokedAt sql.NullInt64
			sealed               []byte
			disabled             bool
			sessGen, userGen     int64
		)
		// Read after the lock: under READ COMMITTED this statement sees
		// whatever the previous holder committed.
		err := s.hotQueryRow(ctx, tx, sqlLookupToken, h).Scan(&out.sessionID, &tokExp, &rotatedAt, &sealed,
			&sessExp, &revokedAt, &sessGen, &out.username, &disabled, &userGen)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			outcome = errTokenUnknown
			return nil
		case err != nil:
			return fmt.Errorf("look up refresh token: %w", err)
		case revokedAt.Valid:
			outcome = errSessionRevoked
			return nil
		case disabled || sessGen != userGen:
			// Unreachable while every user change revokes sessions in
			// the same transaction; kept so a missed revocation fails
			// closed.
			outcome = errSessionRevoked
			return nil
		case sessExp <= now:
			outcome = errTokenExpired
			return nil
		case rotatedAt.Valid:
			// Checked before the token's own expiry: an old rotated token
			// is evidence of a copied session however old it is.
			if sealed != nil && now-rotatedAt.Int64 <= pol.grace.Milliseconds() {
				return s.replaySuccessor(ctx, tx, presented, h, sealed, &out)
			}
			outcome = errTokenReused // the session is revoked below, durably
			return nil
		case tokExp <= now:
			outcome = errTokenExpired
			return nil
		}

		out.refresh = next
		nextExp := min(millis(pol.now.Add(pol.idle)), sessExp)
		out.expires = time.UnixMilli(nextExp)
		// A compare-and-swap (sqlRotateToken): were the lock ever missing,
		// a second rotation would fail, not fork the session.
		res, err := s.hotExec(ctx, tx, sqlRotateToken, now, seal, h)
		if err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("rotate refresh token: lost a concurrent rotation (%d rows, %v)", n, err)
		}
		if _, err := s.hotExec(ctx, tx, sqlNewToken, hashRefreshToken(next), out.sessionID, now, nextExp); err != nil {
			return fmt.Errorf("store refresh token: %w", err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if errors.Is(outcome, errTokenReused) {
		// A separate, durable transaction: the rotation above committed
		// without waiting for the disk, a revocation must not.
		if err := s.writeTx(ctx, true, func(tx *sql.Tx) error {
			return s.revokeSession(ctx, tx, out.sessionID, "refresh token reuse", now)
		}); err != nil {
			return out, err
		}
	}
	return out, outcome
}

// replaySuccessor answers a duplicate refresh inside the grace window with
// the successor the first refresh issued.
func (s *Store) replaySuccessor(ctx context.Context, tx *sql.Tx, presented string, h, sealed []byte, out *issued) error {
	next, err := openSuccessor(presented, sealed, h)
	if err != nil {
		return err
	}
	var exp int64
	if err := tx.QueryRowContext(ctx, s.d.q(`SELECT expires_at FROM myapp_auth_refresh_tokens WHERE token_hash = ?`),
		hashRefreshToken(next)).Scan(&exp); err != nil {
		return fmt.Errorf("look up successor: %w", err)
	}
	out.refresh, out.expires, out.duplicate = next, time.UnixMilli(exp), true
	return nil
}

// revokeByToken ends the session a refresh token (current or rotated)
// belongs to. An unknown token is not an error: logout is idempotent.
func (s *Store) revokeByToken(ctx context.Context, presented string, now time.Time) (sessionID string, err error) {
	err = s.writeTx(ctx, true, func(tx *sql.Tx) error {
		sessionID = ""
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT session_id FROM myapp_auth_refresh_tokens WHERE token_hash = ?`),
			hashRefreshToken(presented)).Scan(&sessionID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("look up refresh token: %w", err)
		}
		return s.revokeSession(ctx, tx, sessionID, "logout", millis(now))
	})
	return sessionID, err
}

// revokeByID ends the session a verified access token names (its sid),
// for a logout that presents only the access token.
func (s *Store) revokeByID(ctx context.Context, sessionID string, now time.Time) error {
	return s.writeTx(ctx, true, func(tx *sql.Tx) error {
		return s.revokeSession(ctx, tx, sessionID, "logout", millis(now))
	})
}

// revokeSession locks the session row before its tokens, the order every
// transaction here follows.
func (s *Store) revokeSession(ctx context.Context, tx *sql.Tx, sessionID, reason string, now int64) error {
	if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE myapp_auth_sessions SET revoked_at = ?, revoke_reason = ?
		WHERE id = ? AND revoked_at IS NULL`), now, reason, sessionID); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE myapp_auth_refresh_tokens SET successor = NULL
		WHERE session_id = ? AND successor IS NOT NULL`), sessionID); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}
