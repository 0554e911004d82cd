package authserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
	// A login stuck this long, behind others for a hashing slot or for
	// pending attempts on its rate-limit bucket, is better answered than
	// left hanging until the write timeout.
	ctx, cancel := context.WithTimeout(r.Context(), loginTimeout)
	defer cancel()
	// The name is looked up in NFC, as stored: a decomposed (NFD) spelling
	// is the same user, and shares the same rate-limit bucket. A name that
	// could never have been stored is refused like a wrong password, by
	// its bytes alone, so no hash runs for it.
	name, nameErr := NormalizeUsername(f.Username)
	userKey := name
	if nameErr != nil {
		userKey = f.Username[:min(len(f.Username), maxUsernameLen)]
	}
	// Limits are checked before the password hash, so a flood costs no
	// Argon2 runs. The username bucket exists whether or not the user
	// does, so a 429 tells nothing about which names are real.
	ipKey := limitKey(s.clientAddr(r))
	releaseIP, wait, ok := s.ipLim.acquire(ctx, ipKey)
	if !ok {
		s.tooManyLogins(ctx, w, r, "address", wait)
		return
	}
	releaseUser, wait, ok := s.userLim.acquire(ctx, userKey)
	if !ok {
		releaseIP(true) // refused before any guess was checked
		s.tooManyLogins(ctx, w, r, "username", wait)
		return
	}
	var guessed bool // a wrong guess spends the tokens; anything else gives them back
	defer func() { releaseIP(!guessed); releaseUser(!guessed) }()

	p := principal{}
	tooLong := len(f.Password) > maxPasswordLen
	if tooLong || nameErr != nil {
		err = errBadCredentials // decided by the input alone, so no timing to equalise
	} else {
		p, err = s.st.authenticate(ctx, name, f.Password)
	}
	var iss issued
	if err == nil {
		iss, err = s.st.createSession(ctx, p, s.policy())
	}
	if errors.Is(err, errBadCredentials) {
		guessed = true
		// A name that matched no user is not logged: unknown "usernames"
		// are often passwords typed into the wrong field.
		attrs := []any{"reason", "wrong password", "user", name, "remote", s.clientIP(r)}
		switch {
		case tooLong:
			attrs = []any{"reason", "password too long", "remote", s.clientIP(r)}
		case nameErr != nil:
			attrs = []any{"reason", "invalid username", "remote", s.clientIP(r)}
		case errors.Is(err, errUnknownUser):
			attrs = []any{"reason", "unknown user", "remote", s.clientIP(r)}
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
	s.log.InfoContext(ctx, "login", "user", iss.username, "session", iss.sessionID, "remote", s.clientIP(r))
	s.sweep(r)
	s.writeTokens(w, r, iss)
}

// tooManyLogins answers 429 with Retry-After in whole seconds. The body
// is the same whichever limit was hit. A login that was not refused but
// queued behind pending ones until ctx ended is answered as busy (503)
// instead: nobody guessed wrong.
func (s *Server) tooManyLogins(ctx context.Context, w http.ResponseWriter, r *http.Request, scope string, wait time.Duration) {
	if err := ctx.Err(); err != nil {
		s.serverError(w, r, "login", fmt.Errorf("queued behind pending logins (%s limit): %w", scope, err))
		return
	}
	s.log.WarnContext(r.Context(), "login rate limited", "limit", scope, "remote", s.clientIP(r))
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many failed logins, try again later")
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
			"user", iss.username, "session", iss.sessionID, "remote", s.clientIP(r))
	case errors.Is(err, errTokenUnknown), errors.Is(err, errTokenExpired), errors.Is(err, errSessionRevoked):
		s.log.InfoContext(r.Context(), "refresh refused", "reason", err.Error(),
			"user", iss.username, "session", iss.sessionID, "remote", s.clientIP(r))
	case err != nil:
		s.serverError(w, r, "refresh", err)
		return
	default:
		s.log.DebugContext(r.Context(), "refresh", "user", iss.username, "session", iss.sessionID, "duplicate", iss.duplicate)
		s.sweep(r)
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
	if tok == "" && r.Header.Get("Authorization") != "" {
		// No refresh token, but an access token: end the session it
		// belongs to (a client that keeps only the access token, or whose
		// cookie is gone). An invalid one is refused as on /me.
		c, ok := s.bearer(w, r)
		if !ok {
			return
		}
		if err := s.st.revokeByID(r.Context(), c.Sid, s.opts.Now()); err != nil {
			s.serverError(w, r, "logout", err)
			return
		}
		s.log.InfoContext(r.Context(), "logout", "session", c.Sid, "remote", s.clientIP(r))
	} else if wellFormedRefreshToken(tok) {
		sid, err := s.st.revokeByToken(r.Context(), tok, s.opts.Now())
		if err != nil {
			s.serverError(w, r, "logout", err)
			return
		}
		if sid != "" {
			s.log.InfoContext(r.Context(), "logout", "session", sid, "remote", s.clientIP(r))
		}
	}
	clearRefreshCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// handleLogoutAll signs the access token's user out of every session:
// "that was not me" from any device still logged in.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	err := s.st.revokeSessions(r.Context(), c.Sub)
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		s.serverError(w, r, "logout all", err)
		return
	}
	s.log.InfoContext(r.Context(), "logout all", "user", c.Sub, "session", c.Sid, "remote", s.clientIP(r))
	clearRefreshCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// handleMe checks only the access token, as the Python backend does: a
// logout or password change takes effect on access tokens when they expire
// (AccessTTL), the same everywhere.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	me := meResponse{Sub: c.Sub, SID: c.Sid, Iss: c.Iss, Aud: c.Aud, Exp: int64(c.Exp)}
	if !math.IsNaN(c.Iat) {
		me.Iat = int64(c.Iat)
	}
	var buf [256]byte
	if b := appendMe(buf[:0], &me); b != nil {
		w.Header()["Content-Type"] = jsonType
		w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, me)
}

type meResponse struct {
	Sub string   `json:"sub"`
	SID string   `json:"sid"`
	Iss string   `json:"iss"`
	Aud []string `json:"aud,omitempty"`
	Iat int64    `json:"iat"`
	Exp int64    `json:"exp"`
}

// bearer verifies the request's access token, or answers 401 itself.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (*wireClaims, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeError(w, http.StatusUnauthorized, "invalid_request", "bearer access token required")
		return nil, false
	}
	c, err := s.parseAccess(tok)
	if err != nil {
		detail := "invalid access token"
		if errors.Is(err, errAccessExpired) {
			detail = "access token expired"
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+detail+`"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", detail)
		return nil, false
	}
	return c, true
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

// sweep runs the store's housekeeping when it is due. Its failure costs
// nothing but tidiness, so it is logged and the request goes on.
func (s *Server) sweep(r *http.Request) {
	if err := s.st.sweep(r.Context(), s.policy()); err != nil && r.Context().Err() == nil {
		s.log.WarnContext(r.Context(), "housekeeping failed", "err", err)
	}
}
