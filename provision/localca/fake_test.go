package localca_test

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/myapp/myapp/provision/host"
)

// fakeHost is a strict in-memory Host for unit tests. It knows exactly one
// command, "ln -- SRC DST", with link(2)'s semantics (DST must not exist);
// anything else fails the test.
type fakeHost struct {
	t      *testing.T
	mu     sync.Mutex
	files  map[string]host.FileSpec
	writes []string // paths passed to WriteFile, in order
	ran    []string
	// beforeLink, when set, runs (without the lock) before each ln: tests
	// use it to line concurrent callers up at the decisive step.
	beforeLink func(dst string)
}

func newFakeHost(t *testing.T) *fakeHost {
	return &fakeHost{t: t, files: map[string]host.FileSpec{}}
}

func (f *fakeHost) Name() string { return "fake" }

func (f *fakeHost) Run(_ context.Context, c host.Cmd) ([]byte, error) {
	f.mu.Lock()
	f.ran = append(f.ran, strings.Join(c.Argv, " "))
	f.mu.Unlock()
	if len(c.Argv) != 4 || c.Argv[0] != "ln" || c.Argv[1] != "--" {
		f.t.Errorf("unexpected command: %q", c.Argv)
		return nil, &host.ExitError{Argv: c.Argv, Code: 127}
	}
	src, dst := c.Argv[2], c.Argv[3]
	if f.beforeLink != nil {
		f.beforeLink(dst)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[dst]; ok {
		return nil, fmt.Errorf("fake: run ln: %w", &host.ExitError{Argv: c.Argv, Code: 1,
			Stderr: fmt.Sprintf("ln: failed to create hard link '%s': File exists", dst)})
	}
	s, ok := f.files[src]
	if !ok {
		return nil, fmt.Errorf("fake: run ln: %w", &host.ExitError{Argv: c.Argv, Code: 1,
			Stderr: fmt.Sprintf("ln: failed to access '%s': No such file or directory", src)})
	}
	s.Path = dst
	f.files[dst] = s
	return nil, nil
}

func (f *fakeHost) checkPath(p string) {
	if !path.IsAbs(p) || path.Clean(p) != p {
		f.t.Errorf("path %q is not absolute and clean", p)
	}
}

func (f *fakeHost) ReadFile(_ context.Context, p string) ([]byte, error) {
	f.checkPath(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.files[p]; ok {
		return slices.Clone(s.Data), nil
	}
	return nil, fmt.Errorf("fake: read %s: %w", p, fs.ErrNotExist)
}

func (f *fakeHost) Stat(_ context.Context, p string) (host.FileInfo, error) {
	f.checkPath(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.files[p]; ok {
		return host.FileInfo{Mode: s.Mode, Owner: s.Owner, Size: int64(len(s.Data))}, nil
	}
	return host.FileInfo{}, fmt.Errorf("fake: stat %s: %w", p, fs.ErrNotExist)
}

func (f *fakeHost) WriteFile(_ context.Context, s host.FileSpec) error {
	f.checkPath(s.Path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Mode == 0 {
		s.Mode = 0o644
	}
	if s.Owner == "" {
		s.Owner = "root:root"
	}
	s.Data = slices.Clone(s.Data)
	f.files[s.Path] = s
	f.writes = append(f.writes, s.Path)
	return nil
}

func (f *fakeHost) Remove(_ context.Context, p string) error {
	f.checkPath(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, p)
	return nil
}

func (f *fakeHost) MkdirAll(_ context.Context, p string, _ fs.FileMode, _ string) error {
	f.t.Errorf("unexpected MkdirAll %s", p)
	return fmt.Errorf("fake: unexpected MkdirAll")
}

func (f *fakeHost) Symlink(_ context.Context, target, link string) error {
	f.t.Errorf("unexpected Symlink %s -> %s", link, target)
	return fmt.Errorf("fake: unexpected Symlink")
}

func (f *fakeHost) Dial(context.Context, string, string) (net.Conn, error) {
	f.t.Errorf("unexpected Dial")
	return nil, fmt.Errorf("fake: unexpected Dial")
}

func (f *fakeHost) Close() error { return nil }

// file returns a file's spec, failing the test when it is missing.
func (f *fakeHost) file(p string) host.FileSpec {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.files[p]
	if !ok {
		f.t.Fatalf("%s missing", p)
	}
	return s
}

// paths lists the files under dir.
func (f *fakeHost) paths(dir string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p := range f.files {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeHost) counts() (writes, runs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes), len(f.ran)
}
