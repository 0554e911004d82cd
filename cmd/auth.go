package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/authserver"
	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/envfile"
)

// AuthOptions locate the auth server's secrets and tune `auth serve`.
type AuthOptions struct {
	Listen  string
	EnvFile string

	Grace          time.Duration // 0 turns the duplicate-refresh window off
	SessionMaxAge  time.Duration
	Audience       string
	TrustedProxies []string // CIDRs or addresses whose X-Forwarded-For is believed
}

func newAuthCmd(g *Globals) *cobra.Command {
	opts := &AuthOptions{}
	c := &cobra.Command{Use: "auth", Short: "The bundled auth server and its users"}
	c.PersistentFlags().StringVar(&opts.EnvFile, "env", "", "`file` with SECRET_KEY and DB_URL (default: the process environment, then the .env beside the config)")
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the auth server (what <app>-auth.service runs)",
		Long: `Run the auth server until SIGTERM or Ctrl-C, then finish the requests in
flight (up to 10 s; connections still busy after that are closed and
counted in the log) and exit 0. SECRET_KEY signs access tokens; during a key
rotation SECRET_KEY_PREVIOUS is still accepted (see auth rotate-key).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runAuthServe(c.Context(), g, opts) },
	}
	f := serve.Flags()
	f.StringVar(&opts.Listen, "listen", "", "address to listen on (default: auth.listen)")
	f.DurationVar(&opts.Grace, "grace", 10*time.Second, "window in which a repeated refresh of the same token gets the same successor (two tabs); 0 turns it off")
	f.DurationVar(&opts.SessionMaxAge, "session-max-age", 90*24*time.Hour, "absolute session lifetime however active (the idle timeout is auth.refresh_ttl)")
	f.StringVar(&opts.Audience, "audience", "", "aud claim to put in access tokens and require on /me (leave empty for PyJWT backends that pass no audience)")
	f.StringSliceVar(&opts.TrustedProxies, "trusted-proxy", []string{"127.0.0.0/8", "::1/128"}, "`CIDR` of proxies whose X-Forwarded-For names the client (repeatable)")
	c.AddCommand(serve, newAuthUserCmd(g, opts), newAuthRotateKeyCmd(g, opts))
	return c
}

// authEnv resolves SECRET_KEY, SECRET_KEY_PREVIOUS and DB_URL: process
// environment, then --env FILE, then the .env beside the config file.
type authEnv struct {
	secret, previous, dbURL string
	dbURLFrom               string // where dbURL was found, for messages
	file                    string // the .env looked in
	cfg                     *config.Config
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
	if opts.EnvFile != "" {
		// A file named on the command line must be readable: a directory
		// or a typo is not a file without the keys.
		data, err := os.ReadFile(opts.EnvFile)
		if err != nil {
			return nil, usageErrorf("--env: %v", err)
		}
		fileEnv = envfile.Parse(data)
	}
	// readErr is why the default .env could not be read. It matters only
	// if a key is missing: the unit passes the keys in the environment
	// (EnvironmentFile=) to a user that may not read the 0600 file.
	var readErr error
	var from string // where the last lookup found its value
	lookup := func(k string) string {
		if v := g.Getenv(k); v != "" {
			from = k + " in the environment"
			return v
		}
		from = k + " in " + file
		if fileEnv == nil {
			data, err := os.ReadFile(file)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				readErr = err
			}
			fileEnv = envfile.Parse(data)
		}
		v, _ := fileEnv.Get(k)
		return v
	}
	e := &authEnv{cfg: cfg, file: file, secret: lookup("SECRET_KEY"), previous: lookup("SECRET_KEY_PREVIOUS"),
		dbURL: cfg.Auth.DBURL, dbURLFrom: "auth.db_url in " + cfg.Path}
	if e.dbURL == "" {
		e.dbURL = lookup("DB_URL")
		e.dbURLFrom = from
	}
	if readErr != nil && (e.dbURL == "" || needSecret && len(e.secret) < 32) {
		hint := "fix the file, or set SECRET_KEY and DB_URL in the environment"
		if errors.Is(readErr, os.ErrPermission) {
			hint = "run as a user who may read it (it is 0600: sudo), or set SECRET_KEY and DB_URL in the environment"
		}
		return nil, fmt.Errorf("read the auth secrets: %w\nhint: %s", readErr, hint)
	}
	if e.dbURL == "" {
		return nil, usageErrorf("no DB_URL: set it in the environment, in %s, or auth.db_url in %s\nhint: run `myapp env` to write a .env", file, cfg.Path)
	}
	if needSecret && len(e.secret) < 32 {
		return nil, usageErrorf("SECRET_KEY missing or shorter than 32 characters (looked in the environment and %s)\nhint: run `myapp env` to generate one", file)
	}
	return e, nil
}

// openStore opens the auth database; create says whether a SQLite file
// that does not exist is made (auth serve, auth user add) or refused, so
// that a typo in DB_URL is not taken for an empty database. A mistake in
// DB_URL is a configuration error (exit 2) naming where the URL came
// from; no error shows its password.
func (e *authEnv) openStore(ctx context.Context, create bool) (*authserver.Store, error) {
	open := authserver.OpenExistingStore
	if create {
		open = authserver.OpenStore
	}
	st, err := open(ctx, e.dbURL)
	switch {
	case errors.Is(err, authserver.ErrInvalidDBURL):
		msg := authserver.RedactError(err, e.dbURL).Error()
		return nil, usageErrorf("%s: %s", e.dbURLFrom, strings.TrimPrefix(msg, "DB_URL: "))
	case errors.Is(err, authserver.ErrNoDatabase):
		return nil, e.noDatabase()
	case err != nil:
		err = fmt.Errorf("open auth database (%s): %w", e.dbURLFrom, authserver.RedactError(err, e.dbURL))
		if hint := e.relativeHint(); hint != "" {
			err = fmt.Errorf("%w\nhint: %s", err, hint)
		}
		return nil, err
	}
	return st, nil
}

// noDatabase words a SQLite DB_URL that names no file: a failure (exit 1),
// since the URL may be right and the users not yet added.
func (e *authEnv) noDatabase() error {
	written, abs, _ := authserver.SQLitePath(e.dbURL)
	hint := "`myapp auth user add` creates it; if DB_URL has a typo, fix it: sqlite:////abs/path/app.db is an absolute path, sqlite:///app.db one relative to the current directory"
	if !filepath.IsAbs(written) {
		note := e.relativeHint()
		if note == "" {
			note = fmt.Sprintf("sqlite:///%s is relative to the current directory (%s), sqlite:////abs/path/app.db absolute", written, workDir())
		}
		hint = note + "; `myapp auth user add` creates the database"
	}
	return fmt.Errorf("no auth database at %s (%s)\nhint: %s", abs, e.dbURLFrom, hint)
}

// relativeHint explains a SQLite path relative to the working directory
// whose directory does not exist: the likely slip is sqlite:///var/lib/x
// for sqlite:////var/lib/x. It is empty otherwise.
func (e *authEnv) relativeHint() string {
	written, abs, ok := authserver.SQLitePath(e.dbURL)
	if !ok || filepath.IsAbs(written) {
		return ""
	}
	if _, err := os.Stat(filepath.Dir(abs)); !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if strings.HasPrefix(written, ".") {
		return fmt.Sprintf("sqlite:///%s is relative to the current directory (%s); four slashes make a path absolute: sqlite:////abs/path/app.db", written, workDir())
	}
	return fmt.Sprintf("sqlite:///%s is relative to the current directory (%s); the absolute /%s is sqlite:////%s", written, workDir(), written, written)
}

func workDir() string {
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return "unknown"
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
	proxies, err := parsePrefixes(opts.TrustedProxies)
	if err != nil {
		return usageErrorf("--trusted-proxy: %v", err)
	}
	grace := opts.Grace
	if grace <= 0 {
		grace = -1 // authserver: negative is off, zero the default
	}
	var previous [][]byte
	if e.previous != "" {
		previous = append(previous, []byte(e.previous))
	}
	tuneGC(g)
	st, err := e.openStore(ctx, true) // init starts the unit before any user exists
	if err != nil {
		return err
	}
	defer st.Close()
	logs := newLogBuffer(g.Stderr)
	defer logs.Close()
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv, err := authserver.New(authserver.Options{
		SecretKey: []byte(e.secret), PreviousKeys: previous,
		AccessTTL: e.cfg.AccessTTL(), RefreshTTL: e.cfg.RefreshTTL(), SessionMaxAge: opts.SessionMaxAge, Grace: grace,
		Issuer: "myapp/" + e.cfg.App, Audience: opts.Audience, TrustedProxies: proxies, Logger: logger,
	}, st)
	if err != nil {
		return usageErrorf("%v", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		err = fmt.Errorf("listen on %s: %w", listen, err)
		if errors.Is(err, syscall.EADDRINUSE) {
			_, port, _ := net.SplitHostPort(listen)
			return fmt.Errorf("%w\nhint: another process listens there (`ss -ltnp 'sport = :%s'` names it): stop it, or set auth.listen (--listen) to a free address", err, port)
		}
		return err
	}
	logger.Info("auth server listening", "addr", ln.Addr().String(), "app", e.cfg.App, "previous_key", len(previous) > 0)
	if err := srv.Serve(ctx, ln); err != nil {
		return authserver.RedactError(err, e.dbURL)
	}
	logger.Info("auth server stopped")
	return nil
}

// tuneGC trades memory the server has for CPU it lacks. Its live heap is
// small (a few MB) but it allocates a little on every request, so the
// default GOGC=100 collects dozens of times a second under load. Collecting
// at 4x the live heap instead, with a soft memory limit as the backstop
// for login bursts (each Argon2id hash is 19 MiB of garbage), keeps peak
// memory bounded. GOGC or GOMEMLIMIT in the environment win.
func tuneGC(g *Globals) {
	if g.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if g.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(160 << 20)
	}
}

// parsePrefixes reads CIDRs; a bare address means just that address.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
