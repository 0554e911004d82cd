package authserver

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Benchmarks of the access-token hot path. The end-to-end figures (over
// loopback HTTP, against a bare net/http handler) come from
// scripts/bench-auth.sh; docs/bench-auth.md records both.

func benchServer(b *testing.B, logger *slog.Logger) *Server {
	b.Helper()
	st, err := OpenStore(b.Context(), "sqlite:///"+b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s, err := New(Options{SecretKey: testSecret, Issuer: "myapp/test", Logger: logger}, st)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchToken(b *testing.B, s *Server) string {
	b.Helper()
	tok, err := s.mintAccess("alice", "sid", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkParseAccess compares verify.go's parseAccess with the
// jwt.Parser it replaced (configured as verify_test.go's reference), on
// one of our own tokens.
func BenchmarkParseAccess(b *testing.B) {
	s := benchServer(b, nil)
	tok := benchToken(b, s)
	b.Run("verify.go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.parseAccess(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwt.Parser", func(b *testing.B) {
		v := &verifier{name: "bench", s: s, p: referenceParser(s)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.reference(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMeHandler is GET /me through the whole handler chain, without
// the network, with the access log discarded or not logged at all.
func BenchmarkMeHandler(b *testing.B) {
	for _, c := range []struct {
		name   string
		logger *slog.Logger
	}{
		{"nolog", nil},
		{"log", slog.New(slog.NewTextHandler(io.Discard, nil))},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := benchServer(b, c.logger)
			tok := benchToken(b, s)
			h := s.Handler()
			req := httptest.NewRequest("GET", "/me", nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// BenchmarkRotate is one session's refresh chain through Store.rotate
// alone, one rotation at a time: on SQLite, whose writes go through one
// connection, this is what bounds rotations per second, whatever the
// number of cores.
func BenchmarkRotate(b *testing.B) {
	st, err := OpenStore(b.Context(), "sqlite:///"+b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.AddUser(b.Context(), testUser, testPassword); err != nil {
		b.Fatal(err)
	}
	p, err := st.authenticate(b.Context(), testUser, testPassword)
	if err != nil {
		b.Fatal(err)
	}
	pol := policy{now: time.Now(), idle: time.Hour, maxAge: 24 * time.Hour, grace: 10 * time.Second}
	iss, err := st.createSession(b.Context(), p, pol)
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.refresh
	b.ReportAllocs()
	for b.Loop() {
		iss, err := st.rotate(b.Context(), tok, pol)
		if err != nil {
			b.Fatal(err)
		}
		tok = iss.refresh
	}
}
