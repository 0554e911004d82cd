package host_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// TestSSHOneConnection checks that calls share one connection: the client
// port sshd reports stays the same.
func TestSSHOneConnection(t *testing.T) {
	isolate(t)
	d := startSSHD(t)
	h := dial(t, d.config())
	var seen []string
	for range 3 {
		out, err := h.Run(t.Context(), host.Cmd{Argv: []string{"sh", "-c", `echo "$SSH_CONNECTION"`}})
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, strings.TrimSpace(string(out)))
	}
	if seen[0] == "" || seen[0] != seen[1] || seen[1] != seen[2] {
		t.Errorf("SSH_CONNECTION differs between calls: %q", seen)
	}
}

// TestSSHMaxSessions runs more commands at once than the server allows
// sessions: the extra ones must wait for a free session, not fail.
func TestSSHMaxSessions(t *testing.T) {
	isolate(t)
	d := startSSHD(t, "MaxSessions 2")
	h := dial(t, d.config())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			out, err := h.Run(t.Context(), host.Cmd{Argv: []string{"sh", "-c", "sleep 0.2; echo $0", strconv.Itoa(i)}})
			if err != nil || string(out) != strconv.Itoa(i)+"\n" {
				t.Errorf("run %d = %q, %v", i, out, err)
			}
		})
	}
	wg.Wait()
}

func TestSSHConnectFailures(t *testing.T) {
	isolate(t)
	d := startSSHD(t)

	t.Run("refused", func(t *testing.T) {
		cfg := d.config()
		cfg.Address = "127.0.0.1:" + freePort(t)
		_, err := host.DialSSH(t.Context(), cfg)
		if err == nil || !strings.HasPrefix(err.Error(), "web1: connect to root@127.0.0.1:") {
			t.Errorf("err = %v, want a connect error naming web1", err)
		}
	})

	t.Run("silent server times out", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() { // accept and never say a word
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		cfg := d.config()
		cfg.Address, cfg.ConnectTimeout = l.Addr().String(), 300*time.Millisecond
		start := time.Now()
		_, err = host.DialSSH(t.Context(), cfg)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Errorf("DialSSH = %v after %s, want a timeout after about 300ms", err, time.Since(start))
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := host.DialSSH(ctx, d.config()); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("bad address", func(t *testing.T) {
		for addr, want := range map[string]string{"": "ssh: connect: no address", "deploy@h": "contains a user"} {
			if _, err := host.DialSSH(t.Context(), host.SSHConfig{Address: addr}); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("DialSSH(%q) = %v, want an error with %q", addr, err, want)
			}
		}
	})

	t.Run("closed host", func(t *testing.T) {
		h := dial(t, d.config())
		h.Close()
		_, err := h.Run(t.Context(), host.Cmd{Argv: []string{"true"}})
		if err == nil || !strings.HasPrefix(err.Error(), "web1: run true: ") {
			t.Errorf("Run after Close = %v, want an error naming web1", err)
		}
	})
}

// TestSSHKeepAlive freezes the server side of a connection, as a host that
// vanished would look, and expects the keepalive to turn the next call
// into an error instead of a hang.
func TestSSHKeepAlive(t *testing.T) {
	isolate(t)
	d := startSSHD(t)
	cfg := d.config()
	cfg.KeepAlive = 100 * time.Millisecond
	h := dial(t, cfg)
	if _, err := h.Run(t.Context(), host.Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	// Only the processes of this test's own sshd are stopped.
	frozen := descendants(d.cmd.Process.Pid)
	if len(frozen) == 0 {
		t.Fatal("no sshd process serves the connection")
	}
	for _, pid := range frozen {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range frozen {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := h.Run(ctx, host.Cmd{Argv: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "connection lost: no keepalive reply") {
		t.Errorf("Run on a frozen connection = %v after %s, want connection lost", err, time.Since(start))
	}
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: state, ppid, ...
		_, rest, _ := strings.Cut(string(stat[strings.LastIndexByte(string(stat), ')')+1:]), " ")
		f := strings.Fields(rest)
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(pp int) {
		for p, q := range parent {
			if q == pp {
				out = append(out, p)
				walk(p)
			}
		}
	}
	walk(pid)
	return out
}
