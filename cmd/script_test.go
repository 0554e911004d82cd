package cmd

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this package's CLI as the "myapp" command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"myapp": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, "test")) },
	})
}

// TestScripts runs the CLI end to end for everything that needs no host:
// config errors and exit codes, myapp env, nginx render. Scripts are in
// testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
