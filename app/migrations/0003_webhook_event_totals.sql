-- Running totals of processed ('done') and failed webhook events, for the
-- insta_webhooks_processed/failed counters: counting webhook_events rows
-- would go down when housekeeping deletes old ones.  Insert-only (one row
-- per outcome per transaction of the processor, so concurrent workers never
-- wait on one another); housekeeping folds the rows into one per outcome.
CREATE TABLE webhook_event_totals (
    outcome     text NOT NULL CHECK (outcome IN ('done', 'failed')),
    events      bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- What was counted before this table existed.
INSERT INTO webhook_event_totals (outcome, events)
SELECT status, count(*) FROM webhook_events WHERE status IN ('done', 'failed') GROUP BY status;
