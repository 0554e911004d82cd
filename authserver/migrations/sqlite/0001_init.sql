-- Tables are prefixed because they live in the application's own database
-- beside the Python backend's tables. Times are Unix milliseconds.

CREATE TABLE myapp_auth_users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,            -- Argon2id PHC string
    disabled      INTEGER NOT NULL DEFAULT 0,
    -- generation is bumped by every password change or disable; a session
    -- remembers the generation it was created under, so a login or refresh
    -- that raced such a change is refused even if it read the old row.
    generation    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- A session is one login: the family of refresh tokens rotated from it.
CREATE TABLE myapp_auth_sessions (
    id            TEXT    PRIMARY KEY,          -- also the access token's sid claim
    user_id       INTEGER NOT NULL REFERENCES myapp_auth_users (id) ON DELETE CASCADE,
    generation    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,             -- absolute end, whatever the activity
    revoked_at    INTEGER,
    revoke_reason TEXT
);
CREATE INDEX myapp_auth_sessions_user ON myapp_auth_sessions (user_id);
CREATE INDEX myapp_auth_sessions_expiry ON myapp_auth_sessions (expires_at);

-- Every refresh token ever issued in a live session, current or rotated:
-- rotated ones must stay to recognise reuse.
CREATE TABLE myapp_auth_refresh_tokens (
    token_hash  BLOB    PRIMARY KEY,            -- SHA-256 of the token; the token itself is never stored
    session_id  TEXT    NOT NULL REFERENCES myapp_auth_sessions (id) ON DELETE CASCADE,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER,                        -- NULL while this is the session's current token
    -- The successor token sealed with a key derived from this token, kept
    -- only for the grace window so a duplicate refresh gets the same answer.
    successor   BLOB
);
CREATE INDEX myapp_auth_refresh_tokens_session ON myapp_auth_refresh_tokens (session_id);
CREATE INDEX myapp_auth_refresh_tokens_sealed ON myapp_auth_refresh_tokens (rotated_at)
    WHERE successor IS NOT NULL;
