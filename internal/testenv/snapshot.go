package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// Snapshot records every file under the given absolute container paths of a
// rootfs: type, permission bits, owner, and content hash or symlink target.
// Keys are container paths; a missing top-level path is recorded as "absent".
// Comparing two snapshots proves a command changed nothing there.
type Snapshot map[string]string

// TakeSnapshot walks root+path for each path, without following symlinks.
func TakeSnapshot(root string, paths ...string) (Snapshot, error) {
	s := Snapshot{}
	for _, p := range paths {
		top := filepath.Join(root, p)
		if _, err := os.Lstat(top); errors.Is(err, fs.ErrNotExist) {
			s[p] = "absent"
			continue
		}
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			key := "/" + filepath.ToSlash(rel)
			desc, err := describe(path)
			if err != nil {
				return err
			}
			s[key] = desc
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", p, err)
		}
	}
	return s, nil
}

func describe(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	owner := "?"
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}
	head := fmt.Sprintf("%s %s", fi.Mode().String(), owner)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		return head + " -> " + target, nil
	case fi.Mode().IsRegular():
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return head + " sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	default:
		return head, nil
	}
}

// Diff lists the differences from s to t, one line per changed path, sorted.
func (s Snapshot) Diff(t Snapshot) []string {
	var out []string
	for k, v := range s {
		w, ok := t[k]
		switch {
		case !ok:
			out = append(out, "removed "+k+" ("+v+")")
		case v != w:
			out = append(out, "changed "+k+": "+v+" => "+w)
		}
	}
	for k, w := range t {
		if _, ok := s[k]; !ok {
			out = append(out, "added "+k+" ("+w+")")
		}
	}
	sort.Strings(out)
	return out
}
