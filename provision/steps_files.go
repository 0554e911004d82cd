package provision

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/provision/host"
)

// hostConfig installs /etc/myapp/<app>/myapp.toml (and the ACME CA roots it
// names) so host-side commands read the same settings as init.
type hostConfig struct{}

func (hostConfig) Name() string { return "host config" }

func (hostConfig) Plan(ctx context.Context, t *Target) (*Change, error) {
	var specs []host.FileSpec
	caPath := ""
	if t.Cfg.ACME.CARoots != "" {
		data, err := os.ReadFile(t.Cfg.CARootsPath())
		if err != nil {
			return nil, fmt.Errorf("acme.ca_roots: %w", err)
		}
		caPath = t.Paths.CARoots
		specs = append(specs, host.FileSpec{Path: caPath, Data: data, Mode: 0o644})
	}
	data, err := t.Cfg.HostConfig(caPath)
	if err != nil {
		return nil, err
	}
	specs = append(specs, host.FileSpec{Path: t.Paths.Config, Data: data, Mode: 0o644})
	return planFiles(ctx, t, specs, false, func() { t.restartAuth = true })
}

// planFiles returns a Change writing the specs that differ, or nil.
func planFiles(ctx context.Context, t *Target, specs []host.FileSpec, secret bool, onChange func()) (*Change, error) {
	c := &Change{}
	for _, s := range specs {
		fc, err := t.planFile(ctx, s, secret)
		if err != nil {
			return nil, err
		}
		if fc != nil {
			c.Files = append(c.Files, *fc)
		}
	}
	if len(c.Files) == 0 {
		return nil, nil
	}
	if onChange != nil {
		onChange()
	}
	var names []string
	for _, f := range c.Files {
		names = append(names, f.Path)
	}
	c.Detail = strings.Join(names, ", ")
	return c, nil
}

// dotEnv writes the host's .env: SECRET_KEY generated once and never
// rotated by a redeploy, DB_URL, and the [env] keys with ${VAR} expanded.
type dotEnv struct{}

func (dotEnv) Name() string { return ".env" }

func (dotEnv) Plan(ctx context.Context, t *Target) (*Change, error) {
	old, err := t.Host.ReadFile(ctx, t.Paths.Env)
	if err != nil && !host.IsNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", t.Paths.Env, err)
	}
	d, err := DesiredEnv(t.Cfg, t.Getenv, envfile.Parse(old), "sqlite:///"+t.Paths.DB)
	if err != nil {
		return nil, err
	}
	data, changed, err := envfile.Merge(old, d)
	if err != nil {
		return nil, err
	}
	spec := host.FileSpec{Path: t.Paths.Env, Data: data, Mode: 0o600, Owner: "root:root"}
	c, err := planFiles(ctx, t, []host.FileSpec{spec}, true, func() { t.restartAuth = true })
	if c != nil && len(changed) > 0 {
		c.Detail = "set " + strings.Join(changed, ", ")
	}
	return c, err
}

// DesiredEnv computes the .env keys for cfg: [env] values with ${VAR}
// expanded from getenv. A value whose variable is unset keeps what the file
// already has; DB_URL falls back to defaultDB (embedded SQLite). Any other
// key left without a value is an error naming the variable — a deploy must
// not silently start without a secret.
func DesiredEnv(cfg *config.Config, getenv func(string) string, existing *envfile.File, defaultDB string) (envfile.Desired, error) {
	d := envfile.Desired{Generate: []string{"SECRET_KEY"}, Set: map[string]string{}, Default: map[string]string{"DB_URL": defaultDB}}
	keys := make([]string, 0, len(cfg.Env))
	for k := range cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, missing := config.Expand(cfg.Env[k], getenv)
		if len(missing) == 0 {
			if k == "SECRET_KEY" && len(v) < 32 {
				return d, &config.Error{File: cfg.Path, Key: "env.SECRET_KEY", Msg: "must be at least 32 characters"}
			}
			d.Set[k] = v
			continue
		}
		if _, ok := existing.Get(k); ok || k == "DB_URL" || k == "SECRET_KEY" {
			continue // keep the host's value, or the default
		}
		return d, &config.Error{File: cfg.Path, Key: "env." + k,
			Msg:  fmt.Sprintf("${%s} is not set in the environment", missing[0]),
			Hint: fmt.Sprintf("export %s=... (a CI secret) before running myapp", missing[0])}
	}
	return d, nil
}
