package authserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"
)

func TestLimiterRefillsAndGivesBack(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(RateLimit{Burst: 2, Every: 10 * time.Second}, clock.Now)
	ctx := t.Context()
	for i := range 2 {
		release, _, ok := l.acquire(ctx, "k")
		if !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
		release(false) // a wrong guess
	}
	if _, wait, ok := l.acquire(ctx, "k"); ok || wait != 10*time.Second {
		t.Fatalf("third attempt = %v, %v; want refused for 10s", ok, wait)
	}
	clock.Advance(4 * time.Second)
	if _, wait, ok := l.acquire(ctx, "k"); ok || wait != 6*time.Second {
		t.Fatalf("after 4s = %v, %v; want refused for 6s", ok, wait)
	}
	clock.Advance(6 * time.Second)
	release, _, ok := l.acquire(ctx, "k")
	if !ok {
		t.Fatal("no token after the refill interval")
	}
	release(true) // the right password: the token comes back
	release(true) // settling twice is harmless
	if release, _, ok := l.acquire(ctx, "k"); !ok {
		t.Fatal("given-back token not usable")
	} else {
		release(false)
	}
	if _, _, ok := l.acquire(ctx, "other"); !ok {
		t.Fatal("keys share a bucket")
	}
	off := newLimiter(RateLimit{Burst: -1}, clock.Now)
	for range 100 {
		if _, _, ok := off.acquire(ctx, "k"); !ok {
			t.Fatal("disabled limiter refused")
		}
	}
}

// More simultaneous attempts than the bucket holds: the extra ones wait
// for the pending ones, and go ahead when those succeed; when those fail,
// they are refused. Guesses in flight never exceed the burst.
func TestLimiterQueuesBehindPending(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(RateLimit{Burst: 2, Every: time.Hour}, clock.Now)
	r1, _, _ := l.acquire(t.Context(), "k")
	r2, _, _ := l.acquire(t.Context(), "k")
	got := make(chan bool, 2)
	for range 2 {
		go func() {
			release, _, ok := l.acquire(t.Context(), "k")
			if ok {
				release(false)
			}
			got <- ok
		}()
	}
	select {
	case <-got:
		t.Fatal("a third attempt went ahead while two were pending")
	case <-time.After(50 * time.Millisecond):
	}
	r1(true) // success: one waiter takes the returned token, and fails
	r2(false)
	if a, b := <-got, <-got; a == b {
		t.Fatalf("waiters got %v and %v; want one through and one refused", a, b)
	}
}

// An attacker cycling through keys must not grow the map without bound.
func TestLimiterMemoryBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(RateLimit{Burst: 1, Every: time.Hour}, clock.Now)
	for i := range maxLimiterKeys + 5000 {
		if release, _, ok := l.acquire(t.Context(), fmt.Sprint(i)); ok {
			release(false)
		}
	}
	if n := len(l.b); n > maxLimiterKeys {
		t.Fatalf("%d buckets, bound is %d", n, maxLimiterKeys)
	}
}

func TestClientAddr(t *testing.T) {
	s := &Server{opts: Options{TrustedProxies: append([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, defaultTrustedProxies...)}}
	tests := []struct {
		peer, xff, real, want string
	}{
		{"203.0.113.5:4000", "", "", "203.0.113.5"},
		{"203.0.113.5:4000", "1.2.3.4", "5.6.7.8", "203.0.113.5"}, // untrusted peer: headers ignored
		{"127.0.0.1:4000", "", "", "127.0.0.1"},
		{"127.0.0.1:4000", "", "198.51.100.1", "198.51.100.1"},
		{"127.0.0.1:4000", "198.51.100.1", "", "198.51.100.1"},
		{"127.0.0.1:4000", "6.6.6.6, 198.51.100.1", "", "198.51.100.1"},        // spoofed left part
		{"127.0.0.1:4000", "198.51.100.1, 10.1.2.3", "", "198.51.100.1"},       // through two proxies
		{"127.0.0.1:4000", "garbage, 198.51.100.1", "", "198.51.100.1"},        // garbage left of the client
		{"127.0.0.1:4000", "198.51.100.1, garbage", "", "127.0.0.1"},           // garbage from a proxy: stop
		{"127.0.0.1:4000", "10.0.0.1, 10.0.0.2", "", "10.0.0.1"},               // all trusted: the leftmost
		{"[::1]:4000", "[2001:db8::1]:5555", "", "2001:db8::1"},                // bracketed with port
		{"[::ffff:127.0.0.1]:4000", "::ffff:198.51.100.7", "", "198.51.100.7"}, // mapped addresses
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.real != "" {
			r.Header.Set("X-Real-IP", tt.real)
		}
		if got := s.clientIP(r); got != tt.want {
			t.Errorf("peer %s XFF %q X-Real-IP %q: %s, want %s", tt.peer, tt.xff, tt.real, got, tt.want)
		}
	}
	if k := limitKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); k != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 limit key %s, want the /64", k)
	}
}

