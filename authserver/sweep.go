package authserver

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// sweepEvery is how often (on the policy clock) the server deletes
// expired sessions and wipes sealed successors past their grace window.
// It rides on logins and refreshes instead of a goroutine of its own, and
// stays out of their transactions: a rotation should lock its own session,
// not a range of other people's tokens.
const sweepEvery = 5 * time.Second

// sweepSkew widens each wipe's range backwards, for rows stamped by
// another instance whose clock runs a little behind ours.
const sweepSkew = time.Minute

// sweep does the housekeeping if sweepEvery has passed since the last run
// in this process. Several instances sweeping the same rows is harmless.
func (s *Store) sweep(ctx context.Context, pol policy) error {
	now := millis(pol.now)
	last := s.lastSweep.Load()
	if now-last < sweepEvery.Milliseconds() || !s.lastSweep.CompareAndSwap(last, now) {
		return nil
	}
	// Expired sessions can no longer be refreshed or reused, so their
	// token history is dead weight (the tokens go by ON DELETE CASCADE).
	if err := s.writeTx(ctx, false, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM myapp_auth_sessions WHERE expires_at <= ?`), now)
		return err
	}); err != nil {
		return fmt.Errorf("delete expired sessions: %w", err)
	}
	// Sealed successors are only needed during their grace window; wiping
	// them afterwards leaves nothing to attack later. Only rows rotated
	// since the previous sweep are visited (everything on the first), so
	// the cost stays flat as the history grows, also on MySQL, which has
	// no partial index for the rows still sealed.
	grace := pol.grace.Milliseconds()
	from := int64(0)
	if last > 0 {
		from = last - grace - sweepSkew.Milliseconds()
	}
	if err := s.writeTx(ctx, false, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`UPDATE myapp_auth_refresh_tokens SET successor = NULL
			WHERE successor IS NOT NULL AND rotated_at >= ? AND rotated_at < ?`), from, now-grace)
		return err
	}); err != nil {
		return fmt.Errorf("wipe sealed successors: %w", err)
	}
	return nil
}
