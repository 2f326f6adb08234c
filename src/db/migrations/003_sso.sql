-- Single sign-on: connections to identity providers, outstanding requests, the replay cache,
-- external identities, group→role rules, sign-in traces, domains and enforcement.

ALTER TABLE tenants ADD COLUMN enforce_sso boolean NOT NULL DEFAULT false;

-- One row per identity-provider connection. Protocol-specific settings live in `config` (validated
-- in code: src/identity/saml/connection.ts); what every protocol shares has columns.
CREATE TABLE sso_connections (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  slug text NOT NULL CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$'),
  protocol text NOT NULL CHECK (protocol IN ('saml', 'oidc')),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  enabled boolean NOT NULL DEFAULT true,
  config jsonb NOT NULL,
  jit boolean NOT NULL DEFAULT true,
  waiting_room boolean NOT NULL DEFAULT false,
  attribute_map jsonb NOT NULL DEFAULT '{}',
  metadata_url text,
  metadata_xml text,
  metadata_fetched_at timestamptz,
  metadata_error text,
  test_passed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, slug)
);

-- AuthnRequests we sent and still wait for. Consumed once; shared by every node.
CREATE TABLE saml_requests (
  tenant_id uuid NOT NULL,
  id text NOT NULL,
  connection_id uuid NOT NULL,
  relay_state text,
  test boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE
);

-- Assertion ids seen, until the assertion could no longer be accepted anyway.
CREATE TABLE saml_replay_cache (
  tenant_id uuid NOT NULL,
  connection_id uuid NOT NULL,
  assertion_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, connection_id, assertion_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE
);

-- Who a user is at an identity provider: the stable subject (Entra objectidentifier, else NameID).
CREATE TABLE external_identities (
  tenant_id uuid NOT NULL,
  connection_id uuid NOT NULL,
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 512),
  user_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_signin_at timestamptz,
  PRIMARY KEY (tenant_id, connection_id, subject),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX external_identities_user ON external_identities (tenant_id, user_id);

-- Group → role rules, shared by SAML, OIDC and SCIM. Lower precedence numbers are evaluated first
-- and are credited when several rules grant the same role.
CREATE TABLE role_rules (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  group_ref text NOT NULL CHECK (length(group_ref) BETWEEN 1 AND 256),
  role text NOT NULL CHECK (role IN ('agent', 'change_manager', 'admin')),
  precedence integer NOT NULL DEFAULT 100,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX role_rules_group_role_key ON role_rules (tenant_id, lower(group_ref), role);

-- What happened in a sign-in, step by step, for the admin (test button, reference ids on failures).
CREATE TABLE signin_traces (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id text NOT NULL,
  connection_id uuid,
  test boolean NOT NULL DEFAULT false,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
  error_code text,
  user_id uuid,
  trace jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX signin_traces_time ON signin_traces (tenant_id, created_at DESC);

-- Email domains that route sign-in to a tenant, once proven by a DNS TXT record.
CREATE TABLE tenant_domains (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL CHECK (domain ~ '^[a-z0-9.-]{1,253}$'),
  verification_token text NOT NULL,
  verified_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, domain)
);
CREATE UNIQUE INDEX tenant_domains_verified_key ON tenant_domains (domain) WHERE verified_at IS NOT NULL;

-- Grants that came from a rule go when the rule goes.
ALTER TABLE role_grants ADD CONSTRAINT role_grants_rule_fkey
  FOREIGN KEY (tenant_id, rule_id) REFERENCES role_rules (tenant_id, id) ON DELETE CASCADE;
