-- A connection is live (its button on the sign-in page, everyone's sign-in) once published: when a
-- test sign-in passes, or when an admin publishes it anyway. Until then only the admin's test uses
-- it. Connections made before this were live from the start, and stay so.
ALTER TABLE sso_connections ADD COLUMN published_at timestamptz;
UPDATE sso_connections SET published_at = created_at;
