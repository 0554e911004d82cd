package templates

import (
	"fmt"
	"hash/fnv"
)

// ServiceUser is the system user (and group) the app's services run as;
// init creates it. Root keeps the 0600 .env and the certificates: systemd
// reads EnvironmentFile= as root before dropping privileges.
const ServiceUser = "myapp"

// AuthUnit is the data of <app>-auth.service, the bundled auth server.
type AuthUnit struct {
	App    string
	Listen string // host:port, e.g. 127.0.0.1:9000 (auth.listen)
	Binary string // absolute path of myapp; empty means DefaultBinary
}

// Name is the unit's file name.
func (u AuthUnit) Name() string { return u.App + "-auth.service" }

// APIUnit is the data of <app>-api.service, rendered only when api.command
// is set.
type APIUnit struct {
	App string
	// Argv is the backend command: api.command split with SplitCommand,
	// then Argv[0] resolved to an absolute path by the caller, on the host
	// (e.g. `command -v uvicorn` or the release's .venv/bin/uvicorn): which
	// program a bare name means depends on that host, not on this package.
	Argv []string
}

// Name is the unit's file name.
func (u APIUnit) Name() string { return u.App + "-api.service" }

// RenewUnit is the data of <app>-renew.service and <app>-renew.timer.
type RenewUnit struct {
	App    string
	Binary string // absolute path of myapp; empty means DefaultBinary
}

// ServiceName and TimerName are the units' file names.
func (u RenewUnit) ServiceName() string { return u.App + "-renew.service" }
func (u RenewUnit) TimerName() string   { return u.App + "-renew.timer" }

// unitView is what every unit template sees.
type unitView struct {
	App         string
	User        string
	ExecStart   string
	EnvFile     string
	StateDir    string
	WorkDir     string
	ServiceName string // the service a timer starts
	// MemoryDenyWriteExecute breaks JIT compilers (Python 3.13+, Node,
	// PyPy, Java), so only our own Go binary gets it.
	DenyWX bool
}

// RenderAuthUnit renders <app>-auth.service. The unit runs
// `myapp auth serve` as ServiceUser, sandboxed, with write access only to
// /var/lib/myapp/<app> (the SQLite database when none is configured). It
// uses ReadWritePaths= rather than StateDirectory=: /var/lib/myapp is shared
// with root-owned ACME state, and StateDirectory= would chown its path. init
// must create /var/lib/myapp/<app> (owned by ServiceUser) before starting
// the unit, or systemd refuses to set up its namespace.
func RenderAuthUnit(u AuthUnit) ([]byte, error) {
	c := checker{strct: "AuthUnit"}
	c.check("App", u.App, appReason(u.App))
	c.check("Listen", u.Listen, listenReason(u.Listen))
	bin := binaryOrDefault(&c, u.Binary)
	if err := c.err(); err != nil {
		return nil, fmt.Errorf("render auth unit: %w", err)
	}
	return render("auth.service.tmpl", unitView{
		App:       u.App,
		User:      ServiceUser,
		ExecStart: execLine([]string{bin, "auth", "serve", "--config", configPath(u.App), "--listen", u.Listen}),
		EnvFile:   envPath(u.App),
		StateDir:  stateDir(u.App),
		DenyWX:    true,
	})
}

// RenderAPIUnit renders <app>-api.service: the backend command, run from the
// current release as ServiceUser with the app's .env, restarted always (a
// backend that exits cleanly is still down), sandboxed like the auth server
// but without MemoryDenyWriteExecute.
func RenderAPIUnit(u APIUnit) ([]byte, error) {
	c := checker{strct: "APIUnit"}
	c.check("App", u.App, appReason(u.App))
	if len(u.Argv) == 0 {
		c.check("Argv", "", "a command is required")
	} else {
		c.check("Argv[0]", u.Argv[0], pathReason(u.Argv[0]))
	}
	for i, a := range u.Argv[min(1, len(u.Argv)):] {
		// Arguments are not echoed in the error: commands carry credentials.
		c.check(fmt.Sprintf("Argv[%d]", i+1), "", argReason(a))
	}
	if err := c.err(); err != nil {
		return nil, fmt.Errorf("render api unit: %w", err)
	}
	return render("api.service.tmpl", unitView{
		App:       u.App,
		User:      ServiceUser,
		ExecStart: execLine(u.Argv),
		EnvFile:   envPath(u.App),
		StateDir:  stateDir(u.App),
		WorkDir:   currentDir(u.App),
	})
}

// RenderRenewService renders <app>-renew.service, the oneshot the timer
// starts. It runs as root and unsandboxed: it writes certificates under
// /etc/myapp, ACME state and challenge files, reloads nginx and runs the
// user's deploy_hook, whose needs are unknown.
func RenderRenewService(u RenewUnit) ([]byte, error) {
	v, err := renewView(u, "renew service")
	if err != nil {
		return nil, err
	}
	return render("renew.service.tmpl", v)
}

// RenderRenewTimer renders <app>-renew.timer: twice a day, at a random
// moment within the hour after 00:00 and 12:00 so hosts do not hit the CA
// together, catching up after downtime (Persistent=). Twice daily matches
// certbot and is frequent enough for 6-day certificates; `cert renew` itself
// decides whether renewal is due.
func RenderRenewTimer(u RenewUnit) ([]byte, error) {
	v, err := renewView(u, "renew timer")
	if err != nil {
		return nil, err
	}
	return render("renew.timer.tmpl", v)
}

// RenewCronLine returns the /etc/cron.d line equivalent to the timer, for
// hosts without systemd and for documentation (drop the "root" field for a
// user crontab). cron has no randomized delay, so the minute is derived from
// the app name: stable for one app, spread across apps.
func RenewCronLine(u RenewUnit) (string, error) {
	v, err := renewView(u, "renew cron line")
	if err != nil {
		return "", err
	}
	h := fnv.New32a()
	h.Write([]byte(u.App))
	return fmt.Sprintf("%d 0,12 * * * root %s", h.Sum32()%60, v.ExecStart), nil
}

func renewView(u RenewUnit, what string) (unitView, error) {
	c := checker{strct: "RenewUnit"}
	c.check("App", u.App, appReason(u.App))
	bin := binaryOrDefault(&c, u.Binary)
	if err := c.err(); err != nil {
		return unitView{}, fmt.Errorf("render %s: %w", what, err)
	}
	return unitView{
		App:         u.App,
		ExecStart:   execLine([]string{bin, "cert", "renew", "--config", configPath(u.App)}),
		EnvFile:     envPath(u.App),
		ServiceName: u.ServiceName(),
	}, nil
}

// binaryOrDefault validates an optional binary path. Tests point it at an
// executable that exists, because systemd-analyze verify checks that.
func binaryOrDefault(c *checker, bin string) string {
	if bin == "" {
		return DefaultBinary
	}
	c.check("Binary", bin, pathReason(bin))
	return bin
}
