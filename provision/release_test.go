package provision

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPackFrontend(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>v1</p>"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "assets", "app.1234abcd.js"), []byte("x()"), 0o600))
	when := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	must(os.Chtimes(filepath.Join(dir, "index.html"), when, when))

	b, err := PackFrontend(dir)
	must(err)
	if b.Files != 2 || len(b.ID) != 12 {
		t.Fatalf("bundle %d files, id %q", b.Files, b.ID)
	}
	tr := tar.NewReader(bytes.NewReader(b.Tar))
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		seen[h.Name] = h
	}
	idx := seen["index.html"]
	if idx == nil || !idx.ModTime.Equal(when) || idx.Mode != 0o644 || seen["assets/"] == nil {
		t.Fatalf("entries: %+v", seen)
	}

	// Same content: same ID. Changed content of the same size: a new ID.
	b2, err := PackFrontend(dir)
	must(err)
	if b2.ID != b.ID {
		t.Fatal("same content, different ID")
	}
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>v2</p>"), 0o600))
	b3, err := PackFrontend(dir)
	must(err)
	if b3.ID == b.ID {
		t.Fatal("changed content, same ID")
	}

	must(os.Symlink("/etc/shadow", filepath.Join(dir, "leak")))
	if _, err := PackFrontend(dir); err == nil {
		t.Fatal("a symlink was packed")
	}
}
