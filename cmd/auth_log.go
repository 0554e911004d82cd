package cmd

import (
	"io"
	"sync"
	"time"
)

// logBuffer batches the auth server's log lines (mostly its access log,
// one line a request) into one write per interval instead of one write
// system call per line, which at thousands of requests a second costs
// more than the request itself. A line reaches stderr (journald) at most
// flushEvery late; Close flushes what is left, so a clean stop loses
// nothing.
type logBuffer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	stop chan struct{}
	done chan struct{}
}

const (
	logFlushEvery = 100 * time.Millisecond
	// logBufferMax flushes early under a burst, bounding memory.
	logBufferMax = 64 << 10
)

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *logBuffer) loop() {
	defer close(b.done)
	t := time.NewTicker(logFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.mu.Lock()
			b.flushLocked()
			b.mu.Unlock()
		case <-b.stop:
			return
		}
	}
}

// Write never fails: a log line that cannot be written must not fail the
// request that logged it.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > logBufferMax {
		b.flushLocked()
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.w.Write(b.buf)
	b.buf = b.buf[:0]
}

// Close stops the ticker and writes what is buffered.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return nil
}
