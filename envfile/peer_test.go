package envfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The real readers: Debian's python3-dotenv under /usr/bin/python3 (the
// python3 first on PATH may be another build without it), and systemd 252
// itself. systemd reads EnvironmentFile= only in PID 1, and this machine
// (like CI) has no systemd as PID 1, so readWithSystemd boots the host's
// own /usr as a throwaway container (systemd-nspawn --volatile=yes: a
// tmpfs root, /usr read-only) whose only job is one oneshot unit per file
// with EnvironmentFile= and ExecStart=env -0; it exits when they are done
// (about a second). Both need root and packages that scripts/test.sh
// installs; without them these tests skip, but fail under CI=true.

const python = "/usr/bin/python3"

func requirePeer(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s is not usable: %v", what, err)
	}
	t.Skipf("%s is not usable: %v", what, err)
}

// readWithDotenv returns dotenv_values() of each file (nil for None).
func readWithDotenv(t *testing.T, files []string, interpolate bool) []map[string]*string {
	t.Helper()
	err := exec.Command(python, "-c", "import dotenv").Run()
	requirePeer(t, python+" with python-dotenv (apt-get install python3-dotenv)", err)
	dir := t.TempDir()
	args := []string{"-c", `import json, sys
from dotenv import dotenv_values
json.dump([dotenv_values(p, interpolate=sys.argv[1] == "1") for p in sys.argv[2:]], sys.stdout)`, "0"}
	if interpolate {
		args[2] = "1"
	}
	for i, f := range files {
		p := filepath.Join(dir, fmt.Sprintf("%d.env", i))
		if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.Command(python, args...)
	cmd.Env = []string{"PEER_VAR=from-environment"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python-dotenv: %v\n%s", err, stderr.String())
	}
	var got []map[string]*string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python-dotenv output: %v\n%s", err, out)
	}
	return got
}

// readWithSystemd returns the environment systemd gives a unit with
// EnvironmentFile= each file, less what it sets by itself (nil when the
// unit failed, e.g. systemd refused the file).
func readWithSystemd(t *testing.T, files []string) []map[string]string {
	t.Helper()
	err := func() error {
		if os.Geteuid() != 0 {
			return fmt.Errorf("not root")
		}
		_, err := exec.LookPath("systemd-nspawn")
		return err
	}()
	requirePeer(t, "systemd-nspawn (root; apt-get install systemd-container)", err)

	dir := t.TempDir()
	units, data := filepath.Join(dir, "units"), filepath.Join(dir, "check")
	for _, d := range []string{units, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files = append([]string{""}, files...) // instance 0: what systemd sets by itself
	var wants []string
	for i, f := range files {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("in-%d", i)), []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
		wants = append(wants, fmt.Sprintf("envcheck@%d.service", i))
	}
	unitFiles := map[string]string{
		"envcheck@.service": `[Service]
Type=oneshot
EnvironmentFile=/check/in-%i
ExecStart=/usr/bin/env -0
StandardOutput=file:/check/out-%i
`,
		// The unit the container boots into: it waits for the others, then
		// the manager exits and the container with it.
		"envcheck.service": fmt.Sprintf(`[Unit]
Wants=%[1]s
After=%[1]s
SuccessAction=exit-force
FailureAction=exit-force
[Service]
Type=oneshot
ExecStart=/usr/bin/true
`, strings.Join(wants, " ")),
	}
	for name, text := range unitFiles {
		if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The empty /etc looks like a first boot, whose wizard would wait for
	// a key press.
	if err := os.Symlink("/dev/null", filepath.Join(units, "systemd-firstboot.service")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-nspawn", "--quiet", "--directory=/", "--volatile=yes",
		"--register=no", "--keep-unit", "--private-network",
		fmt.Sprintf("--machine=myapp-envfile-%d", os.Getpid()),
		"--bind-ro="+units+":/etc/systemd/system", "--bind="+data+":/check",
		"--boot", "--", "--unit=envcheck.service", "--log-target=console", "--log-color=no")
	console, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-nspawn: %v\n%s", err, console)
	}
	var got []map[string]string
	for i := range files {
		out, err := os.ReadFile(filepath.Join(data, fmt.Sprintf("out-%d", i)))
		if err != nil {
			got = append(got, nil)
			continue
		}
		env := map[string]string{}
		for _, kv := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		got = append(got, env)
	}
	if got[0] == nil {
		t.Fatalf("systemd-nspawn: the unit reading an empty file failed; console:\n%s", console)
	}
	for _, env := range got[1:] {
		for k := range got[0] {
			delete(env, k)
		}
	}
	return got[1:]
}

