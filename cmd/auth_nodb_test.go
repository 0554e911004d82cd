package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myapp/myapp/envfile"
)

// Only `auth user add` (and auth serve) may create a SQLite database: the
// other user commands refuse a file that does not exist (exit 1), naming
// it and where DB_URL came from, and leave nothing behind, so that a typo
// in DB_URL does not look like a database without users.
func TestAuthUserCommandsNeedAnExistingDatabase(t *testing.T) {
	base := t.TempDir()
	readers := [][]string{
		{"auth", "user", "list"},
		{"auth", "user", "list", "--output", "json"},
		{"auth", "user", "disable", "bob"},
		{"auth", "user", "revoke", "bob"},
		{"auth", "user", "passwd", "bob", "--password-stdin"},
	}
	for _, tt := range []struct{ name, path, where string }{
		{"missing file", filepath.Join(base, "new.db"), "file"},
		{"missing directory", filepath.Join(base, "x", "new.db"), "env"},
		{"from the config", filepath.Join(base, "cfg.db"), "config"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dbURL := "sqlite:////" + strings.TrimPrefix(tt.path, "/")
			dir := authProject(t, dbURL)
			want := "no auth database at " + tt.path + " (DB_URL in " + filepath.Join(dir, ".env") + ")"
			switch tt.where {
			case "env":
				os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET_KEY="+cliSecret+"\n"), 0o600)
				t.Setenv("DB_URL", dbURL)
				want = "no auth database at " + tt.path + " (DB_URL in the environment)"
			case "config":
				cfg := "app = \"shop\"\ndomains = [\"shop.example.com\"]\n[auth]\ndb_url = \"" + dbURL + "\"\n"
				os.WriteFile(filepath.Join(dir, "myapp.toml"), []byte(cfg), 0o644)
				want = "no auth database at " + tt.path + " (auth.db_url in " + filepath.Join(dir, "myapp.toml") + ")"
			}
			for _, args := range readers {
				code, out, errs := cli(t, dir, "a good password\n", args...)
				if code != 1 || !strings.Contains(errs, want) ||
					!strings.Contains(errs, "hint: `myapp auth user add` creates it") || !strings.Contains(errs, "sqlite:////abs/path/app.db") {
					t.Errorf("myapp %s: exit %d, want 1 with %q and a hint:\n%s%s", strings.Join(args, " "), code, want, out, errs)
				}
				if strings.Contains(out, "USERNAME") || strings.Contains(out, "users") {
					t.Errorf("myapp %s printed a user list:\n%s", strings.Join(args, " "), out)
				}
				if _, err := os.Stat(tt.path); !os.IsNotExist(err) {
					t.Fatalf("myapp %s created %s", strings.Join(args, " "), tt.path)
				}
			}
			if tt.where == "env" {
				os.MkdirAll(filepath.Dir(tt.path), 0o755)
			}
			if code, _, errs := cli(t, dir, "a good password\n", "auth", "user", "add", "bob", "--password-stdin"); code != 0 {
				t.Fatalf("add creates the database: exit %d %s", code, errs)
			}
			for _, args := range readers {
				if code, _, errs := cli(t, dir, "another password\n", args...); code != 0 {
					t.Errorf("myapp %s once the database exists: exit %d %s", strings.Join(args, " "), code, errs)
				}
			}
		})
	}
}

