-- Tamper evidence for the audit trail (issue 11). Events are written as before; a sealing job
-- gives each new event of a tenant a chain position (`chain_seq`, 1, 2, 3… in sealing order) and
-- `hash` = SHA-256(`prev_hash` || the event's canonical serialisation), see src/audit/chain.ts.
-- No constraint is put on these columns on purpose: the verifier, not the schema, judges them (a
-- forged duplicate position must be reported, not refused).
ALTER TABLE audit_events ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text;
-- The chain walked in order (verification, pruning, an event at a position).
CREATE INDEX audit_events_chain ON audit_events (tenant_id, chain_seq) WHERE chain_seq IS NOT NULL;
-- What is waiting to be sealed, oldest first: small, since events are sealed within seconds.
CREATE INDEX audit_events_unsealed ON audit_events (tenant_id, occurred_at, id) WHERE chain_seq IS NULL;

-- The head of each tenant's chain, kept by the sealer: its row is the sealers' lock (one sealer per
-- tenant at a time; writers of events never touch it). `sealed_through`: every event that occurred
-- up to this instant and had committed is sealed; an unsealed event older than it was not written
-- by Keydesk's writer (or by a transaction that took longer than the settle window).
CREATE TABLE audit_chain (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  seq bigint NOT NULL DEFAULT 0,
  hash text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
  sealed_through timestamptz,
  checkpoint_seq bigint NOT NULL DEFAULT 0,
  checkpoint_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Signed checkpoints: (tenant, kind, position, hash, time) signed with an Ed25519 key derived from
-- KEYDESK_SECRET, so someone who can write to the database but does not hold the secret cannot
-- rewrite the chain up to a checkpoint. `prune` checkpoints anchor the chain where retention
-- removed the events before them.
CREATE TABLE audit_checkpoints (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL,
  chain_seq bigint NOT NULL,
  hash text NOT NULL,
  signed_at timestamptz NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (tenant_id, chain_seq, id);

-- The sealing job's first tick; each tick schedules the next (and housekeeping revives the chain).
INSERT INTO jobs (tenant_id, kind, payload, idempotency_key, max_attempts) VALUES (NULL, 'audit.seal', '{"slot": 0}', 'audit.seal:0', 100)
ON CONFLICT (idempotency_key) DO NOTHING;
