package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Echo is what the stub backend answers: the request as it reached it.
type Echo struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawQuery   string              `json:"raw_query"`
	Host       string              `json:"host"`
	RemoteAddr string              `json:"remote_addr"`
	Headers    map[string][]string `json:"headers"`
	Body       string              `json:"body"`
}

// Stub is a running stub API backend.
type Stub struct {
	URL string // http://ADDR
	srv *http.Server
}

// StubBackend serves, on addr (normally 127.0.0.1:8000, the default
// api.upstream), a JSON Echo of every request, so tests can see what nginx
// forwarded: path with the /api prefix stripped, X-Forwarded-* headers.
func StubBackend(ctx context.Context, addr string) (*Stub, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stub backend: %w", err)
	}
	s := &Stub{
		URL: "http://" + l.Addr().String(),
		srv: &http.Server{
			Handler:           http.HandlerFunc(echo),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e := Echo{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Headers:    r.Header,
		Body:       string(body),
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Stub-Backend", "1")
	_ = json.NewEncoder(w).Encode(e)
}

// Close stops the server.
func (s *Stub) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
