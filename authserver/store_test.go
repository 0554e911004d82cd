package authserver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestOpenStoreMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := OpenStore(t.Context(), "sqlite:///"+dir+"/app.db")
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("OpenStore in a missing directory: %v; want an error naming %s", err, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("OpenStore created %s", dir)
	}
}

// OpenExistingStore, for commands that only read or change what exists,
// refuses a SQLite file that is not there instead of creating it, and
// opens one that is.
func TestOpenExistingStoreCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "app.db"), filepath.Join(dir, "missing", "app.db")} {
		_, err := OpenExistingStore(t.Context(), "sqlite:///"+path)
		if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenExistingStore(%s): %v; want ErrNoDatabase naming the file", path, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("OpenExistingStore created %s", path)
		}
	}
	path := filepath.Join(dir, "app.db")
	st, err := OpenStore(t.Context(), "sqlite:///"+path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = OpenExistingStore(t.Context(), "sqlite:///"+path)
	if err != nil {
		t.Fatalf("OpenExistingStore on the database OpenStore made: %v", err)
	}
	st.Close()
}

func TestOpenStoreTwiceFileModeAndWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	for range 2 { // the second open finds every migration applied
		st, err := OpenStore(t.Context(), "sqlite:"+path)
		if err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, st, `SELECT COUNT(*) FROM myapp_auth_schema_migrations`); n != 1 {
			t.Errorf("%d migrations recorded, want 1", n)
		}
		var mode string
		st.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		if mode != "wal" {
			t.Errorf("journal_mode %q, want wal", mode)
		}
		if err := st.Ping(t.Context()); err != nil {
			t.Error(err)
		}
		st.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600: it holds password hashes", fi.Mode().Perm())
	}
}

func TestOpenStoreRefusesNewerSchema(t *testing.T) {
	st := openTestStore(t)
	if _, err := st.w.Exec(`INSERT INTO myapp_auth_schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err := OpenStore(t.Context(), "sqlite:"+st.path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("OpenStore on a newer schema: %v", err)
	}
}

func TestLoadMigrationsChecksNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":     {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no num":  {"m/init.sql": {}},
		"zero":    {"m/0000_a.sql": {}},
		"letters": {"m/00x1_a.sql": {}},
	} {
		if _, err := loadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUserManagement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		st := openTestStoreOn(t, b)
		ctx := t.Context()
		if err := st.AddUser(ctx, "bob", testPassword); err != nil {
			t.Fatal(err)
		}
		if err := st.AddUser(ctx, "bob", testPassword); !errors.Is(err, ErrUserExists) {
			t.Errorf("duplicate AddUser: %v", err)
		}
		if err := st.AddUser(ctx, "Bob", testPassword); err != nil {
			t.Errorf("usernames are case-sensitive: %v", err)
		}
		for _, bad := range []string{"", " bob", "bob ", "bo\nb", "bo\x00b", "\xff", strings.Repeat("a", maxUsernameLen+1)} {
			if err := st.AddUser(ctx, bad, testPassword); err == nil {
				t.Errorf("username %q accepted", bad)
			}
		}
		if err := st.AddUser(ctx, "carol", "short"); err == nil {
			t.Error("short password accepted")
		}
		if err := st.SetPassword(ctx, "nobody", testPassword); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("SetPassword of unknown user: %v", err)
		}
		if err := st.DisableUser(ctx, "nobody"); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("DisableUser of unknown user: %v", err)
		}
		if err := st.DisableUser(ctx, "Bob"); err != nil {
			t.Fatal(err)
		}
		us, err := st.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 2 || us[0].Username != "Bob" || !us[0].Disabled || us[1].Username != "bob" || us[1].Disabled {
			t.Fatalf("ListUsers = %+v", us)
		}
		if us[1].CreatedAt.IsZero() || us[1].ActiveSessions != 0 {
			t.Errorf("ListUsers row %+v", us[1])
		}
		var hash string
		st.r.QueryRow(`SELECT password_hash FROM myapp_auth_users WHERE username = 'bob'`).Scan(&hash)
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, testPassword) {
			t.Errorf("stored hash %q", hash)
		}
	})
}

func TestListUsersCountsActiveSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		e.login()
		tok := e.login().RefreshToken
		e.do("POST", "/logout", "application/json", `{"refresh_token":"`+tok+`"}`)
		us, err := e.st.ListUsers(t.Context())
		if err != nil || len(us) != 1 || us[0].ActiveSessions != 1 {
			t.Fatalf("ListUsers = %+v, %v; want alice with 1 active session", us, err)
		}
	})
}
