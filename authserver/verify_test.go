package authserver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// parseAccess (verify.go) replaced golang-jwt's jwt.Parser on the hot
// path. These tests hold it to that parser, configured as the server
// configured it before: parseAccess must never accept a token jwt.Parser
// refuses, and must yield the same claims when both accept. Where
// parseAccess refuses what jwt.Parser accepts, the reason is one of the
// deliberate, stricter rules that stricterReason recognises.

// verifyNow is the verifiers' clock: a whole second, so that tokens can
// sit exactly on the leeway boundaries.
var verifyNow = time.Unix(1767225600, 0)

var (
	verifyPrevious = []byte("previous-secret-key-0123456789abcdef-rotated")
	verifyOther    = []byte("somebody-else's-key-0123456789abcdef-unknown")
)

// verifyServers are the configurations the verifiers are compared under:
// the one `myapp auth serve` runs (issuer, no audience), one with an
// audience, one with neither. All accept a previous key.
var verifyServers = []struct{ name, issuer, audience string }{
	{"plain", "myapp/test", ""},
	{"aud", "myapp/test", "api"},
	{"noiss", "", ""},
}

// verifier pairs a Server with the jwt.Parser it is compared against.
type verifier struct {
	name string
	s    *Server
	p    *jwt.Parser
}

func newVerifiers(t testing.TB) map[string]*verifier {
	t.Helper()
	vs := map[string]*verifier{}
	for _, c := range verifyServers {
		// parseAccess never touches the store; an empty one keeps the
		// fuzzer fast.
		s, err := New(Options{
			SecretKey: testSecret, PreviousKeys: [][]byte{verifyPrevious},
			Issuer: c.issuer, Audience: c.audience,
			Now: func() time.Time { return verifyNow },
		}, new(Store))
		if err != nil {
			t.Fatal(err)
		}
		vs[c.name] = &verifier{name: c.name, s: s, p: referenceParser(s)}
	}
	return vs
}

// referenceParser is the parser parseAccess replaced: HS256 pinned, exp
// required, iat checked, jwtLeeway, issuer and audience as configured.
func referenceParser(s *Server) *jwt.Parser {
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

// reference verifies tok with jwt.Parser, the key chosen by kid as the
// server did (an unknown or absent kid: every accepted key), plus the two
// rules jwt.Parser has no option for: a subject is required, and an
// audience is refused when none is configured.
func (v *verifier) reference(tok string) (*accessClaims, error) {
	keyFor := func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); ok {
			for _, k := range v.s.keys {
				if k.id == kid {
					return k.secret, nil
				}
			}
		}
		set := jwt.VerificationKeySet{}
		for _, k := range v.s.keys {
			set.Keys = append(set.Keys, k.secret)
		}
		return set, nil
	}
	var c accessClaims
	if _, err := v.p.ParseWithClaims(tok, &c, keyFor); err != nil {
		return nil, err
	}
	if c.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	if v.s.opts.Audience == "" && len(c.Audience) > 0 {
		return nil, errors.New("token has an audience but none is configured")
	}
	return &c, nil
}

// compare runs both verifiers on tok. It fails the test if parseAccess
// accepts what the reference refuses, yields other claims, or refuses
// what the reference accepts for a reason that is not a documented
// stricter rule. It returns whether parseAccess accepted, and the
// reference's error.
func (v *verifier) compare(t testing.TB, tok string) (ours bool, refErr error) {
	t.Helper()
	w, err := v.s.parseAccess(tok)
	c, refErr := v.reference(tok)
	switch {
	case err == nil && refErr != nil:
		t.Errorf("%s: parseAccess accepts what jwt.Parser refuses (%v): %q", v.name, refErr, tok)
	case err == nil:
		if d := claimsDiff(w, c); d != "" {
			t.Errorf("%s: claims differ from jwt.Parser's: %s; token %q", v.name, d, tok)
		}
	case refErr == nil:
		if stricterReason(tok) == "" {
			t.Errorf("%s: parseAccess refuses (%v) what jwt.Parser accepts, for no documented reason: %q", v.name, err, tok)
		}
	}
	return err == nil, refErr
}

