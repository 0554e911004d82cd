package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/myapp/myapp/authserver"
	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/envfile"
)

// AuthOptions locate the auth server's secrets.
type AuthOptions struct {
	Listen  string
	EnvFile string
}

func newAuthCmd(g *Globals) *cobra.Command {
	opts := &AuthOptions{}
	c := &cobra.Command{Use: "auth", Short: "The bundled auth server and its users"}
	c.PersistentFlags().StringVar(&opts.EnvFile, "env", "", "`file` with SECRET_KEY and DB_URL (default: the process environment, then the .env beside the config)")
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the auth server (what <app>-auth.service runs)",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runAuthServe(c.Context(), g, opts) },
	}
	serve.Flags().StringVar(&opts.Listen, "listen", "", "address to listen on (default: auth.listen)")
	c.AddCommand(serve, newAuthUserCmd(g, opts))
	return c
}

// authEnv resolves SECRET_KEY and DB_URL: process environment, then --env
// FILE, then the .env beside the config file.
type authEnv struct {
	secret, dbURL string
	cfg           *config.Config
}

func loadAuthEnv(g *Globals, opts *AuthOptions, needSecret bool) (*authEnv, error) {
	cfg, err := g.LoadConfig()
	if err != nil {
		return nil, err
	}
	file := opts.EnvFile
	if file == "" {
		file = filepath.Join(cfg.Dir, ".env")
	}
	var fileEnv *envfile.File
	lookup := func(k string) string {
		if v := g.Getenv(k); v != "" {
			return v
		}
		if fileEnv == nil {
			data, err := os.ReadFile(file)
			if err != nil && !(errors.Is(err, os.ErrNotExist) && opts.EnvFile == "") {
				fileEnv = envfile.Parse(nil)
				return ""
			}
			fileEnv = envfile.Parse(data)
		}
		v, _ := fileEnv.Get(k)
		return v
	}
	if opts.EnvFile != "" {
		if _, err := os.Stat(opts.EnvFile); err != nil {
			return nil, usageErrorf("--env: %v", err)
		}
	}
	e := &authEnv{cfg: cfg, secret: lookup("SECRET_KEY"), dbURL: cfg.Auth.DBURL}
	if e.dbURL == "" {
		e.dbURL = lookup("DB_URL")
	}
	if e.dbURL == "" {
		return nil, usageErrorf("no DB_URL: set it in the environment, in %s, or auth.db_url in %s\nhint: run `myapp env` to write a .env", file, cfg.Path)
	}
	if needSecret && len(e.secret) < 32 {
		return nil, usageErrorf("SECRET_KEY missing or shorter than 32 characters (looked in the environment and %s)\nhint: run `myapp env` to generate one", file)
	}
	return e, nil
}

func runAuthServe(ctx context.Context, g *Globals, opts *AuthOptions) error {
	e, err := loadAuthEnv(g, opts, true)
	if err != nil {
		return err
	}
	listen := opts.Listen
	if listen == "" {
		listen = e.cfg.Auth.Listen
	}
	if err := config.ValidateListen(listen); err != nil {
		return usageErrorf("--listen %q: %v", listen, err)
	}
	st, err := authserver.OpenStore(ctx, e.dbURL)
	if err != nil {
		return fmt.Errorf("open auth database: %w", err)
	}
	defer st.Close()
	logger := slog.New(slog.NewTextHandler(g.Stderr, nil))
	srv, err := authserver.New(authserver.Options{
		SecretKey: []byte(e.secret), AccessTTL: e.cfg.AccessTTL(), RefreshTTL: e.cfg.RefreshTTL(),
		Issuer: "myapp/" + e.cfg.App, Logger: logger,
	}, st)
	if err != nil {
		return err
	}
	logger.Info("auth server listening", "addr", listen, "app", e.cfg.App)
	return authserver.ListenAndServe(ctx, listen, srv.Handler())
}