// Attempts queued behind pending ones are served in arrival order, one
// returned token each: the oldest never waits behind newer arrivals.
func TestLimiterServesInArrivalOrder(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(RateLimit{Burst: 1, Every: time.Hour}, clock.Now)
	first, _, _ := l.acquire(t.Context(), "k")
	const n = 20
	order := make(chan int, n)
	for i := range n {
		go func() {
			release, _, ok := l.acquire(t.Context(), "k")
			if !ok {
				order <- -1
				return
			}
			order <- i
			release(true)
		}()
		// Let waiter i queue before waiter i+1 starts.
		for queued := 0; queued != i+1; time.Sleep(time.Millisecond) {
			l.mu.Lock()
			queued = len(l.b["k"].queue)
			l.mu.Unlock()
		}
	}
	first(true)
	for want := range n {
		if got := <-order; got != want {
			t.Fatalf("waiter %d served in place %d", got, want)
		}
	}
}

// A queued attempt whose context ends leaves the queue and fails with the
// context's error (busy, not refused); a token handed to it meanwhile is
// not lost.
func TestLimiterWaitEndsWithContext(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(RateLimit{Burst: 1, Every: time.Hour}, clock.Now)
	held, _, _ := l.acquire(t.Context(), "k")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, _, ok := l.acquire(ctx, "k"); ok || ctx.Err() == nil {
		t.Fatalf("acquire behind a pending attempt = %v with ctx %v; want a failure when ctx ends", ok, ctx.Err())
	}
	if q := len(l.b["k"].queue); q != 0 {
		t.Fatalf("%d waiters left queued", q)
	}
	held(true)
	release, _, ok := l.acquire(t.Context(), "k")
	if !ok {
		t.Fatal("token lost after a waiter gave up")
	}
	release(true)
}

// Fifty people logging in at once as one user (an office, a load test):
// all get in. They queue behind the bucket's ten pending attempts and the
// hashing slots, first come, first served, well inside the login timeout.
func TestFiftyConcurrentLogins(t *testing.T) {
	// What is tested is that none is refused; how long the queue takes
	// depends on the machine (a CI box hashing for other jobs too may take
	// longer than the production timeout).
	defer func(d time.Duration) { loginTimeout = d }(loginTimeout)
	loginTimeout = 2 * time.Minute
	e := newEnv(t)
	const n = 50
	codes := make(chan string, n)
	for range n {
		go func() {
			resp, err := e.ts.Client().PostForm(e.ts.URL+"/token", url.Values{"username": {testUser}, "password": {testPassword}})
			if err != nil {
				codes <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				codes <- fmt.Sprintf("%d %s", resp.StatusCode, body)
				return
			}
			codes <- ""
		}()
	}
	for range n {
		if c := <-codes; c != "" {
			t.Error(c)
		}
	}
}

// A login queued behind pending ones until the login timeout is told the
// server is busy (503), not that there were too many failed logins.
func TestLoginQueuedTooLongIsBusy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.UserLimit = RateLimit{Burst: 1, Every: time.Hour} })
	defer func(d time.Duration) { loginTimeout = d }(loginTimeout)
	loginTimeout = 100 * time.Millisecond
	for range cap(e.st.hashes) { // the first login holds the user's token, waiting for a hash slot
		e.st.hashes <- struct{}{}
	}
	defer func() {
		for range cap(e.st.hashes) {
			<-e.st.hashes
		}
	}()
	type answer struct {
		resp *http.Response
		body []byte
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			resp, err := e.ts.Client().PostForm(e.ts.URL+"/token", url.Values{"username": {testUser}, "password": {testPassword}})
			if err != nil {
				answers <- answer{}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{resp, body}
		}()
	}
	for range 2 {
		a := <-answers
		if a.resp == nil {
			t.Fatal("request failed")
		}
		wantError(t, a.resp, a.body, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
}
