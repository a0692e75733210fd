-- Server-side sessions (app.sessions): the cookie holds only a random id,
-- signed with SESSION_SECRET; this table holds a SHA-256 of that id, never
-- the id itself, so a copy of the table (or a backup) opens no session.
-- Deleting a row ends the session at once, on every app instance.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      bigint REFERENCES users (id) ON DELETE CASCADE,  -- NULL: nobody logged in (a CSRF token, flashes)
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),  -- updated at most once a minute (idle timeout)
    expires_at   timestamptz NOT NULL                 -- absolute end, whatever the activity
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE user_id IS NOT NULL;
