package provision

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/templates"
)

const unitDir = "/etc/systemd/system/"

// units installs, enables and (re)starts the auth server, the renewal timer
// and, when api.command is set, the API backend.
type units struct{}

func (units) Name() string { return "systemd units" }

type unitFile struct {
	name    string
	data    []byte
	service bool // a long-running service restarted when its inputs change
}

func (t *Target) renderUnits(ctx context.Context) ([]unitFile, error) {
	app := t.Cfg.App
	auth, err := templates.RenderAuthUnit(templates.AuthUnit{App: app, Listen: t.Cfg.Auth.Listen, Binary: t.Paths.Binary})
	if err != nil {
		return nil, err
	}
	ru := templates.RenewUnit{App: app, Binary: t.Paths.Binary}
	rs, err := templates.RenderRenewService(ru)
	if err != nil {
		return nil, err
	}
	rt, err := templates.RenderRenewTimer(ru)
	if err != nil {
		return nil, err
	}
	out := []unitFile{{t.Paths.AuthUnit(), auth, true}, {t.Paths.RenewService(), rs, false}, {t.Paths.RenewTimer(), rt, false}}
	if t.Cfg.API.Command != "" {
		argv, err := templates.SplitCommand(t.Cfg.API.Command)
		if err != nil || len(argv) == 0 {
			return nil, fmt.Errorf("api.command: %v", err)
		}
		if argv[0], err = t.resolveProgram(ctx, argv[0]); err != nil {
			return nil, err
		}
		api, err := templates.RenderAPIUnit(templates.APIUnit{App: app, Argv: argv})
		if err != nil {
			return nil, err
		}
		out = append(out, unitFile{t.Paths.APIUnit(), api, true})
	}
	return out, nil
}

// resolveProgram makes api.command's program absolute: a path with a slash
// is relative to the current release, a bare name is looked up on the host.
func (t *Target) resolveProgram(ctx context.Context, prog string) (string, error) {
	switch {
	case strings.HasPrefix(prog, "/"):
		return prog, nil
	case strings.Contains(prog, "/"):
		return path.Join(t.Paths.Current, prog), nil
	}
	out, err := t.Host.Run(ctx, host.Cmd{Argv: []string{"sh", "-c", `command -v "$1"`, "sh", prog}})
	if err != nil || !strings.HasPrefix(string(out), "/") {
		return "", fmt.Errorf("api.command: %q is not installed on the host (not in PATH)", prog)
	}
	return strings.TrimSpace(string(out)), nil
}

// errNoSystemd: the host was not booted with systemd (a container without
// an init, WSL without systemd=true, a chroot).
var errNoSystemd = errors.New("systemd is not running on this host (PID 1 is not systemd): myapp runs the auth server and the renewal timer as systemd units\nhint: use a host booted with systemd (Ubuntu/Debian servers and VMs are); in a container, run systemd as its init")

func (units) Plan(ctx context.Context, t *Target) (*Change, error) {
	if !t.Facts.Systemd {
		return nil, errNoSystemd
	}
	ufs, err := t.renderUnits(ctx)
	if err != nil {
		return nil, err
	}
	c := &Change{}
	changed := map[string]bool{}
	for _, u := range ufs {
		fc, err := t.planFile(ctx, host.FileSpec{Path: unitDir + u.name, Data: u.data, Mode: 0o644}, false)
		if err != nil {
			return nil, err
		}
		if fc != nil {
			c.Files = append(c.Files, *fc)
			changed[u.name] = true
		}
	}
	// What must run: every service and the timer, enabled and active.
	var want []string
	for _, u := range ufs {
		if u.service || strings.HasSuffix(u.name, ".timer") {
			want = append(want, u.name)
		}
	}
	inactive := t.unitsNotRunning(ctx, want)
	if len(c.Files) > 0 {
		c.Cmds = append(c.Cmds, host.Cmd{Argv: []string{"systemctl", "daemon-reload"}})
	}
	if len(inactive) > 0 {
		c.Cmds = append(c.Cmds, host.Cmd{Argv: append([]string{"systemctl", "enable", "--now"}, inactive...)})
	}
	var restart []string
	for _, u := range ufs {
		if !contains(inactive, u.name) && (changed[u.name] || (u.service && t.restartAuth)) && (u.service || strings.HasSuffix(u.name, ".timer")) {
			restart = append(restart, u.name)
		}
	}
	if len(restart) > 0 {
		c.Cmds = append(c.Cmds, host.Cmd{Argv: append([]string{"systemctl", "restart"}, restart...)})
	}
	if len(c.Cmds) == 0 {
		return nil, nil
	}
	c.Detail = strings.Join(append(inactive, restart...), ", ")
	if c.Detail == "" {
		c.Detail = "updated"
	}
	return c, nil
}

// unitsNotRunning returns the units of names that are not both enabled and
// active.
func (t *Target) unitsNotRunning(ctx context.Context, names []string) []string {
	var out []string
	for _, n := range names {
		_, e1 := t.Host.Run(ctx, host.Cmd{Argv: []string{"systemctl", "is-enabled", "--quiet", n}})
		_, e2 := t.Host.Run(ctx, host.Cmd{Argv: []string{"systemctl", "is-active", "--quiet", n}})
		if e1 != nil || e2 != nil {
			out = append(out, n)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
