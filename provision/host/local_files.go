package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/myapp/myapp/internal/readfile"
)

// The methods below are the root path of local: plain system calls. Each
// first hands over to the sh scripts when myapp runs without root.

func (l *local) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if l.sudo {
		return l.files.ReadFile(ctx, p)
	}
	if err := errors.Join(ctx.Err(), checkPath(p)); err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", l.Name(), p, err)
	}
	b, err := readfile.Read(p, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", l.Name(), p, unwrapPath(err))
	}
	return b, nil
}

func (l *local) Stat(ctx context.Context, p string) (FileInfo, error) {
	if l.sudo {
		return l.files.Stat(ctx, p)
	}
	fi, err := l.stat(ctx, p)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: stat %s: %w", l.Name(), p, unwrapPath(err))
	}
	return fi, nil
}

func (l *local) stat(ctx context.Context, p string) (FileInfo, error) {
	if err := errors.Join(ctx.Err(), checkPath(p)); err != nil {
		return FileInfo{}, err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return FileInfo{}, err
	}
	fi := FileInfo{Mode: fileMode(st.Mode), Owner: ownerName(st.Uid, st.Gid), Size: st.Size}
	if fi.Mode&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return FileInfo{}, err
		}
		fi.Symlink = target
	}
	return fi, nil
}

func (l *local) WriteFile(ctx context.Context, f FileSpec) error {
	if l.sudo {
		return l.files.WriteFile(ctx, f)
	}
	if err := l.writeFile(ctx, f); err != nil {
		return fmt.Errorf("%s: write %s: %w", l.Name(), f.Path, unwrapPath(err))
	}
	return nil
}

func (l *local) writeFile(ctx context.Context, f FileSpec) (err error) {
	if err := errors.Join(ctx.Err(), checkPath(f.Path)); err != nil {
		return err
	}
	uid, gid, err := lookupOwner(f.Owner)
	if err != nil {
		return err
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	dir := filepath.Dir(f.Path)
	if err := mkdirParents(dir); err != nil {
		return err
	}
	// CreateTemp makes the file 0600, so the data is never readable by
	// others before the chmod below says it may be.
	tmp, err := os.CreateTemp(dir, ".myapp-tmp.*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(f.Data); err != nil {
		return err
	}
	if err := tmp.Chmod(chmodBits(mode)); err != nil {
		return err
	}
	if err := tmp.Chown(uid, gid); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return err
	}
	return syncDir(dir)
}

func (l *local) MkdirAll(ctx context.Context, p string, mode fs.FileMode, owner string) error {
	if l.sudo {
		return l.files.MkdirAll(ctx, p, mode, owner)
	}
	if err := l.mkdirAll(ctx, p, mode, owner); err != nil {
		return fmt.Errorf("%s: create directory %s: %w", l.Name(), p, unwrapPath(err))
	}
	return nil
}

func (l *local) mkdirAll(ctx context.Context, p string, mode fs.FileMode, owner string) error {
	if err := errors.Join(ctx.Err(), checkPath(p)); err != nil {
		return err
	}
	uid, gid, err := lookupOwner(owner)
	if err != nil {
		return err
	}
	if mode == 0 {
		mode = 0o755
	}
	if err := mkdirParents(p); err != nil {
		return err
	}
	if err := os.Chmod(p, chmodBits(mode)); err != nil {
		return err
	}
	return os.Chown(p, uid, gid)
}

func (l *local) Symlink(ctx context.Context, target, link string) error {
	if l.sudo {
		return l.files.Symlink(ctx, target, link)
	}
	if err := l.symlink(ctx, target, link); err != nil {
		return fmt.Errorf("%s: link %s to %s: %w", l.Name(), link, target, unwrapPath(err))
	}
	return nil
}

// symlink renames a fresh link over the old one, so that the link never
// disappears: the release switch relies on it.
func (l *local) symlink(ctx context.Context, target, link string) error {
	if err := errors.Join(ctx.Err(), checkPath(link)); err != nil {
		return err
	}
	dir := filepath.Dir(link)
	if err := mkdirParents(dir); err != nil {
		return err
	}
	tmp := tempName(dir, "link")
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func (l *local) Remove(ctx context.Context, p string) error {
	if l.sudo {
		return l.files.Remove(ctx, p)
	}
	err := errors.Join(ctx.Err(), checkPath(p))
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: remove %s: %w", l.Name(), p, unwrapPath(err))
	}
	return nil
}

// mkdirParents creates dir and its missing parents as 0755, whatever the
// process umask is (changing the umask would race with other goroutines).
func mkdirParents(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirParents(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		// Another goroutine may have created it in the meantime.
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}

// syncDir makes a rename in dir durable: the new directory entry is only on
// disk once the directory itself is fsynced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lookupOwner resolves "user:group", "user" (login group) or numeric ids.
func lookupOwner(owner string) (uid, gid int, err error) {
	spec, err := chownSpec(owner)
	if err != nil {
		return 0, 0, err
	}
	name, group, _ := strings.Cut(spec, ":")
	uid, err = strconv.Atoi(name)
	loginGID := ""
	if err != nil {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, 0, fmt.Errorf("look up owner: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		loginGID = u.Gid
	}
	if group == "" {
		if loginGID == "" {
			if u, err := user.LookupId(name); err == nil {
				loginGID = u.Gid
			}
		}
		gid, err = strconv.Atoi(loginGID)
		if err != nil {
			return 0, 0, fmt.Errorf("look up login group of %q: %w", name, err)
		}
		return uid, gid, nil
	}
	if gid, err = strconv.Atoi(group); err == nil {
		return uid, gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, 0, fmt.Errorf("look up group: %w", err)
	}
	gid, _ = strconv.Atoi(g.Gid)
	return uid, gid, nil
}

// ownerName reports ids as "user:group", falling back to the numbers like
// the stat(1) based SSH transport does.
func ownerName(uid, gid uint32) string {
	u, g := strconv.Itoa(int(uid)), strconv.Itoa(int(gid))
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return u + ":" + g
}

// chmodBits keeps the bits chmod can set; os.Chmod maps them to st_mode.
func chmodBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
