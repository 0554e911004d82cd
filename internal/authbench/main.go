// Command authbench measures the bundled auth server the way it runs on a
// host: the `myapp auth serve` binary as its own process, driven over
// loopback HTTP. It is run by hand through scripts/bench-auth.sh, never by
// go test, and prints a Markdown report on stdout (progress on stderr).
//
// Every figure is taken in the same run on the same machine, so that the
// report can state ratios, which survive a noisy 2-core machine better
// than absolute numbers:
//
//   - GET /me requests/s (wrk) as a ratio to a bare net/http handler that
//     sends the same bytes (headers and body) without any check, run by
//     the same wrk with the same connections, in alternating rounds whose
//     medians are compared; once with server and client sharing the CPUs,
//     once pinned apart (server on one half, wrk on the other);
//   - refresh rotations/s per database (a Go client, one session chain per
//     connection), the median of the rounds;
//   - logins/s with 50 concurrent clients, and the server's peak RSS
//     (VmHWM) over them.
package main

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type config struct {
	myapp      string        // the myapp binary to benchmark
	label      string        // what source it was built from, for the report
	wrk        string        // wrk binary
	duration   time.Duration // per measurement
	rounds     int           // alternating bare and /me runs; rounds of rotations
	conns      int           // concurrent connections for /me and refresh
	logins     int           // concurrent clients for the login phase
	pgURL      string        // PostgreSQL DB_URL base (a schema is made per run)
	mysqlURL   string        // MySQL/MariaDB DB_URL base (a database is made per run)
	serverCPUs string        // the pinned /me comparison: the servers' CPUs
	clientCPUs string        // and wrk's; both empty: no pinned comparison
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-bare" {
		bare(os.Args[2]) // the baseline server, as a child process
		return
	}
	var c config
	srvCPUs, cliCPUs := defaultPinning()
	flag.StringVar(&c.myapp, "myapp", "", "myapp binary to benchmark (required; build it as a release is built)")
	flag.StringVar(&c.label, "label", "", "the source the binary was built from (a commit), for the report")
	flag.StringVar(&c.wrk, "wrk", "wrk", "wrk binary")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of each measurement")
	flag.IntVar(&c.rounds, "rounds", 5, "rounds of each measurement; the medians are reported")
	flag.IntVar(&c.conns, "conns", 32, "concurrent connections for /me (bare and myapp alike) and refresh")
	flag.IntVar(&c.logins, "logins", 50, "concurrent clients in the login phase")
	flag.StringVar(&c.pgURL, "postgres", "", "PostgreSQL DB_URL (empty: skip)")
	flag.StringVar(&c.mysqlURL, "mysql", "", "MySQL/MariaDB DB_URL (empty: skip)")
	flag.StringVar(&c.serverCPUs, "server-cpus", srvCPUs, "CPUs (taskset list) of the servers in the pinned /me comparison; empty: skip it")
	flag.StringVar(&c.clientCPUs, "client-cpus", cliCPUs, "CPUs of wrk in the pinned /me comparison")
	flag.Parse()
	if c.myapp == "" || c.rounds < 1 || c.duration < time.Second || (c.serverCPUs == "") != (c.clientCPUs == "") {
		fmt.Fprintln(os.Stderr, "authbench: -myapp is required; -rounds at least 1, -duration at least 1s; -server-cpus and -client-cpus together")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "authbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	started := time.Now()
	load0 := loadAvg()
	logf("machine: %s; load average %s", machine(), load0)
	rep := &report{c: c}

	sq, err := newSQLiteTarget()
	if err != nil {
		return err
	}
	defer sq.cleanup()

	// 1. GET /me against the bare handler sending the same bytes.
	placements := []placement{{name: "shared"}}
	if c.serverCPUs != "" {
		placements = append(placements, placement{name: "pinned", serverCPUs: c.serverCPUs, clientCPUs: c.clientCPUs})
	}
	for _, pl := range placements {
		m, err := measureMeAndBare(ctx, c, pl, sq.dbURL)
		if err != nil {
			return fmt.Errorf("GET /me, %s: %w", pl, err)
		}
		rep.me = append(rep.me, m)
	}

	// 2. Refresh rotations per database, each on a server of its own.
	dbs := []struct{ name, base string }{{"SQLite", ""}, {"PostgreSQL", c.pgURL}, {"MariaDB", c.mysqlURL}}
	for _, db := range dbs {
		tg := sq
		if db.name != "SQLite" {
			if db.base == "" {
				logf("no %s URL: skipping its rotations", db.name)
				continue
			}
			if tg, err = newServerTarget(ctx, db.base); err != nil {
				return fmt.Errorf("%s: %w", db.name, err)
			}
		}
		runs, err := func() ([]loadRun, error) {
			if tg != sq {
				defer tg.cleanup()
			}
			srv, err := startServe(ctx, c, tg.dbURL, "")
			if err != nil {
				return nil, err
			}
			defer srv.stop()
			return measureRotations(ctx, c, db.name, srv)
		}()
		if err != nil {
			return fmt.Errorf("rotations on %s: %w", db.name, err)
		}
		rep.rotations = append(rep.rotations, rotationResult{db: db.name, where: tg.where, runs: runs})
	}

	// 3. Logins and memory, on a fresh process so that the peak is theirs.
	srv, err := startServe(ctx, c, sq.dbURL, "")
	if err != nil {
		return err
	}
	rep.logins, err = measureLogins(ctx, c, srv)
	srv.stop()
	if err != nil {
		return fmt.Errorf("logins: %w", err)
	}

	rep.machine, rep.build, rep.load = machine(), buildOf(c.myapp), fmt.Sprintf("%s at the start, %s at the end", load0, loadAvg())
	rep.took = time.Since(started).Round(time.Second)
	rep.print(os.Stdout)
	return nil
}

// machine describes where the figures were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "Linux"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), %s", runtime.NumCPU(), model, kernel)
}

// buildOf reads how the benchmarked binary was built from its build info,
// which -s -w keep.
func buildOf(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown build: " + err.Error()
	}
	var flags []string
	for _, s := range bi.Settings {
		switch s.Key {
		case "CGO_ENABLED", "-trimpath", "-ldflags", "GOAMD64", "-tags":
			flags = append(flags, s.Key+"="+s.Value)
		}
	}
	// -trimpath leaves -ldflags out of the build info; the symbol and DWARF
	// sections tell whether -s -w were given.
	if f, err := elf.Open(path); err == nil {
		flags = append(flags, fmt.Sprintf("symbols=%t DWARF=%t", f.Section(".symtab") != nil, f.Section(".debug_info") != nil))
		f.Close()
	}
	return bi.GoVersion + ", " + strings.Join(flags, " ")
}

// fsType names the file system a directory is on.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown file system"
	}
	switch uint32(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794C7630:
		return "overlayfs"
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...)
}
