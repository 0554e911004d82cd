package statcache

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fixture is a cache file and two input files, written "long ago" as far
// as the cache is concerned: computations are said to start 2 s from now.
type fixture struct {
	t                 *testing.T
	dir, cache, a, b  string
	since, until, now time.Time
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, cache: filepath.Join(dir, "cache"), a: filepath.Join(dir, "a"), b: filepath.Join(dir, "b")}
	f.write(f.a, "alpha")
	f.write(f.b, "beta")
	f.since = time.Now().Add(2 * Margin)
	f.until = f.since.Add(time.Hour)
	f.now = f.since.Add(time.Minute)
	return f
}

func (f *fixture) write(p, s string) {
	f.t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// versions lays out what the certificate layout has: directories v1 and
// v2, each with a file "chain" (contents from chains), and the link "live"
// pointing at v1. It returns live; switch moves it.
func (f *fixture) versions(chains ...string) string {
	f.t.Helper()
	for i, v := range []string{"v1", "v2"} {
		if err := os.MkdirAll(filepath.Join(f.dir, v), 0o755); err != nil {
			f.t.Fatal(err)
		}
		f.write(filepath.Join(f.dir, v, "chain"), chains[i])
	}
	live := filepath.Join(f.dir, "live")
	f.switchTo(live, "v1")
	return live
}

// switchTo points link at target in one rename, as installing does.
func (f *fixture) switchTo(link, target string) {
	f.t.Helper()
	if err := os.Symlink(target, link+".new"); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(link+".new", link); err != nil {
		f.t.Fatal(err)
	}
}

// stored puts value for key "k" from files a and b, saves, and reopens.
func (f *fixture) stored(value ...string) *Cache {
	f.t.Helper()
	c := Open(f.cache, "salt")
	c.Put("k", value, Stamp(f.a, f.b), f.since, f.until)
	if err := c.Save(); err != nil {
		f.t.Fatal(err)
	}
	return Open(f.cache, "salt")
}

func (f *fixture) hit(c *Cache, want ...string) {
	f.t.Helper()
	got, ok := c.Get("k", f.now)
	if !ok || !slices.Equal(got, want) {
		f.t.Fatalf("Get = %q, %v; want %q", got, ok, want)
	}
}

func (f *fixture) miss(c *Cache, why string) {
	f.t.Helper()
	if got, ok := c.Get("k", f.now); ok {
		f.t.Errorf("%s: Get = %q, want a miss", why, got)
	}
}

func TestStoredValueHoldsAcrossRuns(t *testing.T) {
	f := newFixture(t)
	c := f.stored("v1", "", "with spaces", "ünïcode")
	f.hit(c, "v1", "", "with spaces", "ünïcode")
	if fi, err := os.Stat(f.cache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file: %v, %v; want mode 0600", fi, err)
	}
	// A run that changed nothing does not write the file.
	before, _ := os.Stat(f.cache)
	f.hit(c, "v1", "", "with spaces", "ünïcode")
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(f.cache)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("a run with only hits rewrote the cache file")
	}
}

// TestAnyChangeIsAMiss: each way a file can change makes the value stale.
func TestAnyChangeIsAMiss(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(f *fixture)
	}{
		{"rewritten in place, same size", func(f *fixture) { f.write(f.a, "ALPHA") }},
		{"replaced by rename", func(f *fixture) {
			f.write(f.a+".new", "alpha")
			if err := os.Rename(f.a+".new", f.a); err != nil {
				t.Fatal(err)
			}
		}},
		{"chmod", func(f *fixture) { _ = os.Chmod(f.b, 0o600) }},
		{"mtime set back by hand", func(f *fixture) {
			fi, _ := os.Stat(f.a)
			f.write(f.a, "alphb")
			_ = os.Chtimes(f.a, fi.ModTime(), fi.ModTime())
		}},
		{"removed", func(f *fixture) { _ = os.Remove(f.b) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.stored("v")
			f.hit(c, "v")
			tc.change(f)
			f.miss(c, tc.name)
		})
	}
}

// TestSymlinkSwitchIsAMiss: a path through a directory link (the
// certificate layout: certs/<domain> -> .archive/<version>) is stale once
// the link points at another version, even with identical contents.
func TestSymlinkSwitchIsAMiss(t *testing.T) {
	f := newFixture(t)
	live := f.versions("same", "same")
	f.a = filepath.Join(live, "chain")
	f.since = time.Now().Add(2 * Margin)
	c := f.stored("v")
	f.hit(c, "v")
	f.switchTo(live, "v2")
	f.miss(c, "link switched")
}

