package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// authServer is `myapp auth serve` as a real process (the binary
// testscript puts on PATH), as systemd runs it.
type authServer struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuf
	done   chan error
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startAuthServe(t *testing.T, dir string) *authServer {
	t.Helper()
	bin, err := exec.LookPath("myapp")
	if err != nil {
		t.Fatalf("myapp is not on PATH (testscript.Main puts it there): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &authServer{base: "http://" + addr, stderr: &syncBuf{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "auth", "serve", "--listen", addr, "--config", filepath.Join(dir, "myapp.toml"))
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
	}
	t.Fatalf("auth serve did not come up:\n%s", s.stderr)
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (s *authServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("auth serve after SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("auth serve ignored SIGTERM:\n%s", s.stderr)
	}
}

func login(base, user, pw string) (int, map[string]any, error) {
	resp, err := http.PostForm(base+"/token", url.Values{"username": {user}, "password": {pw}})
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, nil
}

// SIGTERM lets the logins in flight finish (they queue for the password
// hash, so several are still running when the signal arrives), then the
// server exits 0. A key rotation and restart afterwards keeps the old
// access token valid and the session refreshable.
func TestAuthServeGracefulStopAndKeyRotation(t *testing.T) {
	dir := authProject(t, "sqlite:///"+filepath.Join(t.TempDir(), "app.db"))
	if code, _, errs := cli(t, dir, "a good password\n", "auth", "user", "add", "alice", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	srv := startAuthServe(t, dir)

	const n = 12
	statuses := make(chan string, n)
	first := make(chan struct{}, n)
	var tokens map[string]any
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			code, m, err := login(srv.base, "alice", "a good password")
			first <- struct{}{}
			statuses <- fmt.Sprint(code, err)
			mu.Lock()
			tokens = m
			mu.Unlock()
		})
	}
	<-first // the first login is done, the others are in flight
	srv.stop(t)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != "200 <nil>" {
			t.Errorf("a login in flight at SIGTERM got %s", s)
		}
	}
	if logs := srv.stderr.String(); !strings.Contains(logs, "auth server stopped") {
		t.Errorf("no clean-stop line in the log:\n%s", logs)
	}
	if _, err := http.Get(srv.base + "/healthz"); err == nil {
		t.Error("still answering after the stop")
	}

	if code, _, errs := cli(t, dir, "", "auth", "rotate-key"); code != 0 {
		t.Fatal(errs)
	}
	srv = startAuthServe(t, dir)
	req, _ := http.NewRequest("GET", srv.base+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+fmt.Sprint(tokens["access_token"]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("access token from before the rotation: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	resp, err = http.Post(srv.base+"/token/refresh", "application/json",
		strings.NewReader(`{"refresh_token":"`+fmt.Sprint(tokens["refresh_token"])+`"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh after the rotation: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	srv.stop(t) // the log is buffered until the stop flushes it
	if logs := srv.stderr.String(); !strings.Contains(logs, "previous_key=true") || strings.Contains(logs, cliSecret) {
		t.Errorf("restart log:\n%s", logs)
	}
	os.Remove(filepath.Join(dir, ".env"))
}

// A client that holds its request past the 10 s shutdown grace does not
// make the stop a failure (systemd would mark the unit failed): it is cut
// off, the log says so, and the server exits 0 with its clean-stop line.
func TestAuthServeStopCutsOffASlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 10 s shutdown grace")
	}
	dir := authProject(t, "sqlite:///"+filepath.Join(t.TempDir(), "app.db"))
	srv := startAuthServe(t, dir)
	slow, err := net.Dial("tcp", strings.TrimPrefix(srv.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// Half a login body, then nothing: the server waits for the rest.
	fmt.Fprint(slow, "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":")
	time.Sleep(200 * time.Millisecond)
	srv.stop(t)
	logs := srv.stderr.String()
	if !strings.Contains(logs, "shutdown grace over") || !strings.Contains(logs, "connections=1") ||
		!strings.Contains(logs, "auth server stopped") || strings.Contains(logs, "myapp:") {
		t.Errorf("log after a stop with a slow client:\n%s", logs)
	}
}

// TestAuthServePortInUse: a port another process holds is an error naming
// the address with a hint, and the server never announces it is listening.
func TestAuthServePortInUse(t *testing.T) {
	dir := authProject(t, "sqlite:///"+filepath.Join(t.TempDir(), "app.db"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errs := cli(t, dir, "", "auth", "serve", "--listen", ln.Addr().String())
	if code != 1 || !strings.Contains(errs, "listen on "+ln.Addr().String()) || !strings.Contains(errs, "address already in use") ||
		!strings.Contains(errs, "hint: another process listens there") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if strings.Contains(errs, "auth server listening") {
		t.Errorf("announced listening on a port it could not take:\n%s", errs)
	}
}
