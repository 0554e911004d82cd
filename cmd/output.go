package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/host"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// reporter prints one line per step to stderr and, in a dry run, each
// planned change (diffs, commands) to stdout, buffered per host so parallel
// hosts do not interleave.
type reporter struct {
	g      *Globals
	dryRun bool
	mu     sync.Mutex
	plan   map[string]*bytes.Buffer
}

func newReporter(g *Globals) *reporter { return &reporter{g: g, plan: map[string]*bytes.Buffer{}} }

func (r *reporter) Step(hostName string, s provision.StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	detail := ""
	if s.Detail != "" {
		detail = "  " + s.Detail
		if s.Status == provision.Failed {
			detail = "\n    " + strings.ReplaceAll(s.Detail, "\n", "\n    ")
		}
	}
	status := string(s.Status)
	if r.dryRun && s.Status == provision.Changed {
		status = "would change"
	}
	fmt.Fprintf(r.g.Stderr, "%s: %-12s %s%s\n", hostName, status, s.Step, detail)
}

func (r *reporter) Plan(hostName, step string, c *provision.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.plan[hostName]
	if b == nil {
		b = &bytes.Buffer{}
		r.plan[hostName] = b
	}
	writePlan(b, hostName, step, c)
}

// flush writes the buffered dry-run output of hostName to stdout.
func (r *reporter) flush(hostName string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.plan[hostName]; b != nil && !r.g.json() {
		_, _ = io.Copy(r.g.Stdout, b)
	}
}

// writePlan renders one step's change as a reviewer wants to read it:
// unified diffs (secrets redacted), then commands as a shell would show them.
func writePlan(w io.Writer, hostName, step string, c *provision.Change) {
	fmt.Fprintf(w, "## %s: %s\n", hostName, step)
	for _, f := range c.Files {
		old, neu := string(f.Old), string(f.Data)
		if f.Secret {
			o, n := envfile.RedactPair(f.Old, f.Data)
			old, neu = string(o), string(n)
		}
		from := f.Path
		if !f.Exists {
			from = "/dev/null"
		}
		fmt.Fprintf(w, "file %s (mode %04o, owner %s)\n", f.Path, f.Mode.Perm(), ownerOf(f.Owner))
		d := udiff.Unified(from, f.Path, old, neu)
		if d == "" {
			fmt.Fprintf(w, "  (content unchanged; mode or owner changes)\n")
		}
		fmt.Fprint(w, d)
		if d != "" && !strings.HasSuffix(d, "\n") {
			fmt.Fprintln(w)
		}
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	for _, cmd := range c.Cmds {
		fmt.Fprintf(w, "$ %s\n", cmdString(cmd))
	}
	fmt.Fprintln(w)
}

func ownerOf(o string) string {
	if o == "" {
		return "root:root"
	}
	return o
}

func cmdString(c host.Cmd) string {
	s := host.ShellJoin(c.Argv)
	if c.Secret {
		s = c.Argv[0] + " <arguments redacted>"
	}
	if len(c.Env) > 0 {
		s = strings.Join(c.Env, " ") + " " + s
	}
	return s
}
