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
// same Store: AddUser, SetPassword, DisableUser, ListUsers. SetPassword and
// DisableUser revoke every session of the user at once; access tokens
// already issued stay valid until they expire (AccessTTL, 15 minutes by
// default), which is also how long the Python backend would accept them.
// Errors for a taken or missing username are ErrUserExists and
// ErrUserNotFound; a MySQL or PostgreSQL DB_URL gives ErrUnsupportedDB.
//
// # DB_URL
//
// The URL is the one the Python backend reads from the shared .env, in
// SQLAlchemy's form, so both open the same file:
//
//	sqlite:////var/lib/myapp/shop/app.db   absolute path (four slashes)
//	sqlite:///app.db                       relative to the working directory
//	sqlite+pysqlite:////abs/app.db         SQLAlchemy driver suffixes are ignored
//	sqlite:/abs/app.db, sqlite:app.db      plain scheme and path
//
// A query string is for the Python driver and ignored. In-memory databases
// and SQLite "file:" URIs are refused. The directory must exist; a new
// database file is created with mode 0600. mysql... and postgres... URLs
// are recognised and refused as not supported yet. The schema lives in
// tables prefixed myapp_auth_, beside the application's own, and is
// migrated by versioned files embedded per SQL dialect. The database runs
// in WAL mode with a busy timeout, foreign keys on, and all writes through
// one connection with BEGIN IMMEDIATE, so concurrent refreshes queue
// instead of failing with "database is locked".
//
// # HTTP API (paths as nginx forwards them, /auth stripped)
//
//	POST /token          form or JSON username, password → 200 tokens
//	POST /token/refresh  refresh token in the cookie, JSON or form field
//	                     refresh_token → 200 tokens (rotated)
//	POST /logout         same token places → 204, session revoked, cookie cleared
//	GET  /me             Authorization: Bearer <access> → 200 {"sub", "sid", "iss", "iat", "exp"}
//	GET  /healthz        200 {"status":"ok"} when the database answers, else 503
//
// Token responses are {"access_token", "refresh_token", "token_type":
// "bearer", "expires_in"} with Cache-Control: no-store, and set the
// refresh token as the cookie "refresh_token" (HttpOnly, Secure,
// SameSite=Strict, path /auth/). Every response carries Cache-Control:
// no-store and Pragma: no-cache. Failures are JSON {"error", "detail"}: a
// wrong password, unknown or disabled user gives the same 401
// invalid_grant; a bad, expired, revoked or reused refresh token gives 401
// invalid_grant; a missing one, or a malformed body, 400 invalid_request;
// a body that is neither form nor JSON on /token, 415. A login queued over
// 10 s behind other password hashes gets 503 temporarily_unavailable with
// Retry-After. Cross-origin browser POSTs are refused with 403 so that no
// other site can log a browser in or out. Bodies are limited to 16 KiB;
// ListenAndServe adds header, read, write and idle timeouts and a 16 KiB
// header limit.
//
// # Tokens
//
// Access tokens are HS256 JWTs signed with SECRET_KEY's bytes, carrying
// sub (the username), iss, iat, exp, jti and sid (the session), and no
// aud, so a backend's PyJWT jwt.decode(token, SECRET_KEY,
// algorithms=["HS256"]) accepts them unchanged.
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
// (720h) after it was issued; a session ends after SessionMaxAge (90 days)
// however active. A per-user generation counter, bumped by password
// changes and disables, makes a login racing such a change fail.
//
// Passwords are hashed with Argon2id (m=19 MiB, t=2, p=1) as PHC strings,
// compared in constant time; unknown users cost a dummy hash so timing
// does not reveal them, and a semaphore bounds concurrent hashes. Logs
// never contain tokens or passwords.
package authserver
