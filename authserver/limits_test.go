package authserver

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestLimiterRefillsAndGivesBack(t *testing.T) {
	l := newLimiter(RateLimit{Burst: 2, Every: 10 * time.Second})
	now := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := l.take("k", now); !ok {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	ok, wait := l.take("k", now)
	if ok || wait != 10*time.Second {
		t.Fatalf("third take = %v, %v; want refused for 10s", ok, wait)
	}
	if ok, wait := l.take("k", now.Add(4*time.Second)); ok || wait != 6*time.Second {
		t.Fatalf("after 4s = %v, %v; want refused for 6s", ok, wait)
	}
	if ok, _ := l.take("k", now.Add(10*time.Second)); !ok {
		t.Fatal("no token after the refill interval")
	}
	l.give("k", now.Add(10*time.Second))
	if ok, _ := l.take("k", now.Add(10*time.Second)); !ok {
		t.Fatal("given-back token not usable")
	}
	if ok, _ := l.take("other", now); !ok {
		t.Fatal("keys share a bucket")
	}
	var off *limiter = newLimiter(RateLimit{Burst: -1})
	for range 100 {
		if ok, _ := off.take("k", now); !ok {
			t.Fatal("disabled limiter refused")
		}
	}
}

// An attacker cycling through keys must not grow the map without bound.
func TestLimiterMemoryBounded(t *testing.T) {
	l := newLimiter(RateLimit{Burst: 1, Every: time.Hour})
	now := time.Unix(1000, 0)
	for i := range maxLimiterKeys + 5000 {
		l.take(fmt.Sprint(i), now)
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
