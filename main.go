// Command myapp takes a web app from a fresh Ubuntu/Debian host to HTTPS
// production and keeps it there. See README.md.
package main

import (
	"os"

	"github.com/myapp/myapp/cmd"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(cmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, version))
}
