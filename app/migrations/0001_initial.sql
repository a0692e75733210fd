-- The seven tables of the infrastructure document.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Keyed by the professional account id that /me returns as user_id.
CREATE TABLE instagram_accounts (
    id                  text PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_scoped_id       text,
    username            text NOT NULL,
    account_type        text,
    profile_picture_url text,
    followers_count     integer,
    media_count         integer,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reauth')),
    status_reason       text,
    comments_count      bigint NOT NULL DEFAULT 0,
    messages_count      bigint NOT NULL DEFAULT 0,
    last_event_at       timestamptz,
    subscribed_at       timestamptz,
    connected_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instagram_accounts_user_idx ON instagram_accounts (user_id);

-- Facebook Login variant: the Pages an account is reached through.
CREATE TABLE instagram_pages (
    id         text PRIMARY KEY,
    account_id text NOT NULL REFERENCES instagram_accounts (id) ON DELETE CASCADE,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instagram_pages_account_idx ON instagram_pages (account_id);

-- One current long-lived token per account, Fernet-encrypted.
CREATE TABLE access_tokens (
    id                bigserial PRIMARY KEY,
    account_id        text NOT NULL UNIQUE REFERENCES instagram_accounts (id) ON DELETE CASCADE,
    token_ciphertext  text NOT NULL,
    token_type        text NOT NULL DEFAULT 'bearer',
    scopes            text[] NOT NULL DEFAULT '{}',
    expires_at        timestamptz NOT NULL,
    issued_at         timestamptz NOT NULL DEFAULT now(),
    last_refreshed_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);

-- One row per refresh attempt.  No foreign key: history outlives a disconnect.
CREATE TABLE token_refresh_log (
    id            bigserial PRIMARY KEY,
    run_id        bigint,
    account_id    text NOT NULL,
    attempt       integer NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('refreshed', 'needs_reauth', 'deferred', 'retry', 'failed')),
    error_code    integer,
    error_subcode integer,
    http_status   integer,
    message       text,
    expires_at    timestamptz,
    duration_ms   integer,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX token_refresh_log_account_idx ON token_refresh_log (account_id, created_at DESC);

-- The webhook queue: one row per change / messaging item, deduplicated.
CREATE TABLE webhook_events (
    id              bigserial PRIMARY KEY,
    dedupe_key      text NOT NULL UNIQUE,
    object          text NOT NULL,
    account_id      text,
    field           text NOT NULL,
    payload         jsonb NOT NULL,
    entry_time      timestamptz,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_at       timestamptz,
    locked_by       text,
    last_error      text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz
);
CREATE INDEX webhook_events_due_idx ON webhook_events (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_events_claimed_idx ON webhook_events (locked_at) WHERE status = 'processing';
CREATE INDEX webhook_events_failed_idx ON webhook_events (processed_at) WHERE status = 'failed';
CREATE INDEX webhook_events_account_idx ON webhook_events (account_id, id DESC);

-- One row per processing attempt (and per reclaimed stale claim).
CREATE TABLE webhook_event_log (
    id          bigserial PRIMARY KEY,
    event_id    bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('done', 'retry', 'failed', 'reclaimed')),
    error       text,
    worker      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_event_log_event_idx ON webhook_event_log (event_id);
