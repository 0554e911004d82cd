// Command demo runs myapp's main job on this machine: it boots a throwaway
// Debian 12 host (systemd-nspawn), starts Pebble and a stub API backend, runs
// `myapp init --host web1` over real SSH, and shows the result with curl.
// scripts/demo.sh installs what it needs and runs it.
//
//	go run ./internal/testenv/cmd/demo --myapp ./myapp [--keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

func main() {
	myapp := flag.String("myapp", "", "path of the myapp binary to run (required)")
	keep := flag.Bool("keep", false, "keep the host, Pebble and the stub running until Ctrl-C")
	frontend := flag.String("frontend", "", "frontend directory to ship (default testdata/frontend)")
	flag.Parse()
	if *myapp == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: demo --myapp PATH [--keep] [--frontend DIR]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *myapp, *frontend, *keep)
	done(err)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, myapp, frontend string, keep bool) error {
	if err := testenv.Prereqs(); err != nil {
		return err
	}
	myapp, err := filepath.Abs(myapp)
	if err != nil {
		return err
	}
	if frontend == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			return err
		}
		frontend = filepath.Join(root, "testdata", "frontend")
	}
	work, err := os.MkdirTemp("", "myapp-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// The throwaway host's ports are the machine's: a test run holding them
	// is waited for, as scripts/demo.sh does (up to an hour).
	lockCtx, cancelLock := context.WithTimeout(ctx, time.Hour)
	defer cancelLock()
	unlock, err := testenv.LockNotify(lockCtx, func() {
		step("waiting for a test run to finish with the throwaway host (/run/lock/myapp-e2e-machine.lock)")
	})
	if err != nil {
		return err
	}
	defer unlock()
	setup, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()

	step("starting the stub API backend on 127.0.0.1:8000")
	stub, err := testenv.StubBackend(setup, "127.0.0.1:8000")
	if err != nil {
		return err
	}
	defer stub.Close()

	step("starting Pebble (test ACME CA) and its DNS server")
	pebble, err := testenv.StartPebble(setup, filepath.Join(work, "pebble"))
	if err != nil {
		return err
	}
	defer pebble.Stop()
	roots, err := pebble.Roots(setup)
	if err != nil {
		return err
	}
	rootFile := filepath.Join(work, "pebble-root.pem")
	if err := os.WriteFile(rootFile, roots, 0o644); err != nil {
		return err
	}

	step("booting a fresh Debian 12 host (the first run builds its image with debootstrap, about a minute)")
	m, err := testenv.BootHost(setup, testenv.HostOptions{Name: "web1", Hosts: []string{"shop.test", "www.shop.test"}})
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the host")
		if err := m.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
		}
	}()
	cfg := testenv.NewAppConfig(m, pebble, frontend)
	cfgFile := filepath.Join(work, "myapp.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg.TOML()), 0o644); err != nil {
		return err
	}
	fmt.Printf("host web1: ssh -i %s -p %d -o UserKnownHostsFile=%s root@127.0.0.1\n", m.IdentityFile, m.Port, m.KnownHostsFile)
	fmt.Printf("config %s:\n%s\n", cfgFile, cfg.TOML())

	step("myapp init --host web1")
	if err := sh(setup, myapp, "--config", cfgFile, "init", "--host", "web1"); err != nil {
		fmt.Fprintln(os.Stderr, m.Diagnose(ctx, "nginx.service", "shop-auth.service"))
		return fmt.Errorf("myapp init: %w", err)
	}

	fmt.Printf("\nURL: https://shop.test/\n"+
		"  shop.test resolves to 127.0.0.1 (the throwaway host shares this machine's loopback);\n"+
		"  its certificate comes from Pebble, a test CA: trust its root %s, which is\n"+
		"  deleted with everything else when the demo ends (--keep keeps it running)\n", rootFile)
	for _, u := range []string{"https://shop.test/", "https://shop.test/auth/healthz"} {
		step("curl --resolve shop.test:443:127.0.0.1 --cacert " + rootFile + " " + u)
		if err := sh(setup, "curl", "--silent", "--show-error", "--include", "--max-time", "20",
			"--resolve", "shop.test:443:127.0.0.1", "--cacert", rootFile, u); err != nil {
			return fmt.Errorf("curl %s: %w", u, err)
		}
		fmt.Println()
	}

	if keep {
		step("running; press Ctrl-C to tear everything down")
		<-ctx.Done()
	}
	return nil
}

// done is the demo's last word, after the host is stopped.
func done(err error) {
	if err == nil {
		step("demo done: the host, Pebble and the stub backend are stopped and removed " +
			"(the cached Debian root filesystem stays in /var/cache/myapp-e2e for the next run)")
	}
}

func step(msg string) { fmt.Printf("==> %s\n", msg) }

// sh runs a command with its output on ours.
func sh(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// shop.test resolves in Pebble's DNS only, as a real name would in
	// public DNS: myapp's preflight check before each order asks it.
	cmd.Env = append(os.Environ(), "MYAPP_DNS_RESOLVER="+testenv.PebbleDNS)
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("exit status %d", exit.ExitCode())
	}
	return err
}
