package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/myapp/myapp/provision/host"
)

// aptEnv keeps apt from asking questions: nobody answers at 3 a.m.
var aptEnv = []string{"DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a"}

// nginxPackage installs nginx with apt when it is missing.
type nginxPackage struct{}

func (nginxPackage) Name() string { return "nginx package" }

func (nginxPackage) Plan(ctx context.Context, t *Target) (*Change, error) {
	if t.Facts.NginxVersion != "" && t.Facts.NginxDpkgOK {
		return nil, nil
	}
	if t.Facts.NginxVersion != "" {
		// Installed but not configured: an apt run was interrupted.
		return &Change{
			Cmds: []host.Cmd{
				{Argv: []string{"dpkg", "--configure", "-a"}, Env: aptEnv},
				{Argv: []string{"apt-get", "install", "-y", "-q", "-f", "--no-install-recommends", "nginx"}, Env: aptEnv},
			},
			Detail: "finished an interrupted nginx install",
		}, nil
	}
	if t.Facts.OS != "debian" && t.Facts.OS != "ubuntu" {
		return nil, fmt.Errorf("nginx is missing and %q is not Debian or Ubuntu; install nginx and re-run", t.Facts.OS)
	}
	c := &Change{
		Cmds: []host.Cmd{
			{Argv: []string{"apt-get", "update", "-q"}, Env: aptEnv},
			{Argv: []string{"apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"}, Env: aptEnv},
		},
		Detail: "installed nginx " + t.nginxVersion(),
	}
	c.Apply = func(ctx context.Context) error {
		if err := runCmds(ctx, t.Host, c.Cmds); err != nil {
			return err
		}
		return t.GatherFacts(ctx) // later steps render for the installed version
	}
	return c, nil
}

// serviceUser creates the system user that runs the auth server and API.
type serviceUser struct{}

func (serviceUser) Name() string { return "service user" }

func (serviceUser) Plan(ctx context.Context, t *Target) (*Change, error) {
	_, err := t.Host.Run(ctx, host.Cmd{Argv: []string{"getent", "passwd", ServiceUser}})
	if err == nil {
		return nil, nil
	}
	var exit *host.ExitError
	if !errors.As(err, &exit) {
		return nil, err
	}
	return &Change{Cmds: []host.Cmd{{Argv: []string{"useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", ServiceUser}}}, Detail: "created " + ServiceUser}, nil
}

// directories creates the app's directories with their modes and owners.
type directories struct{}

func (directories) Name() string { return "directories" }

type dirSpec struct {
	path  string
	mode  fs.FileMode
	owner string
}

func (directories) Plan(ctx context.Context, t *Target) (*Change, error) {
	p := t.Paths
	svc := ServiceUser + ":" + ServiceUser
	want := []dirSpec{
		{p.ConfigDir, 0o755, "root:root"},
		{path0(p.CertDir), 0o700, "root:root"}, // certs/: private keys below
		{p.ACMEState, 0o700, "root:root"},
		{p.AppState, 0o750, svc},
		{p.Releases, 0o755, "root:root"},
		{p.Webroot, 0o755, "root:root"},
	}
	var todo []dirSpec
	for _, d := range want {
		fi, err := t.Host.Stat(ctx, d.path)
		if err == nil && fi.Mode.IsDir() && fi.Mode.Perm() == d.mode && fi.Owner == d.owner {
			continue
		}
		if err != nil && !host.IsNotExist(err) {
			return nil, err
		}
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		return nil, nil
	}
	c := &Change{}
	for _, d := range todo {
		c.Notes = append(c.Notes, fmt.Sprintf("directory %s (%04o %s)", d.path, d.mode, d.owner))
	}
	c.Detail = fmt.Sprintf("%d created or fixed", len(todo))
	c.Apply = func(ctx context.Context) error {
		for _, d := range todo {
			if err := t.Host.MkdirAll(ctx, d.path, d.mode, d.owner); err != nil {
				return fmt.Errorf("create %s: %w", d.path, err)
			}
		}
		return nil
	}
	return c, nil
}

// path0 is the parent of a certificate directory (…/certs).
func path0(certDir string) string { return certDir[:strings.LastIndex(certDir, "/")] }

// binary installs this myapp binary as /usr/local/bin/myapp: the host runs
// the same program for cert renew and auth serve.
type binary struct{}

func (binary) Name() string { return "myapp binary" }

func (binary) Plan(ctx context.Context, t *Target) (*Change, error) {
	if want := goArch(t.Facts.Arch); want != runtime.GOARCH {
		return nil, fmt.Errorf("host is %s (%s) but this myapp is linux/%s\nhint: run the myapp release built for linux/%s", t.Facts.Arch, want, runtime.GOARCH, want)
	}
	data, err := os.ReadFile(t.Binary)
	if err != nil {
		return nil, fmt.Errorf("read own binary: %w", err)
	}
	sum := sha256.Sum256(data)
	out, err := t.Host.Run(ctx, host.Cmd{Argv: []string{"sh", "-c", `[ -f "$1" ] && sha256sum "$1" || true`, "sh", t.Paths.Binary}})
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(string(out), hex.EncodeToString(sum[:])) {
		return nil, nil
	}
	t.restartAuth = true
	spec := host.FileSpec{Path: t.Paths.Binary, Data: data, Mode: 0o755, Owner: "root:root"}
	return &Change{
		Notes:  []string{fmt.Sprintf("install %s (%d bytes, sha256 %x)", t.Paths.Binary, len(data), sum[:8])},
		Apply:  func(ctx context.Context) error { return t.Host.WriteFile(ctx, spec) },
		Detail: fmt.Sprintf("sha256 %x", sum[:6]),
	}, nil
}

func goArch(uname string) string {
	switch uname {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return uname
}
