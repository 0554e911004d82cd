package cmd

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision"
)

// statusJSON is `cert status --output json` as a script reads it.
type statusJSON struct {
	Certificates []struct {
		App         string    `json:"app"`
		Config      string    `json:"config"`
		Name        string    `json:"name"`
		Path        string    `json:"path"`
		Installed   bool      `json:"installed"`
		Domains     []string  `json:"domains"`
		Due         bool      `json:"due"`
		NextRenewal time.Time `json:"next_renewal"`
		Detail      string    `json:"detail"`
		ARIWindow   []string  `json:"ari_window"`
		LastResult  string    `json:"last_result"`
		NextAttempt time.Time `json:"next_attempt"`
		Error       string    `json:"error"`
	} `json:"certificates"`
}

// TestCertStatusAll: one block (text) or entry (JSON) per app, sorted; a
// broken config is shown with its file and line and the others are still
// shown; nothing is contacted.
func TestCertStatusAll(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	broken := h.config("beta", "beta", "bogus = 1")
	h.backingOff("delta")
	h.config("gamma", "gamma", "") // no certificate yet
	h.mkdir("/etc/myapp/local-ca")

	code, stdout, stderr := h.run("cert", "status", "--all")
	if code != 3 {
		t.Errorf("exit %d, want 3 (one of four apps unreadable)\n%s", code, stderr)
	}
	blocks := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n\n")
	if len(blocks) != 4 {
		t.Fatalf("want 4 blocks separated by blank lines, got:\n%s", stdout)
	}
	for i, want := range [][]string{
		{"alpha.test\n", "  domains:       alpha.test\n", "  decision:      not due: ", "  CA window:     "},
		{"beta\n", "  error:         " + broken + ":3:1: bogus: unknown key\n", "hint: "},
		{"delta.test\n", "  last result:   failed at ", ": connection refused\n", "  backing off:   next attempt after "},
		{"gamma.test: no certificate at " + h.root + "/etc/myapp/gamma/certs/gamma.test/fullchain.pem"},
	} {
		if !strings.HasPrefix(blocks[i], want[0]) {
			t.Errorf("block %d starts %q, want %q", i, blocks[i], want[0])
		}
		for _, w := range want[1:] {
			if !strings.Contains(blocks[i], w) {
				t.Errorf("block %d lacks %q:\n%s", i, w, blocks[i])
			}
		}
	}
	if !strings.Contains(stderr, "myapp: 1 of 4 apps failed; first: "+broken+":3:1: ") {
		t.Errorf("stderr: %q", stderr)
	}

	code, stdout, _ = h.run("cert", "status", "--all", "--output", "json")
	if code != 3 {
		t.Errorf("--output json: exit %d, want 3", code)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(s.Certificates) != 4 {
		t.Fatalf("want 4 entries, got %s", stdout)
	}
	a, b, d, g := s.Certificates[0], s.Certificates[1], s.Certificates[2], s.Certificates[3]
	if a.App != "alpha" || a.Config != h.root+"/etc/myapp/alpha/myapp.toml" || a.Name != "alpha.test" || !a.Installed || a.Due ||
		a.NextRenewal.IsZero() || len(a.ARIWindow) != 2 || a.Error != "" {
		t.Errorf("alpha: %+v", a)
	}
	if b.App != "beta" || b.Config != broken || b.Installed || !strings.HasPrefix(b.Error, broken+":3:1: ") {
		t.Errorf("beta: %+v", b)
	}
	if d.App != "delta" || !d.Installed || !d.Due || d.LastResult != "failed" || d.NextAttempt.IsZero() || d.Error != "" {
		t.Errorf("delta: %+v", d)
	}
	if g.App != "gamma" || g.Installed || !g.Due || g.Error != "" || !strings.HasSuffix(g.Path, "/etc/myapp/gamma/certs/gamma.test/fullchain.pem") {
		t.Errorf("gamma: %+v", g)
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests, want 0", n)
	}
}

// TestCertStatusAllOK: every app readable is exit 0, whether due or not.
func TestCertStatusAllOK(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	h.backingOff("beta")
	code, stdout, stderr := h.run("cert", "status", "--all")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "alpha.test\n") || !strings.Contains(stdout, "\n\nbeta.test\n") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestCertStatusDamagedAndMissing: a chain whose key is gone is shown as
// due (cert renew replaces it), not "not due"; an app without a
// certificate still shows its last failure and backoff, its multi-line
// error indented.
func TestCertStatusDamagedAndMissing(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	p := h.root + "/etc/myapp/alpha/certs/alpha.test/privkey.pem"
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	h.config("beta", "beta", "")
	now := time.Now()
	h.state("beta", provision.CertState{LastAttempt: now.Add(-time.Minute), LastResult: "failed",
		LastError: "preflight: the CA would fail to validate:\n  beta.test: no A or AAAA record", Failures: 1, NextAttempt: now.Add(30 * time.Minute)})

	code, stdout, stderr := h.run("cert", "status", "--all", "--output", "json")
	var st statusJSON
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != 0 || len(st.Certificates) != 2 {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if a := st.Certificates[0]; !a.Installed || !a.Due || !strings.Contains(a.Detail, "no private key") {
		t.Errorf("alpha without its key: installed %v due %v detail %q, want due naming the missing key", a.Installed, a.Due, a.Detail)
	}
	_, stdout, _ = h.run("cert", "status", "--all")
	if !strings.Contains(stdout, "beta.test: no certificate at ") ||
		!strings.Contains(stdout, "  last result:   failed at ") ||
		!strings.Contains(stdout, "\n                   beta.test: no A or AAAA record\n") ||
		!strings.Contains(stdout, "  backing off:   next attempt after ") {
		t.Errorf("text status:\n%s", stdout)
	}
}
