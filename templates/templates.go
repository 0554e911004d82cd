// Package templates renders the files myapp installs on a host: the nginx
// site and the systemd units (auth server, optional API backend, certificate
// renewal service and timer).
//
// It only renders: it imports nothing else of this repository and touches no
// file system but its own embedded templates. Every render function takes a
// typed data struct, validates every field before rendering and returns a
// *FieldError naming the offending field, so that a value can never break out
// of the directive it is written into (no ";", braces, quotes, whitespace,
// newlines or "$" where nginx or systemd would interpret them).
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"sync"
	"text/template"
)

//go:embed nginx/*.tmpl systemd/*.tmpl
var files embed.FS

// parsed returns every template, parsed once, on first use: parsing them
// costs about 0.3 ms, which every start of the binary paid before (cert
// renew, run twice a day, renders none). The templates are embedded, so a
// template that does not parse fails TestEveryTemplateParses, never a host.
var parsed = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Option("missingkey=error").ParseFS(files, "nginx/*.tmpl", "systemd/*.tmpl"))
})

// DefaultBinary is where init installs the myapp binary on a host (DESIGN.md).
const DefaultBinary = "/usr/local/bin/myapp"

// Host paths fixed by DESIGN.md, derived from the app name. They live here,
// not in the caller, because the units and the site must agree on them.
func configPath(app string) string { return "/etc/myapp/" + app + "/myapp.toml" }
func envPath(app string) string    { return "/etc/myapp/" + app + "/.env" }
func stateDir(app string) string   { return "/var/lib/myapp/" + app }
func currentDir(app string) string { return "/var/www/" + app + "/current" }

// FieldError reports a data-struct field whose value cannot be rendered
// safely. Field is the Go field name, with an index for slices
// ("Domains[1]"), so callers can map it back to a configuration key.
type FieldError struct {
	Struct string // "Site", "AuthUnit", ...
	Field  string
	Value  string // the offending value; empty when it must not be echoed
	Reason string
}

// Error quotes the value (so a newline in it stays visible and harmless)
// unless it is empty, which is also how values too sensitive to echo are
// reported.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s.%s: %s", e.Struct, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s.%s %q: %s", e.Struct, e.Field, e.Value, e.Reason)
}

// render executes one named template. Validation has happened before, so an
// execution error here is a bug in a template, reported with its name.
func render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := parsed().ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}
