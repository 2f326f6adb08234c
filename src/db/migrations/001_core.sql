-- Core schema. Every tenant-owned table leads its primary key with tenant_id, so tenants can be
-- distributed by that column later without redesign. Foreign keys between tenant-owned tables
-- include tenant_id, so a row can never point into another tenant.

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  status text NOT NULL CHECK (status IN ('active', 'waiting', 'disabled')),
  source text NOT NULL CHECK (source IN ('local', 'jit', 'scim')),
  password_hash text,
  password_change_required boolean NOT NULL DEFAULT false,
  totp_secret text,
  totp_enabled boolean NOT NULL DEFAULT false,
  -- Last accepted TOTP time step: a code is accepted once.
  totp_last_step bigint,
  break_glass boolean NOT NULL DEFAULT false,
  failed_signins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, lower(email));

-- One row per (user, role, origin). A role held both by a person's grant and by a rule is two rows,
-- so syncing rules never removes what a person granted.
CREATE TABLE role_grants (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL,
  role text NOT NULL CHECK (role IN ('requester', 'agent', 'change_manager', 'admin')),
  origin text NOT NULL CHECK (origin IN ('person', 'rule', 'system')),
  granted_by uuid,
  rule_id uuid,
  group_ref text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  CHECK ((origin = 'rule') = (rule_id IS NOT NULL))
);
CREATE UNIQUE INDEX role_grants_origin_key
  ON role_grants (tenant_id, user_id, role, origin, coalesce(rule_id, '00000000-0000-0000-0000-000000000000'));

CREATE TABLE teams (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX teams_name_key ON teams (tenant_id, lower(name));

CREATE TABLE team_members (
  tenant_id uuid NOT NULL,
  team_id uuid NOT NULL,
  user_id uuid NOT NULL,
  PRIMARY KEY (tenant_id, team_id, user_id),
  FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX team_members_user ON team_members (tenant_id, user_id);

CREATE TABLE sessions (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  token_hash text NOT NULL,
  user_id uuid NOT NULL,
  csrf_token text NOT NULL,
  method text NOT NULL,
  ip text,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX sessions_token_key ON sessions (tenant_id, token_hash);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

CREATE TABLE api_tokens (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (tenant_id, token_hash);

-- Fixed-window counters for rate limits, shared by every node. Not tenant-owned: keys name an IP
-- or a tenant+account, and rows expire with their window.
CREATE TABLE rate_limit_counters (
  bucket text NOT NULL,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL,
  PRIMARY KEY (bucket, window_start)
);

CREATE TABLE audit_events (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id bigint GENERATED ALWAYS AS IDENTITY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_id uuid,
  actor_label text NOT NULL,
  action text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
  reason text,
  target_type text,
  target_id text,
  ip text,
  details jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_time ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_action ON audit_events (tenant_id, action, occurred_at DESC);

CREATE TABLE sla_policies (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  priority smallint NOT NULL CHECK (priority BETWEEN 1 AND 5),
  response_minutes integer NOT NULL CHECK (response_minutes > 0),
  resolution_minutes integer NOT NULL CHECK (resolution_minutes > 0),
  PRIMARY KEY (tenant_id, priority)
);

CREATE TABLE ticket_counters (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  type text NOT NULL,
  last_number integer NOT NULL,
  PRIMARY KEY (tenant_id, type)
);

CREATE TABLE tickets (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  type text NOT NULL CHECK (type IN ('incident', 'request', 'change')),
  number integer NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
  status text NOT NULL,
  requester_id uuid NOT NULL,
  assignee_id uuid,
  team_id uuid,
  category text CHECK (length(category) <= 100),
  impact smallint NOT NULL CHECK (impact BETWEEN 1 AND 3),
  urgency smallint NOT NULL CHECK (urgency BETWEEN 1 AND 3),
  priority smallint NOT NULL CHECK (priority BETWEEN 1 AND 5),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- SLA clocks. Due times move forward by the time spent on hold; breach is computed against
  -- sla_paused_at while paused, so a ticket on hold never breaches.
  response_due_at timestamptz,
  resolution_due_at timestamptz,
  first_response_at timestamptz,
  resolved_at timestamptz,
  closed_at timestamptz,
  sla_paused_at timestamptz,
  sla_paused_seconds integer NOT NULL DEFAULT 0,
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || description)) STORED,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, type, number),
  FOREIGN KEY (tenant_id, requester_id) REFERENCES users (tenant_id, id),
  FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id),
  FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE SET NULL (team_id)
);
CREATE INDEX tickets_created ON tickets (tenant_id, created_at DESC, id DESC);
CREATE INDEX tickets_status ON tickets (tenant_id, status, created_at DESC);
CREATE INDEX tickets_assignee ON tickets (tenant_id, assignee_id, created_at DESC);
CREATE INDEX tickets_team ON tickets (tenant_id, team_id, created_at DESC);
CREATE INDEX tickets_requester ON tickets (tenant_id, requester_id, created_at DESC);
CREATE INDEX tickets_search ON tickets USING gin (search);

CREATE TABLE ticket_comments (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  ticket_id uuid NOT NULL,
  author_id uuid NOT NULL,
  visibility text NOT NULL CHECK (visibility IN ('public', 'internal')),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (tenant_id, ticket_id, created_at);

-- Activity history. `internal` marks events requesters must not see (work notes).
CREATE TABLE ticket_events (
  tenant_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  ticket_id uuid NOT NULL,
  actor_id uuid,
  kind text NOT NULL,
  internal boolean NOT NULL DEFAULT false,
  data jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ticket_events_ticket ON ticket_events (tenant_id, ticket_id, id);

CREATE TABLE change_approvals (
  tenant_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  ticket_id uuid NOT NULL,
  approver_id uuid NOT NULL,
  decision text NOT NULL CHECK (decision IN ('approved', 'rejected')),
  comment text NOT NULL CHECK (length(comment) <= 5000),
  decided_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, approver_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX change_approvals_ticket ON change_approvals (tenant_id, ticket_id, decided_at);
