package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares dir and returns the path to write and the path
		// whose content must change (the link's final target).
		setup func(t *testing.T, dir string) (path, target string)
		links []string // paths that must still be symlinks afterwards
	}{
		{
			name: "new file",
			setup: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, ".env")
				return p, p
			},
		},
		{
			name: "regular file",
			setup: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, ".env")
				must(t, os.WriteFile(p, []byte("old\n"), 0o644))
				return p, p
			},
		},
		{
			name: "relative symlink to a file in another directory",
			setup: func(t *testing.T, dir string) (string, string) {
				must(t, os.Mkdir(filepath.Join(dir, "secrets"), 0o700))
				target := filepath.Join(dir, "secrets", "app.env")
				must(t, os.WriteFile(target, []byte("old\n"), 0o644))
				must(t, os.Symlink("secrets/app.env", filepath.Join(dir, ".env")))
				return filepath.Join(dir, ".env"), target
			},
			links: []string{".env"},
		},
		{
			name: "chain of symlinks",
			setup: func(t *testing.T, dir string) (string, string) {
				target := filepath.Join(dir, "real.env")
				must(t, os.WriteFile(target, []byte("old\n"), 0o644))
				must(t, os.Symlink(target, filepath.Join(dir, "mid.env")))
				must(t, os.Symlink("mid.env", filepath.Join(dir, ".env")))
				return filepath.Join(dir, ".env"), target
			},
			links: []string{".env", "mid.env"},
		},
		{
			name: "dangling symlink creates its target",
			setup: func(t *testing.T, dir string) (string, string) {
				must(t, os.Symlink("shared.env", filepath.Join(dir, ".env")))
				return filepath.Join(dir, ".env"), filepath.Join(dir, "shared.env")
			},
			links: []string{".env"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, target := tt.setup(t, dir)
			if err := Write(path, []byte("new\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, l := range tt.links {
				fi, err := os.Lstat(filepath.Join(dir, l))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("%s is no longer a symlink (mode %v)", l, fi.Mode())
				}
			}
			got, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "new\n" {
				t.Errorf("target %s has %q, want %q", target, got, "new\n")
			}
			fi, err := os.Lstat(target)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("target mode %v, want a regular file with 0600", fi.Mode())
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".*.tmp-*"))
			if len(leftovers) > 0 {
				t.Errorf("temp files left: %v", leftovers)
			}
		})
	}
}

func TestWriteSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Symlink("b", filepath.Join(dir, "a")))
	must(t, os.Symlink("a", filepath.Join(dir, "b")))
	if err := Write(filepath.Join(dir, "a"), []byte("x"), 0o600); err == nil {
		t.Fatal("write through a symlink loop succeeded")
	}
	if fi, err := os.Lstat(filepath.Join(dir, "a")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("a was replaced: %v %v", fi, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
