-- Which expiry notices (30, 14, 7 days) were already given per certificate, so each is given once.
ALTER TABLE sso_connections ADD COLUMN certificate_notices jsonb NOT NULL DEFAULT '{}';
-- When the metadata URL was last tried, good or bad (failures retry hourly, successes daily).
ALTER TABLE sso_connections ADD COLUMN metadata_checked_at timestamptz;

-- What single logout needs to name the IdP session this Keydesk session came from.
ALTER TABLE sessions ADD COLUMN connection_id uuid;
ALTER TABLE sessions ADD COLUMN idp_name_id text;
ALTER TABLE sessions ADD COLUMN idp_name_id_format text;
ALTER TABLE sessions ADD COLUMN idp_session_index text;
CREATE INDEX sessions_idp_name_id ON sessions (tenant_id, connection_id, idp_name_id) WHERE revoked_at IS NULL AND idp_name_id IS NOT NULL;
