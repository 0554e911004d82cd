package hosttest

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/myapp/myapp/provision/host"
)

var fileTests = []test{
	{"Missing", func(t *testing.T, e env) {
		for _, p := range []string{e.dir + "/nope", e.dir + "/no/such/dir/file"} {
			_, err := e.h.ReadFile(e.ctx, p)
			if !host.IsNotExist(err) {
				t.Errorf("ReadFile(%s) = %v, want fs.ErrNotExist", p, err)
			}
			wantNamed(t, e, err)
			_, err = e.h.Stat(e.ctx, p)
			if !host.IsNotExist(err) {
				t.Errorf("Stat(%s) = %v, want fs.ErrNotExist", p, err)
			}
			wantNamed(t, e, err)
		}
	}},
	{"WriteFile", func(t *testing.T, e env) {
		p := e.dir + "/a/b/secret.pem"
		data := bytes.Repeat(allBytes(), 40)
		mustWrite(t, e, host.FileSpec{Path: p, Data: data, Mode: 0o600})
		got, err := e.h.ReadFile(e.ctx, p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile after WriteFile: %d bytes, err %v; want the %d bytes written", len(got), err, len(data))
		}
		wantInfo(t, e, p, host.FileInfo{Mode: 0o600, Owner: "root:root", Size: int64(len(data))})
		for _, d := range []string{e.dir + "/a", e.dir + "/a/b"} {
			wantInfo(t, e, d, host.FileInfo{Mode: fs.ModeDir | 0o755, Owner: "root:root"})
		}
	}},
	{"WriteFileModes", func(t *testing.T, e env) {
		p := e.dir + "/f"
		for _, m := range []fs.FileMode{0o644, 0o600, 0o640, 0o755} {
			mustWrite(t, e, host.FileSpec{Path: p, Data: []byte(m.String()), Mode: m})
			wantInfo(t, e, p, host.FileInfo{Mode: m, Owner: "root:root", Size: int64(len(m.String()))})
		}
		mustWrite(t, e, host.FileSpec{Path: p}) // zero mode and no data
		wantInfo(t, e, p, host.FileInfo{Mode: 0o644, Owner: "root:root"})
		if got, err := e.h.ReadFile(e.ctx, p); err != nil || len(got) != 0 {
			t.Errorf("ReadFile of an empty file = %q, %v", got, err)
		}
	}},
	{"WriteFileOwner", func(t *testing.T, e env) {
		if e.owner == "" {
			t.Skip("no non-root owner on this host")
		}
		p := e.dir + "/owned"
		mustWrite(t, e, host.FileSpec{Path: p, Data: []byte("x"), Mode: 0o640, Owner: e.owner})
		wantInfo(t, e, p, host.FileInfo{Mode: 0o640, Owner: e.owner, Size: 1})
		user, _, _ := strings.Cut(e.owner, ":") // "user" alone: its login group
		mustWrite(t, e, host.FileSpec{Path: p, Data: []byte("y"), Mode: 0o600, Owner: user})
		wantInfo(t, e, p, host.FileInfo{Mode: 0o600, Owner: e.owner, Size: 1})
		mustWrite(t, e, host.FileSpec{Path: p, Data: []byte("z"), Mode: 0o600})
		wantInfo(t, e, p, host.FileInfo{Mode: 0o600, Owner: "root:root", Size: 1})
	}},
	{"WriteFileErrors", func(t *testing.T, e env) {
		mustRun(t, e, "mkdir", e.dir+"/isdir")
		mustWrite(t, e, host.FileSpec{Path: e.dir + "/file", Data: []byte("x")})
		for _, f := range []host.FileSpec{
			{Path: "relative/path"},
			{Path: e.dir + "/../escape"},
			{Path: e.dir + "/isdir"},      // a directory is in the way
			{Path: e.dir + "/file/child"}, // a file is in the way
			{Path: e.dir + "/x", Owner: "no-such-user-myapp:root"},
		} {
			err := e.h.WriteFile(e.ctx, f)
			if err == nil {
				t.Errorf("WriteFile(%q, owner %q) succeeded, want an error", f.Path, f.Owner)
			}
			wantNamed(t, e, err)
		}
		if got := mustRun(t, e, "ls", "-A", e.dir); got != "file\nisdir\n" {
			t.Errorf("failed writes left files behind: ls -A = %q", got)
		}
	}},
	{"MkdirAll", func(t *testing.T, e env) {
		p := e.dir + "/x/y/z"
		for _, m := range []fs.FileMode{0o750, 0o750, 0o700} { // idempotent, then a new mode
			if err := e.h.MkdirAll(e.ctx, p, m, e.owner); err != nil {
				t.Fatalf("MkdirAll(%s, %v): %v", p, m, err)
			}
			want := e.owner
			if want == "" {
				want = "root:root"
			}
			wantInfo(t, e, p, host.FileInfo{Mode: fs.ModeDir | m, Owner: want})
		}
		wantInfo(t, e, e.dir+"/x/y", host.FileInfo{Mode: fs.ModeDir | 0o755, Owner: "root:root"})
		mustWrite(t, e, host.FileSpec{Path: p + "/kept", Data: []byte("k")})
		if err := e.h.MkdirAll(e.ctx, p, 0, ""); err != nil {
			t.Fatal(err)
		}
		wantInfo(t, e, p, host.FileInfo{Mode: fs.ModeDir | 0o755, Owner: "root:root"})
		wantInfo(t, e, p+"/kept", host.FileInfo{Mode: 0o644, Owner: "root:root", Size: 1})
		if err := e.h.MkdirAll(e.ctx, p+"/kept", 0o755, ""); err == nil {
			t.Error("MkdirAll over a file succeeded")
		}
	}},
	{"Remove", func(t *testing.T, e env) {
		mustWrite(t, e, host.FileSpec{Path: e.dir + "/full/f", Data: []byte("f")})
		mustRun(t, e, "mkdir", e.dir+"/empty")
		if err := e.h.Symlink(e.ctx, e.dir+"/full/f", e.dir+"/link"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{e.dir + "/link", e.dir + "/empty", e.dir + "/missing", e.dir + "/link"} {
			if err := e.h.Remove(e.ctx, p); err != nil {
				t.Errorf("Remove(%s): %v", p, err)
			}
			if _, err := e.h.Stat(e.ctx, p); !host.IsNotExist(err) {
				t.Errorf("after Remove(%s), Stat = %v", p, err)
			}
		}
		mustStat(t, e, e.dir+"/full/f") // removing the link kept its target
		err := e.h.Remove(e.ctx, e.dir+"/full")
		if err == nil {
			t.Error("Remove of a non-empty directory succeeded")
		}
		wantNamed(t, e, err)
	}},
	{"Symlink", func(t *testing.T, e env) {
		t1, t2 := e.dir+"/rel 1 'q'", e.dir+"/rel2"
		mustWrite(t, e, host.FileSpec{Path: t1 + "/index.html", Data: []byte("one")})
		mustWrite(t, e, host.FileSpec{Path: t2 + "/index.html", Data: []byte("two")})
		link := e.dir + "/www/current" // its parent does not exist yet
		for _, target := range []string{t1, t2, "relative/target"} {
			if err := e.h.Symlink(e.ctx, target, link); err != nil {
				t.Fatalf("Symlink(%s): %v", target, err)
			}
			fi := mustStat(t, e, link)
			if fi.Mode&fs.ModeSymlink == 0 || fi.Symlink != target {
				t.Errorf("Stat(link) = %+v, want a symlink to %q", fi, target)
			}
		}
		if got := mustRun(t, e, "ls", "-A", t1, t2); got != t1+":\nindex.html\n\n"+t2+":\nindex.html\n" {
			t.Errorf("replacing a link to a directory changed the directory: %q", got)
		}
		if err := e.h.Symlink(e.ctx, t2, link); err != nil {
			t.Fatal(err)
		}
		if got, err := e.h.ReadFile(e.ctx, link+"/index.html"); string(got) != "two" {
			t.Errorf("ReadFile through the link = %q, %v", got, err)
		}
		err := e.h.Symlink(e.ctx, t2, t1) // a real directory is never replaced
		if err == nil {
			t.Error("Symlink over a directory succeeded")
		}
		wantNamed(t, e, err)
	}},
	{"StatKinds", func(t *testing.T, e env) {
		mustRun(t, e, "mkdir", "-m", "1777", e.dir+"/tmp")
		wantInfo(t, e, e.dir+"/tmp", host.FileInfo{Mode: fs.ModeDir | fs.ModeSticky | 0o777, Owner: "root:root"})
		target := e.dir + "/dangling\nnew line"
		if err := e.h.Symlink(e.ctx, target, e.dir+"/l"); err != nil {
			t.Fatal(err)
		}
		wantInfo(t, e, e.dir+"/l", host.FileInfo{Mode: fs.ModeSymlink | 0o777, Owner: "root:root",
			Size: int64(len(target)), Symlink: target})
		if _, err := e.h.ReadFile(e.ctx, e.dir+"/l"); !host.IsNotExist(err) {
			t.Errorf("ReadFile of a dangling link = %v, want fs.ErrNotExist", err)
		}
	}},
}

// wantInfo compares a Stat result; Size is ignored for directories, whose
// size depends on the file system.
func wantInfo(t *testing.T, e env, p string, want host.FileInfo) {
	t.Helper()
	got := mustStat(t, e, p)
	if got.Mode.IsDir() {
		got.Size = 0
	}
	if got != want {
		t.Errorf("Stat(%s) = %+v, want %+v", p, got, want)
	}
}
