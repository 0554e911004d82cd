// Package authserver is the bundled login and refresh-token server that
// `myapp auth serve` runs behind nginx at /auth/. It replaces a FastAPI
// /token + /token/refresh pair and imports nothing else of this module.
//
// # Use
//
//	st, err := authserver.OpenStore(ctx, os.Getenv("DB_URL")) // migrates the schema
//	defer st.Close()
//	srv, err := authserver.New(authserver.Options{
//		SecretKey: []byte(os.Getenv("SECRET_KEY")),
//		Issuer:    "myapp/shop",
//		Logger:    logger,
//	}, st)
//	err = authserver.ListenAndServe(ctx, "127.0.0.1:9000", srv.Handler())
//
// User management (`myapp auth user add|passwd|disable|list`) uses the
// same Store: AddUser, ImportUser, SetPassword, DisableUser,
// RevokeSessions, ListUsers. SetPassword, DisableUser and RevokeSessions
// revoke every session of the user at once; access tokens already issued
// stay valid until they expire (AccessTTL, 15 minutes by default), which
// is also how long the Python backend would accept them. Errors for a
// taken or missing username are ErrUserExists and ErrUserNotFound; bad
// input is ErrInvalidUsername, ErrInvalidPassword or ErrInvalidHash.
//
// Usernames are stored, compared and put in sub in Unicode NFC
// (NormalizeUsername), at user management and at login alike, so a name
// typed decomposed (NFD) is the same user. Names that could pose as
// another are refused: control, format (zero-width, bidi overrides),
// private-use, unassigned and other invisible characters, spaces other
// than U+0020 or at either end, and more than 64 characters.
//
// # DB_URL
//
// The URL is the one the Python backend reads from the shared .env, in
// SQLAlchemy's form, so both open the same database; the "+driver" part
// names a Python driver and is ignored:
//
//	sqlite:////var/lib/myapp/shop/app.db          absolute path (four slashes)
//	sqlite:///app.db                              relative to the working directory
//	mysql+pymysql://user:pass@host[:3306]/db      also mysql://, mariadb://
//	postgresql+psycopg://user:pass@host[:5432]/db also postgresql://, postgres://
//
// For SQLite, a query string is for the Python driver and ignored;
// in-memory databases and "file:" URIs are refused; the directory must
// exist and a new file is created 0600 (by OpenStore; OpenExistingStore
// refuses a missing file instead). The database runs in WAL mode
// with a busy timeout and all writes through one connection with BEGIN
// IMMEDIATE, so concurrent refreshes queue instead of failing with
// "database is locked". For MySQL, unix_socket= and ssl_ca= are
// understood; for PostgreSQL the query string goes to the driver as libpq
// parameters (sslmode, sslrootcert, ...). The user and password are read
// as SQLAlchemy reads them: the password runs from the user's ":" to the
// next "@" and is percent-decoded, so "/", "?", "#" or ":" in it need no
// escape (an "@" does: %40). A sqlite URL with a user or password is
// refused. Errors never show the password, in any encoding (RedactError
// does the same for a caller's own messages), and mistakes in the URL
// itself match ErrInvalidDBURL.
//
// The schema lives in tables prefixed myapp_auth_, beside the
// application's own, and is migrated on open by versioned files embedded
// per dialect, under a lock so that instances starting together agree.
// Concurrent writers are ordered by row locks, always taken user →
// session → refresh token, in READ COMMITTED transactions; a transaction
// picked as a deadlock victim is retried. Fifty concurrent refreshes of
// one token, across any number of instances sharing the database, rotate
// it exactly once.
//
// Durability is chosen per write: a login or rotation lost in a power cut
// only logs someone out, so it commits without waiting for the disk
// (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off); a
// revocation, password change or disable waits for it, and so flushes
// every earlier write too.
//
// # HTTP API (paths as nginx forwards them, /auth stripped)
//
//	POST /token          form or JSON username, password → 200 tokens
//	POST /token/refresh  refresh token in the cookie, JSON or form field
//	                     refresh_token → 200 tokens (rotated)
//	POST /logout         same token places → 204, session revoked, cookie cleared
//	POST /logout/all     Authorization: Bearer <access> → 204, every session of the user revoked
//	GET  /me             Authorization: Bearer <access> → 200 {"sub", "sid", "iss", "iat", "exp"}
//	GET  /healthz        200 {"status":"ok"} when the database answers, else 503
//
// Token responses are {"access_token", "refresh_token", "token_type":
// "bearer", "expires_in"} and set the refresh token as the cookie
// "refresh_token" (HttpOnly, Secure, SameSite=Strict, path /auth/). Every
// response carries Cache-Control: no-store and Pragma: no-cache. Failures
// are JSON {"error", "detail"}: a wrong password, unknown or disabled
// user gives the same 401 invalid_grant; a bad, expired, revoked or
// reused refresh token gives 401 invalid_grant; a bad access token 401
// invalid_token; a missing one, or a malformed body, 400
// invalid_request; a body that is neither form nor JSON on /token, 415;
// a method a path does not take, 405 invalid_request with Allow; any
// other path, 404 invalid_request.
//
// Failed logins are limited per username and per client address (429
// too_many_requests with Retry-After, the same for existing and unknown
// names); the client address comes from X-Forwarded-For only as far as
// trusted proxies (loopback by default) wrote it. Logins beyond a
// bucket's pending attempts queue first come, first served; one queued
// over 10 s (behind those or other password hashes) gets 503
// temporarily_unavailable with Retry-After, not 429, as nothing failed.
// Cross-origin browser POSTs (by Sec-Fetch-Site or Origin)
// are refused with 403, so no other site can log a browser in, refresh
// with its cookie or log it out; clients that are not browsers send
// neither header and are unaffected. Bodies are limited to 16 KiB;
// ListenAndServe adds header, read, write and idle timeouts, a 16 KiB
// header limit, and a graceful shutdown when its context ends (SIGTERM in
// `myapp auth serve`). The access log names method, path, status,
// duration and client address, never a token or password.
//
// # Tokens
//
// Access tokens are HS256 JWTs signed with SECRET_KEY's bytes, carrying
// sub (the username), iss, iat, exp, jti, sid (the session), a kid header
// derived from the key, and aud only when Options.Audience is set, so a
// backend's PyJWT jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
// accepts them unchanged. Verification is pinned to HS256, requires exp,
// allows 10 s of clock skew, and also accepts Options.PreviousKeys
// (SECRET_KEY_PREVIOUS), so rotating the key logs nobody out.
//
// Refresh tokens are 256 random bits, stored only as SHA-256 hashes. Each
// login starts a session; each refresh rotates the session's token. A
// rotated token presented again within Grace (10 s) returns the same
// successor as the first time, so racing tabs and retried requests do not
// log the user out; the successor is kept for that window sealed with
// AES-GCM under a key derived from the old token, which the database
// never holds, so a stolen database yields no usable token. Presented
// later, a rotated token means the session was copied: the whole session
// is revoked and a warning logged. Each refresh token lives RefreshTTL
// (720h, the idle timeout) after it was issued; a session ends after
// SessionMaxAge (90 days) however active. A per-user generation counter,
// bumped by password changes, disables and logout-all, makes a login or
// refresh racing such a change fail.
//
// Passwords are hashed with Argon2id (m=19 MiB, t=2, p=1) as PHC strings,
// compared in constant time; unknown users cost a dummy hash so timing
// does not reveal them, and a semaphore bounds concurrent hashes. bcrypt
// hashes can be imported and are replaced by Argon2id at the first
// successful login. Logs never contain tokens or passwords.
package authserver
