package templates

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// writeUnits renders all four units for app "shop" into a temp dir, with
// the test binary standing in for myapp and the backend: systemd-analyze
// verify checks that ExecStart's program exists and is executable.
func writeUnits(t *testing.T, apiArgs ...string) (dir string, paths []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if r := pathReason(exe); r != "" {
		t.Skipf("test binary path %q cannot go into a unit: %s", exe, r)
	}
	renew := RenewUnit{App: "shop", Binary: exe}
	api := APIUnit{App: "shop", Argv: append([]string{exe}, apiArgs...)}
	dir = t.TempDir()
	for _, u := range []struct {
		name   string
		render func() ([]byte, error)
	}{
		{"shop-auth.service", func() ([]byte, error) {
			return RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1:9000", Binary: exe})
		}},
		{api.Name(), func() ([]byte, error) { return RenderAPIUnit(api) }},
		{renew.ServiceName(), func() ([]byte, error) { return RenderRenewService(renew) }},
		{renew.TimerName(), func() ([]byte, error) { return RenderRenewTimer(renew) }},
	} {
		data, err := u.render()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, u.name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

// TestSystemdVerify loads the rendered units with systemd's own parser.
// systemd-analyze verify works here without systemd as PID 1 (checked on
// Debian 12, systemd 252). It exits 0 on unknown keys and bad values, which
// it only prints, so any output at all is a failure.
func TestSystemdVerify(t *testing.T) {
	bin := requireTool(t, "systemd-analyze")
	_, paths := writeUnits(t, "main:app", "--port", "8000")
	out, err := exec.Command(bin, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdVerifyCatchesMistakes is the control for TestSystemdVerify:
// the same check must fail on a unit with an unknown key.
func TestSystemdVerifyCatchesMistakes(t *testing.T) {
	bin := requireTool(t, "systemd-analyze")
	_, paths := writeUnits(t)
	data, _ := os.ReadFile(paths[0])
	bad := strings.Replace(string(data), "[Service]\n", "[Service]\nProtectSystm=strict\n", 1)
	if err := os.WriteFile(paths[0], []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", "--man=no", paths[0]).CombinedOutput()
	if err == nil && len(strings.TrimSpace(string(out))) == 0 {
		t.Fatal("systemd-analyze verify said nothing about an unknown key")
	}
}

var commandLineRe = regexp.MustCompile(`(?m)^\s*Command Line: (.*)$`)

// TestSystemdParsesExecStart proves the quoting against systemd's parser:
// its debug dump of the loaded unit shows ExecStart as argv, quoted shell
// style. "$" is still doubled there because systemd expands variables only
// when it starts the process ("$$" then becomes "$").
func TestSystemdParsesExecStart(t *testing.T) {
	bin := requireTool(t, "systemd-analyze")
	args := []string{"two words", "", ";", `a"b\c`, "it's", "100%", "$HOME", "é", "--flag=x,y"}
	_, paths := writeUnits(t, args...)
	cmd := exec.Command(bin, "verify", "--man=no", paths[1])
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	out, _ := cmd.CombinedOutput()
	m := commandLineRe.FindSubmatch(out)
	if m == nil {
		t.Skipf("this systemd-analyze prints no unit dump with Command Line (systemd 252 does):\n%.2000s", out)
	}
	t.Logf("systemd: %s", m[1])
	// The dump quotes shell style (escaping "$" inside double quotes), which
	// SplitCommand reads.
	got, err := SplitCommand(string(m[1]))
	if err != nil {
		t.Fatalf("cannot read systemd's dump %q: %v", m[1], err)
	}
	exe, _ := os.Executable()
	want := []string{exe}
	for _, a := range args {
		want = append(want, strings.ReplaceAll(a, "$", "$$"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("systemd parsed ExecStart as\n%q\nwant\n%q", got, want)
	}
}
