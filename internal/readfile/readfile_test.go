package readfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadsWhatOSReads(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 4096, 100_000} {
		p := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte("abcdefg\n"), size/8+1)[:size]
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p, 0)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: got %d bytes, %v", size, len(got), err)
		}
		got, err = Read(p, int64(size))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d, limit %d: got %d bytes, %v", size, size, len(got), err)
		}
	}
}

// A file whose size stat does not know (procfs says 0) is read to its end.
func TestReadsFilesWithoutSize(t *testing.T) {
	got, err := Read("/proc/self/status", 0)
	if err != nil || !strings.Contains(string(got), "\nPid:") {
		t.Fatalf("got %q, %v", got, err)
	}
	want, _ := os.ReadFile("/proc/self/cmdline")
	if got, err := Read("/proc/self/cmdline", 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("cmdline: got %q, %v; want %q", got, err, want)
	}
}

func TestErrorsAreOSErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(filepath.Join(dir, "missing"), 0)
	var pe *os.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "missing") {
		t.Errorf("missing file: %v, want a *PathError that is ErrNotExist", err)
	}
	_, err = Read(dir, 0)
	if !errors.Is(err, syscall.EISDIR) {
		t.Errorf("directory: %v, want EISDIR", err)
	}
	p := filepath.Join(dir, "locked")
	if err := os.WriteFile(p, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if _, err := Read(p, 0); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("mode 0: %v, want ErrPermission", err)
		}
	}
}

func TestLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 1025), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p, 1024)
	var pe *os.PathError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) || pe.Path != p {
		t.Errorf("1025 bytes, limit 1024: %v, want ErrTooLarge naming the file", err)
	}
	// A FIFO has no size: the limit holds on what comes through it.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			w.Write(make([]byte, 2048))
			w.Close()
		}
	}()
	if _, err := Read(fifo, 1024); !errors.Is(err, ErrTooLarge) {
		t.Errorf("FIFO over the limit: %v, want ErrTooLarge", err)
	}
}

// A FIFO is not read with a blocking read the runtime cannot interrupt:
// package os waits for its writer.
func TestFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			w.WriteString("through the pipe")
			w.Close()
		}
	}()
	got, err := Read(fifo, 0)
	if err != nil || string(got) != "through the pipe" {
		t.Errorf("got %q, %v", got, err)
	}
}

func BenchmarkRead(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 700), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("readfile", func(b *testing.B) {
		for b.Loop() {
			if _, err := Read(p, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("os", func(b *testing.B) {
		for b.Loop() {
			if _, err := os.ReadFile(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestReadRegular refuses, without blocking, what is not a regular file.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir, "/dev/zero"} {
		if _, err := ReadRegular(p, 0); !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: %v, want ErrNotRegular", p, err)
		}
	}
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRegular(p, 0); err != nil || string(got) != "data" {
		t.Errorf("regular file: %q, %v", got, err)
	}
}
