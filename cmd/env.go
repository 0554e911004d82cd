package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/internal/atomicfile"
	"github.com/myapp/myapp/provision"
)

func newEnvCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Write the project's .env (generated secrets, existing values kept) and ignore it in .gitignore",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return runEnv(g) },
	}
}

func runEnv(g *Globals) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.Dir, ".env")
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	d, err := provision.DesiredEnv(cfg, g.Getenv, envfile.Parse(old), "sqlite:///app.db")
	if err != nil {
		return err
	}
	data, changed, err := envfile.Merge(old, d)
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if len(changed) > 0 || old == nil {
		if err := atomicfile.Write(path, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		g.logf("%s: set %s", path, strings.Join(changed, ", "))
	} else {
		g.logf("%s: unchanged", path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	return ensureIgnored(g, filepath.Join(cfg.Dir, ".gitignore"))
}

// ensureIgnored appends ".env" to .gitignore unless its lines, evaluated in
// order with git's rules, already leave .env ignored.
func ensureIgnored(g *Globals, path string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if envfile.GitIgnored(data) {
		g.logf("%s: already ignores .env", path)
		return nil
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	data = append(data, ".env\n"...)
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	g.logf("%s: added .env", path)
	return nil
}
