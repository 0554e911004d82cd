// Package atomicfile writes local files so readers see the old content or
// the new, never a mix: temp file in the same directory, fsync, chmod,
// rename, fsync of the directory.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data at mode. When path is a symlink, the file it
// points to is replaced and the link is kept: users link .env or .gitignore
// to a shared file on purpose, and renaming over the link would break that
// and leave the old target stale.
func Write(path string, data []byte, mode os.FileMode) (err error) {
	path, err = resolve(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// maxLinks is the kernel's limit on symlinks followed in one lookup (40).
const maxLinks = 40

// resolve returns the path that a write to path should replace: path itself
// unless it is a symlink, else the link's final target, which may not exist
// yet (a dangling link gets its target created, as open(O_CREAT) would).
func resolve(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return real, nil
		}
		// Dangling (or looping): follow one link and look again.
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", fmt.Errorf("resolve %s: too many levels of symbolic links", path)
}
