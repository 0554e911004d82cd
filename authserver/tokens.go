package authserver

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
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
	// macs holds keyed HMAC states for verification: setting a key up
	// costs two SHA-256 blocks and four allocations, per request otherwise.
	macs *sync.Pool
	// header is the encoded JOSE header mintAccess writes with this key;
	// a token starting with it needs no header parsing.
	header string
}

func newHMACKey(secret []byte) hmacKey {
	sum := sha256.Sum256(append([]byte("myapp authserver kid v1\x00"), secret...))
	k := hmacKey{id: tokenEnc.EncodeToString(sum[:6]), secret: bytes.Clone(secret)}
	k.macs = &sync.Pool{New: func() any { return hmac.New(sha256.New, k.secret) }}
	t := jwt.New(jwt.SigningMethodHS256)
	t.Header["kid"] = k.id
	signing, err := t.SigningString()
	if err != nil {
		panic(err) // marshalling a map of three strings cannot fail
	}
	k.header, _, _ = strings.Cut(signing, ".")
	return k
}

// validMAC reports whether mac is the HMAC-SHA256 of signed under k,
// compared in constant time.
func (k hmacKey) validMAC(signed string, mac []byte) bool {
	m := k.macs.Get().(hash.Hash)
	defer k.macs.Put(m)
	m.Reset()
	m.Write([]byte(signed))
	var sum [sha256.Size]byte
	return hmac.Equal(m.Sum(sum[:0]), mac)
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
