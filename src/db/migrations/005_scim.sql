-- SCIM 2.0 provisioning: directory attributes on users, groups and their members, the credentials
-- identity providers call with, the activity log admins read, and identity events for workflows.

-- SCIM's userName defaults to the email for accounts SCIM did not create (so Entra's look-up by
-- userName finds them and links instead of duplicating). Everything else SCIM sent is kept as sent
-- in scim_data (never a password). A DELETE leaves a tombstone: tickets keep their requester.
ALTER TABLE users ADD COLUMN user_name text CHECK (user_name IS NULL OR length(user_name) BETWEEN 1 AND 320);
ALTER TABLE users ADD COLUMN external_id text CHECK (external_id IS NULL OR length(external_id) BETWEEN 1 AND 512);
ALTER TABLE users ADD COLUMN scim_data jsonb;
-- The groups claim of the latest sign-in; with SCIM memberships it makes the groups rules see.
ALTER TABLE users ADD COLUMN signin_groups text[];
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, lower(coalesce(user_name, email))) WHERE deleted_at IS NULL;
CREATE INDEX users_external_id ON users (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_created ON users (tenant_id, created_at, id);

CREATE TABLE scim_groups (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 256),
  external_id text CHECK (external_id IS NULL OR length(external_id) BETWEEN 1 AND 512),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX scim_groups_name_key ON scim_groups (tenant_id, lower(display_name));
CREATE INDEX scim_groups_external_id ON scim_groups (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX scim_groups_created ON scim_groups (tenant_id, created_at, id);

CREATE TABLE scim_group_members (
  tenant_id uuid NOT NULL,
  group_id uuid NOT NULL,
  user_id uuid NOT NULL,
  PRIMARY KEY (tenant_id, group_id, user_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES scim_groups (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_group_members_user ON scim_group_members (tenant_id, user_id);

-- Secret tokens (pasted into Entra's Secret Token field) and OAuth clients (client credentials),
-- at most two of each kind per tenant so one can be rotated without downtime. Secrets are hashed.
CREATE TABLE scim_credentials (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('token', 'client')),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  client_id text,
  secret_hash text NOT NULL,
  secret_hint text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz,
  last_used_at timestamptz,
  expires_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  CHECK ((kind = 'client') = (client_id IS NOT NULL))
);
CREATE UNIQUE INDEX scim_credentials_secret_key ON scim_credentials (tenant_id, secret_hash);
CREATE UNIQUE INDEX scim_credentials_client_key ON scim_credentials (tenant_id, client_id) WHERE client_id IS NOT NULL;

-- Short-lived access tokens issued to OAuth clients. They die with their client.
CREATE TABLE scim_access_tokens (
  tenant_id uuid NOT NULL,
  token_hash text NOT NULL,
  credential_id uuid NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, credential_id) REFERENCES scim_credentials (tenant_id, id) ON DELETE CASCADE
);

-- Every SCIM request, so an admin can see what the identity provider did and what failed.
CREATE TABLE scim_activity (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id bigint GENERATED ALWAYS AS IDENTITY,
  at timestamptz NOT NULL DEFAULT now(),
  credential_name text,
  method text NOT NULL,
  path text NOT NULL,
  operation text NOT NULL,
  resource_type text,
  resource_id text,
  status integer NOT NULL,
  duration_ms real NOT NULL,
  error text,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scim_activity_time ON scim_activity (tenant_id, at DESC);

-- What happened to an identity, for the workflows that turn it into tickets (onboarding,
-- offboarding). Append-only; consumers keep their own position by id.
CREATE TABLE identity_events (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id bigint GENERATED ALWAYS AS IDENTITY,
  type text NOT NULL,
  source text NOT NULL,
  user_id uuid,
  group_id uuid,
  data jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX identity_events_user ON identity_events (tenant_id, user_id);
