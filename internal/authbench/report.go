package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

type rotationResult struct {
	db, where string
	runs      []loadRun
}

// report gathers the figures of one run and prints them as Markdown.
type report struct {
	c                    config
	me                   []meRounds
	rotations            []rotationResult
	logins               loginRun
	machine, build, load string
	took                 time.Duration
}

func (r *report) print(w io.Writer) {
	c := r.c
	fmt.Fprintf(w, "| measurement | result | target | |\n|---|---|---|---|\n")
	for _, m := range r.me {
		b, me := median(rps(m.bare)), median(rps(m.me))
		ratio := me / b
		fmt.Fprintf(w, "| GET /me ÷ bare net/http, %s | %.0f ÷ %.0f req/s = **%.2f** | ≥ 0.6 | %s |\n",
			m.pl, me, b, ratio, verdict(ratio >= 0.6))
	}
	for _, rr := range r.rotations {
		v := median(perSec(rr.runs))
		target, ok := "", ""
		if rr.db == "SQLite" {
			target, ok = "≥ 3,000/s", verdict(v >= 3000)
		}
		fmt.Fprintf(w, "| refresh rotations, %s | **%.0f /s** | %s | %s |\n", rr.db, v, target, ok)
	}
	refused, codes := 0, []string{}
	for code, n := range r.logins.refused {
		refused += n
		codes = append(codes, fmt.Sprintf("%d× %d", n, code))
	}
	slices.Sort(codes)
	loginNote, loginOK := "", "met"
	if refused > 0 {
		loginNote, loginOK = fmt.Sprintf(", and %d refused (%s)", refused, strings.Join(codes, ", ")), "**failed**"
	}
	fmt.Fprintf(w, "| logins, %d concurrent clients | **%.1f /s**%s | every one served | %s |\n", c.logins, r.logins.perSec, loginNote, loginOK)
	mb := float64(r.logins.peakKB) * 1024 / 1e6 // VmHWM is in KiB
	fmt.Fprintf(w, "| peak RSS (VmHWM) of auth serve, %d concurrent logins | **%.0f MB** | ≤ 300 MB | %s |\n",
		c.logins, mb, verdict(mb <= 300))

	fmt.Fprintf(w, "\nDetails (per-round figures in run order; \"cores\" is CPU time over wall time, 1.0 = one CPU busy):\n\n")
	for _, m := range r.me {
		fmt.Fprintf(w, "- GET /me, %s (%s): %d connections, wrk -t%d, responses of %d bytes on the wire from both servers.\n",
			m.pl.name, m.pl, c.conns, m.pl.clientThreads(), m.wireBytes)
		fmt.Fprintf(w, "  Servers' Cpus_allowed_list: %s.\n", m.affinity)
		fmt.Fprintf(w, "  myapp req/s %s; bare %s; per-round ratios %s.\n",
			list(rps(m.me), "%.0f"), list(rps(m.bare), "%.0f"), list(ratios(m.me, m.bare), "%.2f"))
		fmt.Fprintf(w, "  Server CPU per request: myapp %.1f µs, bare %.1f µs; server cores myapp %.2f, bare %.2f; wrk cores %.2f / %.2f.\n",
			median(usPerReq(m.me)), median(usPerReq(m.bare)),
			median(serverCores(m.me)), median(serverCores(m.bare)),
			median(clientCores(m.me)), median(clientCores(m.bare)))
	}
	for _, rr := range r.rotations {
		fmt.Fprintf(w, "- Refresh rotations, %s (%s): %d sessions refreshed in parallel over %d connections by a Go client sharing the CPUs; rounds %s /s; server cores %.2f, client cores %.2f.\n",
			rr.db, rr.where, c.conns, c.conns, list(perSec(rr.runs), "%.0f"),
			median(loadField(rr.runs, func(l loadRun) float64 { return l.serverCores })),
			median(loadField(rr.runs, func(l loadRun) float64 { return l.clientCores })))
	}
	fmt.Fprintf(w, "- Logins: Argon2id m=19 MiB t=2 p=1, hashes bounded by the server's semaphore; server cores %.2f, client cores %.2f; VmHWM %d KiB over the server's whole life (a fresh process).\n",
		r.logins.serverCores, r.logins.clientCores, r.logins.peakKB)
	label := c.label
	if label == "" {
		label = "unlabelled"
	}
	fmt.Fprintf(w, "\nMachine: %s; load average %s. myapp %s: %s. Each measurement %s (after 1 s of warm-up for the Go client), %d rounds; run took %s.\n",
		r.machine, r.load, label, r.build, c.duration, c.rounds, r.took)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func rps(rs []wrkRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.rps
	}
	return out
}

func ratios(a, b []wrkRun) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i].rps / b[i].rps
	}
	return out
}

func usPerReq(rs []wrkRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.serverCores / r.rps * 1e6
	}
	return out
}

func serverCores(rs []wrkRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.serverCores
	}
	return out
}

func clientCores(rs []wrkRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.clientCores
	}
	return out
}

func perSec(rs []loadRun) []float64 {
	return loadField(rs, func(l loadRun) float64 { return l.perSec })
}

func loadField(rs []loadRun, f func(loadRun) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(xs []float64, format string) string {
	ss := make([]string, len(xs))
	for i, x := range xs {
		ss[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(ss, ", ")
}
