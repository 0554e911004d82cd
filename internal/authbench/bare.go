package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// bareEnv carries the baseline's response to the child process.
const bareEnv = "AUTHBENCH_BARE_RESPONSE"

type bareSpec struct {
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// encodeBare keeps the headers a handler sets; Date and Content-Length
// net/http adds to both servers alike.
func encodeBare(h http.Header, body []byte) (string, error) {
	keep := http.Header{}
	for k, v := range h {
		if k != "Date" && k != "Content-Length" {
			keep[k] = v
		}
	}
	b, err := json.Marshal(bareSpec{Header: keep, Body: body})
	return string(b), err
}

// bare serves the response in $AUTHBENCH_BARE_RESPONSE to every request
// and does nothing else: no routing, no token check, no log. It is the
// ceiling a net/http handler giving the same bytes reaches on this machine.
func bare(addr string) {
	var spec bareSpec
	if err := json.Unmarshal([]byte(os.Getenv(bareEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "authbench -bare:", err)
		os.Exit(2)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dst := w.Header()
		for k, v := range spec.Header {
			dst[k] = v
		}
		w.Write(spec.Body)
	})
	if err := http.ListenAndServe(addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "authbench -bare:", err)
		os.Exit(1)
	}
}

// rawGET sends one GET over a fresh connection and returns the response
// and its size on the wire (status line, headers, body), to check that the
// baseline and /me send the same number of bytes.
func rawGET(base, path, authorization string) (*http.Response, []byte, int, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, nil, 0, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, nil, 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n", path, u.Host, authorization)
	cr := &countingReader{r: conn}
	resp, err := http.ReadResponse(bufio.NewReader(cr), nil)
	if err != nil {
		return nil, nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, cr.n, err
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// wrkRun is one wrk measurement.
type wrkRun struct {
	rps         float64
	requests    int64
	clientCores float64 // wrk's CPU time over the wall time
	serverCores float64 // the server's, over the same stretch
}

// runWrk runs wrk on the client's CPUs against u, sending authorization
// (the same header to the baseline and to /me), and measures the server's
// CPU use meanwhile.
func runWrk(ctx context.Context, c config, pl placement, server *proc, u, authorization string) (wrkRun, error) {
	args := []string{fmt.Sprintf("-t%d", pl.clientThreads()), fmt.Sprintf("-c%d", c.conns),
		fmt.Sprintf("-d%ds", int(c.duration.Seconds())), "-H", "Authorization: " + authorization, u}
	cmd := command(pl.clientCPUs, c.wrk, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	sm := startMeter(server.pid)
	if err := cmd.Start(); err != nil {
		return wrkRun{}, fmt.Errorf("wrk: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	stop()
	r := wrkRun{serverCores: sm.cores()}
	if err != nil {
		return r, fmt.Errorf("wrk: %v: %s", err, out.String())
	}
	wall := time.Since(start).Seconds()
	r.clientCores = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() / wall
	r.rps, r.requests, err = parseWrk(out.String())
	return r, err
}

// parseWrk extracts Requests/sec and the request count, refusing a run
// with errors or non-2xx answers: a fast stream of 401s measures nothing.
func parseWrk(out string) (rps float64, n int64, err error) {
	if strings.Contains(out, "Non-2xx") || strings.Contains(out, "Socket errors") {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Requests/sec:"); ok {
			if rps, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				return 0, 0, fmt.Errorf("wrk Requests/sec %q: %w", v, err)
			}
		}
		if f := strings.Fields(line); len(f) > 2 && f[1] == "requests" && f[2] == "in" {
			n, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	if rps == 0 || n == 0 {
		return 0, 0, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	return rps, n, nil
}
