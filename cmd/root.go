// Package cmd is myapp's command line: it parses flags, loads the config,
// wires the provision, acme and authserver packages together and maps errors
// to exit codes. It holds no provisioning logic of its own.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/config"
)

// Globals are the flags every command shares.
type Globals struct {
	ConfigPath string
	Output     string // text | json
	Verbose    bool

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Version        string
	Getenv         func(string) string

	configSet bool // --config was given
}

// LoadConfig loads --config. Without --config and without ./myapp.toml,
// on a host with one app provisioned it loads that app's installed config,
// so `myapp cert status` works on the host as it is.
func (g *Globals) LoadConfig() (*config.Config, error) {
	path := g.ConfigPath
	if !g.configSet {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			installed, _ := filepath.Glob("/etc/myapp/*/myapp.toml")
			switch len(installed) {
			case 1:
				path = installed[0]
			case 0:
			default:
				return nil, usageErrorf("no ./myapp.toml, and this host has several apps: pass --config (one of %s)", strings.Join(installed, ", "))
			}
		}
	}
	return config.Load(path, g.Getenv)
}

func (g *Globals) json() bool { return g.Output == "json" }

// logf prints progress to stderr.
func (g *Globals) logf(format string, args ...any) {
	fmt.Fprintf(g.Stderr, format+"\n", args...)
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, version string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &Globals{Stdin: stdin, Stdout: stdout, Stderr: stderr, Version: version, Getenv: os.Getenv}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := exitCode(err)
	if !errors.Is(err, errSilent) {
		fmt.Fprintf(stderr, "myapp: %s\n", err)
	}
	return code
}

func newRootCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "myapp",
		Short:         "Take a web app from a fresh Debian/Ubuntu host to HTTPS production and keep it there",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       g.Version,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			g.configSet = c.Flags().Changed("config")
			if g.Output != "text" && g.Output != "json" {
				return usageErrorf("--output must be text or json")
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&g.ConfigPath, "config", "myapp.toml", "config `file`")
	pf.StringVar(&g.Output, "output", "text", "output format: text or json")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "print more detail (never secrets)")
	root.AddCommand(
		newInitCmd(g),
		newCertCmd(g),
		newNginxCmd(g),
		newEnvCmd(g),
		newAuthCmd(g),
		newVersionCmd(g),
	)
	return root
}