// sqlite:/// is relative to the working directory, a likely slip for the
// four slashes of an absolute path: when its directory does not exist,
// every command, add and serve included, says so and shows the absolute
// form.
func TestAuthRelativeSQLitePathHint(t *testing.T) {
	t.Setenv("GOGC", "100") // keep auth serve from retuning this process's GC
	t.Setenv("GOMEMLIMIT", "off")
	dir := authProject(t, "sqlite:///var/lib/myapp/shop/app.db")
	work := t.TempDir()
	t.Chdir(work)
	abs := filepath.Join(work, "var/lib/myapp/shop/app.db")
	hint := "hint: sqlite:///var/lib/myapp/shop/app.db is relative to the current directory (" + work +
		"); the absolute /var/lib/myapp/shop/app.db is sqlite:////var/lib/myapp/shop/app.db"
	for _, args := range [][]string{
		{"auth", "user", "list"},
		{"auth", "user", "disable", "bob"},
		{"auth", "user", "add", "bob", "--password-stdin"},
		{"auth", "serve", "--listen", "127.0.0.1:9"}, // fails before it listens
	} {
		code, out, errs := cli(t, dir, "a good password\n", args...)
		if code != 1 || !strings.Contains(errs, abs) || !strings.Contains(errs, hint) {
			t.Errorf("myapp %s: exit %d, want 1 naming %s with\n%s\ngot:\n%s%s", strings.Join(args, " "), code, abs, hint, out, errs)
		}
	}

	// A relative path in a directory that exists: the file is missing,
	// and the hint still says what the path is relative to.
	os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET_KEY="+cliSecret+"\nDB_URL=sqlite:///app.db\n"), 0o600)
	code, _, errs := cli(t, dir, "", "auth", "user", "list")
	if code != 1 || !strings.Contains(errs, "no auth database at "+filepath.Join(work, "app.db")) ||
		!strings.Contains(errs, "sqlite:///app.db is relative to the current directory ("+work+")") {
		t.Errorf("list on a missing relative database: exit %d\n%s", code, errs)
	}
}

// auth serve creates the database on its first start, as init expects:
// it starts the unit, and checks /auth/healthz, before any user is added.
func TestAuthServeCreatesTheDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	dir := authProject(t, "sqlite:///"+path)
	srv := startAuthServe(t, dir)
	srv.stop(t)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("auth serve did not create the database: %v", err)
	}
	if code, out, errs := cli(t, dir, "", "auth", "user", "list"); code != 0 || !strings.Contains(out, "USERNAME") {
		t.Errorf("list after the first start: exit %d\n%s%s", code, out, errs)
	}
}

// An .env that cannot be read is reported with its read error, naming the
// file, not as one without DB_URL. The default .env may stay unreadable
// when the environment holds the keys, as the unit passes them
// (EnvironmentFile=) to a user that may not read the 0600 file.
func TestAuthEnvFileReadErrors(t *testing.T) {
	dir := authProject(t, "sqlite:///"+filepath.Join(t.TempDir(), "app.db"))
	if code, _, errs := cli(t, dir, "a good password\n", "auth", "user", "add", "alice", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	envDir := filepath.Join(t.TempDir(), "dir.db")
	os.Mkdir(envDir, 0o755)
	missing := filepath.Join(t.TempDir(), "missing.env")
	for _, tt := range []struct {
		env, want string
	}{
		{envDir, "--env: read " + envDir + ": is a directory"},
		{missing, missing + ": no such file or directory"},
	} {
		for _, args := range [][]string{{"auth", "user", "list"}, {"auth", "serve", "--listen", "127.0.0.1:9"}} {
			code, _, errs := cli(t, dir, "", append(args, "--env", tt.env)...)
			if code != 2 || !strings.Contains(errs, tt.want) || strings.Contains(errs, "no DB_URL") {
				t.Errorf("myapp %s --env %s: exit %d, want 2 with %q:\n%s", strings.Join(args, " "), tt.env, code, tt.want, errs)
			}
		}
	}

	// The .env beside the config is a directory.
	envPath := filepath.Join(dir, ".env")
	data, _ := os.ReadFile(envPath)
	os.Remove(envPath)
	os.Mkdir(envPath, 0o755)
	code, _, errs := cli(t, dir, "", "auth", "user", "list")
	if code != 1 || !strings.Contains(errs, "read the auth secrets: read "+envPath+": is a directory") || strings.Contains(errs, "no DB_URL") {
		t.Errorf("list with a directory as .env: exit %d\n%s", code, errs)
	}
	env := envfile.Parse(data)
	dbURL, _ := env.Get("DB_URL")
	t.Setenv("DB_URL", dbURL)
	t.Setenv("SECRET_KEY", cliSecret)
	if code, out, errs := cli(t, dir, "", "auth", "user", "list"); code != 0 || !strings.Contains(out, "alice") {
		t.Errorf("list with the keys in the environment and an unreadable .env: exit %d\n%s%s", code, out, errs)
	}
}
