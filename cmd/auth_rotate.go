package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/internal/atomicfile"
)

// RotateKeyOptions name the .env whose SECRET_KEY is rotated.
type RotateKeyOptions struct {
	EnvFile string // default: the .env beside the config file
}

func newAuthRotateKeyCmd(g *Globals, auth *AuthOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-key",
		Short: "Replace SECRET_KEY in the .env, keeping the old one as SECRET_KEY_PREVIOUS",
		Long: `Generate a new SECRET_KEY and move the current one to SECRET_KEY_PREVIOUS,
rewriting the .env in place (mode 0600, other lines kept). After a restart the
auth server signs with the new key and still accepts access tokens signed with
the previous one, so nobody is logged out: refresh tokens do not depend on the
key at all. Keys are never printed.

A second rotation replaces SECRET_KEY_PREVIOUS: wait at least one access-token
lifetime (auth.access_ttl) between rotations. A backend that verifies tokens
with SECRET_KEY must be restarted together with the auth server.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return runAuthRotateKey(g, &RotateKeyOptions{EnvFile: auth.EnvFile})
		},
	}
}

func runAuthRotateKey(g *Globals, opts *RotateKeyOptions) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	file := opts.EnvFile
	if file == "" {
		file = filepath.Join(cfg.Dir, ".env")
	}
	fi, err := os.Stat(file)
	if errors.Is(err, os.ErrNotExist) {
		return usageErrorf("no .env at %s: nothing to rotate\nhint: run `myapp env` to write one, or pass --env FILE", file)
	} else if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	f := envfile.Parse(data)
	cur, _ := f.Get("SECRET_KEY")
	if len(cur) < 32 {
		return usageErrorf("%s: SECRET_KEY missing or shorter than 32 characters: nothing to rotate\nhint: run `myapp env` to generate one", file)
	}
	_, hadPrevious := f.Get("SECRET_KEY_PREVIOUS")
	next, err := envfile.NewSecret()
	if err != nil {
		return err
	}
	f.Set("SECRET_KEY_PREVIOUS", cur)
	f.Set("SECRET_KEY", next)
	if err := atomicfile.Write(file, f.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	keepOwner(file, fi)

	unit := cfg.App + "-auth.service"
	if g.json() {
		return writeJSON(g.Stdout, map[string]any{
			"env_file": file, "changed": []string{"SECRET_KEY", "SECRET_KEY_PREVIOUS"}, "restart": []string{unit},
		})
	}
	g.logf("%s: new SECRET_KEY; the old one is now SECRET_KEY_PREVIOUS", file)
	if hadPrevious {
		g.logf("the older SECRET_KEY_PREVIOUS was replaced: tokens signed with it are no longer accepted")
	}
	if g.Getenv("SECRET_KEY") != "" {
		g.logf("warning: SECRET_KEY is also set in this environment, and overrides the file for processes that inherit it")
	}
	g.logf("hint: restart %s (and any backend that verifies tokens with SECRET_KEY) to use the new key", unit)
	return nil
}

// keepOwner gives a rewritten file its previous owner: the .env may belong
// to a service user that must still read it. Best effort, as only root
// can change owners.
func keepOwner(path string, before os.FileInfo) {
	st, ok := before.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return
	}
	_ = os.Lchown(path, int(st.Uid), int(st.Gid))
}
