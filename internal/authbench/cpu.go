package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// placement says where the server and the load client run. An empty CPU
// list leaves a process to the scheduler, on every CPU.
type placement struct {
	name       string // "shared" or "pinned", for the report
	serverCPUs string // taskset list, e.g. "1"
	clientCPUs string // taskset list, e.g. "0"
}

// clientThreads is how many wrk threads use the client's CPUs.
func (p placement) clientThreads() int {
	if p.clientCPUs == "" {
		return runtime.NumCPU()
	}
	return cpuCount(p.clientCPUs)
}

func (p placement) String() string {
	if p.serverCPUs == "" && p.clientCPUs == "" {
		return "server and client share all CPUs"
	}
	return fmt.Sprintf("server on CPU %s, client on CPU %s", p.serverCPUs, p.clientCPUs)
}

// defaultPinning splits the machine: the upper half of the CPUs for the
// server, the lower half for the client. None with a single CPU.
func defaultPinning() (server, client string) {
	n := runtime.NumCPU()
	if n < 2 {
		return "", ""
	}
	return cpuRange(n/2, n-1), cpuRange(0, n/2-1)
}

func cpuRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// cpuCount counts the CPUs of a taskset list such as "0-1,3".
func cpuCount(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if ok {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			return 0
		}
		n += b - a + 1
	}
	return n
}

// command builds name args, under taskset when cpus is set. taskset execs
// the program, so the process keeps the PID Start reports, and the Go
// runtime of a pinned server sizes GOMAXPROCS to its CPUs.
func command(cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, name}, args...)...)
}

// procCPU is the CPU time (user + system, all threads) a process has used
// so far, from /proc/PID/stat, in USER_HZ ticks of 10 ms.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// procStatus returns one field of /proc/PID/status, such as VmHWM or
// Cpus_allowed_list.
func procStatus(pid int, field string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// vmHWM is a process's peak resident set size in KiB.
func vmHWM(pid int) (int64, error) {
	v, err := procStatus(pid, "VmHWM")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
}

// cpuMeter measures the CPU a process spends over a stretch of wall time.
type cpuMeter struct {
	pid   int
	cpu0  time.Duration
	wall0 time.Time
}

func startMeter(pid int) cpuMeter {
	c, _ := procCPU(pid)
	return cpuMeter{pid: pid, cpu0: c, wall0: time.Now()}
}

// cores is the CPU used since startMeter divided by the wall time: 1.0 is
// one CPU kept busy.
func (m cpuMeter) cores() float64 {
	c, err := procCPU(m.pid)
	if err != nil {
		return 0
	}
	return (c - m.cpu0).Seconds() / time.Since(m.wall0).Seconds()
}

// loadAvg is the machine's 1-minute load average, to show how quiet it was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
