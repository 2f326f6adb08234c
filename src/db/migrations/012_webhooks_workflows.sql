-- Identity drives the service desk (issue 11): webhook endpoints with their delivery log, workflow
-- rules that turn identity events into tickets with checklists, and the first sign-in as an event.

-- When a person first signed in (any method): the "first sign-in" trigger fires once per account.
ALTER TABLE users ADD COLUMN first_signin_at timestamptz;
UPDATE users u SET first_signin_at = (
  SELECT min(a.occurred_at) FROM audit_events a
  WHERE a.tenant_id = u.tenant_id AND a.actor_id = u.id AND a.action LIKE 'signin.%' AND a.outcome = 'success');

CREATE TABLE webhook_endpoints (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  url text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
  -- Event types (user.provisioned, audit.event, …) or '*' for all.
  events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 50),
  enabled boolean NOT NULL DEFAULT true,
  -- Why it stopped (the receiver answered 410 Gone, or an admin disabled it).
  disabled_reason text CHECK (length(disabled_reason) <= 500),
  -- The signing secret (whsec_…), sealed with KEYDESK_SECRET; after a rotation the previous one
  -- signs too until previous_secret_until, so receivers can switch without losing a message.
  secret_sealed text NOT NULL,
  previous_secret_sealed text,
  previous_secret_until timestamptz,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (id)
);

-- One row per attempt: what was sent where, and what came back.
CREATE TABLE webhook_deliveries (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  job_id uuid,
  -- The webhook-id header: the same for every attempt and redelivery of one message.
  message_id text NOT NULL CHECK (length(message_id) <= 100),
  event_type text NOT NULL CHECK (length(event_type) <= 60),
  attempt integer NOT NULL,
  status_code integer,
  duration_ms integer,
  error text CHECK (length(error) <= 500),
  succeeded boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_message ON webhook_deliveries (tenant_id, message_id);

CREATE TABLE workflow_rules (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  -- The ready-made template it was enabled from (one of each per tenant), or null for a custom rule.
  template text CHECK (template IN ('onboarding', 'offboarding')),
  trigger text NOT NULL CHECK (trigger IN ('user.provisioned', 'user.first_signin', 'group.member_added', 'group.member_removed', 'user.role_changed', 'user.deactivated', 'user.deleted')),
  conditions jsonb NOT NULL DEFAULT '{}',
  actions jsonb NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (id)
);
CREATE UNIQUE INDEX workflow_rules_template ON workflow_rules (tenant_id, template) WHERE template IS NOT NULL;

-- A rule ran for an event: at most once, whatever the queue retries.
CREATE TABLE workflow_runs (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  rule_id uuid NOT NULL REFERENCES workflow_rules (id) ON DELETE CASCADE,
  event_id bigint NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('done', 'skipped')),
  ticket_id uuid,
  note text CHECK (length(note) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rule_id, event_id)
);

-- A ticket's checklist: tasks agents tick off (a workflow's onboarding steps, or added by hand).
CREATE TABLE ticket_tasks (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  ticket_id uuid NOT NULL,
  position integer NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  done_at timestamptz,
  done_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ticket_tasks_ticket ON ticket_tasks (tenant_id, ticket_id, position);
