package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}
}

func decodeTokens(resp *http.Response, err error) (tokens, error) {
	if err != nil {
		return tokens{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return tokens{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return tokens{}, &statusError{code: resp.StatusCode, body: string(body)}
	}
	var t tokens
	if err := json.Unmarshal(body, &t); err != nil || t.RefreshToken == "" {
		return tokens{}, fmt.Errorf("bad token response %q: %v", body, err)
	}
	return t, nil
}

// statusError is an answer other than 200.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.body) }

func login(cl *http.Client, base string) (tokens, error) {
	return decodeTokens(cl.PostForm(base+"/token", url.Values{"username": {benchUser}, "password": {benchPassword}}))
}

// meRounds is the /me comparison under one placement.
type meRounds struct {
	pl        placement
	bare, me  []wrkRun
	wireBytes int    // size of one response, the same for both
	affinity  string // the servers' Cpus_allowed_list, read from /proc
}

// measureMeAndBare starts `auth serve` and the bare server on the
// placement's CPUs, makes the bare one answer with the very headers and
// body /me answers, checks that both send the same bytes, then runs wrk
// against each in turn, c.rounds times, alternating which goes first
// (bare, /me, /me, bare, ...) so that a drift of the machine hits both.
func measureMeAndBare(ctx context.Context, c config, pl placement, dbURL string) (m meRounds, err error) {
	m.pl = pl
	srv, err := startServe(ctx, c, dbURL, pl.serverCPUs)
	if err != nil {
		return m, err
	}
	defer srv.stop()
	t, err := login(http.DefaultClient, srv.base)
	if err != nil {
		return m, fmt.Errorf("login: %w", err)
	}
	auth := "Bearer " + t.AccessToken
	resp, body, size, err := rawGET(srv.base, "/me", auth)
	if err != nil || resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("GET /me: %v %s", err, body)
	}
	b, err := startBare(ctx, pl.serverCPUs, resp.Header, body)
	if err != nil {
		return m, err
	}
	defer b.stop()
	_, bareBody, bareSize, err := rawGET(b.base, "/me", auth)
	if err != nil {
		return m, fmt.Errorf("bare GET: %w", err)
	}
	if bareSize != size || !bytes.Equal(bareBody, body) {
		return m, fmt.Errorf("the bare server sends %d bytes, /me %d: not the same response", bareSize, size)
	}
	m.wireBytes = size
	aff1, _ := procStatus(srv.pid, "Cpus_allowed_list")
	aff2, _ := procStatus(b.pid, "Cpus_allowed_list")
	m.affinity = fmt.Sprintf("auth serve %s, bare %s", aff1, aff2)
	logf("%s; responses of %d bytes each; servers' CPUs: %s", pl, size, m.affinity)

	for i := range c.rounds {
		// A fresh token each round, so that a long run never meets its expiry.
		if t, err = login(http.DefaultClient, srv.base); err != nil {
			return m, fmt.Errorf("login: %w", err)
		}
		auth = "Bearer " + t.AccessToken
		order := []*proc{b, srv}
		if i%2 == 1 {
			order = []*proc{srv, b}
		}
		for _, p := range order {
			logf("round %d/%d (%s): GET /me on %s, %s", i+1, c.rounds, pl.name, p.name, c.duration)
			r, err := runWrk(ctx, c, pl, p, p.base+"/me", auth)
			if err != nil {
				return m, fmt.Errorf("%s: %w", p.name, err)
			}
			if p == b {
				m.bare = append(m.bare, r)
			} else {
				m.me = append(m.me, r)
			}
		}
	}
	return m, nil
}

// loadRun is the outcome of a Go-client measurement.
type loadRun struct {
	perSec      float64
	clientCores float64 // this process's CPU over the wall time
	serverCores float64
}

// errUncounted from an op means: go on, but do not count this one.
var errUncounted = errors.New("not counted")

// forWorkers runs n workers until the measurement window ends and returns
// the operations completed inside the window per second. A second of warm
// up comes first; op returns an error to stop the run, or errUncounted.
func forWorkers(ctx context.Context, server *proc, n int, d time.Duration, op func(worker int) error) (loadRun, error) {
	start := time.Now().Add(time.Second)
	end := start.Add(d)
	var count atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	var sm, cm cpuMeter
	measuring := make(chan struct{})
	go func() {
		time.Sleep(time.Until(start))
		sm, cm = startMeter(server.pid), startMeter(os.Getpid())
		close(measuring)
	}()
	for i := range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := op(i)
				if err != nil && err != errUncounted {
					once.Do(func() { firstErr = err })
					return
				}
				now := time.Now()
				if now.After(end) {
					return
				}
				if now.After(start) && err == nil {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	<-measuring
	r := loadRun{perSec: float64(count.Load()) / d.Seconds(), serverCores: sm.cores(), clientCores: cm.cores()}
	if firstErr != nil {
		return r, firstErr
	}
	return r, ctx.Err()
}

// measureRotations gives each connection a session of its own and has it
// refresh its chain as fast as the server answers, c.rounds times.
func measureRotations(ctx context.Context, c config, name string, srv *proc) ([]loadRun, error) {
	cl := newClient(c.conns)
	chains := make([]string, c.conns)
	for i := range chains {
		t, err := login(cl, srv.base)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		chains[i] = t.RefreshToken
	}
	var runs []loadRun
	for i := range c.rounds {
		logf("round %d/%d: refresh rotations on %s, %d sessions, %s", i+1, c.rounds, name, c.conns, c.duration)
		r, err := forWorkers(ctx, srv, c.conns, c.duration, func(w int) error {
			body := strings.NewReader(`{"refresh_token":"` + chains[w] + `"}`)
			t, err := decodeTokens(cl.Post(srv.base+"/token/refresh", "application/json", body))
			if err != nil {
				return fmt.Errorf("refresh: %w", err)
			}
			chains[w] = t.RefreshToken
			return nil
		})
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// loginRun is the login phase's outcome.
type loginRun struct {
	loadRun
	refused map[int]int // answers other than 200, by status: each is a person not logged in
	peakKB  int64       // the server's VmHWM
}

// measureLogins runs c.logins concurrent logins of the bench user on a
// server started for them alone, and reports the rate of successful ones,
// the refused ones by status, and the server's peak resident memory
// (VmHWM) over its whole life.
func measureLogins(ctx context.Context, c config, srv *proc) (loginRun, error) {
	cl := newClient(c.logins)
	logf("logins, %d concurrent clients, %s", c.logins, c.duration)
	var mu sync.Mutex
	out := loginRun{refused: map[int]int{}}
	r, err := forWorkers(ctx, srv, c.logins, c.duration, func(int) error {
		_, err := login(cl, srv.base)
		var se *statusError
		if errors.As(err, &se) {
			mu.Lock()
			out.refused[se.code]++
			mu.Unlock()
			return errUncounted
		}
		return err
	})
	out.loadRun = r
	if err != nil {
		return out, err
	}
	out.peakKB, err = vmHWM(srv.pid)
	return out, err
}
