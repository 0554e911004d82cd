package authserver

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Refresh tokens are 256 random bits, base64url without padding (43
// characters). They are opaque on purpose: nothing but this server reads
// them, and the database keeps only their SHA-256, which is enough for
// lookups because the input is already uniformly random.
const refreshTokenLen = 43

var tokenEnc = base64.RawURLEncoding.Strict()

func newRefreshToken() string { return randomString(32) }

// newID returns 128 random bits for session ids and jti claims.
func newID() string { return randomString(16) }

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return tokenEnc.EncodeToString(b)
}

// wellFormedRefreshToken rejects garbage before it costs a query.
func wellFormedRefreshToken(t string) bool {
	if len(t) != refreshTokenLen {
		return false
	}
	_, err := tokenEnc.DecodeString(t)
	return err == nil
}

func hashRefreshToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// successorAEAD derives the key that seals a token's successor from the
// token itself. Only a client holding the old token can open the sealed
// successor, and the database holds just the old token's SHA-256, from
// which this HKDF key cannot be computed: a leaked database reveals no
// usable refresh token, even inside the grace window.
func successorAEAD(presented string) cipher.AEAD {
	key, err := hkdf.Key(sha256.New, []byte(presented), nil, "myapp authserver successor v1", 32)
	if err != nil {
		panic(err) // only for impossible lengths
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// sealSuccessor encrypts next, bound (as associated data) to the row of
// the token it replaces, so a sealed value copied to another row fails.
func sealSuccessor(presented, next string, rowHash []byte) []byte {
	aead := successorAEAD(presented)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(next), rowHash)
}

func openSuccessor(presented string, sealed, rowHash []byte) (string, error) {
	aead := successorAEAD(presented)
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed successor too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], rowHash)
	if err != nil {
		return "", fmt.Errorf("open sealed successor: %w", err)
	}
	return string(pt), nil
}

// accessClaims are the access token's claims. aud only when
// Options.Audience is set: PyJWT's jwt.decode(token, key,
// algorithms=["HS256"]) rejects any token that has an audience when the
// caller names none.
type accessClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// jwtLeeway absorbs small clock differences between hosts.
const jwtLeeway = 10 * time.Second

// hmacKey is a SECRET_KEY with its key id. The kid lets a verifier pick
// the key during a rotation instead of trying each; it is derived from
// the key so that every instance computes the same one, and reveals
// nothing a signed token does not already.
type hmacKey struct {
	id     string
	secret []byte
}

func newHMACKey(secret []byte) hmacKey {
	sum := sha256.Sum256(append([]byte("myapp authserver kid v1\x00"), secret...))
	return hmacKey{id: tokenEnc.EncodeToString(sum[:6]), secret: bytes.Clone(secret)}
}

func (s *Server) mintAccess(username, sid string, now time.Time) (string, error) {
	c := accessClaims{
		SessionID: sid,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.opts.Issuer,
			Subject:   username,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.AccessTTL)),
			ID:        newID(),
		},
	}
	if s.opts.Audience != "" {
		c.Audience = jwt.ClaimStrings{s.opts.Audience}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = s.keys[0].id
	tok, err := t.SignedString(s.keys[0].secret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return tok, nil
}

// newParser builds the access-token parser once: pinning the method list
// to HS256 is what stops alg=none and RS/HS key-confusion tokens, and exp
// is required so that no token lives for ever.
func (s *Server) newParser() *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithTimeFunc(s.opts.Now),
	}
	if s.opts.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(s.opts.Issuer))
	}
	if s.opts.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.opts.Audience))
	}
	return jwt.NewParser(opts...)
}

// keyFor picks the verification key by kid. A token without a kid, or
// with one we do not know, is tried against every accepted key: tokens
// minted before kids existed stay valid until they expire.
func (s *Server) keyFor(t *jwt.Token) (any, error) {
	if kid, ok := t.Header["kid"].(string); ok {
		for _, k := range s.keys {
			if k.id == kid {
				return k.secret, nil
			}
		}
	}
	set := jwt.VerificationKeySet{}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, k.secret)
	}
	return set, nil
}

var errUnexpectedAudience = errors.New("token has an audience but none is configured")

// parseAccess verifies an access token.
func (s *Server) parseAccess(tok string) (*accessClaims, error) {
	var c accessClaims
	if _, err := s.parser.ParseWithClaims(tok, &c, s.keyFor); err != nil {
		return nil, err
	}
	if c.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	if s.opts.Audience == "" && len(c.Audience) > 0 {
		// A token meant for another service, signed with a shared key,
		// is not for us: the same rule PyJWT applies.
		return nil, errUnexpectedAudience
	}
	return &c, nil
}
