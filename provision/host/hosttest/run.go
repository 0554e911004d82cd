package hosttest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// nasty are arguments that a careless transport would let a shell
// interpret; they must arrive byte for byte.
var nasty = []string{
	"", " ", "a b", "'", `"`, `'"'"'`, "$(id)", "`id`", "$HOME", "${HOME}",
	"a\nb", "\n", "\t", ";", "; echo pwned", "&&", "|", ">out", "<in", "*", "?",
	"~", "~root", "a=b", "=cmd", "!", "!!", "#c", "{a,b}", "\\", "\\'", "--",
	"-n", "-e", "%s", "é✓", "\x01\x7f", "'$(id)'", "a'b\"c$d`e\\f",
}

var runTests = []test{
	{"RunStdout", func(t *testing.T, e env) {
		if got := mustRun(t, e, "printf", "%s-%s", "a", "b"); got != "a-b" {
			t.Errorf("stdout = %q, want a-b", got)
		}
	}},
	{"RunStdin", func(t *testing.T, e env) {
		in := bytes.Repeat(allBytes(), 4096) // 1 MiB, every byte value
		out, err := e.h.Run(e.ctx, host.Cmd{Argv: []string{"cat"}, Stdin: bytes.NewReader(in)})
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("cat of %d bytes: got %d bytes, equal=%v, err %v", len(in), len(out), bytes.Equal(out, in), err)
		}
	}},
	{"RunEnv", func(t *testing.T, e env) {
		val := "x y'$(id)\"\n"
		out, err := e.h.Run(e.ctx, host.Cmd{
			Argv: []string{"sh", "-c", `printf '%s|%s' "$MYAPP_A" "$MYAPP_B"`},
			Env:  []string{"MYAPP_A=1", "MYAPP_B=" + val},
		})
		if want := "1|" + val; err != nil || string(out) != want {
			t.Errorf("env: got %q, %v; want %q", out, err, want)
		}
	}},
	{"RunArgv", func(t *testing.T, e env) {
		out := mustRun(t, e, append([]string{"printf", `%s\0`}, nasty...)...)
		got := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
		if !slices.Equal(got, nasty) {
			t.Errorf("arguments changed on the way:\ngot  %q\nwant %q", got, nasty)
		}
	}},
	{"RunAsRoot", func(t *testing.T, e env) {
		if got := mustRun(t, e, "id", "-u"); got != "0\n" {
			t.Errorf("id -u = %q, want 0: commands must run as root", got)
		}
	}},
	{"RunExitError", func(t *testing.T, e env) {
		out, err := e.h.Run(e.ctx, host.Cmd{Argv: []string{"sh", "-c", "echo out; echo oops >&2; exit 3", "s3cret"}})
		var xe *host.ExitError
		if !errors.As(err, &xe) {
			t.Fatalf("err = %v, want an *ExitError", err)
		}
		if xe.Code != 3 || xe.Stderr != "oops\n" || string(out) != "out\n" {
			t.Errorf("got code %d, stderr %q, stdout %q; want 3, \"oops\\n\", \"out\\n\"", xe.Code, xe.Stderr, out)
		}
		wantNamed(t, e, err)
		if msg := err.Error(); !strings.Contains(msg, "run sh") || !strings.Contains(msg, "oops") || strings.Contains(msg, "s3cret") {
			t.Errorf("error %q should name the command and its stderr but no argument", msg)
		}
	}},
	{"RunNotFound", func(t *testing.T, e env) {
		_, err := e.h.Run(e.ctx, host.Cmd{Argv: []string{e.dir + "/no such command"}})
		if err == nil {
			t.Fatal("running a missing command succeeded")
		}
		wantNamed(t, e, err)
	}},
	{"RunCancel", func(t *testing.T, e env) {
		ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := e.h.Run(ctx, host.Cmd{Argv: []string{"sleep", "20"}})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Run returned %s after its context ended", d)
		}
	}},
	{"RunInvalid", func(t *testing.T, e env) {
		for _, c := range []host.Cmd{{}, {Argv: []string{"true"}, Env: []string{"NOT A VAR"}}} {
			if _, err := e.h.Run(e.ctx, c); err == nil {
				t.Errorf("Run(%q, env %q) succeeded, want an error", c.Argv, c.Env)
			}
		}
	}},
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
