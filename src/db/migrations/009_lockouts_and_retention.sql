-- Failed password sign-ins are counted per account and source address: five from one address lock
-- that address out of the account for a while and lock no one else out, so a stranger who knows
-- the break-glass address cannot keep it shut on the day the identity provider is down.
CREATE TABLE signin_lockouts (
  tenant_id uuid NOT NULL,
  user_id uuid NOT NULL,
  source text NOT NULL CHECK (length(source) <= 100),
  failures integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, source),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX signin_lockouts_updated ON signin_lockouts (updated_at);
ALTER TABLE users DROP COLUMN failed_signins;
ALTER TABLE users DROP COLUMN locked_until;

-- Sign-in traces are kept for a limited time (KEYDESK_TRACE_RETENTION_DAYS): anyone can post to a
-- connection's URLs, so what they leave behind must not grow without end.
CREATE INDEX signin_traces_created ON signin_traces (created_at);
