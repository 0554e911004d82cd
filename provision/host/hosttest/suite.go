// Package hosttest is the conformance suite for host.Host: every
// implementation runs it, so that steps written against the interface
// behave the same locally and over SSH. It checks behaviour through the
// interface only, against a real machine.
//
// The machine needs a POSIX shell with GNU coreutils (printf, cat, ls, id,
// mkdir, sleep), and must reach the test process on 127.0.0.1 (for Dial):
// both hold for Local and for an sshd on the machine running the tests.
package hosttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// Suite describes the implementation under test.
type Suite struct {
	// NewHost returns a ready Host; the suite closes it. It is called once
	// per test, from parallel tests.
	NewHost func(t *testing.T) host.Host
	// Root is an existing directory on the host that the suite may fill;
	// every test works in a subdirectory of its own.
	Root string
	// Owner is a non-root "user:group" known on the host, for ownership
	// checks. Empty means nobody's, as the host reports it.
	Owner string
}

// Run runs the suite against newHost, working under root on the host.
func Run(t *testing.T, newHost func(t *testing.T) host.Host, root string) {
	Suite{NewHost: newHost, Root: root}.Run(t)
}

// env is what a single test gets: a host, its own directory there and a
// context that ends with the test.
type env struct {
	h     host.Host
	dir   string
	owner string // "" when the host has no usable non-root owner
	ctx   context.Context
}

type test struct {
	name string
	fn   func(t *testing.T, e env)
}

// Run runs every test of the suite in parallel subtests.
func (s Suite) Run(t *testing.T) {
	var tests []test
	tests = append(tests, runTests...)
	tests = append(tests, fileTests...)
	tests = append(tests, stressTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			h := s.NewHost(t)
			t.Cleanup(func() {
				if err := h.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			e := env{h: h, dir: s.Root + "/" + tt.name, ctx: ctx}
			mustRun(t, e, "mkdir", "-p", "--", e.dir)
			e.owner = s.owner(t, e)
			tt.fn(t, e)
		})
	}
}

// owner returns Suite.Owner, or nobody's user and login group.
func (s Suite) owner(t *testing.T, e env) string {
	if s.Owner != "" {
		return s.Owner
	}
	u, err1 := e.h.Run(e.ctx, host.Cmd{Argv: []string{"id", "-un", "nobody"}})
	g, err2 := e.h.Run(e.ctx, host.Cmd{Argv: []string{"id", "-gn", "nobody"}})
	if err1 != nil || err2 != nil {
		t.Logf("no user nobody on the host, ownership is only checked for root: %v %v", err1, err2)
		return ""
	}
	return strings.TrimSpace(string(u)) + ":" + strings.TrimSpace(string(g))
}

func mustRun(t *testing.T, e env, argv ...string) string {
	t.Helper()
	out, err := e.h.Run(e.ctx, host.Cmd{Argv: argv})
	if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return string(out)
}

func mustWrite(t *testing.T, e env, f host.FileSpec) {
	t.Helper()
	if err := e.h.WriteFile(e.ctx, f); err != nil {
		t.Fatalf("WriteFile(%s): %v", f.Path, err)
	}
}

func mustStat(t *testing.T, e env, path string) host.FileInfo {
	t.Helper()
	fi, err := e.h.Stat(e.ctx, path)
	if err != nil {
		t.Fatalf("Stat(%s): %v", path, err)
	}
	return fi
}

// wantNamed checks that an error names the host, as the interface promises.
func wantNamed(t *testing.T, e env, err error) {
	t.Helper()
	if err != nil && !strings.HasPrefix(err.Error(), e.h.Name()+": ") {
		t.Errorf("error %q does not start with the host name %q", err, e.h.Name())
	}
}
