package authserver

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access-token verification is the hot path of GET /me and of every
// /logout/all, so it is done here in one pass instead of through
// jwt.Parser, which decodes the header into a map and each date through
// json.Number (BenchmarkParseAccess: see bench_test.go and
// docs/bench-auth.md for what that buys). The rules are jwt.Parser's,
// configured as the server configured it (HS256 only, exp required, iat
// checked, jwtLeeway, issuer and audience), plus ours (RFC 8725):
//
//   - exactly three segments; the header's alg is exactly HS256, matched
//     case-sensitively as jwt.Parser does (so alg=none, HS512 or RS256,
//     or an "ALG" beside a "none", are refused); kid picks the key, and
//     without a known kid every accepted key is tried (tokens minted
//     before kids existed stay valid until they expire);
//   - the HMAC-SHA256 of the first two segments equals the signature,
//     compared in constant time, before the payload is decoded;
//   - exp is present and not past, iat and nbf (if present) not in the
//     future, each with jwtLeeway and in whole seconds (golang-jwt
//     truncates dates to seconds); iss is the configured issuer; aud
//     contains the configured audience, or is absent when none is
//     configured (PyJWT's rule); sub is not empty;
//   - JSON as encoding/json reads it for both: the last of duplicate
//     members counts (RFC 7515 §4 allows that), claim names match
//     case-insensitively, null leaves a string as it was and clears a
//     date or audience.
//
// Stricter than jwt.Parser, deliberately, and nothing else:
//
//   - segments must be canonical unpadded base64url (no spare bits set),
//     without the CR and LF the base64 package would skip, and the
//     signature exactly 32 bytes: a token has one spelling;
//   - a crit header is refused, as we understand no extension;
//   - a date is a JSON number (jwt.Parser also takes a numeric string)
//     between 0 and the end of year 9999, so that no float-to-integer
//     conversion of a huge value decides validity differently from one
//     platform to another.
//
// verify_test.go checks all this against jwt.Parser, case by case and
// by fuzzing (FuzzParseAccess). Signing stays with golang-jwt.

var (
	errMalformedToken = errors.New("malformed token")
	errTokenAlg       = errors.New("token algorithm is not HS256")
	errTokenSignature = errors.New("token signature is invalid")
	errAccessExpired  = errors.New("token is expired")
	errTokenClaims    = errors.New("token claims are invalid")
)

// maxNumericDate is the last second of year 9999.
const maxNumericDate = 253402300799

// wireClaims is what a verified token yields. Exp, Iat and Nbf are whole
// seconds, NaN when absent.
type wireClaims struct {
	Sub string           `json:"sub"`
	Iss string           `json:"iss"`
	Aud jwt.ClaimStrings `json:"aud"` // golang-jwt's own decoding, null and all
	Jti string           `json:"jti"`
	Sid string           `json:"sid"`
	Exp float64          `json:"-"`
	Iat float64          `json:"-"`
	Nbf float64          `json:"-"`
	wireDates
}

// wireDates are the dates as the payload spells them, decoded into
// wireClaims through its embedding.
type wireDates struct {
	RawExp numericDate `json:"exp"`
	RawIat numericDate `json:"iat"`
	RawNbf numericDate `json:"nbf"`
}

// numericDate is a JWT NumericDate in seconds; NaN when absent or null
// (a null clears an earlier value, as it clears jwt.Parser's pointer).
type numericDate float64

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = numericDate(math.NaN())
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errTokenClaims // a string, bool, object or array
	}
	// encoding/json has checked the number's syntax; ParseFloat refuses
	// only what overflows a float64, as json.Number.Float64 does.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return errTokenClaims
	}
	*d = numericDate(f)
	return nil
}

func decodeSegment(seg string) ([]byte, error) {
	b, err := tokenEnc.DecodeString(seg)
	if err != nil {
		return nil, errMalformedToken
	}
	return b, nil
}

// sigLen is the length of an HMAC-SHA256 in unpadded base64.
var sigLen = tokenEnc.EncodedLen(sha256.Size)