// TestWriterAgainstPeers writes tricky values with Merge and checks that
// python-dotenv (interpolating, as the backend does) and systemd both read
// exactly each value. For each refused value it checks the refusal is
// needed: no plain form (unquoted, '...', "..." with \ and " escaped)
// is read right by both when it sits among quoted neighbours.
func TestWriterAgainstPeers(t *testing.T) {
	accepted := []string{
		"", "plain", "mysql+pymysql://u:p@localhost:3306/db", "a=b=c", "=",
		"has space", " lead and trail ", "tab\there", "ctl\x01\x1f\x7f",
		"dollar$HOME $5 $", "${ open", "$ {PEER_VAR}", "a#b", " #not a comment", "#start", "semi;colon",
		`q"uote`, `"`, "`cmd`", "ünïcødé ✓ \u00a0nbsp \u2028sep \x1csep",
		"line1\nline2", "trailing newline\n", "\nleading newline", "\n", pem,
		"it's", "'", "it's $5 `x` \"q\"", `back\slash`, `\\double`, `\"`, `\n not a newline`,
		`\'`, `it's a\b`, "it's\nmulti\nline", "x\\\ny", `\$HOME`, "\\`",
	}
	refused := []string{
		"pa${PEER_VAR}ss", "${PEER_VAR:-d}", "'${PEER_VAR}'", "${}",
		"l1\r\nl2", "cr\r", `C:\dir\`, `it's\`, `\`,
	}

	d := Desired{Set: map[string]string{}}
	for i, v := range accepted {
		d.Set[fmt.Sprintf("K%02d", i)] = v
	}
	merged, _, err := Merge([]byte("# tricky values\nFIRST=1\n"), d)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{string(merged)}
	type candidate struct{ value, form string }
	var candidates []candidate
	for _, v := range refused {
		if _, _, err := Merge(nil, Desired{Set: map[string]string{"K": v}}); err == nil {
			t.Errorf("%q was not refused", v)
		}
		for _, form := range []string{v, "'" + v + "'", `"` + dqEscaper.Replace(v) + `"`} {
			candidates = append(candidates, candidate{v, form})
			files = append(files, "BEFORE='b'\nK="+form+"\nAFTER='a'\nAFTER2=\"a2\"\n")
		}
	}

	dot := readWithDotenv(t, files, true)
	sd := readWithSystemd(t, files)

	if sd[0] == nil {
		t.Fatalf("systemd failed to read the merged file:\n%s", merged)
	}
	for i, v := range accepted {
		k := fmt.Sprintf("K%02d", i)
		if got := dot[0][k]; got == nil || *got != v {
			t.Errorf("python-dotenv reads %s as %s, want %q", k, show(got), v)
		}
		if got, ok := sd[0][k]; !ok || got != v {
			t.Errorf("systemd reads %s as %q (set %v), want %q", k, got, ok, v)
		}
	}
	if t.Failed() {
		t.Logf("merged file:\n%s", merged)
	}

	for i, c := range candidates {
		dv, sv := dot[i+1], sd[i+1]
		dotOK, sdOK := true, sv != nil
		for k, v := range map[string]string{"BEFORE": "b", "K": c.value, "AFTER": "a", "AFTER2": "a2"} {
			dotOK = dotOK && dv[k] != nil && *dv[k] == v
			sdOK = sdOK && sv[k] == v
		}
		if dotOK && sdOK {
			t.Errorf("refused %q, but both read K=%s right", c.value, c.form)
		}
	}
}

