package provision

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// Bundle is a frontend release packed for upload. Its ID is derived from the
// content, so shipping the same build twice is a no-op.
type Bundle struct {
	ID    string
	Tar   []byte
	Files int
}

// PackFrontend tars dir (regular files and directories only; symlinks are
// refused so a build cannot ship a link to /etc/shadow).
func PackFrontend(dir string) (*Bundle, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: symlinks are not shipped", p)
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read frontend %s: %w", dir, err)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	sum := sha256.New()
	n := 0
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		// Real modification times: nginx derives Last-Modified and ETag from
		// them, and a zero mtime would give a changed index.html of the same
		// size the old ETag, so browsers would keep the previous release.
		hdr := &tar.Header{Name: rel, Mode: 0o644, Uname: "root", Gname: "root", ModTime: fi.ModTime().Truncate(time.Second), Format: tar.FormatGNU}
		if fi.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, rel+"/", 0o755
			fmt.Fprintf(sum, "d %s\n", rel)
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
		fmt.Fprintf(sum, "f %s %d\n", rel, len(data))
		sum.Write(data)
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
		n++
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("frontend %s has no files", dir)
	}
	return &Bundle{ID: hex.EncodeToString(sum.Sum(nil))[:12], Tar: buf.Bytes(), Files: n}, nil
}

// unpackScript extracts a bundle into releases/<id> via a temporary
// directory, so a half-uploaded release never has its final name.
const unpackScript = `set -e
dir="$1/$2"; tmp="$1/.$2.tmp"
[ -d "$dir" ] && exit 0
rm -rf "$tmp"; mkdir -p "$tmp"
tar -x --no-same-owner --no-same-permissions -f - -C "$tmp"
chmod -R u=rwX,go=rX "$tmp"
mv "$tmp" "$dir"`

// Upload ships b to the host's releases directory.
func Upload(ctx context.Context, h host.Host, releases string, b *Bundle) error {
	_, err := h.Run(ctx, host.Cmd{Argv: []string{"sh", "-c", unpackScript, "sh", releases, b.ID}, Stdin: bytes.NewReader(b.Tar)})
	if err != nil {
		return fmt.Errorf("upload release %s: %w", b.ID, err)
	}
	return nil
}

// firstRelease ships the frontend on a host that has none yet; afterwards
// releases are myapp deploy's business and init leaves `current` alone.
type firstRelease struct{}

func (firstRelease) Name() string { return "frontend release" }

func (firstRelease) Plan(ctx context.Context, t *Target) (*Change, error) {
	if _, err := t.Host.Stat(ctx, t.Paths.Current); err == nil {
		return nil, nil
	} else if !host.IsNotExist(err) {
		return nil, err
	}
	dir := t.Cfg.FrontendDir()
	if _, err := os.Stat(dir); err != nil {
		return &Change{Skip: fmt.Sprintf("no frontend at %s (frontend.dir): build it there and run init again to ship it", dir)}, nil
	}
	b, err := PackFrontend(dir)
	if err != nil {
		return nil, err
	}
	target := t.Paths.Releases + "/" + b.ID
	return &Change{
		Notes:  []string{fmt.Sprintf("upload %s (%d files) to %s", dir, b.Files, target), fmt.Sprintf("link %s -> %s", t.Paths.Current, target)},
		Detail: "release " + b.ID,
		Apply: func(ctx context.Context) error {
			if err := Upload(ctx, t.Host, t.Paths.Releases, b); err != nil {
				return err
			}
			return t.Host.Symlink(ctx, target, t.Paths.Current)
		},
	}, nil
}
