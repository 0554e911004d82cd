package provision

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/provision/host"
)

func testTarget(t *testing.T, h host.Host, extra string, env map[string]string) *Target {
	t.Helper()
	cfg, err := config.Parse("/p/myapp.toml", []byte(`app = "shop"
domains = ["shop.example.com"]
`+extra), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Target{Host: h, Cfg: cfg, Paths: PathsFor("shop", "shop.example.com"),
		Getenv: func(k string) string { return env[k] }, Facts: Facts{NginxVersion: "1.22.1", Systemd: true}}
}

func apply(t *testing.T, tg *Target, s Step) *Change {
	t.Helper()
	c, err := s.Plan(context.Background(), tg)
	if err != nil {
		t.Fatalf("%s: plan: %v", s.Name(), err)
	}
	if c != nil && c.Skip == "" {
		if err := applyChange(context.Background(), tg.Host, c); err != nil {
			t.Fatalf("%s: apply: %v", s.Name(), err)
		}
	}
	return c
}

func TestDotEnvKeepsSecretAndIsIdempotent(t *testing.T) {
	h := newFakeHost(t)
	tg := testTarget(t, h, "[env]\nDB_URL = \"${DB_URL}\"\nSTRIPE = \"${STRIPE}\"\n", map[string]string{"STRIPE": "sk_live_1"})
	c := apply(t, tg, dotEnv{})
	if c == nil || !c.Files[0].Secret || c.Files[0].Mode != 0o600 {
		t.Fatalf("first run: %+v", c)
	}
	env := envfile.Parse(h.files["/etc/myapp/shop/.env"].Data)
	secret, _ := env.Get("SECRET_KEY")
	db, _ := env.Get("DB_URL")
	if len(secret) < 32 || db != "sqlite:////var/lib/myapp/shop/app.db" {
		t.Fatalf("env: secret %d chars, DB_URL %q", len(secret), db)
	}
	if c := apply(t, tg, dotEnv{}); c != nil {
		t.Fatalf("second run changed: %s", c.Detail)
	}
	// A CI run without the variable keeps the host's value.
	tg.Getenv = func(string) string { return "" }
	if c := apply(t, tg, dotEnv{}); c != nil {
		t.Fatalf("run without STRIPE changed: %s", c.Detail)
	}
	after, _ := envfile.Parse(h.files["/etc/myapp/shop/.env"].Data).Get("SECRET_KEY")
	if after != secret {
		t.Fatal("SECRET_KEY was regenerated")
	}
}

func TestSiteRestoredWhenNginxRejectsIt(t *testing.T) {
	h := newFakeHost(t)
	old := []byte("# the operator's working site\n")
	h.files["/etc/nginx/sites-available/shop.conf"] = host.FileSpec{Path: "/etc/nginx/sites-available/shop.conf", Data: old, Mode: 0o644, Owner: "root:root"}
	h.links["/etc/nginx/sites-enabled/shop.conf"] = "/etc/nginx/sites-available/shop.conf"
	h.run = func(argv []string) (string, error, bool) {
		if argv[0] == "nginx" && argv[1] == "-t" {
			return "", &host.ExitError{Argv: argv, Code: 1, Stderr: "nginx: [emerg] unknown directive"}, true
		}
		return "", nil, false
	}
	tg := testTarget(t, h, "", nil)
	c, err := nginxSite{name: "nginx site"}.Plan(context.Background(), tg)
	if err != nil || c == nil {
		t.Fatalf("plan: %v %v", c, err)
	}
	err = applyChange(context.Background(), h, c)
	if err == nil || !strings.Contains(err.Error(), "previous site restored") || !strings.Contains(err.Error(), "unknown directive") {
		t.Fatalf("apply: %v", err)
	}
	if got := h.files["/etc/nginx/sites-available/shop.conf"].Data; string(got) != string(old) {
		t.Fatalf("site not restored:\n%s", got)
	}
	for _, r := range h.ran {
		if strings.HasPrefix(r, "systemctl") {
			t.Fatalf("nginx reloaded after a failed test: %v", h.ran)
		}
	}
}

func TestSiteBootstrapUntilCertificate(t *testing.T) {
	h := newFakeHost(t)
	h.run = func(argv []string) (string, error, bool) {
		return "", nil, argv[0] == "nginx" || argv[0] == "systemctl"
	}
	tg := testTarget(t, h, "", nil)
	apply(t, tg, nginxSite{name: "nginx site"})
	site := string(h.files["/etc/nginx/sites-available/shop.conf"].Data)
	if strings.Contains(site, "ssl_certificate") {
		t.Fatal("bootstrap site references a certificate that does not exist")
	}
	if c := apply(t, tg, nginxSite{name: "nginx site"}); c != nil {
		t.Fatal("second plan not unchanged")
	}
	tg.certReady = true
	apply(t, tg, nginxSite{name: "https site"})
	if site := string(h.files["/etc/nginx/sites-available/shop.conf"].Data); !strings.Contains(site, "ssl_certificate /etc/myapp/shop/certs/shop.example.com/fullchain.pem") {
		t.Fatalf("https site:\n%s", site)
	}
}

func TestDryRunPlanChangesNothing(t *testing.T) {
	h := newFakeHost(t)
	h.run = func(argv []string) (string, error, bool) {
		switch argv[0] {
		case "getent", "systemctl":
			return "", &host.ExitError{Argv: argv, Code: 2}, true
		case "sh":
			return "", nil, true
		}
		return "", nil, false
	}
	tg := testTarget(t, h, "", nil)
	tg.DryRun, tg.Binary, tg.Issuer = true, "/proc/self/exe", fakeIssuer{t}
	tg.Facts.Arch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[goArchForTest()]
	res := Apply(context.Background(), tg, InitSteps(), Discard)
	if !res.OK {
		t.Fatalf("dry run failed: %v", res.Err)
	}
	if len(h.files) != 0 || len(h.links) != 0 || len(h.dirs) != 0 {
		t.Fatalf("dry run wrote: files %v links %v dirs %v", h.files, h.links, h.dirs)
	}
	for _, r := range h.ran {
		if !strings.HasPrefix(r, "sh -c") && !strings.HasPrefix(r, "getent") && !strings.HasPrefix(r, "systemctl is-") {
			t.Errorf("dry run ran a changing command: %s", r)
		}
	}
}

func goArchForTest() string { return goArch(runtimeGOARCH) }

// TestNoSystemdFailsBeforeAnyChange: on a host without systemd init stops
// at its first step, saying why, with nothing written or run.
func TestNoSystemdFailsBeforeAnyChange(t *testing.T) {
	h := newFakeHost(t)
	h.run = func(argv []string) (string, error, bool) { return "", nil, true }
	tg := testTarget(t, h, "", nil)
	tg.Binary, tg.Issuer, tg.Facts.Systemd = "/proc/self/exe", fakeIssuer{t}, false

	res := Apply(context.Background(), tg, InitSteps(), Discard)
	if res.OK || !errors.Is(res.Err, errNoSystemd) || !strings.Contains(res.Err.Error(), "systemd is not running") {
		t.Fatalf("init without systemd: ok=%v err=%v", res.OK, res.Err)
	}
	if len(h.files) != 0 || len(h.links) != 0 || len(h.dirs) != 0 || len(h.ran) != 0 {
		t.Fatalf("changed the host first: files %v links %v dirs %v ran %v", h.files, h.links, h.dirs, h.ran)
	}
}

// TestStepErrorNamesHostAndStepOnce: an error that already begins with its
// host and step (as host.Dial's do) is not prefixed with them again.
func TestStepErrorNamesHostAndStepOnce(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("web1: connect: read identity file: no such file"), "web1: connect: read identity file: no such file"},
		{errors.New("read identity file: no such file"), "web1: connect: read identity file: no such file"},
		{errors.New("web2: connect: refused"), "web1: connect: web2: connect: refused"},
	} {
		if got := (&StepError{Host: "web1", Step: "connect", Err: tc.err}).Error(); got != tc.want {
			t.Errorf("StepError(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