func claimsDiff(w *wireClaims, c *accessClaims) string {
	var d []string
	str := func(name, ours, ref string) {
		if ours != ref {
			d = append(d, fmt.Sprintf("%s %q, jwt.Parser %q", name, ours, ref))
		}
	}
	str("sub", w.Sub, c.Subject)
	str("iss", w.Iss, c.Issuer)
	str("jti", w.Jti, c.ID)
	str("sid", w.Sid, c.SessionID)
	if !slices.Equal([]string(w.Aud), []string(c.Audience)) {
		d = append(d, fmt.Sprintf("aud %q, jwt.Parser %q", w.Aud, c.Audience))
	}
	date := func(name string, ours float64, ref *jwt.NumericDate) {
		switch {
		case math.IsNaN(ours) && ref == nil:
		case math.IsNaN(ours) || ref == nil || ours != float64(ref.Unix()):
			d = append(d, fmt.Sprintf("%s %v, jwt.Parser %v", name, ours, ref))
		}
	}
	date("exp", w.Exp, c.ExpiresAt)
	date("iat", w.Iat, c.IssuedAt)
	date("nbf", w.Nbf, c.NotBefore)
	return strings.Join(d, "; ")
}

// stricterReason names the documented rule under which parseAccess
// refuses a token jwt.Parser may accept, or returns "" when there is
// none. The rules (see verify.go):
//   - every segment is canonical unpadded base64url, without the CR or
//     LF the base64 package skips, and the signature is exactly 43
//     characters (32 bytes);
//   - a crit header is refused: we understand no extension;
//   - a date (exp, iat, nbf; JSON names match case-insensitively, as in
//     encoding/json) must be a JSON number, never a string, and lie
//     between 1970 and the end of year 9999.
func stricterReason(tok string) string {
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		return ""
	}
	for i, s := range segs {
		if strings.ContainsAny(s, "\r\n") {
			return "CR or LF in a segment"
		}
		b, err := tokenEnc.DecodeString(s)
		if err != nil {
			return "non-canonical base64"
		}
		if i == 2 && len(b) != sha256.Size {
			return "signature is not 32 bytes"
		}
	}
	hb, _ := tokenEnc.DecodeString(segs[0])
	var h map[string]any
	if json.Unmarshal(hb, &h) == nil {
		if _, ok := h["crit"]; ok {
			return "crit header"
		}
	}
	pb, _ := tokenEnc.DecodeString(segs[1])
	return stricterDates(pb)
}

// stricterDates walks the payload's members in order, as encoding/json
// assigns them, and reports a date given as a string (refused wherever it
// appears) or a final date outside the accepted range.
func stricterDates(payload []byte) string {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tk, err := dec.Token(); err != nil || tk != json.Delim('{') {
		return ""
	}
	last := map[string]json.RawMessage{}
	for dec.More() {
		tk, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tk.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ""
		}
		for _, name := range []string{"exp", "iat", "nbf"} {
			if !strings.EqualFold(key, name) {
				continue
			}
			if raw[0] == '"' {
				return name + " is a string"
			}
			last[name] = raw
		}
	}
	for name, raw := range last {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil && (f < 0 || f > maxNumericDate) {
			return name + " out of range"
		}
	}
	return ""
}

// Token building blocks.

