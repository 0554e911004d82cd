package authserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	SecretKey []byte // HS256 key, the .env SECRET_KEY bytes as-is; at least 32 bytes
	// PreviousKeys (the .env SECRET_KEY_PREVIOUS) are still accepted when
	// verifying access tokens, never used to sign: after a key rotation,
	// tokens signed with the old key keep working until they expire.
	PreviousKeys  [][]byte
	AccessTTL     time.Duration // access token lifetime; default 15m
	RefreshTTL    time.Duration // idle timeout: lifetime of each refresh token, renewed by every refresh; default 720h
	SessionMaxAge time.Duration // absolute session lifetime, however active; default the longer of 90 days and RefreshTTL
	Grace         time.Duration // window in which a rotated refresh token gets its successor again; default 10s, negative disables
	Issuer        string        // iss claim, e.g. "myapp/shop"; checked on /me when set
	// Audience, when set, is put in every access token's aud and required
	// on /me. Leave it empty for a backend that decodes with PyJWT
	// without an audience argument, which refuses tokens that have one.
	Audience string
	// TrustedProxies are the peers whose X-Forwarded-For and X-Real-IP
	// headers are believed; default loopback (nginx on the same host).
	TrustedProxies []netip.Prefix
	// UserLimit and IPLimit bound failed logins per username and per
	// client address (an IPv6 client by its /64); see RateLimit.
	UserLimit, IPLimit RateLimit
	Logger             *slog.Logger     // default: discard
	Now                func() time.Time // clock; default time.Now (tests inject their own)
}

const (
	minSecretLen = 32
	// maxGrace bounds the window in which a stolen, already-rotated token
	// still works; the window exists for racing tabs, not for long reuse.
	maxGrace = time.Minute
)

// loginTimeout bounds a login's wait for the password-hashing semaphore
// (a variable so that a test need not wait for it).
var loginTimeout = 10 * time.Second

// Server answers the auth HTTP API. Create it with New.
type Server struct {
	opts    Options
	st      *Store
	log     *slog.Logger
	keys    []hmacKey // keys[0] signs; all verify
	userLim *limiter
	ipLim   *limiter
}

// New checks opts, fills in defaults and returns a Server using st.
func New(opts Options, st *Store) (*Server, error) {
	if st == nil {
		return nil, errors.New("authserver: nil store")
	}
	if len(opts.SecretKey) < minSecretLen {
		return nil, fmt.Errorf("SECRET_KEY is %d bytes, need at least %d; hint: myapp env generates one", len(opts.SecretKey), minSecretLen)
	}
	keys := []hmacKey{newHMACKey(opts.SecretKey)} // copies: the caller may zero or reuse its slices
	for _, k := range opts.PreviousKeys {
		if len(k) < minSecretLen {
			return nil, fmt.Errorf("SECRET_KEY_PREVIOUS is %d bytes, need at least %d", len(k), minSecretLen)
		}
		keys = append(keys, newHMACKey(k))
	}
	opts.SecretKey, opts.PreviousKeys = nil, nil
	if opts.AccessTTL == 0 {
		opts.AccessTTL = 15 * time.Minute
	}
	if opts.RefreshTTL == 0 {
		opts.RefreshTTL = 720 * time.Hour
	}
	if opts.SessionMaxAge == 0 {
		opts.SessionMaxAge = max(90*24*time.Hour, opts.RefreshTTL)
	}
	switch {
	case opts.Grace == 0:
		opts.Grace = 10 * time.Second
	case opts.Grace < 0:
		opts.Grace = 0
	case opts.Grace > maxGrace:
		return nil, fmt.Errorf("reuse grace window %v is longer than %v", opts.Grace, maxGrace)
	}
	if opts.AccessTTL < 0 || opts.RefreshTTL < 0 || opts.SessionMaxAge < 0 {
		return nil, errors.New("token lifetimes must be positive")
	}
	if opts.TrustedProxies == nil {
		opts.TrustedProxies = defaultTrustedProxies
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, st: st, log: opts.Logger, keys: keys,
		userLim: newLimiter(opts.UserLimit.withDefaults(defaultUserLimit), opts.Now),
		ipLim:   newLimiter(opts.IPLimit.withDefaults(defaultIPLimit), opts.Now),
	}
	return s, nil
}

func (s *Server) policy() policy {
	return policy{now: s.opts.Now(), idle: s.opts.RefreshTTL, maxAge: s.opts.SessionMaxAge, grace: s.opts.Grace}
}

// route is one path of the API: its handler for each method it answers,
// and the Allow header a request with any other method gets.
type route struct {
	methods map[string]http.Handler
	allow   []string
	post    bool // unsafe: checked against cross-origin requests
}

// Handler returns the HTTP API, with its paths as nginx forwards them
// (the /auth prefix stripped). Every answer, an unknown path (404) or a
// method a path does not take (405, with Allow) included, is the API's
// JSON: {"error": ..., "detail": ...} for failures.
func (s *Server) Handler() http.Handler {
	// Only the POST routes read a body; GET /me, the hot path, is spared
	// the request copy MaxBytesHandler makes.
	post := func(h http.HandlerFunc) route {
		return route{methods: map[string]http.Handler{"POST": http.MaxBytesHandler(h, maxBodyBytes)}, allow: []string{"POST"}, post: true}
	}
	get := func(h http.HandlerFunc) route {
		return route{methods: map[string]http.Handler{"GET": h, "HEAD": h}, allow: []string{"GET, HEAD"}}
	}
	routes := map[string]route{
		"/token":         post(s.handleToken),
		"/token/refresh": post(s.handleRefresh),
		"/logout":        post(s.handleLogout),
		"/logout/all":    post(s.handleLogoutAll),
		"/me":            get(s.handleMe),
		"/healthz":       get(s.handleHealthz),
	}

	// A cross-site page must not be able to log a browser in to the
	// attacker's account (the cookie would be set), refresh with the
	// browser's cookie or log it out; SameSite covers only the cookie
	// being sent, not being set. Browsers say where a request comes from
	// (Sec-Fetch-Site, Origin); clients that are no browser send neither
	// and pass.
	csrf := http.NewCrossOriginProtection()
	return s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := routes[r.URL.Path]
		if !ok {
			writeError(w, http.StatusNotFound, "invalid_request",
				"no such endpoint: the API is POST /token, POST /token/refresh, POST /logout, POST /logout/all, GET /me and GET /healthz")
			return
		}
		h := rt.methods[r.Method]
		if h == nil {
			w.Header()["Allow"] = rt.allow
			writeError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed on this endpoint; use "+rt.allow[0])
			return
		}
		if rt.post {
			if err := csrf.Check(r); err != nil {
				writeError(w, http.StatusForbidden, "invalid_request", "cross-origin request refused")
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
}
