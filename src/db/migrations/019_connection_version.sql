-- Issue 12: a node keeps a connection in memory between sign-ins and checks, inside each sign-in's
-- transaction, that it is still the stored one. Any change to the row moves its version on; the
-- trigger sees every writer (admin edits, metadata refresh, notices, tests), so none can forget.
-- (The body stays on one line: migrations split statements at a semicolon that ends a line.)
ALTER TABLE sso_connections ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION sso_connections_next_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$;

CREATE TRIGGER sso_connections_version BEFORE UPDATE ON sso_connections
  FOR EACH ROW EXECUTE FUNCTION sso_connections_next_version();
