package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/myapp/myapp/authserver"
)

func newAuthUserCmd(g *Globals, opts *AuthOptions) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage auth users in the database auth serve uses"}
	var pwStdin, hashStdin bool
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
		Long: `Add a user with a password typed at the prompt or piped with
--password-stdin, or import one with --hash-stdin: an Argon2id PHC string or
a bcrypt hash ($2a$/$2b$/$2y$, as passlib and Django write them), replaced by
Argon2id at the user's first login.`,
		RunE: func(c *cobra.Command, args []string) error {
			if hashStdin {
				if pwStdin {
					return usageErrorf("--hash-stdin and --password-stdin exclude each other")
				}
				hash, err := readLine(g, "--hash-stdin", "password hash")
				if err != nil {
					return err
				}
				return withStore(c.Context(), func(st *authserver.Store) error {
					if err := st.ImportUser(c.Context(), args[0], hash); err != nil {
						return err
					}
					g.logf("imported user %s", args[0])
					return nil
				})
			}
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
	add.Flags().BoolVar(&hashStdin, "hash-stdin", false, "import an existing argon2id or bcrypt hash from standard input (first line)")
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
	revoke := &cobra.Command{
		Use: "revoke USERNAME", Short: "Sign a user out of every session (the password stays)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withStore(c.Context(), func(st *authserver.Store) error {
				if err := st.RevokeSessions(c.Context(), args[0]); err != nil {
					return err
				}
				g.logf("revoked every session of %s", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, passwd, disable, revoke, list)
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
		return readLine(g, "--password-stdin", "password")
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

// readLine reads the first line of standard input.
func readLine(g *Globals, flag, what string) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(g.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	v := strings.TrimRight(line, "\r\n")
	if v == "" {
		return "", usageErrorf("%s: no %s on standard input", flag, what)
	}
	return v, nil
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
