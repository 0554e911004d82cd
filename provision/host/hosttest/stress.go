package hosttest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
)

var stressTests = []test{
	// Readers racing a writer must only ever see one complete version: a
	// reader that opens a half-written file would serve a broken page or
	// certificate.
	{"WriteFileAtomic", func(t *testing.T, e env) {
		p := e.dir + "/big"
		size, rounds := 1<<20, 16
		if testing.Short() {
			size, rounds = 64<<10, 6
		}
		version := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, size+i%3) }
		mustWrite(t, e, host.FileSpec{Path: p, Data: version(0), Mode: 0o644})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for reads := 0; ; reads++ {
					select {
					case <-stop:
						return
					default:
					}
					got, err := e.h.ReadFile(e.ctx, p)
					if err != nil {
						t.Errorf("read %d during rewrites: %v", reads, err)
						return
					}
					if len(got) < size || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
						t.Errorf("read %d saw a partial or mixed file (%d bytes)", reads, len(got))
						return
					}
				}
			})
		}
		for i := 1; i <= rounds; i++ {
			mustWrite(t, e, host.FileSpec{Path: p, Data: version(i), Mode: 0o644})
		}
		close(stop)
		wg.Wait()
		if got := mustRun(t, e, "ls", "-A", e.dir); got != "big\n" {
			t.Errorf("temp files left behind: ls -A = %q", got)
		}
	}},
	// The release switch: the link must never be missing, even for an
	// instant, while it flips between releases.
	{"SymlinkAtomic", func(t *testing.T, e env) {
		link := e.dir + "/current"
		targets := []string{e.dir + "/r1", e.dir + "/r2"}
		if err := e.h.Symlink(e.ctx, targets[0], link); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { statLoop(t, e, link, targets, stop) })
		}
		// Enough flips to catch a gap locally in milliseconds, bounded in
		// time for transports where each call costs a round trip.
		start := time.Now()
		for i := 0; i < 100 && (i < 10 || time.Since(start) < 3*time.Second); i++ {
			if err := e.h.Symlink(e.ctx, targets[i%2], link); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		wg.Wait()
		if got := mustRun(t, e, "ls", "-A", e.dir); got != "current\n" {
			t.Errorf("temp links left behind: ls -A = %q", got)
		}
	}},
	// More goroutines than OpenSSH allows sessions per connection (10).
	{"Concurrent", func(t *testing.T, e env) {
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				p := fmt.Sprintf("%s/g%d/file", e.dir, i)
				data := []byte(strings.Repeat(fmt.Sprint(i), 1000))
				if err := e.h.WriteFile(e.ctx, host.FileSpec{Path: p, Data: data, Mode: 0o600}); err != nil {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
				got, err := e.h.ReadFile(e.ctx, p)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("goroutine %d: read back %d bytes, %v", i, len(got), err)
				}
				out, err := e.h.Run(e.ctx, host.Cmd{Argv: []string{"echo", fmt.Sprint(i)}})
				if err != nil || string(out) != fmt.Sprintln(i) {
					t.Errorf("goroutine %d: echo = %q, %v", i, out, err)
				}
			})
		}
		wg.Wait()
	}},
	// The listener runs in the test process: the host must reach its
	// loopback, which holds for Local and for an sshd on this machine.
	{"Dial", func(t *testing.T, e env) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
		conn, err := e.h.Dial(e.ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		msg := bytes.Repeat([]byte("ping "), 20000)
		go conn.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("echo through Dial: %v, equal=%v", err, bytes.Equal(got, msg))
		}
		closed, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := closed.Addr().String()
		closed.Close()
		_, err = e.h.Dial(e.ctx, "tcp", addr)
		if err == nil {
			t.Errorf("Dial to a closed port %s succeeded", addr)
		}
		wantNamed(t, e, err)
	}},
	{"CloseTwice", func(t *testing.T, e env) {
		h := e.h
		if err := h.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
		if err := h.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
	}},
}

func statLoop(t *testing.T, e env, link string, targets []string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		fi, err := e.h.Stat(e.ctx, link)
		if err != nil || (fi.Symlink != targets[0] && fi.Symlink != targets[1]) {
			t.Errorf("Stat during flips = %+v, %v", fi, err)
			return
		}
	}
}