// TestRecentFilesAreNotStored: a file changed less than Margin before the
// computation started may change again within the same clock tick, so the
// value is not stored at all.
func TestRecentFilesAreNotStored(t *testing.T) {
	f := newFixture(t)
	f.since = time.Now()
	f.now = f.since.Add(time.Second)
	c := f.stored("v")
	f.miss(c, "inputs written just now")
}

func TestPeriod(t *testing.T) {
	f := newFixture(t)
	c := f.stored("v")
	f.now = f.until
	f.miss(c, "at until")
	f.now = f.since.Add(-time.Second)
	f.miss(c, "before since (the clock went back)")
	f.now = f.until.Add(-time.Second)
	f.hit(c, "v")
}

// withSum is body with the checksum line a Save writes.
func withSum(body string) string {
	return body + fmt.Sprintf("sum\t%08x\n", crc32.ChecksumIEEE([]byte(body)))
}

func TestSaltAndDamage(t *testing.T) {
	f := newFixture(t)
	f.stored("v")
	if _, ok := Open(f.cache, "other salt").Get("k", f.now); ok {
		t.Error("a value stored under another salt was returned")
	}
	good, err := os.ReadFile(f.cache)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(string(good))
	flipped[len(magic)+10] ^= 1
	head := magic + "\tsalt\n"
	for _, bad := range []string{
		"",
		"garbage\n",
		string(good[:len(good)-20]), // torn
		string(good[:len(good)-5]) + "\n",
		string(flipped),
		withSum(head + "K\tk\tnotatime\t9999-01-01T00:00:00Z\tv\nF\t/x\t1\t2\t3\t4\t5\n"),
		withSum(head + "K\tk\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\tv\nF\t/x\t1\t2\tthree\t4\t5\n"),
		withSum(head + "F\t/x\t1\t2\t3\t4\t5\n"),                                                                                                                           // a file line before any key
		withSum(head + "K\tk\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\tv\nF\t/x\t1\n"),                                                                                  // short file line
		withSum(head + "K\tk\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\nF\t/x\t1\t2\t3\t4\t5\nK\tk\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\nF\t/x\t1\t2\t3\t4\t5\n"), // a key twice
		withSum(head + "K\tk\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\tv\n"),                                                                                            // a value tied to no file
		withSum(head + "K\tj\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\tv\nK\tk\t2026-01-01T00:00:00Z\t9999-01-01T00:00:00Z\nF\t/x\t1\t2\t3\t4\t5\n"),
	} {
		f.write(f.cache, bad)
		c := Open(f.cache, "salt")
		f.miss(c, "damaged file "+bad)
		if _, ok := c.Get("j", f.now); ok {
			t.Errorf("damaged file %q: a value tied to no file was returned", bad)
		}
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(f.cache); string(data) != withSum(head) {
			t.Errorf("a damaged file was not rewritten: %q", data)
		}
	}
}

func TestUnusedKeysAreForgotten(t *testing.T) {
	f := newFixture(t)
	c := Open(f.cache, "salt")
	c.Put("k", []string{"v"}, Stamp(f.a), f.since, f.until)
	c.Put("gone", []string{"v"}, Stamp(f.b), f.since, f.until)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = Open(f.cache, "salt")
	f.hit(c, "v") // "gone" is not looked up in this run
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if _, ok := Open(f.cache, "salt").Get("gone", f.now); ok {
		t.Error("a key not used in the last run is still stored")
	}
}

func TestUnstorableValues(t *testing.T) {
	f := newFixture(t)
	for _, v := range [][]string{{"a\tb"}, {"line\nbreak"}, {"cr\r"}} {
		c := f.stored(v...)
		f.miss(c, "value "+v[0])
	}
	c := Open(f.cache, "salt")
	c.Put("k", []string{"v"}, Stamp(filepath.Join(f.dir, "missing")), f.since, f.until)
	if _, ok := c.Get("k", f.now); ok {
		t.Error("a value from a file that cannot be stat'ed was stored")
	}
	// A failed Put drops the value stored before it.
	c = f.stored("old")
	c.Put("k", []string{"new\t"}, Stamp(f.a), f.since, f.until)
	f.miss(c, "an unstorable Put after a stored value")
}