func vseg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func vmac(key []byte, signing string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// vsigned signs header and payload JSON, as given, with HMAC-SHA256.
func vsigned(key []byte, header, payload string) string {
	return vsignedRaw(key, vseg(header)+"."+vseg(payload))
}

// vsignedRaw appends the HMAC-SHA256 of signing, whatever its encoding.
func vsignedRaw(key []byte, signing string) string { return signing + "." + vmac(key, signing) }

func vheader(kid string) string {
	if kid == "" {
		return `{"alg":"HS256","typ":"JWT"}`
	}
	return `{"alg":"HS256","kid":"` + kid + `","typ":"JWT"}`
}

// vclaims is a payload with the claims our tokens carry, issued at
// verifyNow for 15 minutes. Each change is `"name":value`, replacing the
// claim of that name or adding it, or `"name":-` to drop it.
func vclaims(changes ...string) string {
	n := verifyNow.Unix()
	fields := []string{
		`"iss":"myapp/test"`, `"sub":"alice"`,
		fmt.Sprintf(`"iat":%d`, n), fmt.Sprintf(`"exp":%d`, n+900),
		`"jti":"j-1"`, `"sid":"s-1"`,
	}
	for _, c := range changes {
		name, _, _ := strings.Cut(c, ":")
		i := slices.IndexFunc(fields, func(f string) bool { return strings.HasPrefix(f, name+":") })
		switch {
		case strings.HasSuffix(c, ":-"):
			if i >= 0 {
				fields = slices.Delete(fields, i, i+1)
			}
		case i >= 0:
			fields[i] = c
		default:
			fields = append(fields, c)
		}
	}
	return "{" + strings.Join(fields, ",") + "}"
}

// dateAt is a date claim at verifyNow plus d seconds.
func dateAt(name string, d float64) string {
	return fmt.Sprintf(`"%s":%s`, name, strconv.FormatFloat(float64(verifyNow.Unix())+d, 'f', -1, 64))
}

// nonCanonical sets the unused low bits of a segment's last character,
// which base64.RawURLEncoding (not Strict) ignores.
func nonCanonical(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	spare := map[int]int{2: 0xf, 3: 0x3}[len(seg)%4]
	if spare == 0 {
		panic("segment has no spare bits: " + seg)
	}
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[i|spare])
}

// refWant is what the table expects from jwt.Parser.
type refWant int

const (
	refSame    refWant = iota // the same answer as parseAccess
	refAccepts                // accepts: a documented stricter rule refuses it here
	refAny                    // platform-dependent (float to int64 conversion of huge dates); parseAccess refuses
)

type verifyCase struct {
	name   string
	server string // a verifyServers name; "" is "plain"
	tok    string
	want   bool // parseAccess accepts
	ref    refWant
}

