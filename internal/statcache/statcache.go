// Package statcache remembers values computed from files for as long as
// the files stay as they were, judged by their stat data alone (device,
// inode, size, modification and change times), the way git's index spares
// re-reading unchanged files.
//
// cert renew --all uses it for not-due decisions: reading and parsing an
// app's config, certificate, key and renewal state costs about ten times
// more than asking the kernel whether any of them changed.
//
// The files are stamped (Stamp) before they are read, and a value is only
// stored (Put) when the stamps taken again afterwards are the same, so a
// path that came to name another file meanwhile (a symlink switched, a
// file renamed over it) is not trusted; and only when every file last
// changed (ctime) at least Margin before the computation started: a file
// written after that point, even within one tick of the file system's
// clock, then has a newer ctime than the one recorded, so no change goes
// unnoticed. ctime cannot be set by a program; any write, rename or chmod
// moves it.
package statcache

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/myapp/myapp/internal/readfile"
)

// Margin is how long before a computation started its files must have last
// changed for its value to be stored.
const Margin = time.Second

// maxSize bounds the cache file: far above what thousands of entries need.
const maxSize = 16 << 20

const magic = "myapp-statcache 1"

// Cache is a set of values by key, loaded from and saved to one file. Get
// and Put may be called from several goroutines at once.
type Cache struct {
	path string
	salt string

	mu      sync.Mutex
	entries map[string]*entry // an entry is never changed, only replaced
	used    map[string]bool   // keys looked up or stored in this run
	dirty   bool
}

type entry struct {
	since, until time.Time // the value holds from since to until
	value        []string
	files        []fileStamp
}

type fileStamp struct {
	path string
	link bool // the path itself (lstat), not what it points to
	id   stamp
}

// stamp is what stat says about a file: any change to it changes one of
// these.
type stamp struct {
	dev, ino, size, mtime, ctime int64
}

// Open loads the cache at path. salt names everything else the values
// depend on (the program's own identity, say): a file written with another
// salt, or one that cannot be read or parsed, is an empty cache.
func Open(path, salt string) *Cache {
	c := &Cache{path: path, salt: salt, entries: map[string]*entry{}, used: map[string]bool{}}
	data, err := readfile.ReadRegular(path, maxSize)
	if err != nil {
		return c // missing, unreadable, or not a regular file (a FIFO would block)
	}
	entries, err := parse(string(data), salt)
	if err != nil {
		c.dirty = true // rewrite it
		return c
	}
	c.entries = entries
	return c
}

// Get returns key's value if it still holds at now: now is inside the
// period it was stored for, and every file it came from is unchanged.
func (c *Cache) Get(key string, now time.Time) ([]string, bool) {
	c.mu.Lock()
	c.used[key] = true
	e := c.entries[key]
	c.mu.Unlock()
	if e == nil || now.Before(e.since) || !now.Before(e.until) {
		return nil, false
	}
	for _, f := range e.files {
		id, err := statOf(f.path, f.link)
		if err != nil || id != f.id {
			return nil, false
		}
	}
	return e.value, true
}

// Stamps are what stat said about some files, taken before they were read.
type Stamps []fileStamp

// Stamp records the files' stat data; take it before reading them.
func Stamp(files ...string) Stamps { return stampAll(files, false) }

// StampLinks records the stat data of symbolic links themselves (lstat):
// a link switched to another target and back while the files behind it
// were read (A, B, A) leaves those files as they were, but not the link,
// which is a new one after each switch.
func StampLinks(links ...string) Stamps { return stampAll(links, true) }

func stampAll(paths []string, link bool) Stamps {
	out := make(Stamps, len(paths))
	for i, p := range paths {
		id, err := statOf(p, link)
		if err != nil {
			id = stamp{ino: -1} // never stored: Put stats again and fails
		}
		out[i] = fileStamp{p, link, id}
	}
	return out
}

// Put stores value for key: computed from the stamped files, starting at
// since (taken before any of them was read), holding until until. It is
// not stored (and an older value is dropped) when a file is not as it was
// stamped, changed too recently to be trusted, cannot be stat'ed, or a
// field holds a tab or newline.
func (c *Cache) Put(key string, value []string, before Stamps, since, until time.Time) {
	e := newEntry(key, value, before, since, until)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used[key] = true
	if c.entries[key] != nil {
		delete(c.entries, key)
		c.dirty = true
	}
	if e != nil {
		c.entries[key] = e
		c.dirty = true
	}
}

// newEntry is Put's entry, or nil when it is not to be stored.
func newEntry(key string, value []string, before Stamps, since, until time.Time) *entry {
	if !storable(key) || !until.After(since) || len(before) == 0 {
		return nil
	}
	for _, v := range value {
		if !storable(v) {
			return nil
		}
	}
	e := &entry{since: since, until: until, value: value}
	for _, b := range before {
		id, err := statOf(b.path, b.link)
		if err != nil || id != b.id || !storable(b.path) || id.ctime > since.Add(-Margin).UnixNano() {
			return nil
		}
		e.files = append(e.files, b)
	}
	return e
}