func TestFileID(t *testing.T) {
	f := newFixture(t)
	id1, err := FileID(f.a)
	if err != nil {
		t.Fatal(err)
	}
	f.write(f.a+".new", "alpha")
	_ = os.Rename(f.a+".new", f.a)
	if id2, _ := FileID(f.a); id2 == id1 {
		t.Error("FileID did not change when the file was replaced")
	}
	if _, err := FileID(filepath.Join(f.dir, "missing")); err == nil {
		t.Error("FileID of a missing file: no error")
	}
}

// TestConcurrentUse: Get and Put from many goroutines (cert renew --all
// decides apps in parallel); run with -race.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	c := Open(f.cache, "salt")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			key := fmt.Sprint("k", i%4)
			c.Put(key, []string{key}, Stamp(f.a, f.b), f.since, f.until)
			if v, ok := c.Get(key, f.now); !ok || v[0] != key {
				t.Errorf("Get(%s) = %q, %v", key, v, ok)
			}
		})
	}
	wg.Wait()
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = Open(f.cache, "salt")
	for i := range 4 {
		if _, ok := c.Get(fmt.Sprint("k", i), f.now); !ok {
			t.Errorf("k%d not saved", i)
		}
	}
}

// TestChangedWhileReadIsNotStored: a path that names another file after it
// was stamped (a link switched to another version while the files were
// read) gives no stored value, even when the new file is old.
func TestChangedWhileReadIsNotStored(t *testing.T) {
	f := newFixture(t)
	live := f.versions("v1", "v2")
	f.since = time.Now().Add(2 * Margin)
	stamps := Stamp(filepath.Join(live, "chain"))
	f.switchTo(live, "v2") // ... while the files are read
	c := Open(f.cache, "salt")
	c.Put("k", []string{"from v1"}, stamps, f.since, f.until)
	f.miss(c, "stored from files that changed while they were read")
}

// TestTimesAnyYear: times far beyond 2262 (UnixNano's end) keep their
// value.
func TestTimesAnyYear(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(9966, 11, 9, 16, 53, 50, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 1, 26, 16, 29, 18, 123456789, time.UTC),
	} {
		got, err := ParseTime(FormatTime(tm))
		if err != nil || !got.Equal(tm) {
			t.Errorf("%s: round trip gave %s, %v", tm, got, err)
		}
	}
	f := newFixture(t)
	f.until = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	f.hit(f.stored("v"), "v")
}

// TestFIFOIsNoCache: a FIFO where the cache file belongs is not waited on
// (a renewal run would hang until killed); it is replaced at the next save.
func TestFIFOIsNoCache(t *testing.T) {
	f := newFixture(t)
	if err := syscall.Mkfifo(f.cache, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Cache, 1)
	go func() { done <- Open(f.cache, "salt") }()
	select {
	case c := <-done:
		c.Put("k", []string{"v"}, Stamp(f.a), f.since, f.until)
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(f.cache); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("after Save: %v, %v; want a regular file", fi, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open blocked on a FIFO")
	}
}

// TestLinkSwitchedAwayAndBack: a link switched to another target and back
// while the files were read (A, B, A) leaves the files behind it as they
// were stamped, but not the link itself: with the link stamped, nothing
// is stored. Without it, the files alone would pass.
func TestLinkSwitchedAwayAndBack(t *testing.T) {
	f := newFixture(t)
	live := f.versions("v1", "v2")
	switchTo := func(v string) { f.switchTo(live, v) }
	f.since = time.Now().Add(2 * Margin)
	chain := filepath.Join(live, "chain")

	filesOnly := Stamp(chain)
	withLink := append(Stamp(chain), StampLinks(live)...)
	switchTo("v2") // ... the files are read here, from v2 ...
	switchTo("v1")

	c := Open(f.cache, "salt")
	c.Put("files", []string{"from v2"}, filesOnly, f.since, f.until)
	if _, ok := c.Get("files", f.now); !ok {
		t.Fatal("the files alone were expected to pass (else this test proves nothing)")
	}
	c.Put("k", []string{"from v2"}, withLink, f.since, f.until)
	f.miss(c, "link switched away and back while read")

	// A stored link stamp is checked by Get too, and survives Save.
	withLink = append(Stamp(chain), StampLinks(live)...)
	f.since, f.now = time.Now().Add(2*Margin), time.Now().Add(2*Margin+time.Minute)
	c.Put("k", []string{"v1"}, withLink, f.since, f.until)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = Open(f.cache, "salt")
	f.hit(c, "v1")
	switchTo("v1") // same target, new link
	f.miss(c, "link replaced")
}
