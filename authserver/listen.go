package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
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
)

// shutdownGrace is how long in-flight requests get to finish after ctx is
// cancelled; systemd's default stop timeout is 90 s. A variable so that a
// test need not wait for it.
var shutdownGrace = 10 * time.Second

// ListenAndServe serves h on addr until ctx is cancelled, then stops
// accepting connections and waits up to 10 s for requests in flight. It
// returns nil after such a shutdown, also when connections still busy
// after the wait had to be closed (logged to slog.Default), and an error
// if the address cannot be bound or serving fails.
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
	return serve(ctx, ln, h, slog.Default())
}

// Serve serves s.Handler() on ln as the package's Serve does, logging
// the connections a shutdown had to cut off to the server's Logger.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return serve(ctx, ln, s.Handler(), s.log)
}

func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := newHTTPServer(h)
	// open counts the connections not yet closed: after the grace, the
	// ones Shutdown has not closed as idle are busy, and are cut off.
	var open atomic.Int64
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
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
	if errors.Is(err, context.DeadlineExceeded) {
		// A client slower than the grace must not turn a stop into a
		// failure (systemd would mark the unit failed): it loses its
		// request, as it would have at systemd's own stop timeout.
		n := open.Load()
		srv.Close() // its only error is the listener's, closed already
		err = nil
		log.Warn("shutdown grace over: closed connections still busy", "addr", ln.Addr().String(),
			"connections", n, "grace", shutdownGrace)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("shut down server on %s: %w", ln.Addr(), err)
	}
	return nil
}
