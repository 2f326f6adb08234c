-- A durable job queue in the database every node shares (issue 11): effects of a change (a webhook
-- call, a ticket from a workflow) are enqueued in the change's own transaction and run afterwards
-- by whichever node claims them first (FOR UPDATE SKIP LOCKED). A claimed job carries a lease: if
-- its node dies (kill -9), the lease runs out and another node runs it again, so effects must be
-- idempotent; each job's key makes enqueueing idempotent, and its id is the effect's idempotency key.
CREATE TABLE jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,59}$'),
  payload jsonb NOT NULL DEFAULT '{}',
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 8 CHECK (max_attempts BETWEEN 1 AND 100),
  run_at timestamptz NOT NULL DEFAULT now(),
  locked_by text CHECK (length(locked_by) <= 100),
  locked_until timestamptz,
  last_error text CHECK (length(last_error) <= 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_tenant ON jobs (tenant_id, status, created_at DESC);
