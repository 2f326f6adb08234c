-- One subject per connection per account (the account-linking rule, src/identity/provisioning/accounts.ts).
-- Earlier versions linked any subject asserting an account's email, so an account may hold several
-- subjects of one connection: the first one bound keeps it, the later ones (the address's new holder,
-- or whoever asserted it) are unbound and recorded in the audit log. Break-glass accounts hold none.
CREATE TEMPORARY TABLE unbound ON COMMIT DROP AS
SELECT x.tenant_id, x.connection_id, x.subject, x.user_id, c.slug,
       CASE WHEN u.break_glass THEN 'break_glass' ELSE 'second_subject' END AS reason
FROM external_identities x
JOIN users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
JOIN sso_connections c ON c.tenant_id = x.tenant_id AND c.id = x.connection_id
WHERE u.break_glass OR EXISTS (
  SELECT 1 FROM external_identities y
  WHERE y.tenant_id = x.tenant_id AND y.connection_id = x.connection_id AND y.user_id = x.user_id
    AND (y.created_at, y.subject) < (x.created_at, x.subject));

DELETE FROM external_identities x USING unbound b
WHERE x.tenant_id = b.tenant_id AND x.connection_id = b.connection_id AND x.subject = b.subject;

INSERT INTO audit_events (tenant_id, actor_label, action, outcome, reason, target_type, target_id, details)
SELECT tenant_id, 'system', 'user.identity_unlinked', 'success', reason, 'user', user_id::text,
       jsonb_build_object('connection', slug, 'subject', subject, 'by', 'migration 006')
FROM unbound;

CREATE UNIQUE INDEX external_identities_one_per_connection ON external_identities (tenant_id, connection_id, user_id);

-- What kind of value the subject is (objectidentifier, NameID): an object id is never taken for a
-- NameID of the same text. NULL for identities recorded before; they learn it at their next sign-in.
ALTER TABLE external_identities ADD COLUMN subject_source text CHECK (subject_source IS NULL OR length(subject_source) <= 40);

-- Sessions opened through an identity that is no longer bound end with it.
UPDATE sessions s SET revoked_at = now() FROM unbound b
WHERE s.tenant_id = b.tenant_id AND s.user_id = b.user_id AND s.connection_id = b.connection_id AND s.revoked_at IS NULL;