// parserCorpus are existing files the parsers must read as the real
// readers do: the tester's cases and the corners of both grammars.
var parserCorpus = []string{
	"# app\nexport A=1\nPEM=\"" + pem + "\"\nQUOTED='a b' # comment\nDQ=\"x\\ty\"\nPLAIN=v # note\nbad-key=topsecret\nDUP=1\nDUP=2\n",
	`SECRET_KEY="0123456789abcdef" # generated` + "\n",
	"A=b#c\nB=b\t#c\nC=b  \t\nD \t= \t d e \nE=\nF=''\nG\nH=1\nH\n  I=1\n'J'=1\n",
	`DQ="x\ty\n\"q\" \\ \$ \a\b\f\r\v \z"` + "\nSQ='it\\'s \\\\ \\n'\n",
	"export A=1\nexport \t B=2\nexportC=3\nexport=4\nexport #x\n",
	"A=1\r\nB='x y'\r\nC=\"l1\r\nl2\"\r\nD='s1\rs2'\r\n",
	"A=\"x\nB=2\n",
	"A='x'y\nB=2\n",
	"A=x\\\nB=1\n",
	"A=\"x\\\ny\"\nB=\"p\\\\\"\nC=\"q\"\nD=d\n",
	"A='x\\'\n",
	"#c\\\nA=1\n; B=2\nC=3",
	"A=${HOME}\nB='${PEER_VAR}'\nC=$PEER_VAR\n",
	"A=\u00a0x\u00a0 #c\nB=x\u2028#c\n\x1cC=1\n",
	"=1\n#\n  \n\n'unclosed\nA=1\n\"B\"=2\n",
}

// TestParsersMatchPeers checks the python-dotenv port (without
// interpolation, which Get leaves out) and the systemd port against the real
// readers on parserCorpus.
func TestParsersMatchPeers(t *testing.T) {
	dot := readWithDotenv(t, parserCorpus, false)
	// python-dotenv cannot decode invalid UTF-8 at all; systemd fails the
	// unit when a key or value has it or a noncharacter, not for a comment.
	invalid := []string{"A=1\nB=\xff\n", "#\xff\nA=1\n", "A=a\ufffeb\n", "A='\ufdd0'\n",
		"A=\"\U0010ffff\"\n", "A=a\ufeffb\n", "#\uffff\nA=1\n"}
	sd := readWithSystemd(t, append(slices.Clone(parserCorpus), invalid...))
	for i, file := range invalid {
		env, ok := systemdEnv(file)
		if real := sd[len(parserCorpus)+i]; ok != (real != nil) || ok && !maps.Equal(env, real) {
			t.Errorf("file %q: port of systemd reads %q (ok %v), systemd %q", file, env, ok, real)
		}
	}
	for i, file := range parserCorpus {
		want := map[string]string{}
		for k, v := range dot[i] {
			want[k] = show(v)
		}
		got := map[string]string{}
		for _, s := range parseDotenv(file) {
			switch s.kind {
			case kindBinding:
				got[s.key] = show(&s.value)
			case kindNoValue:
				got[s.key] = show(nil)
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("file %q:\nport of python-dotenv reads %v\npython-dotenv reads        %v", file, got, want)
		}
		gotSD, ok := systemdEnv(file)
		if !ok || !maps.Equal(gotSD, sd[i]) {
			t.Errorf("file %q:\nport of systemd reads %q\nsystemd reads         %q", file, gotSD, sd[i])
		}
	}
}

func show(v *string) string {
	if v == nil {
		return "None"
	}
	return fmt.Sprintf("%q", *v)
}
