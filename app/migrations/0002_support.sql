-- Tables the document does not name but the behaviour needs.

-- One row per job run; /alerts reads the refresh job's last run from here
-- (a run that finds nothing to refresh leaves no token_refresh_log row).
CREATE TABLE job_runs (
    id          bigserial PRIMARY KEY,
    job         text NOT NULL,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed')),
    summary     jsonb NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX job_runs_job_idx ON job_runs (job, started_at DESC);

-- Nonces of OAuth states already used: a state is accepted once.
CREATE TABLE oauth_state_nonces (
    nonce   text PRIMARY KEY,
    user_id bigint NOT NULL,
    used_at timestamptz NOT NULL DEFAULT now()
);

-- What the webhook processor records.  No foreign key to the account:
-- events can arrive for an account that was disconnected meanwhile.
CREATE TABLE instagram_comments (
    id            text PRIMARY KEY,
    account_id    text NOT NULL,
    field         text NOT NULL,
    media_id      text,
    parent_id     text,
    from_id       text,
    from_username text,
    text          text,
    event_id      bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instagram_comments_account_idx ON instagram_comments (account_id, created_at DESC);

CREATE TABLE instagram_messages (
    mid          text PRIMARY KEY,
    account_id   text NOT NULL,
    sender_id    text,
    recipient_id text,
    text         text,
    is_echo      boolean NOT NULL DEFAULT false,
    sent_at      timestamptz,
    event_id     bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instagram_messages_account_idx ON instagram_messages (account_id, sent_at DESC);

-- Rate-limit counters shared by every gunicorn worker when REDIS_URL is unset.
-- UNLOGGED: losing them in a crash only resets the limits.
CREATE UNLOGGED TABLE rate_limit_counters (
    key        text PRIMARY KEY,
    count      integer NOT NULL,
    expires_at timestamptz NOT NULL
);
