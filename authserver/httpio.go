package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
)

// maxBodyBytes bounds request bodies: credentials or a refresh token fit
// many times over, and nothing larger is ever parsed or held in memory.
const maxBodyBytes = 16 << 10

const (
	// cookieName is the refresh-token cookie. Its path is /auth/ because
	// browsers see the API under nginx's /auth/ prefix.
	cookieName = "refresh_token"
	cookiePath = "/auth/"
)

var errUnsupportedMedia = errors.New("unsupported content type: send application/x-www-form-urlencoded, multipart/form-data or application/json")

// bodyFields are every field the POST endpoints read, from either a form
// (what FastAPI's OAuth2PasswordRequestForm clients send) or JSON. Other
// fields, such as grant_type or scope, are ignored as FastAPI does.
type bodyFields struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	RefreshToken string `json:"refresh_token"`
}

// readBody decodes the request body. An empty body yields no fields.
// Only the body counts, never the query string: secrets in URLs end up in
// access logs and browser history.
func readBody(r *http.Request) (bodyFields, error) {
	var f bodyFields
	ct := r.Header.Get("Content-Type")
	if ct == "" && (r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody) {
		return f, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return f, errUnsupportedMedia
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBodyBytes) // the body limit keeps it all in memory
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return f, fmt.Errorf("malformed form body: %w", err)
		}
		f.Username, f.Password = r.PostForm.Get("username"), r.PostForm.Get("password")
		f.RefreshToken = r.PostForm.Get("refresh_token")
	case "application/json":
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&f); err == io.EOF {
			return f, nil // fetch() with a JSON content type and no body
		} else if err != nil {
			return f, fmt.Errorf("malformed JSON body: %w", jsonBodyError(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return f, errors.New("malformed JSON body: data after the object")
		}
	default:
		return f, errUnsupportedMedia
	}
	return f, nil
}

// jsonBodyError words a decoding error for the client: encoding/json's
// type errors name this package's Go types, which mean nothing to it.
// Every field of bodyFields is a string.
func jsonBodyError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	kind, _, _ := strings.Cut(te.Value, " ") // "number 1e999" is a number
	got, ok := jsonKinds[kind]
	if !ok {
		got = kind
	}
	if te.Field == "" {
		return fmt.Errorf("want an object, got %s", got)
	}
	return fmt.Errorf("%s must be a string, not %s", te.Field, got)
}

// jsonKinds names the kinds of JSON value an UnmarshalTypeError reports.
var jsonKinds = map[string]string{
	"number": "a number", "string": "a string", "bool": "true or false", "array": "an array", "object": "an object",
}

// refreshTokenFrom finds the refresh token in the body or else the cookie.
// The body wins: a client that sends one explicitly means that one. A body
// of another type (navigator.sendBeacon sends text/plain) is ignored so
// the cookie still works.
func refreshTokenFrom(r *http.Request) (tok string, fromCookie bool, err error) {
	f, err := readBody(r)
	if err != nil && !errors.Is(err, errUnsupportedMedia) {
		return "", false, err
	}
	if f.RefreshToken != "" {
		return f.RefreshToken, false, nil
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		return c.Value, true, nil
	}
	return "", false, nil
}

func writeBodyError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errUnsupportedMedia):
		writeError(w, http.StatusUnsupportedMediaType, "invalid_request", err.Error())
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // a write error means the client left
}

func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, map[string]string{"error": code, "detail": detail})
}

func setRefreshCookie(w http.ResponseWriter, tok string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: tok, Path: cookiePath,
		MaxAge:   max(1, int(ttl/time.Second)),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

func clearRefreshCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
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

// Header values every response carries, shared rather than allocated per
// request; handlers only ever Set (replace) them, never append.
var (
	noStore  = []string{"no-store"}
	noCache  = []string{"no-cache"}
	noSniff  = []string{"nosniff"}
	jsonType = []string{"application/json"}
)

// logPath is the path as the access log shows it: one of the API's, or a
// placeholder. A client that puts a token in the URL has made a mistake
// the log must not repeat.
func logPath(p string) string {
	switch p {
	case "/token", "/token/refresh", "/logout", "/logout/all", "/me", "/healthz":
		return p
	}
	return "(other)"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware sets headers every response needs, turns panics into a
// logged 500 and writes the access log: method, path, status, duration
// and client, and nothing else. No query string, body or header is
// logged, since those are where tokens and passwords travel.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		// Every answer here is either a secret or about one.
		h["Cache-Control"] = noStore
		h["Pragma"] = noCache
		h["X-Content-Type-Options"] = noSniff
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "server_error", "internal error")
				}
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			if s.log.Enabled(r.Context(), level) {
				s.log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method),
					slog.String("path", logPath(r.URL.Path)), slog.Int("status", sw.status),
					slog.Duration("duration", time.Since(start)), slog.String("remote", s.clientIP(r)))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
