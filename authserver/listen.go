package authserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server-level limits. The handler is behind nginx on the same host, but
// the listener may be reachable by others, so slow or oversized clients
// are cut off here as well.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	// writeTimeout leaves room for a login queued behind others for the
	// Argon2 semaphore.
	writeTimeout   = 30 * time.Second
	idleTimeout    = 120 * time.Second
	maxHeaderBytes = 16 << 10
	// shutdownGrace is how long in-flight requests get to finish after
	// ctx is cancelled; systemd's default stop timeout is 90 s.
	shutdownGrace = 10 * time.Second
)

// ListenAndServe serves h on addr until ctx is cancelled, then stops
// accepting connections and waits up to 10 s for requests in flight. It
// returns nil after such a shutdown, and an error if the address cannot
// be bound or serving fails.
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h)
}

// newHTTPServer is the http.Server with this package's limits; tests
// serve through it too, so that they meet the same limits as clients.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Request contexts deliberately do not derive from ctx: cancelling
		// it would abort the very requests a graceful shutdown lets finish.
	}
}

// Serve is ListenAndServe on a listener the caller opened (to report a
// port in use before announcing the server; tests use port 0).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := newHTTPServer(h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("shut down server on %s: %w", ln.Addr(), err)
	}
	return nil
}
