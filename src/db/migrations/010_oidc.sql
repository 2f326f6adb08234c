-- OpenID Connect sign-ins Keydesk started and still waits for (authorization code flow with PKCE).
-- The state is stored hashed and bound to the browser that started the sign-in (a random cookie,
-- also hashed), so a callback link opened in another browser signs no one in; each row is used once.
CREATE TABLE oidc_requests (
  tenant_id uuid NOT NULL,
  state_hash text NOT NULL,
  connection_id uuid NOT NULL,
  browser_hash text NOT NULL,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  relay_state text,
  test boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  PRIMARY KEY (tenant_id, state_hash),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX oidc_requests_expiry ON oidc_requests (expires_at);

-- Back-channel logout tokens already acted on (OpenID Connect Back-Channel Logout 1.0 §2.6: jti).
CREATE TABLE oidc_logout_tokens (
  tenant_id uuid NOT NULL,
  connection_id uuid NOT NULL,
  jti text NOT NULL CHECK (length(jti) <= 200),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, connection_id, jti)
);

-- An OIDC session keeps its ID token (sealed) for RP-initiated logout's id_token_hint; `idp_name_id`
-- holds the token's sub and `idp_session_index` its sid, which back-channel logout names.
ALTER TABLE sessions ADD COLUMN idp_id_token text;
CREATE INDEX sessions_idp_session_index ON sessions (tenant_id, connection_id, idp_session_index) WHERE revoked_at IS NULL AND idp_session_index IS NOT NULL;

-- A role rule may name the connection whose sign-ins it trusts (`role-rule add … --connection C`):
-- it then matches only the groups and app roles that connection's latest sign-in carried, never a
-- SCIM group or another IdP's claim with the same name. The sign-in's connection is kept for that.
ALTER TABLE role_rules ADD COLUMN connection_id uuid;
ALTER TABLE role_rules ADD FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE;
DROP INDEX role_rules_group_role_key;
CREATE UNIQUE INDEX role_rules_group_role_key ON role_rules (tenant_id, lower(group_ref), role, coalesce(connection_id, '00000000-0000-0000-0000-000000000000'::uuid));
ALTER TABLE users ADD COLUMN signin_connection_id uuid;
