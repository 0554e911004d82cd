package provision

import (
	"context"
	"fmt"

	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/provision/host"
)

// checks fails a run before any step changes the host, for mistakes only
// the host can reveal: a ${VAR} with neither an environment value nor a
// value already on the host, an api.command program the host lacks, a host
// without systemd (the auth server and the renewal timer are units).
type checks struct{}

func (checks) Name() string { return "checks" }

func (checks) Plan(ctx context.Context, t *Target) (*Change, error) {
	if !t.Facts.Systemd {
		return nil, errNoSystemd
	}
	old, err := t.Host.ReadFile(ctx, t.Paths.Env)
	if err != nil && !host.IsNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", t.Paths.Env, err)
	}
	if _, err := DesiredEnv(t.Cfg, t.Getenv, envfile.Parse(old), ""); err != nil {
		return nil, err
	}
	if t.Cfg.API.Command != "" {
		if _, err := t.renderUnits(ctx); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
