package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stop shuts the container down (SIGTERM to systemd-nspawn, which powers the
// container off), kills its process tree if that takes longer than 30 s, and
// removes its directory. It is safe to call more than once.
func (m *Machine) Stop() error {
	m.stopOnce.Do(func() { m.stopErr = m.stop() })
	return m.stopErr
}

func (m *Machine) stop() error {
	if m.cmd != nil && m.cmd.Process != nil {
		pid := m.cmd.Process.Pid
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			// Killing the container's init ends its whole PID namespace.
			for _, p := range descendants(pid) {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			select {
			case <-m.done:
			case <-time.After(15 * time.Second):
				return fmt.Errorf("stop %s: systemd-nspawn (pid %d) did not exit; %s left in place", m.Name, pid, m.dir)
			}
		}
	}
	if err := os.RemoveAll(m.dir); err != nil {
		return fmt.Errorf("stop %s: remove %s: %w", m.Name, m.dir, err)
	}
	return nil
}

// removeStale deletes the directories of earlier machines whose
// systemd-nspawn is gone (a test binary killed before Stop): each holds a
// 300 MB rootfs. Directories without a pid file are left alone.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "myapp-host-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "nspawn.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasSuffix(exe, "systemd-nspawn") {
			continue // still running
		}
		_ = os.RemoveAll(d)
	}
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parens.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
