package provision

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// fakeHost is a strict in-memory Host for unit tests of planning logic.
// Commands must be expected by a handler; anything else fails the test.
type fakeHost struct {
	t     *testing.T
	mu    sync.Mutex
	files map[string]host.FileSpec
	links map[string]string
	dirs  map[string]host.FileInfo
	ran   []string
	// run answers a command; return handled=false for unexpected commands.
	run func(argv []string) (out string, err error, handled bool)
}

func newFakeHost(t *testing.T) *fakeHost {
	return &fakeHost{t: t, files: map[string]host.FileSpec{}, links: map[string]string{}, dirs: map[string]host.FileInfo{}}
}

func (f *fakeHost) Name() string { return "fake" }

func (f *fakeHost) Run(_ context.Context, c host.Cmd) ([]byte, error) {
	f.mu.Lock()
	f.ran = append(f.ran, strings.Join(c.Argv, " "))
	f.mu.Unlock()
	if c.Stdin != nil {
		_, _ = io.Copy(io.Discard, c.Stdin)
	}
	if f.run != nil {
		if out, err, ok := f.run(c.Argv); ok {
			return []byte(out), err
		}
	}
	f.t.Errorf("unexpected command: %q", c.Argv)
	return nil, &host.ExitError{Argv: c.Argv, Code: 127}
}

func (f *fakeHost) ReadFile(_ context.Context, p string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.files[p]; ok {
		return s.Data, nil
	}
	return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
}

func (f *fakeHost) Stat(_ context.Context, p string) (host.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.files[p]; ok {
		return host.FileInfo{Mode: s.Mode, Owner: ownerOr(s.Owner), Size: int64(len(s.Data))}, nil
	}
	if l, ok := f.links[p]; ok {
		return host.FileInfo{Mode: fs.ModeSymlink | 0o777, Owner: "root:root", Symlink: l}, nil
	}
	if d, ok := f.dirs[p]; ok {
		return d, nil
	}
	return host.FileInfo{}, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
}

func ownerOr(o string) string {
	if o == "" {
		return "root:root"
	}
	return o
}

func (f *fakeHost) WriteFile(_ context.Context, s host.FileSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Owner = ownerOr(s.Owner)
	s.Data = append([]byte(nil), s.Data...)
	f.files[s.Path] = s
	return nil
}

func (f *fakeHost) Remove(_ context.Context, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, p)
	delete(f.links, p)
	delete(f.dirs, p)
	return nil
}

func (f *fakeHost) MkdirAll(_ context.Context, p string, mode fs.FileMode, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dirs[p] = host.FileInfo{Mode: fs.ModeDir | mode, Owner: ownerOr(owner)}
	return nil
}

func (f *fakeHost) Symlink(_ context.Context, target, link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[link] = target
	return nil
}

func (f *fakeHost) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, fmt.Errorf("fake host cannot dial")
}

func (f *fakeHost) Close() error { return nil }

// fakeIssuer must never be asked to obtain in a dry run.
type fakeIssuer struct{ t *testing.T }

func (fakeIssuer) Describe(d []string) string { return "obtain " + strings.Join(d, ",") }
func (f fakeIssuer) Obtain(context.Context, acme.Request) (*acme.Certificate, error) {
	f.t.Error("Obtain called")
	return nil, fmt.Errorf("fake")
}
