// Package provision turns a myapp.toml into changes on hosts. Every step
// first plans — reads the host and returns the files it would write and the
// commands it would run, as data — and only then applies. --dry-run prints the
// plans and stops; apply reports one line per step.
package provision

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/myapp/myapp/provision/host"
)

// Status is a step's outcome.
type Status string

const (
	Changed   Status = "changed"
	Unchanged Status = "unchanged"
	Skipped   Status = "skipped"
	Failed    Status = "failed"
)

// Step is one unit of provisioning. Plan must not change the host.
type Step interface {
	Name() string
	Plan(ctx context.Context, t *Target) (*Change, error)
}

// Change is what a step would do. A nil *Change means the host already
// matches. Files, Cmds and Notes describe the change for --dry-run; Apply
// performs it (Apply nil means: write Files, then run Cmds).
type Change struct {
	Skip  string // non-empty: the step does not apply here, and why
	Files []FileChange
	Cmds  []host.Cmd
	Notes []string // actions that are neither a file nor a command
	Apply func(ctx context.Context) error
	// Detail is a short summary for the one-line report (e.g. "serial 1a2b").
	Detail string
}

// FileChange is a file a step writes, with what is there now for the diff.
type FileChange struct {
	host.FileSpec
	Old    []byte
	Exists bool
	Secret bool // redact values in diffs (KEY=VALUE lines, PEM keys)
}

// writeFiles writes fcs in order.
func writeFiles(ctx context.Context, h host.Host, fcs []FileChange) error {
	for _, f := range fcs {
		if err := h.WriteFile(ctx, f.FileSpec); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

// runCmds runs cmds in order, stopping at the first failure.
func runCmds(ctx context.Context, h host.Host, cmds []host.Cmd) error {
	for _, c := range cmds {
		if _, err := h.Run(ctx, c); err != nil {
			return fmt.Errorf("run %s: %w", strings.Join(c.Argv, " "), err)
		}
	}
	return nil
}

// applyChange performs c on h.
func applyChange(ctx context.Context, h host.Host, c *Change) error {
	if c.Apply != nil {
		return c.Apply(ctx)
	}
	if err := writeFiles(ctx, h, c.Files); err != nil {
		return err
	}
	return runCmds(ctx, h, c.Cmds)
}

// planFile compares the desired file with the host's and returns a
// FileChange, or nil when content, mode and owner already match. In a dry
// run, a file an earlier step would have written counts as written, so two
// steps never show the same change.
func (t *Target) planFile(ctx context.Context, spec host.FileSpec, secret bool) (*FileChange, error) {
	if spec.Owner == "" {
		spec.Owner = "root:root"
	}
	if p, ok := t.planned[spec.Path]; ok {
		if string(p.Data) == string(spec.Data) && p.Mode.Perm() == spec.Mode.Perm() && p.Owner == spec.Owner {
			return nil, nil
		}
		return &FileChange{FileSpec: spec, Old: p.Data, Exists: true, Secret: secret}, nil
	}
	h := t.Host
	old, err := h.ReadFile(ctx, spec.Path)
	switch {
	case host.IsNotExist(err):
		return &FileChange{FileSpec: spec, Secret: secret}, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", spec.Path, err)
	}
	fi, err := h.Stat(ctx, spec.Path)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", spec.Path, err)
	}
	if string(old) == string(spec.Data) && fi.Mode.Perm() == spec.Mode.Perm() && fi.Owner == spec.Owner && fi.Mode&fs.ModeSymlink == 0 {
		return nil, nil
	}
	return &FileChange{FileSpec: spec, Old: old, Exists: true, Secret: secret}, nil
}