// Save writes the cache when it changed, keeping only the keys used in
// this run (an app removed since is forgotten). The file is replaced by a
// rename, mode 0600, without waiting for the disk: a cache lost or torn by
// a crash fails its checksum and is an empty cache, which costs one run
// that reads every file again.
func (c *Cache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if !c.used[k] {
			delete(c.entries, k)
			c.dirty = true
		}
	}
	if !c.dirty {
		return nil
	}
	if err := replace(c.path, c.format()); err != nil {
		return fmt.Errorf("save %s: %w", c.path, err)
	}
	c.dirty = false
	return nil
}

func replace(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// FileID is stat's identity of a file, for a salt: it changes whenever the
// file is replaced or written.
func FileID(path string) (string, error) {
	id, err := statOf(path, false)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d:%d:%d:%d", id.dev, id.ino, id.size, id.mtime, id.ctime), nil
}

func statOf(path string, link bool) (stamp, error) {
	var st syscall.Stat_t
	for {
		var err error
		if link {
			err = syscall.Lstat(path, &st)
		} else {
			err = syscall.Stat(path, &st)
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return stamp{}, err
		}
		break
	}
	return stamp{dev: int64(st.Dev), ino: int64(st.Ino), size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}, nil
}

func storable(s string) bool { return !strings.ContainsAny(s, "\t\n\r") }

// The file is lines of tab-separated fields:
//
//	myapp-statcache 1 <TAB> salt
//	K <TAB> key <TAB> since <TAB> until <TAB> value...
//	F <TAB> path <TAB> dev <TAB> ino <TAB> size <TAB> mtime <TAB> ctime
//	L <TAB> (the same for a link itself)
//
// with times in RFC 3339 (FormatTime); F and L lines belong to the K line above. The
// last line is the CRC-32 of all before it:
//
//	sum <TAB> crc
func (c *Cache) format() []byte {
	b := make([]byte, 0, 64+len(c.entries)*800)
	b = append(b, magic+"\t"+c.salt+"\n"...)
	for k, e := range c.entries {
		b = append(b, "K\t"+k+"\t"...)
		b = e.since.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '\t')
		b = e.until.UTC().AppendFormat(b, time.RFC3339Nano)
		for _, v := range e.value {
			b = append(append(b, '\t'), v...)
		}
		b = append(b, '\n')
		for _, f := range e.files {
			kind := "F\t"
			if f.link {
				kind = "L\t"
			}
			b = append(b, kind+f.path...)
			for _, n := range [...]int64{f.id.dev, f.id.ino, f.id.size, f.id.mtime, f.id.ctime} {
				b = strconv.AppendInt(append(b, '\t'), n, 10)
			}
			b = append(b, '\n')
		}
	}
	return fmt.Appendf(b, "sum\t%08x\n", crc32.ChecksumIEEE(b))
}

var errFormat = errors.New("not a cache file")

// FormatTime writes t for a value, exactly (any year, to the nanosecond):
// RFC 3339 in UTC. ParseTime reads it back.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ParseTime reads what FormatTime wrote.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func parse(data, salt string) (map[string]*entry, error) {
	i := strings.LastIndex(strings.TrimSuffix(data, "\n"), "\n") + 1
	body, sum := data[:i], data[i:]
	if sum != fmt.Sprintf("sum\t%08x\n", crc32.ChecksumIEEE([]byte(body))) {
		return nil, errFormat
	}
	head, rest, _ := strings.Cut(body, "\n")
	if head != magic+"\t"+salt {
		return nil, errFormat
	}
	entries := map[string]*entry{}
	var cur *entry
	for line := range strings.SplitSeq(rest, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		switch {
		case f[0] == "K" && len(f) >= 4:
			since, err1 := ParseTime(f[2])
			until, err2 := ParseTime(f[3])
			if err1 != nil || err2 != nil || entries[f[1]] != nil || (cur != nil && len(cur.files) == 0) {
				return nil, errFormat
			}
			cur = &entry{since: since, until: until, value: f[4:]}
			entries[f[1]] = cur
		case (f[0] == "F" || f[0] == "L") && len(f) == 7 && cur != nil:
			var n [5]int64
			for i := range n {
				v, err := strconv.ParseInt(f[2+i], 10, 64)
				if err != nil {
					return nil, errFormat
				}
				n[i] = v
			}
			cur.files = append(cur.files, fileStamp{f[1], f[0] == "L", stamp{n[0], n[1], n[2], n[3], n[4]}})
		default:
			return nil, errFormat
		}
	}
	if cur != nil && len(cur.files) == 0 {
		return nil, errFormat // a value not tied to any file would never go stale
	}
	return entries, nil
}
