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
	// withStore runs fn on the auth database. Only add (create) may
	// create a SQLite file: the others refuse one that does not exist.
	withStore := func(ctx context.Context, create bool, fn func(*authserver.Store) error) error {
		e, err := loadAuthEnv(g, opts, false)
		if err != nil {
			return err
		}
		st, err := e.openStore(ctx, create)
		if err != nil {
			return err
		}
		err = fn(st)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		matchSQLiteOwner(e.dbURL)
		return authserver.RedactError(userError(err), e.dbURL)
	}
	add := &cobra.Command{
		Use: "add USERNAME", Short: "Add a user", Args: cobra.ExactArgs(1),
		Long: `Add a user with a password typed at the prompt or piped with
--password-stdin, or import one with --hash-stdin: an Argon2id PHC string or
a bcrypt hash ($2a$/$2b$/$2y$, as passlib and Django write them), replaced by
Argon2id at the user's first login.`,
		RunE: func(c *cobra.Command, args []string) error {
			name, err := userArg(args[0])
			if err != nil {
				return err
			}
			if hashStdin {
				if pwStdin {
					return usageErrorf("--hash-stdin and --password-stdin exclude each other")
				}
				hash, err := readLine(g, "--hash-stdin", "password hash")
				if err != nil {
					return err
				}
				if err := authserver.ValidateHash(hash); err != nil {
					return usageErrorf("--hash-stdin: %v", err)
				}
				return withStore(c.Context(), true, func(st *authserver.Store) error {
					if err := st.ImportUser(c.Context(), name, hash); err != nil {
						return err
					}
					g.logf("imported user %s", name)
					return nil
				})
			}
			pw, err := newPassword(g, pwStdin)
			if err != nil {
				return err
			}
			return withStore(c.Context(), true, func(st *authserver.Store) error {
				if err := st.AddUser(c.Context(), name, pw); err != nil {
					return err
				}
				g.logf("added user %s", name)
				return nil
			})
		},
	}
	add.Flags().BoolVar(&hashStdin, "hash-stdin", false, "import an existing argon2id or bcrypt hash from standard input (first line)")
	passwd := &cobra.Command{
		Use: "passwd USERNAME", Short: "Set a user's password (signs out all their sessions)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := userArg(args[0])
			if err != nil {
				return err
			}
			pw, err := newPassword(g, pwStdin)
			if err != nil {
				return err
			}
			return withStore(c.Context(), false, func(st *authserver.Store) error {
				if err := st.SetPassword(c.Context(), name, pw); err != nil {
					return knownUser(name, err)
				}
				g.logf("password changed for %s; their sessions are revoked", name)
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
			name, err := userArg(args[0])
			if err != nil {
				return err
			}
			return withStore(c.Context(), false, func(st *authserver.Store) error {
				if err := st.DisableUser(c.Context(), name); err != nil {
					return knownUser(name, err)
				}
				g.logf("disabled user %s", name)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withStore(c.Context(), false, func(st *authserver.Store) error {
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
			name, err := userArg(args[0])
			if err != nil {
				return err
			}
			return withStore(c.Context(), false, func(st *authserver.Store) error {
				if err := st.RevokeSessions(c.Context(), name); err != nil {
					return knownUser(name, err)
				}
				g.logf("revoked every session of %s", name)
				return nil
			})
		},
	}
	c.AddCommand(add, passwd, disable, revoke, list)
	return c
}

// userArg reads a USERNAME argument in the form the database stores
// (NFC). A name that could never be stored is a usage error (exit 2).
func userArg(arg string) (string, error) {
	name, err := authserver.NormalizeUsername(arg)
	if err != nil {
		return "", usageErrorf("USERNAME %+q: %v", arg, err)
	}
	return name, nil
}

// newPassword reads a new password and checks it before the database is
// opened: one that is empty, too short or too long is a usage error.
func newPassword(g *Globals, fromStdin bool) (string, error) {
	pw, err := readPassword(g, fromStdin, true)
	if err != nil {
		return "", err
	}
	if err := authserver.ValidatePassword(pw); err != nil {
		return "", usageErrorf("%v", err)
	}
	return pw, nil
}

// knownUser words a missing user as a failure (exit 1) saying what to do.
func knownUser(name string, err error) error {
	if errors.Is(err, authserver.ErrUserNotFound) {
		return fmt.Errorf("no user %q in the auth database\nhint: `myapp auth user list` shows the users; `myapp auth user add` creates one", name)
	}
	return err
}

// userError words the store's errors about users for the command line:
// bad input is a usage error (exit 2), whatever checked it; a taken name
// a failure (exit 1) with what to do about it.
func userError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, authserver.ErrInvalidUsername), errors.Is(err, authserver.ErrInvalidPassword),
		errors.Is(err, authserver.ErrInvalidHash):
		return usageErrorf("%v", err)
	case errors.Is(err, authserver.ErrUserExists):
		return fmt.Errorf("%w\nhint: `myapp auth user passwd` sets a new password", err)
	}
	return err
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
