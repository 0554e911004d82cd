package templates

import (
	"strings"
	"testing"
)

func TestRenderUnits(t *testing.T) {
	renew := RenewUnit{App: "shop"}
	for _, tc := range []struct {
		name   string
		render func() ([]byte, error)
	}{
		{"auth", func() ([]byte, error) { return RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1:9000"}) }},
		{"api", func() ([]byte, error) {
			argv, err := SplitCommand(`/var/www/shop/current/.venv/bin/uvicorn main:app --host 127.0.0.1 --port 8000 --log-config "log conf.json"`)
			if err != nil {
				return nil, err
			}
			return RenderAPIUnit(APIUnit{App: "shop", Argv: argv})
		}},
		{"renew-service", func() ([]byte, error) { return RenderRenewService(renew) }},
		{"renew-timer", func() ([]byte, error) { return RenderRenewTimer(renew) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, got)
		})
	}
}

// The requirements of the brief, checked directly rather than only through
// the golden files.
func TestUnitRequirements(t *testing.T) {
	auth, _ := RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1:9000"})
	api, _ := RenderAPIUnit(APIUnit{App: "shop", Argv: []string{"/usr/bin/python3", "-m", "app"}})
	svc, _ := RenderRenewService(RenewUnit{App: "shop"})
	timer, _ := RenderRenewTimer(RenewUnit{App: "shop"})
	hardening := []string{
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
		"ProtectKernelLogs=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"LockPersonality=yes", "SystemCallFilter=@system-service", "\nCapabilityBoundingSet=\n",
		"ReadWritePaths=/var/lib/myapp/shop\n", "EnvironmentFile=/etc/myapp/shop/.env\n",
		"User=myapp\n", "Group=myapp\n", "After=network.target\n", "WantedBy=multi-user.target\n",
	}
	for name, tc := range map[string]struct {
		unit        []byte
		want, never []string
	}{
		"auth": {auth, append([]string{
			"ExecStart=/usr/local/bin/myapp auth serve --config /etc/myapp/shop/myapp.toml --listen 127.0.0.1:9000\n",
			"MemoryDenyWriteExecute=yes", "Restart=on-failure\n",
		}, hardening...), []string{"StateDirectory", "Restart=always"}},
		"api": {api, append([]string{
			"ExecStart=/usr/bin/python3 -m app\n", "WorkingDirectory=/var/www/shop/current\n", "Restart=always\n",
		}, hardening...), []string{"MemoryDenyWriteExecute", "StateDirectory"}},
		"renew service": {svc, []string{
			"Type=oneshot\n", "ExecStart=/usr/local/bin/myapp cert renew --config /etc/myapp/shop/myapp.toml\n",
		}, []string{"User=", "[Install]", "EnvironmentFile="}}, // the .env holds SECRET_KEY: not for the deploy_hook
		"renew timer": {timer, []string{
			"OnCalendar=*-*-* 00,12:00:00\n", "RandomizedDelaySec=1h\n", "Persistent=true\n",
			"Unit=shop-renew.service\n", "WantedBy=timers.target\n",
		}, nil},
	} {
		for _, w := range tc.want {
			if !strings.Contains(string(tc.unit), w) {
				t.Errorf("%s unit lacks %q", name, w)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(string(tc.unit), n) {
				t.Errorf("%s unit contains %q", name, n)
			}
		}
	}
}

func TestUnitNames(t *testing.T) {
	r := RenewUnit{App: "shop"}
	got := []string{AuthUnit{App: "shop"}.Name(), APIUnit{App: "shop"}.Name(), r.ServiceName(), r.TimerName()}
	want := "shop-auth.service shop-api.service shop-renew.service shop-renew.timer"
	if strings.Join(got, " ") != want {
		t.Errorf("names = %q, want %q", got, want)
	}
}

func TestRenewCronLine(t *testing.T) {
	line, err := RenewCronLine(RenewUnit{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, []byte(line+"\n"))
	fields := strings.Fields(line)
	if len(fields) < 7 || fields[1] != "0,12" || fields[5] != "root" || fields[6] != DefaultBinary {
		t.Errorf("not a twice-daily /etc/cron.d line for root: %q", line)
	}
	other, _ := RenewCronLine(RenewUnit{App: "blog"})
	if strings.Fields(other)[0] == fields[0] {
		t.Logf("note: apps shop and blog share minute %s", fields[0])
	}
}
