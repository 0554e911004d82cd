package authserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary a plain auth server on the database it
// names: a second process, as a second instance behind a load balancer.
const childEnv = "MYAPP_AUTHSERVER_TEST_CHILD_DB_URL"

func TestMain(m *testing.M) {
	if dbURL := os.Getenv(childEnv); dbURL != "" {
		os.Exit(runChild(dbURL))
	}
	os.Exit(m.Run())
}

// runChild serves until SIGTERM, printing its address on stdout first.
func runChild(dbURL string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	st, err := OpenStore(ctx, dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	srv, err := New(Options{SecretKey: testSecret, Issuer: "myapp/test"}, st)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	if err := Serve(ctx, ln, srv.Handler()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts a server process on dbURL and returns its base URL.
// It is stopped with SIGTERM when the test ends.
func startChild(t *testing.T, dbURL string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+dbURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server process: %v", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Error("server process ignored SIGTERM")
		}
	})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("server process exited before listening")
		}
		return "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("server process did not start")
	}
	return ""
}

// Two server processes share one database; fifty refreshes of one token,
// spread over both, must leave exactly one successor: no 500, no
// "database is locked", one session with one current token.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		dbURL := freshDBURL(t, b)
		st, err := OpenStore(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.AddUser(t.Context(), testUser, testPassword); err != nil {
			t.Fatal(err)
		}
		urls := []string{startChild(t, dbURL), startChild(t, dbURL)}

		resp, err := http.PostForm(urls[0]+"/token", map[string][]string{"username": {testUser}, "password": {testPassword}})
		if err != nil {
			t.Fatal(err)
		}
		var login tokenResponse
		json.NewDecoder(resp.Body).Decode(&login)
		resp.Body.Close()
		if login.RefreshToken == "" {
			t.Fatalf("login: status %d", resp.StatusCode)
		}

		const n = 50
		got := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				body := strings.NewReader(`{"refresh_token":"` + login.RefreshToken + `"}`)
				resp, err := http.Post(urls[i%2]+"/token/refresh", "application/json", body)
				if err != nil {
					got[i] = "error: " + err.Error()
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				var tr tokenResponse
				if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &tr) != nil {
					got[i] = fmt.Sprintf("status %d: %s", resp.StatusCode, raw)
					return
				}
				got[i] = tr.RefreshToken
			})
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		t.Logf("%d refreshes over two processes: %v", n, time.Since(t0))
		distinct := map[string]int{}
		for _, g := range got {
			distinct[g]++
		}
		if len(distinct) != 1 || len(got[0]) != refreshTokenLen {
			t.Fatalf("want one successor for all %d refreshes, got %v", n, distinct)
		}
		for q, want := range map[string]int{
			`SELECT COUNT(*) FROM myapp_auth_sessions`:                                1,
			`SELECT COUNT(*) FROM myapp_auth_refresh_tokens`:                          2,
			`SELECT COUNT(*) FROM myapp_auth_refresh_tokens WHERE rotated_at IS NULL`: 1,
		} {
			if n := queryInt(t, st, q); n != want {
				t.Errorf("%s = %d, want %d", q, n, want)
			}
		}
	})
}
