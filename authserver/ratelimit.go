package authserver

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// RateLimit is a token bucket for failed logins: Burst failures at once,
// then one more each Every. The zero value takes the defaults; a negative
// Burst turns the limit off.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Default limits. Per username they slow online guessing of one account to
// 60 tries an hour; per client address they bound password spraying across
// many accounts. Only failures count (a successful login gives its token
// back), so a busy office behind one NAT address is not throttled by its
// own users logging in.
var (
	defaultUserLimit = RateLimit{Burst: 10, Every: time.Minute}
	defaultIPLimit   = RateLimit{Burst: 30, Every: 6 * time.Second}
)

func (l RateLimit) withDefaults(def RateLimit) RateLimit {
	if l.Burst == 0 {
		l.Burst = def.Burst
	}
	if l.Every <= 0 {
		l.Every = def.Every
	}
	return l
}

// maxLimiterKeys bounds a limiter's memory (about 100 bytes a key) when an
// attacker cycles through usernames or addresses.
const maxLimiterKeys = 100_000

// limiter holds one bucket per key. It lives in the process: two server
// instances each enforce the limit, so together they allow twice the
// burst, which still leaves online guessing hopeless.
//
// An attempt holds a token while its password is checked and gives it
// back if the password was right. So the number of guesses in flight for
// one key never exceeds what the bucket holds, however many connections
// an attacker opens; and legitimate logins that arrive together while the
// bucket is spent by pending ones queue for those to settle instead of
// being refused. The queue is first come, first served: waking every
// waiter at each settle let the newest win again and again, and fifty
// people logging in at once saw some of theirs wait out the login timeout.
type limiter struct {
	limit RateLimit
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	tokens  float64
	at      time.Time // when tokens was last brought up to date
	pending int       // attempts holding a token, not yet settled
	queue   []*waiter // attempts waiting for one, oldest first; empty when pending is 0
}

// waiter is a queued attempt. serve answers it once, on done: true with
// a token taken for it, false refused after wait.
type waiter struct {
	done chan bool
	wait time.Duration
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	if l.Burst < 0 {
		return nil
	}
	return &limiter{limit: l, now: now, b: make(map[string]*bucket)}
}

// acquire takes a token of key's bucket for one attempt. If the bucket is
// empty but attempts are pending, it queues until one settles (or until
// ctx ends: then it fails with ctx.Err() set, which means busy, not
// refused); if it is empty and nothing is pending, it refuses at once
// with the time until a token is back. On success the caller must call
// release exactly once: release(true) gives the token back (the attempt
// succeeded, or failed for reasons of ours), release(false) spends it. A
// nil limiter (limit off) always allows.
func (l *limiter) acquire(ctx context.Context, key string) (release func(refund bool), retryAfter time.Duration, ok bool) {
	if l == nil {
		return func(bool) {}, 0, true
	}
	l.mu.Lock()
	now := l.now()
	b := l.b[key]
	if b == nil {
		if len(l.b) >= maxLimiterKeys {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.limit.Burst), at: now}
		l.b[key] = b
	}
	l.refill(b, now)
	switch {
	case len(b.queue) == 0 && b.tokens >= 1:
		b.tokens--
		b.pending++
		l.mu.Unlock()
		return l.releaser(b), 0, true
	case b.pending == 0:
		wait := l.untilToken(b)
		l.mu.Unlock()
		return nil, wait, false
	}
	w := &waiter{done: make(chan bool, 1)}
	b.queue = append(b.queue, w)
	l.serve(b) // tokens that came back with time go to the oldest first
	l.mu.Unlock()
	select {
	case got := <-w.done:
		if !got {
			return nil, w.wait, false
		}
		return l.releaser(b), 0, true
	case <-ctx.Done():
	}
	l.mu.Lock()
	if i := slices.Index(b.queue, w); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
		l.mu.Unlock()
		return nil, 0, false
	}
	l.mu.Unlock()
	if <-w.done { // served meanwhile: the token goes back, unused
		l.settle(b, true)
	}
	return nil, 0, false
}

func (l *limiter) releaser(b *bucket) func(refund bool) {
	var once sync.Once
	return func(refund bool) { once.Do(func() { l.settle(b, refund) }) }
}

func (l *limiter) settle(b *bucket, refund bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.pending--
	l.refill(b, l.now())
	if refund {
		b.tokens = min(float64(l.limit.Burst), b.tokens+1)
	}
	l.serve(b)
}

// serve hands the bucket's tokens to its queue in arrival order; once no
// token is left and none is pending, nothing will come back soon, and
// every waiter left is refused.
func (l *limiter) serve(b *bucket) {
	for len(b.queue) > 0 {
		w := b.queue[0]
		switch {
		case b.tokens >= 1:
			b.tokens--
			b.pending++
			w.done <- true
		case b.pending == 0:
			w.wait = l.untilToken(b)
			w.done <- false
		default:
			return
		}
		b.queue[0] = nil
		b.queue = b.queue[1:]
	}
}

// untilToken is how long until the bucket holds a whole token again.
func (l *limiter) untilToken(b *bucket) time.Duration {
	return time.Duration(math.Ceil((1 - b.tokens) * float64(l.limit.Every)))
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(l.limit.Burst), b.tokens+float64(d)/float64(l.limit.Every))
		b.at = now
	}
}

// evict drops buckets that have refilled and have nothing pending, which
// are the same as absent. If an attacker keeps more than maxLimiterKeys
// buckets busy, some of theirs (picked at random by map order) are
// forgotten: memory stays bounded, and the attacker regains a few tries,
// no more. A forgotten bucket's pending attempts still settle on it.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.b {
		l.refill(b, now)
		if b.pending == 0 && b.tokens >= float64(l.limit.Burst) {
			delete(l.b, k)
		}
	}
	for k := range l.b {
		if len(l.b) < maxLimiterKeys*9/10 {
			break
		}
		delete(l.b, k)
	}
}
