package localca_test

// These tests use the real Local host on a directory of their own: the
// modes and owners on disk, and the race between creators through real
// ln(1) processes, are what the fake cannot prove.

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/provision/localca"
)

// requireOrSkip skips a test whose prerequisite is missing, except in CI,
// where a skipped test would hide that the prerequisite was never installed.
func requireOrSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// localHost returns the Local host and a CA directory for the test; the CA
// files belong to root, so the test must run as root.
func localHost(t *testing.T) (host.Host, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		requireOrSkip(t, "writing the CA as root:root needs root")
	}
	h := host.NewLocal()
	t.Cleanup(func() { h.Close() })
	return h, filepath.Join(t.TempDir(), "etc/myapp/local-ca")
}

type onDisk struct {
	mode     fs.FileMode
	uid, gid uint32
	ino      uint64
	data     []byte
}

func stat(t *testing.T, p string) onDisk {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	d := onDisk{mode: fi.Mode(), uid: st.Uid, gid: st.Gid, ino: st.Ino}
	if !fi.IsDir() {
		d.data, _ = os.ReadFile(p)
	}
	return d
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestLocalHostModes(t *testing.T) {
	h, d := localHost(t)
	is := localca.New(localca.Options{Dir: d})
	c := obtain(t, is, h, "shop.test")

	want := map[string]fs.FileMode{d: fs.ModeDir | 0o755, d + "/root.pem": 0o644, d + "/root-key.pem": 0o600}
	before := map[string]onDisk{}
	for p, mode := range want {
		got := stat(t, p)
		if got.mode != mode || got.uid != 0 || got.gid != 0 {
			t.Errorf("%s: %v %d:%d, want %v root:root", p, got.mode, got.uid, got.gid, mode)
		}
		before[p] = got
	}
	if got := names(t, d); !slices.Equal(got, []string{"root-key.pem", "root.pem"}) {
		t.Errorf("%s holds %v; want the two CA files only", d, got)
	}
	if err := verify(t, before[d+"/root.pem"].data, c.Fullchain, "shop.test", time.Now()); err != nil {
		t.Error(err)
	}

	// Reused: the very same files (inodes), not rewritten copies.
	c2 := obtain(t, localca.New(localca.Options{Dir: d, KeyType: "rsa2048"}), h, "shop.test")
	for _, p := range []string{d + "/root.pem", d + "/root-key.pem"} {
		if got := stat(t, p); got.ino != before[p].ino || !bytes.Equal(got.data, before[p].data) || got.mode != before[p].mode {
			t.Errorf("%s was rewritten", p)
		}
	}
	if err := verify(t, before[d+"/root.pem"].data, c2.Fullchain, "shop.test", time.Now()); err != nil {
		t.Error(err)
	}
}

func TestLocalHostConcurrentCreation(t *testing.T) {
	h, base := localHost(t)
	const rounds, n = 5, 8
	for r := range rounds {
		d := filepath.Join(base, string(rune('a'+r)))
		certs := make([]*acme.Certificate, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				// A fresh Issuer each: callers share nothing but the host.
				c, err := localca.New(localca.Options{Dir: d}).Obtain(context.Background(),
					acme.Request{Domains: []string{"a.test"}, Hosts: []host.Host{h}})
				if err != nil {
					t.Errorf("round %d, caller %d: %v", r, i, err)
				}
				certs[i] = c
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if got := names(t, d); !slices.Equal(got, []string{"root-key.pem", "root.pem"}) {
			t.Errorf("round %d: %s holds %v; want the two CA files only", r, d, got)
		}
		root := stat(t, d+"/root.pem").data
		for i, c := range certs {
			if err := verify(t, root, c.Fullchain, "a.test", time.Now()); err != nil {
				t.Errorf("round %d, caller %d: %v", r, i, err)
			}
		}
	}
}
