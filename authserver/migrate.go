package authserver

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Migrations are embedded per dialect and named NNNN_description.sql.
// Shipped files are never edited: a schema change is a new file, because a
// database that already ran 0001 will not run it again.
//
//go:embed migrations
var migrationsFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads dir and checks the versions run 1, 2, 3... without
// gaps, so a misnamed file fails every test instead of a production start.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", e.Name(), len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// schemaTable records applied migrations; its SQL is valid in every
// dialect.
const schemaTable = `CREATE TABLE IF NOT EXISTS myapp_auth_schema_migrations (
	version    INTEGER      PRIMARY KEY,
	name       VARCHAR(255) NOT NULL,
	applied_at BIGINT       NOT NULL
)`

// migrate applies the pending migrations. On SQLite and PostgreSQL it is
// one transaction, so a failure leaves the schema as it was, and processes
// starting together serialise on a lock (SQLite's write lock, a
// PostgreSQL advisory lock): the second finds nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationsFS, s.d.migrations)
	if err != nil {
		return err
	}
	if s.d == &mysqlDialect {
		return s.migrateMySQL(ctx, ms)
	}
	return s.writeTx(ctx, true, func(tx *sql.Tx) error {
		if s.d == &postgresDialect {
			// Any constant will do, as long as it is always the same one.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7140420601)`); err != nil {
				return fmt.Errorf("lock schema: %w", err)
			}
		}
		return s.applyMigrations(ctx, tx, ms)
	})
}

// execer is what applyMigrations needs of a transaction or a connection.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) applyMigrations(ctx context.Context, db execer, ms []migration) error {
	if _, err := db.ExecContext(ctx, schemaTable); err != nil {
		return err
	}
	var cur int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM myapp_auth_schema_migrations`).Scan(&cur); err != nil {
		return err
	}
	if cur > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d); hint: upgrade myapp", cur, len(ms))
	}
	for _, m := range ms[cur:] {
		for _, st := range splitStatements(m.sql) {
			if _, err := db.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
		}
		if _, err := db.ExecContext(ctx, s.d.q(`INSERT INTO myapp_auth_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, millis(time.Now())); err != nil {
			return fmt.Errorf("record %s: %w", m.name, err)
		}
	}
	return nil
}

// migrateMySQL applies migrations under a named lock. MySQL commits every
// DDL statement on its own, so a transaction would not make a migration
// atomic; instead MySQL migrations use only statements that can run again
// (CREATE TABLE IF NOT EXISTS with its indexes inline), and one that
// failed halfway is completed by the next start.
func (s *Store) migrateMySQL(ctx context.Context, ms []migration) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK('myapp_auth_migrate', 60)`).Scan(&got); err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	if got.Int64 != 1 {
		return errors.New("lock schema: another process holds the migration lock for over 60 s")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK('myapp_auth_migrate')`)
	return s.applyMigrations(ctx, conn, ms)
}