func newAuthUserCmd(g *Globals, opts *AuthOptions) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage auth users in the database auth serve uses"}
	var pwStdin bool
	withStore := func(ctx context.Context, fn func(*authserver.Store) error) error {
		e, err := loadAuthEnv(g, opts, false)
		if err != nil {
			return err
		}
		st, err := authserver.OpenStore(ctx, e.dbURL)
		if err != nil {
			return fmt.Errorf("open auth database: %w", err)
		}
		err = fn(st)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		matchSQLiteOwner(e.dbURL)
		return err
	}
	add := &cobra.Command{
		Use: "add USERNAME", Short: "Add a user", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := readPassword(g, pwStdin, true)
			if err != nil {
				return err
			}
			return withStore(c.Context(), func(st *authserver.Store) error {
				if err := st.AddUser(c.Context(), args[0], pw); err != nil {
					return err
				}
				g.logf("added user %s", args[0])
				return nil
			})
		},
	}
	passwd := &cobra.Command{
		Use: "passwd USERNAME", Short: "Set a user's password (signs out all their sessions)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := readPassword(g, pwStdin, true)
			if err != nil {
				return err
			}
			return withStore(c.Context(), func(st *authserver.Store) error {
				if err := st.SetPassword(c.Context(), args[0], pw); err != nil {
					return err
				}
				g.logf("password changed for %s; their sessions are revoked", args[0])
				return nil
			})
		},
	}
	for _, cc := range []*cobra.Command{add, passwd} {
		cc.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input (first line)")
	}
	disable := &cobra.Command{
		Use: "disable USERNAME", Short: "Disable a user and revoke their sessions", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withStore(c.Context(), func(st *authserver.Store) error {
				if err := st.DisableUser(c.Context(), args[0]); err != nil {
					return err
				}
				g.logf("disabled user %s", args[0])
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withStore(c.Context(), func(st *authserver.Store) error {
				users, err := st.ListUsers(c.Context())
				if err != nil {
					return err
				}
				return printUsers(g, users)
			})
		},
	}
	c.AddCommand(add, passwd, disable, list)
	return c
}

func printUsers(g *Globals, users []authserver.User) error {
	if g.json() {
		type u struct {
			Username string    `json:"username"`
			Disabled bool      `json:"disabled"`
			Created  time.Time `json:"created_at"`
			Sessions int       `json:"active_sessions"`
		}
		out := []u{}
		for _, x := range users {
			out = append(out, u{x.Username, x.Disabled, x.CreatedAt.UTC(), x.ActiveSessions})
		}
		return writeJSON(g.Stdout, map[string]any{"users": out})
	}
	tw := tabwriter.NewWriter(g.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSTATUS\tSESSIONS\tCREATED")
	for _, x := range users {
		st := "active"
		if x.Disabled {
			st = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", x.Username, st, x.ActiveSessions, x.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// readPassword reads from stdin with --password-stdin, else prompts twice on
// the terminal without echo.
func readPassword(g *Globals, fromStdin, confirm bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(g.Stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usageErrorf("--password-stdin: no password on standard input")
		}
		return pw, nil
	}
	f, ok := g.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageErrorf("no terminal to prompt for a password\nhint: pipe it with --password-stdin")
	}
	fmt.Fprint(g.Stderr, "Password: ")
	a, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(g.Stderr)
	if err != nil {
		return "", err
	}
	if confirm {
		fmt.Fprint(g.Stderr, "Repeat password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.Stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", usageErrorf("passwords do not match")
		}
	}
	return string(a), nil
}

// matchSQLiteOwner gives a SQLite database (and its -wal/-shm files) the
// owner of its directory. Run as root on a host, `auth user add` may create
// them, and the auth server, running as the service user, must still be able
// to open them. Best effort: other databases and non-root runs are left alone.
func matchSQLiteOwner(dbURL string) {
	if os.Geteuid() != 0 || !strings.HasPrefix(dbURL, "sqlite") {
		return
	}
	_, rest, ok := strings.Cut(dbURL, ":///")
	if !ok {
		return
	}
	path, _, _ := strings.Cut(rest, "?")
	if !strings.HasPrefix(path, "/") {
		path = filepath.Join(".", path)
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Lchown(p, int(st.Uid), int(st.Gid))
	}
}
