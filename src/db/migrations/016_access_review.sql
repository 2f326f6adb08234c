-- Access review (issue 11): when each person last signed in, by any method, and whether a tenant
-- lets change managers review access besides its administrators.

-- Kept by every sign-in (identity/events.ts noteSignin). Sessions cannot answer this: they are
-- deleted a week after they end, so a password sign-in older than that would leave no trace.
ALTER TABLE users ADD COLUMN last_signin_at timestamptz;
UPDATE users u SET last_signin_at = greatest(
  u.first_signin_at,
  (SELECT max(x.last_signin_at) FROM external_identities x WHERE x.tenant_id = u.tenant_id AND x.user_id = u.id),
  (SELECT max(s.created_at) FROM sessions s WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id),
  (SELECT max(a.occurred_at) FROM audit_events a
   WHERE a.tenant_id = u.tenant_id AND a.actor_id = u.id AND a.action LIKE 'signin.%' AND a.outcome = 'success'));

-- Off: administrators alone review access. On: change managers may review, export and revoke too.
ALTER TABLE tenants ADD COLUMN access_review_change_managers boolean NOT NULL DEFAULT false;