func verifyCases(t testing.TB, vs map[string]*verifier) []verifyCase {
	n := float64(verifyNow.Unix())
	lw := jwtLeeway.Seconds()
	cur, prev := newHMACKey(testSecret).id, newHMACKey(verifyPrevious).id
	std := vsigned(testSecret, vheader(cur), vclaims())
	h, p, sig := func() (string, string, string) { s := strings.Split(std, "."); return s[0], s[1], s[2] }()
	mint := func(server string) string {
		tok, err := vs[server].s.mintAccess("alice", "s-1", verifyNow)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	withClaims := func(changes ...string) string { return vsigned(testSecret, vheader(cur), vclaims(changes...)) }
	withHeader := func(header string) string { return vsigned(testSecret, header, vclaims()) }
	jwtSigned := func(m jwt.SigningMethod, key any) string {
		tk := jwt.New(m)
		tk.Header["kid"] = cur
		var c jwt.MapClaims
		json.Unmarshal([]byte(vclaims()), &c)
		tk.Claims = c
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A payload whose encoding ends with spare bits (length 1 mod 3).
	oddPayload := vclaims()
	for len(oddPayload)%3 != 1 {
		oddPayload = oddPayload[:len(oddPayload)-1] + ` }`
	}

	return []verifyCase{
		// Valid tokens, keys and kids.
		{name: "minted by the server", tok: mint("plain"), want: true},
		{name: "minted with an audience", server: "aud", tok: mint("aud"), want: true},
		{name: "minted without an issuer", server: "noiss", tok: mint("noiss"), want: true},
		{name: "our claims, our header", tok: std, want: true},
		{name: "header members in another order", tok: withHeader(`{"typ":"JWT","kid":"` + cur + `","alg":"HS256"}`), want: true},
		{name: "header with whitespace", tok: withHeader(` { "alg" : "HS256" } `), want: true},
		{name: "typ at+jwt and unknown header members", tok: withHeader(`{"alg":"HS256","typ":"at+jwt","x5u":"https://evil.example/"}`), want: true},
		{name: "previous key with its kid", tok: vsigned(verifyPrevious, vheader(prev), vclaims()), want: true},
		{name: "previous key without kid", tok: vsigned(verifyPrevious, vheader(""), vclaims()), want: true},
		{name: "current key without kid", tok: vsigned(testSecret, vheader(""), vclaims()), want: true},
		{name: "unknown kid, current key", tok: vsigned(testSecret, vheader("nope"), vclaims()), want: true},
		{name: "unknown kid, previous key", tok: vsigned(verifyPrevious, vheader("nope"), vclaims()), want: true},
		{name: "kid a number", tok: withHeader(`{"alg":"HS256","kid":7}`), want: true},
		{name: "kid null", tok: withHeader(`{"alg":"HS256","kid":null}`), want: true},
		{name: "current kid, previous key", tok: vsigned(verifyPrevious, vheader(cur), vclaims())},
		{name: "previous kid, current key", tok: vsigned(testSecret, vheader(prev), vclaims())},
		{name: "unknown key", tok: vsigned(verifyOther, vheader(""), vclaims())},
		{name: "unknown key with current kid", tok: vsigned(verifyOther, vheader(cur), vclaims())},

		// exp and the leeway.
		{name: "expired within leeway", tok: withClaims(dateAt("exp", -1)), want: true},
		{name: "expired a second inside leeway", tok: withClaims(dateAt("exp", 1-lw)), want: true},
		{name: "expired exactly at leeway", tok: withClaims(dateAt("exp", -lw))},
		{name: "fractional exp inside leeway, truncated out", tok: withClaims(dateAt("exp", 0.5-lw))},
		{name: "fractional exp truncated in", tok: withClaims(dateAt("exp", 1.5-lw)), want: true},
		{name: "expired an hour ago", tok: withClaims(dateAt("exp", -3600))},
		{name: "exp missing", tok: withClaims(`"exp":-`)},
		{name: "exp null", tok: withClaims(`"exp":null`)},
		{name: "exp as string", tok: withClaims(fmt.Sprintf(`"exp":"%d"`, int64(n)+900)), ref: refAccepts},
		{name: "exp in exponent form", tok: withClaims(`"exp":1.7672265E9`), want: true},
		{name: "exp true", tok: withClaims(`"exp":true`)},
		{name: "exp object", tok: withClaims(`"exp":{}`)},
		{name: "exp array", tok: withClaims(fmt.Sprintf(`"exp":[%d]`, int64(n)+900))},
		{name: "exp zero", tok: withClaims(`"exp":0`)},
		{name: "exp negative zero", tok: withClaims(`"exp":-0`)},
		{name: "exp 1e12 (year 33658)", tok: withClaims(`"exp":1e12`), ref: refAccepts},
		{name: "exp end of year 9999", tok: withClaims(`"exp":253402300799`), want: true},
		{name: "exp 1e300", tok: withClaims(`"exp":1e300`), ref: refAny},
		{name: "exp 9.3e18", tok: withClaims(`"exp":9.3e18`), ref: refAny},
		{name: "exp -1e300", tok: withClaims(`"exp":-1e300`), ref: refAny},
		{name: "exp 1e400", tok: withClaims(`"exp":1e400`)},
		{name: "exp leading zero", tok: withClaims(`"exp":01767226500`)},

		// iat and nbf.
		{name: "iat at the leeway", tok: withClaims(dateAt("iat", lw)), want: true},
		{name: "iat a second past the leeway", tok: withClaims(dateAt("iat", lw+1))},
		{name: "fractional iat truncated into the leeway", tok: withClaims(dateAt("iat", lw+0.5)), want: true},
		{name: "iat in an hour", tok: withClaims(dateAt("iat", 3600))},
		{name: "iat missing", tok: withClaims(`"iat":-`), want: true},
		{name: "iat null", tok: withClaims(`"iat":null`), want: true},
		{name: "iat as string", tok: withClaims(fmt.Sprintf(`"iat":"%d"`, int64(n))), ref: refAccepts},
		{name: "iat before 1970", tok: withClaims(`"iat":-1`), ref: refAccepts},
		{name: "iat 1e300", tok: withClaims(`"iat":1e300`), ref: refAny},
		{name: "nbf now", tok: withClaims(dateAt("nbf", 0)), want: true},
		{name: "nbf at the leeway", tok: withClaims(dateAt("nbf", lw)), want: true},
		{name: "nbf in an hour", tok: withClaims(dateAt("nbf", 3600))},
		{name: "nbf null", tok: withClaims(`"nbf":null`), want: true},
		{name: "nbf as string", tok: withClaims(fmt.Sprintf(`"nbf":"%d"`, int64(n))), ref: refAccepts},

		// alg: only HS256.
		{name: "alg none, no signature", tok: vseg(`{"alg":"none","typ":"JWT"}`) + "." + p + "."},
		{name: "alg None, no signature", tok: vseg(`{"alg":"None"}`) + "." + p + "."},
		{name: "alg NONE, no signature", tok: vseg(`{"alg":"NONE"}`) + "." + p + "."},
		{name: "alg none, HMAC signature", tok: withHeader(`{"alg":"none"}`)},
		{name: "alg none by golang-jwt", tok: jwtSigned(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
		{name: "HS384 same key", tok: jwtSigned(jwt.SigningMethodHS384, testSecret)},
		{name: "HS512 same key", tok: jwtSigned(jwt.SigningMethodHS512, testSecret)},
		{name: "RS256 signed", tok: jwtSigned(jwt.SigningMethodRS256, rsaKey)},
		{name: "ES256 signed", tok: jwtSigned(jwt.SigningMethodES256, ecKey)},
		{name: "RS256 header, HMAC with the secret", tok: withHeader(`{"alg":"RS256","kid":"` + cur + `"}`)},
		{name: "ES256 header, HMAC with the secret", tok: withHeader(`{"alg":"ES256"}`)},
		{name: "alg lower case", tok: withHeader(`{"alg":"hs256"}`)},
		{name: "alg missing", tok: withHeader(`{"typ":"JWT"}`)},
		{name: "alg a number", tok: withHeader(`{"alg":256}`)},
		{name: "alg null", tok: withHeader(`{"alg":null}`)},
		{name: "alg none, ALG HS256", tok: withHeader(`{"alg":"none","ALG":"HS256"}`)},
		{name: "Alg HS256 only", tok: withHeader(`{"Alg":"HS256"}`)},
		{name: "duplicate alg, last HS256", tok: withHeader(`{"alg":"none","alg":"HS256"}`), want: true},
		{name: "duplicate alg, last none", tok: withHeader(`{"alg":"HS256","alg":"none"}`)},
		{name: "crit header", tok: withHeader(`{"alg":"HS256","crit":["exp"],"exp":1}`), ref: refAccepts},
		{name: "crit null", tok: withHeader(`{"alg":"HS256","crit":null}`), ref: refAccepts},
		{name: "header null", tok: withHeader(`null`)},
		{name: "header array", tok: withHeader(`["HS256"]`)},
		{name: "header string", tok: withHeader(`"HS256"`)},
		{name: "header empty object", tok: withHeader(`{}`)},
		{name: "header not JSON", tok: withHeader(`alg=HS256`)},
		{name: "header with trailing data", tok: withHeader(`{"alg":"HS256"}x`)},

		// Issuer.
		{name: "wrong iss", tok: withClaims(`"iss":"myapp/other"`)},
		{name: "iss in other case", tok: withClaims(`"iss":"MYAPP/test"`)},
		{name: "iss missing", tok: withClaims(`"iss":-`)},
		{name: "iss null", tok: withClaims(`"iss":null`)},
		{name: "iss a number", tok: withClaims(`"iss":1`)},
		{name: "any iss without a configured issuer", server: "noiss", tok: withClaims(`"iss":"elsewhere"`), want: true},
		{name: "no iss without a configured issuer", server: "noiss", tok: withClaims(`"iss":-`), want: true},

		// Audience, without one configured: none may be present.
		{name: "aud string, none configured", tok: withClaims(`"aud":"api"`)},
		{name: "aud array, none configured", tok: withClaims(`"aud":["api"]`)},
		{name: "aud empty string, none configured", tok: withClaims(`"aud":""`)},
		{name: "aud [\"\"], none configured", tok: withClaims(`"aud":[""]`)},
		{name: "aud empty array, none configured", tok: withClaims(`"aud":[]`), want: true},
		{name: "aud null, none configured", tok: withClaims(`"aud":null`), want: true},
		{name: "aud then null, none configured", tok: withClaims(`"aud":"other"`, `"AUD":null`)},
		{name: "aud array with null, none configured", tok: withClaims(`"aud":["api",null]`)},
		{name: "aud a number, none configured", tok: withClaims(`"aud":5`)},
		// With one configured: it must be there.
		{name: "aud string", server: "aud", tok: withClaims(`"aud":"api"`), want: true},
		{name: "aud array", server: "aud", tok: withClaims(`"aud":["other","api"]`), want: true},
		{name: "aud array with an empty string", server: "aud", tok: withClaims(`"aud":["","api"]`), want: true},
		{name: "aud absent", server: "aud", tok: withClaims()},
		{name: "aud empty array", server: "aud", tok: withClaims(`"aud":[]`)},
		{name: "aud null", server: "aud", tok: withClaims(`"aud":null`)},
		{name: "aud other", server: "aud", tok: withClaims(`"aud":["other"]`)},
		{name: "aud in other case", server: "aud", tok: withClaims(`"aud":"API"`)},
		{name: "aud [\"\"]", server: "aud", tok: withClaims(`"aud":[""]`)},
		{name: "aud with null", server: "aud", tok: withClaims(`"aud":["api",null]`)},
		{name: "aud nested array", server: "aud", tok: withClaims(`"aud":[["api"]]`)},

		// Subject and other claims.
		{name: "empty sub", tok: withClaims(`"sub":""`)},
		{name: "sub missing", tok: withClaims(`"sub":-`)},
		{name: "sub null", tok: withClaims(`"sub":null`)},
		{name: "sub a number", tok: withClaims(`"sub":7`)},
		{name: "sub with invalid UTF-8", tok: withClaims("\"sub\":\"al\xffce\""), want: true},
		{name: "sid a number", tok: withClaims(`"sid":5`)},
		{name: "jti an array", tok: withClaims(`"jti":[]`)},
		{name: "unknown claims, huge number among them", tok: withClaims(`"x":1e400`, `"y":{"z":[null,true]}`), want: true},
		{name: "a 100 kB claim", tok: withClaims(`"pad":"` + strings.Repeat("a", 100_000) + `"`), want: true},
		{name: "nesting beyond encoding/json's depth", tok: withClaims(`"x":` + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000))},

		// Null and duplicate JSON members: the last one counts (RFC 7515
		// §4 allows exactly that), null clears a date or leaves the rest.
		{name: "payload null", tok: vsigned(testSecret, vheader(cur), `null`)},
		{name: "payload array", tok: vsigned(testSecret, vheader(cur), `[]`)},
		{name: "payload string", tok: vsigned(testSecret, vheader(cur), `"alice"`)},
		{name: "payload empty", tok: vsigned(testSecret, vheader(cur), ``)},
		{name: "payload with trailing data", tok: vsigned(testSecret, vheader(cur), vclaims()+`{}`)},
		{name: "payload with surrounding whitespace", tok: vsigned(testSecret, vheader(cur), "\n "+vclaims()+"\t\n"), want: true},
		{name: "duplicate sub", tok: vsigned(testSecret, vheader(cur), strings.Replace(vclaims(), `"sub":"alice"`, `"sub":"mallory","sub":"alice"`, 1)), want: true},
		{name: "sub and SUB", tok: vsigned(testSecret, vheader(cur), strings.Replace(vclaims(), `"sub":"alice"`, `"sub":"mallory","SUB":"alice"`, 1)), want: true},
		{name: "duplicate exp, last future", tok: withClaims(dateAt("exp", -3600), dateAt("EXP", 900)), want: true},
		{name: "duplicate exp, last past", tok: withClaims(dateAt("EXP", -3600)), ref: refSame},
		{name: "exp then null", tok: withClaims(`"EXP":null`)},
		{name: "null then exp", tok: withClaims(`"exp":null`, dateAt("EXP", 900)), want: true},
		{name: "string exp overridden by a number", tok: withClaims(`"exp":"1"`, dateAt("Exp", 900)), ref: refAccepts},
		{name: "sub then null", tok: withClaims(`"SUB":null`), want: true},
		{name: "iat then null", tok: withClaims(dateAt("iat", 3600), `"IAT":null`), want: true},

		// Encodings.
		{name: "padded header", tok: vsignedRaw(testSecret, base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256" }`))+"."+p)},
		{name: "padded payload", tok: vsignedRaw(testSecret, h+"."+base64.URLEncoding.EncodeToString([]byte(oddPayload)))},
		{name: "padded signature", tok: std + "="},
		{name: "standard base64 alphabet", tok: vsignedRaw(testSecret, h+"."+base64.RawStdEncoding.EncodeToString([]byte(vclaims(`"pad":"???>>>"`))))},
		{name: "non-canonical signature", tok: h + "." + p + "." + nonCanonical(sig), ref: refAccepts},
		{name: "non-canonical payload, signed", tok: vsignedRaw(testSecret, h+"."+nonCanonical(vseg(oddPayload))), ref: refAccepts},
		{name: "canonical odd payload", tok: vsignedRaw(testSecret, h+"."+vseg(oddPayload)), want: true},
		{name: "signature one character short", tok: std[:len(std)-1]},
		{name: "signature one byte long", tok: h + "." + p + "." + base64.RawURLEncoding.EncodeToString(append(mustDecode(t, sig), 0))},
		{name: "empty signature", tok: h + "." + p + "."},
		{name: "signature of another token", tok: h + "." + p + "." + strings.Split(withClaims(`"sub":"bob"`), ".")[2]},
		{name: "tampered payload", tok: h + "." + vseg(vclaims(`"sub":"admin"`)) + "." + sig},
		{name: "extra segment", tok: std + ".x"},
		{name: "trailing dot", tok: std + "."},
		{name: "two segments", tok: h + "." + p},
		{name: "one segment", tok: h},
		{name: "empty", tok: ""},
		{name: "dots", tok: ".."},
		{name: "a megabyte of dots", tok: strings.Repeat(".", 1<<20)},
		{name: "leading space", tok: " " + std},
		{name: "trailing space", tok: std + " "},
		{name: "trailing CRLF", tok: std + "\r\n", ref: refAccepts},
		{name: "LF in the signature", tok: h + "." + p + "." + sig[:10] + "\n" + sig[10:], ref: refAccepts},
		{name: "LF in the payload, signed", tok: vsignedRaw(testSecret, h+"."+p[:10]+"\n"+p[10:]), ref: refAccepts},
		{name: "tab in the signature", tok: h + "." + p + "." + sig[:10] + "\t" + sig[10:]},
	}
}

func mustDecode(t testing.TB, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAccessMatchesJWTParser(t *testing.T) {
	vs := newVerifiers(t)
	for _, c := range verifyCases(t, vs) {
		t.Run(c.name, func(t *testing.T) {
			server := c.server
			if server == "" {
				server = "plain"
			}
			v := vs[server]
			ours, refErr := v.compare(t, c.tok)
			if ours != c.want {
				_, err := v.s.parseAccess(c.tok)
				t.Errorf("parseAccess accepts = %v (%v), want %v", ours, err, c.want)
			}
			switch c.ref {
			case refSame:
				if (refErr == nil) != c.want {
					t.Errorf("jwt.Parser: %v, want accepted = %v", refErr, c.want)
				}
			case refAccepts:
				if refErr != nil {
					t.Errorf("jwt.Parser refuses (%v); the case expects a stricter rule of ours only", refErr)
				}
				if stricterReason(c.tok) == "" {
					t.Errorf("no documented stricter rule applies")
				}
			}
		})
	}
}

// Our own tokens take parseAccess's fast path (the header compared byte
// for byte); they must yield what jwt.Parser yields, on every
// configuration, at every instant of their life and past it.
func TestParseAccessOwnTokensOverTime(t *testing.T) {
	for _, c := range verifyServers {
		t.Run(c.name, func(t *testing.T) {
			now := verifyNow
			s, err := New(Options{
				SecretKey: testSecret, PreviousKeys: [][]byte{verifyPrevious},
				Issuer: c.issuer, Audience: c.audience, Now: func() time.Time { return now },
			}, new(Store))
			if err != nil {
				t.Fatal(err)
			}
			v := &verifier{name: c.name, s: s, p: referenceParser(s)}
			tok, err := s.mintAccess("alice", "s-1", verifyNow.Add(123*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			for d := -30 * time.Second; d < s.opts.AccessTTL+30*time.Second; d += 250 * time.Millisecond {
				now = verifyNow.Add(d)
				ours, refErr := v.compare(t, tok)
				if ours != (refErr == nil) {
					t.Errorf("at %v: parseAccess %v, jwt.Parser %v", d, ours, refErr)
				}
				want := d >= -jwtLeeway && d < s.opts.AccessTTL+jwtLeeway
				if ours != want {
					t.Errorf("at %v: accepted = %v, want %v", d, ours, want)
				}
			}
		})
	}
}

// FuzzParseAccess holds parseAccess to jwt.Parser on three kinds of input
// built from each fuzzed value: the raw string as a token (mostly the
// framing and base64 paths, since its signature is wrong); header and
// payload JSON, encoded and signed with a key chosen by which (current,
// previous, unknown), which reaches the JSON and claim rules; and the raw
// string as the signing input, signed, which reaches odd encodings with a
// good signature. Each is verified under every configuration; see
// verifier.compare for what fails.
func FuzzParseAccess(f *testing.F) {
	vs := newVerifiers(f)
	for _, c := range verifyCases(f, vs) {
		if len(c.tok) > 4096 {
			continue
		}
		segs := strings.SplitN(c.tok, ".", 3)
		var header, payload []byte
		if len(segs) == 3 {
			header, _ = base64.RawURLEncoding.DecodeString(segs[0])
			payload, _ = base64.RawURLEncoding.DecodeString(segs[1])
		}
		f.Add(c.tok, string(header), string(payload), uint8(0))
	}
	cur := newHMACKey(testSecret).id
	f.Add("", vheader(cur), vclaims(`"aud":["api"]`), uint8(0))
	f.Add("", vheader(""), vclaims(dateAt("exp", -jwtLeeway.Seconds()+0.999)), uint8(1))
	f.Add("", `{"alg":"HS256","kid":"`+cur+`","typ":"JWT"}`, vclaims(), uint8(2))
	keys := [][]byte{testSecret, verifyPrevious, verifyOther}
	f.Fuzz(func(t *testing.T, raw, header, payload string, which uint8) {
		key := keys[int(which)%len(keys)]
		toks := []string{raw, vsigned(key, header, payload)}
		if strings.Contains(raw, ".") {
			toks = append(toks, vsignedRaw(key, raw))
		}
		for _, tok := range toks {
			for _, c := range verifyServers {
				vs[c.name].compare(t, tok)
			}
		}
	})
}
