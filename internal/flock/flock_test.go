package flock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "app.lock")
	unlock, err := Lock(context.Background(), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(context.Background(), p, 200*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second lock: %v, want ErrTimeout", err)
	}
	done := make(chan error)
	go func() {
		u, err := Lock(context.Background(), p, 5*time.Second)
		if err == nil {
			u()
		}
		done <- err
	}()
	time.Sleep(150 * time.Millisecond)
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("waiter did not get the lock after release: %v", err)
	}
}
