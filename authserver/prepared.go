package authserver

import (
	"context"
	"database/sql"
	"fmt"
)

// The statements of the hot paths, a login's session and a refresh's
// rotation, are prepared once per Store instead of at every call: parsing
// them again cost SQLite a third of each rotation, which runs on its one
// write connection and so bounds rotations per second, and MySQL a round
// trip per statement. Written with ? placeholders, as everywhere.
const (
	sqlSessionUser = `SELECT generation, disabled FROM myapp_auth_users WHERE id = ?` // + the dialect's forShare
	sqlNewSession  = `INSERT INTO myapp_auth_sessions (id, user_id, generation, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`
	sqlNewToken = `INSERT INTO myapp_auth_refresh_tokens (token_hash, session_id, issued_at, expires_at)
			VALUES (?, ?, ?, ?)`
	sqlLookupToken = `SELECT t.session_id, t.expires_at, t.rotated_at, t.successor,
				ss.expires_at, ss.revoked_at, ss.generation, u.username, u.disabled, u.generation
			FROM myapp_auth_refresh_tokens t
			JOIN myapp_auth_sessions ss ON ss.id = t.session_id
			JOIN myapp_auth_users u ON u.id = ss.user_id
			WHERE t.token_hash = ?`
	// rotated_at IS NULL makes this a compare-and-swap: were the session
	// lock ever missing, a second rotation would fail, not fork the session.
	sqlRotateToken = `UPDATE myapp_auth_refresh_tokens SET rotated_at = ?, successor = ?
			WHERE token_hash = ? AND rotated_at IS NULL`
)

// hotQueries are the statements prepareHot prepares for dialect d.
func hotQueries(d *dialect) []string {
	qs := []string{sqlSessionUser + d.forShare, sqlNewSession, sqlNewToken, sqlLookupToken, sqlRotateToken}
	if d.lockSession != "" {
		qs = append(qs, d.lockSession)
	}
	return qs
}

// prepareHot prepares the hot statements on the write pool. It runs at
// open, when no transaction holds SQLite's one write connection (a
// prepare inside one would wait for that connection for ever); inside a
// transaction, Tx.StmtContext then reuses the statement on the
// connection the transaction has, preparing it there the first time.
func (s *Store) prepareHot(ctx context.Context) error {
	s.hot = map[string]*sql.Stmt{}
	for _, q := range hotQueries(s.d) {
		st, err := s.w.PrepareContext(ctx, s.d.q(q))
		if err != nil {
			return fmt.Errorf("prepare statement: %w", err)
		}
		s.hot[q] = st
	}
	return nil
}

// closeHot releases the prepared statements.
func (s *Store) closeHot() {
	for _, st := range s.hot {
		st.Close()
	}
}

// hotExec runs query in tx, through its prepared statement if it is a
// hot one, else as tx.ExecContext would (counted, so that a test notices
// a hot path whose text drifted from hotQueries).
func (s *Store) hotExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.hot[query]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	s.unprepared.Add(1)
	return tx.ExecContext(ctx, s.d.q(query), args...)
}

// hotQueryRow is hotExec for a query of one row.
func (s *Store) hotQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.hot[query]; st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	s.unprepared.Add(1)
	return tx.QueryRowContext(ctx, s.d.q(query), args...)
}
