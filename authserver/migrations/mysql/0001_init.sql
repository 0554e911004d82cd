-- The MySQL/MariaDB form of sqlite/0001_init.sql: the same tables and
-- columns, times as Unix milliseconds. MySQL commits each DDL statement on
-- its own, so every statement here must be safe to run again (IF NOT
-- EXISTS, indexes inline). Identifiers and hashes are ASCII with binary
-- collation, and usernames utf8mb4_bin: comparisons are exact and
-- case-sensitive, as on SQLite and PostgreSQL.

CREATE TABLE IF NOT EXISTS myapp_auth_users (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    disabled      TINYINT      NOT NULL DEFAULT 0,
    generation    BIGINT       NOT NULL DEFAULT 0,
    created_at    BIGINT       NOT NULL,
    updated_at    BIGINT       NOT NULL,
    UNIQUE KEY myapp_auth_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS myapp_auth_sessions (
    id            VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id       BIGINT       NOT NULL,
    generation    BIGINT       NOT NULL,
    created_at    BIGINT       NOT NULL,
    expires_at    BIGINT       NOT NULL,
    revoked_at    BIGINT       NULL,
    revoke_reason VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    KEY myapp_auth_sessions_user (user_id),
    KEY myapp_auth_sessions_expiry (expires_at),
    CONSTRAINT myapp_auth_sessions_user_fk FOREIGN KEY (user_id)
        REFERENCES myapp_auth_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- No partial indexes in MySQL: the sweep of sealed successors bounds its
-- rotated_at range instead.
CREATE TABLE IF NOT EXISTS myapp_auth_refresh_tokens (
    token_hash  BINARY(32)     NOT NULL PRIMARY KEY,
    session_id  VARCHAR(32)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    issued_at   BIGINT         NOT NULL,
    expires_at  BIGINT         NOT NULL,
    rotated_at  BIGINT         NULL,
    successor   VARBINARY(255) NULL,
    KEY myapp_auth_refresh_tokens_session (session_id),
    KEY myapp_auth_refresh_tokens_rotated (rotated_at),
    CONSTRAINT myapp_auth_refresh_tokens_session_fk FOREIGN KEY (session_id)
        REFERENCES myapp_auth_sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