// parseAccess verifies an access token (rules above).
func (s *Server) parseAccess(tok string) (*wireClaims, error) {
	head, rest, ok1 := strings.Cut(tok, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || len(sig) != sigLen || strings.Contains(sig, ".") ||
		strings.IndexByte(tok, '\n') >= 0 || strings.IndexByte(tok, '\r') >= 0 {
		return nil, errMalformedToken
	}
	kid, err := s.parseHeader(head)
	if err != nil {
		return nil, err
	}
	var mac [sha256.Size]byte
	if n, err := tokenEnc.Decode(mac[:], []byte(sig)); err != nil || n != len(mac) {
		return nil, errMalformedToken
	}
	if !s.validMAC(tok[:len(head)+1+len(payload)], mac[:], kid) {
		return nil, errTokenSignature
	}
	pb, err := decodeSegment(payload)
	if err != nil {
		return nil, err
	}
	nan := numericDate(math.NaN())
	w := &wireClaims{wireDates: wireDates{nan, nan, nan}}
	if !decodeOwnPayload(pb, w) {
		if err := json.Unmarshal(pb, w); err != nil {
			return nil, errMalformedToken
		}
	}
	if err := s.checkClaims(w); err != nil {
		return nil, err
	}
	return w, nil
}

// parseHeader checks the JOSE header and returns its kid. Our own
// tokens' headers are known byte for byte, so those are recognised
// without decoding; any other is decoded into a map, as jwt.Parser does,
// so that member names match exactly.
func (s *Server) parseHeader(head string) (kid string, err error) {
	for _, k := range s.keys {
		if head == k.header {
			return k.id, nil
		}
	}
	hb, err := decodeSegment(head)
	if err != nil {
		return "", err
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", errMalformedToken
	}
	if alg, _ := h["alg"].(string); alg != "HS256" {
		return "", errTokenAlg
	}
	if _, ok := h["crit"]; ok {
		return "", errMalformedToken
	}
	kid, _ = h["kid"].(string) // another type: as unknown, like jwt.Parser
	return kid, nil
}

// validMAC checks the signature under the key kid names, else under each
// accepted key: tokens minted before kids existed stay valid until they
// expire, and a wrong kid gains nothing but a few more HMACs.
func (s *Server) validMAC(signed string, mac []byte, kid string) bool {
	for _, k := range s.keys {
		if k.id == kid {
			return k.validMAC(signed, mac)
		}
	}
	for _, k := range s.keys {
		if k.validMAC(signed, mac) {
			return true
		}
	}
	return false
}

// checkClaims applies the claim rules, in jwt.Parser's arithmetic, and
// leaves the dates in wireClaims as whole seconds.
func (s *Server) checkClaims(w *wireClaims) error {
	now := s.opts.Now()
	exp, hasExp, ok := numericTime(w.RawExp)
	if !ok {
		return errTokenClaims
	}
	iat, hasIat, ok := numericTime(w.RawIat)
	if !ok {
		return errTokenClaims
	}
	nbf, hasNbf, ok := numericTime(w.RawNbf)
	switch {
	case !ok:
		return errTokenClaims
	case !hasExp:
		return errTokenClaims // exp is required: no token lives for ever
	case !now.Before(exp.Add(jwtLeeway)):
		return errAccessExpired
	case hasIat && now.Before(iat.Add(-jwtLeeway)):
		return errTokenClaims // issued in the future
	case hasNbf && now.Before(nbf.Add(-jwtLeeway)):
		return errTokenClaims
	case s.opts.Issuer != "" && w.Iss != s.opts.Issuer:
		return errTokenClaims
	case w.Sub == "":
		return errTokenClaims
	}
	if s.opts.Audience == "" {
		if len(w.Aud) > 0 {
			// A token meant for another service, signed with a shared
			// key, is not for us: the same rule PyJWT applies.
			return errTokenClaims
		}
	} else if !containsString(w.Aud, s.opts.Audience) {
		return errTokenClaims
	}
	w.Exp, w.Iat, w.Nbf = float64(exp.Unix()), math.NaN(), math.NaN()
	if hasIat {
		w.Iat = float64(iat.Unix())
	}
	if hasNbf {
		w.Nbf = float64(nbf.Unix())
	}
	return nil
}

// numericTime converts a NumericDate to a time in whole seconds (rounded
// down, as golang-jwt truncates to its TimePrecision). ok is false for a
// date before 1970 or after year 9999.
func numericTime(d numericDate) (t time.Time, present, ok bool) {
	f := float64(d)
	switch {
	case math.IsNaN(f):
		return time.Time{}, false, true
	case f < 0 || f > maxNumericDate:
		return time.Time{}, true, false
	}
	return time.Unix(int64(f), 0), true, true
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
