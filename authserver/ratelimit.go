package authserver

import (
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
type limiter struct {
	limit RateLimit
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(l RateLimit) *limiter {
	if l.Burst < 0 {
		return nil
	}
	return &limiter{limit: l, b: make(map[string]*bucket)}
}

// take spends one token of key's bucket. When the bucket is empty it
// returns false and how long until a token is back. A nil limiter (limit
// off) always allows.
func (l *limiter) take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b[key]
	if b == nil {
		if len(l.b) >= maxLimiterKeys {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.limit.Burst), at: now}
		l.b[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		wait := time.Duration(math.Ceil((1 - b.tokens) * float64(l.limit.Every)))
		return false, wait
	}
	b.tokens--
	return true, 0
}

// give returns a token taken for an attempt that turned out to succeed.
func (l *limiter) give(key string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.b[key]; b != nil {
		l.refill(b, now)
		b.tokens = min(float64(l.limit.Burst), b.tokens+1)
	}
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(l.limit.Burst), b.tokens+float64(d)/float64(l.limit.Every))
		b.at = now
	}
}

// evict drops buckets that have refilled, which are the same as absent.
// If an attacker keeps more than maxLimiterKeys buckets non-full, some of
// theirs (picked at random by map order) are forgotten: memory stays
// bounded, and the attacker regains a few tries, no more.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.b {
		l.refill(b, now)
		if b.tokens >= float64(l.limit.Burst) {
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
