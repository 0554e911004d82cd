// Package readfile reads small regular files with the fewest system calls:
// open, fstat, read, close. A no-op `cert renew --all` reads four files per
// app, and os.ReadFile spends as much again on each: it makes the
// descriptor non-blocking and offers it to the runtime's poller (fcntl and
// epoll_ctl calls a regular file gains nothing from), then undoes it.
package readfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrTooLarge is wrapped by the error Read returns for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is wrapped by the error ReadRegular returns for anything but
// a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Read returns the contents of the file name, at most limit bytes (limit <= 0:
// no limit). Its errors are *os.PathError, as os.ReadFile's are. Anything
// but a regular file (a FIFO, a device, a directory) is read by package os,
// which knows how to wait on it or refuse it.
func Read(name string, limit int64) ([]byte, error) { return read(name, limit, false) }

// ReadRegular is Read for regular files only: anything else (a FIFO,
// which would block until a writer comes, a device) is an error wrapping
// ErrNotRegular, and is not read.
func ReadRegular(name string, limit int64) ([]byte, error) { return read(name, limit, true) }

func read(name string, limit int64, regularOnly bool) ([]byte, error) {
	fd, err := open(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		if regularOnly {
			return nil, &os.PathError{Op: "read", Path: name, Err: ErrNotRegular}
		}
		return readOS(name, limit)
	}
	data, err := readAll(fd, st.Size, limit)
	syscall.Close(fd) // read-only: nothing to lose at close
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// open opens name read-only. O_NONBLOCK makes opening a FIFO return at
// once (Read then hands it to package os); a regular file ignores it.
func open(name string) (int, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// readAll reads fd to its end. size is what fstat said: files that grow
// meanwhile, or report 0 (procfs), are read on until read returns 0.
func readAll(fd int, size, limit int64) ([]byte, error) {
	if limit > 0 && size > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	// One byte more than the size, so that the end is seen by the first
	// read coming back short, not by a second read.
	buf := make([]byte, 0, max(size+1, 512))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := cap(buf) - len(buf)
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if limit > 0 && int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
		}
		if n < want && int64(len(buf)) == size {
			return buf, nil // a short read at the size fstat gave: the end
		}
	}
}

// readOS reads what is not a regular file through package os.
func readOS(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: name, Err: unwrap(err)}
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, &os.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)}
	}
	return data, nil
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
