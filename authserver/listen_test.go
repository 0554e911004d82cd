package authserver

import (
	"context"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.NewServeMux()
	h.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // shutdown begins with a request in flight
	time.Sleep(50 * time.Millisecond)
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections after cancel")
	}
	close(release)
	if b := <-got; b != "done" {
		t.Errorf("in-flight request got %q, want it finished", b)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve returned %v after a clean shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
}

// A client still busy when the shutdown grace is over (here one that
// sends half a login body and stalls) is cut off, and the stop is still a
// clean one: Serve returns nil and logs how many connections it closed.
// A request that finishes within the grace is answered.
func TestServeCutsOffClientsPastTheGrace(t *testing.T) {
	defer func(d time.Duration) { shutdownGrace = d }(shutdownGrace)
	shutdownGrace = 300 * time.Millisecond
	var logs syncBuffer
	st := openTestStore(t)
	srv, err := New(Options{SecretKey: testSecret, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=al")
	time.Sleep(100 * time.Millisecond) // the request is read, its body is awaited
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after the grace: %v, want nil (a clean stop)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the grace")
	}
	if d := time.Since(start); d < shutdownGrace {
		t.Errorf("Serve returned after %v, before the %v grace", d, shutdownGrace)
	}
	slow.SetReadDeadline(time.Now().Add(2 * time.Second))
	if b, err := io.ReadAll(slow); err != nil || len(b) != 0 {
		t.Errorf("the slow client got %q, %v; want its connection closed without an answer", b, err)
	}
	if l := logs.String(); !strings.Contains(l, "shutdown grace over") || !strings.Contains(l, "connections=1") {
		t.Errorf("log does not say one connection was cut off:\n%s", l)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	err = ListenAndServe(t.Context(), addr, http.NotFoundHandler())
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("ListenAndServe on a taken port: %v", err)
	}
}

// authserver must import nothing else of this module, so the CLI, and
// later other binaries, can embed it without cycles.
func TestImportsNothingOfOurs(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/myapp/myapp") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
