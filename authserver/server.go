package authserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Options configure a Server. Zero durations take the defaults.
type Options struct {
	SecretKey     []byte           // HS256 key, the .env SECRET_KEY bytes as-is; at least 32 bytes
	AccessTTL     time.Duration    // access token lifetime; default 15m
	RefreshTTL    time.Duration    // lifetime of each refresh token, renewed by every refresh; default 720h
	SessionMaxAge time.Duration    // absolute session lifetime, however active; default the longer of 90 days and RefreshTTL
	Grace         time.Duration    // window in which a rotated refresh token gets its successor again; default 10s, negative disables
	Issuer        string           // iss claim, e.g. "myapp/shop"; checked on /me when set
	Logger        *slog.Logger     // default: discard
	Now           func() time.Time // clock; default time.Now (tests inject their own)
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
	opts Options
	st   *Store
	log  *slog.Logger
}

// New checks opts, fills in defaults and returns a Server using st.
func New(opts Options, st *Store) (*Server, error) {
	if st == nil {
		return nil, errors.New("authserver: nil store")
	}
	if len(opts.SecretKey) < minSecretLen {
		return nil, fmt.Errorf("SECRET_KEY is %d bytes, need at least %d; hint: myapp env generates one", len(opts.SecretKey), minSecretLen)
	}
	opts.SecretKey = bytes.Clone(opts.SecretKey) // the caller may zero or reuse its slice
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, st: st, log: opts.Logger}, nil
}

func (s *Server) policy() policy {
	return policy{now: s.opts.Now(), idle: s.opts.RefreshTTL, maxAge: s.opts.SessionMaxAge, grace: s.opts.Grace}
}

// Handler returns the HTTP API, with its paths as nginx forwards them
// (the /auth prefix stripped).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("POST /token/refresh", s.handleRefresh)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("GET /me", s.handleMe)
	mux.HandleFunc("GET /healthz", s.handleHealthz)

	// A cross-site page must not be able to log a browser in to the
	// attacker's account (the cookie would be set) or log it out;
	// SameSite covers only the cookie being sent, not being set.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "invalid_request", "cross-origin request refused")
	}))
	return s.middleware(csrf.Handler(http.MaxBytesHandler(mux, maxBodyBytes)))
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	f, err := readBody(r)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	if f.Username == "" || f.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	// A login stuck this long behind others for a hashing slot is better
	// answered "busy" than left hanging until the write timeout.
	ctx, cancel := context.WithTimeout(r.Context(), loginTimeout)
	defer cancel()
	p := principal{}
	tooLong := len(f.Password) > maxPasswordLen
	if tooLong {
		err = errBadCredentials // decided by the input alone, so no timing to equalise
	} else {
		p, err = s.st.authenticate(ctx, f.Username, f.Password)
	}
	var iss issued
	if err == nil {
		iss, err = s.st.createSession(ctx, p, s.policy())
	}
	if errors.Is(err, errBadCredentials) {
		// A name that matched no user is not logged: unknown "usernames"
		// are often passwords typed into the wrong field.
		attrs := []any{"reason", "wrong password", "user", f.Username, "remote", clientIP(r)}
		switch {
		case tooLong:
			attrs = []any{"reason", "password too long", "remote", clientIP(r)}
		case errors.Is(err, errUnknownUser):
			attrs = []any{"reason", "unknown user", "remote", clientIP(r)}
		case errors.Is(err, errUserDisabled):
			attrs[1] = "user disabled"
		case errors.Is(err, errUserChanged):
			attrs[1] = "user changed during login"
		}
		s.log.InfoContext(ctx, "login failed", attrs...)
		writeError(w, http.StatusUnauthorized, "invalid_grant", errBadCredentials.Error())
		return
	}
	if err != nil {
		s.serverError(w, r, "login", err)
		return
	}
	s.log.InfoContext(ctx, "login", "user", iss.username, "session", iss.sessionID, "remote", clientIP(r))
	s.writeTokens(w, r, iss)
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	tok, fromCookie, err := refreshTokenFrom(r)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	if tok == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh token is required (cookie, JSON or form field refresh_token)")
		return
	}
	iss := issued{}
	err = errTokenUnknown
	if wellFormedRefreshToken(tok) {
		iss, err = s.st.rotate(r.Context(), tok, s.policy())
	}
	switch {
	case errors.Is(err, errTokenReused):
		s.log.WarnContext(r.Context(), "refresh token reuse detected; session revoked",
			"user", iss.username, "session", iss.sessionID, "remote", clientIP(r))
	case errors.Is(err, errTokenUnknown), errors.Is(err, errTokenExpired), errors.Is(err, errSessionRevoked):
		s.log.InfoContext(r.Context(), "refresh refused", "reason", err.Error(),
			"user", iss.username, "session", iss.sessionID, "remote", clientIP(r))
	case err != nil:
		s.serverError(w, r, "refresh", err)
		return
	default:
		s.log.DebugContext(r.Context(), "refresh", "user", iss.username, "session", iss.sessionID, "duplicate", iss.duplicate)
		s.writeTokens(w, r, iss)
		return
	}
	if fromCookie {
		clearRefreshCookie(w) // a dead cookie would only be sent again
	}
	writeError(w, http.StatusUnauthorized, "invalid_grant", err.Error())
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	tok, _, err := refreshTokenFrom(r)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	if wellFormedRefreshToken(tok) {
		sid, err := s.st.revokeByToken(r.Context(), tok, s.opts.Now())
		if err != nil {
			s.serverError(w, r, "logout", err)
			return
		}
		if sid != "" {
			s.log.InfoContext(r.Context(), "logout", "session", sid, "remote", clientIP(r))
		}
	}
	clearRefreshCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// handleMe checks only the access token, as the Python backend does: a
// logout or password change takes effect on access tokens when they expire
// (AccessTTL), the same everywhere.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeError(w, http.StatusUnauthorized, "invalid_request", "bearer access token required")
		return
	}
	c, err := s.parseAccess(tok)
	if err != nil {
		detail := "invalid access token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			detail = "access token expired"
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+detail+`"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", detail)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": c.Subject, "sid": c.SessionID, "iss": c.Issuer,
		"iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix(),
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.log.ErrorContext(ctx, "health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// writeTokens sends the token response and the refresh cookie.
func (s *Server) writeTokens(w http.ResponseWriter, r *http.Request, iss issued) {
	now := s.opts.Now()
	access, err := s.mintAccess(iss.username, iss.sessionID, now)
	if err != nil {
		s.serverError(w, r, "issue tokens", err)
		return
	}
	setRefreshCookie(w, iss.refresh, iss.expires.Sub(now))
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  access,
		RefreshToken: iss.refresh,
		TokenType:    "bearer",
		ExpiresIn:    int64(s.opts.AccessTTL / time.Second),
	})
}

// serverError logs err (which never holds a token or password) and
// answers 500 without details; a client that went away gets nothing.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if r.Context().Err() != nil {
		s.log.DebugContext(r.Context(), op+" abandoned by client", "err", err)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.WarnContext(r.Context(), op+" timed out", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "server busy, try again")
		return
	}
	s.log.ErrorContext(r.Context(), op+" failed", "err", err)
	writeError(w, http.StatusInternalServerError, "server_error", "internal error")
}
