package authserver

import (
	"context"
	"math"
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
// bucket is spent by pending ones wait for those to settle instead of
// being refused.
type limiter struct {
	limit RateLimit
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	tokens  float64
	at      time.Time     // when tokens was last brought up to date
	pending int           // attempts holding a token, not yet settled
	settled chan struct{} // closed (and replaced) when one settles
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	if l.Burst < 0 {
		return nil
	}
	return &limiter{limit: l, now: now, b: make(map[string]*bucket)}
}

// acquire takes a token of key's bucket for one attempt. If the bucket is
// empty but attempts are pending, it waits for one to settle (or for
// ctx); if it is empty and nothing is pending, it refuses at once with
// the time until a token is back. On success the caller must call
// release exactly once: release(true) gives the token back (the attempt
// succeeded, or failed for reasons of ours), release(false) spends it. A
// nil limiter (limit off) always allows.
func (l *limiter) acquire(ctx context.Context, key string) (release func(refund bool), retryAfter time.Duration, ok bool) {
	if l == nil {
		return func(bool) {}, 0, true
	}
	for {
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
		if b.tokens >= 1 {
			b.tokens--
			b.pending++
			l.mu.Unlock()
			var once sync.Once
			return func(refund bool) { once.Do(func() { l.settle(b, refund) }) }, 0, true
		}
		wait := time.Duration(math.Ceil((1 - b.tokens) * float64(l.limit.Every)))
		if b.pending == 0 {
			l.mu.Unlock()
			return nil, wait, false
		}
		if b.settled == nil {
			b.settled = make(chan struct{})
		}
		ch := b.settled
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, wait, false
		}
	}
}

func (l *limiter) settle(b *bucket, refund bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.pending--
	if refund {
		l.refill(b, l.now())
		b.tokens = min(float64(l.limit.Burst), b.tokens+1)
	}
	if b.settled != nil {
		close(b.settled)
		b.settled = nil
	}
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
