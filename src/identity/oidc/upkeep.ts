import type { Db } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { EXPIRY_NOTICES } from '../saml/upkeep.js';
import type { OidcConfig } from './config.js';

/**
 * Client secrets expire (Entra: within 24 months) and sign-ins stop the day they do. When the admin
 * recorded the expiry, one audit event per threshold crossed (30, 14, 7 days before, and on the day),
 * as for SAML certificates; given notices are remembered on the connection, so this is idempotent.
 * @returns how many notices were given
 */
export async function noticeExpiringSecrets(db: Db, now = Date.now()): Promise<number> {
  const rows = await db.query<{ tenant_id: string; tenant_slug: string; tenant_name: string; id: string; slug: string; config: OidcConfig; notices: Record<string, number[]> }>(
    `SELECT c.tenant_id, t.slug AS tenant_slug, t.name AS tenant_name, c.id, c.slug, c.config, c.certificate_notices AS notices
     FROM sso_connections c JOIN tenants t ON t.id = c.tenant_id WHERE c.protocol = 'oidc' AND c.config->>'secretExpiresAt' IS NOT NULL`,
  );
  let given = 0;
  for (const row of rows) {
    const expiresAt = Date.parse(row.config.secretExpiresAt!);
    const daysLeft = Math.floor((expiresAt - now) / 86_400_000);
    // Keyed by the expiry date: a rotated secret with a new date starts its notices afresh.
    const key = `client_secret:${row.config.secretExpiresAt}`;
    const done = new Set(row.notices?.[key] ?? []);
    const fresh = [...EXPIRY_NOTICES, 0].filter((d) => daysLeft <= d && !done.has(d));
    if (!fresh.length) continue;
    const threshold = Math.min(...fresh);
    await db.transaction(async (tx) => {
      await audit({ db, tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name }, actor: null }, tx, {
        action: threshold === 0 ? 'sso.secret_expired' : 'sso.secret_expiring',
        outcome: threshold === 0 ? 'failure' : 'success',
        targetType: 'connection',
        targetId: row.id,
        details: { connection: row.slug, expiresAt: row.config.secretExpiresAt, daysLeft, threshold },
      });
      await tx.query('UPDATE sso_connections SET certificate_notices = $3 WHERE tenant_id = $1 AND id = $2', [
        row.tenant_id,
        row.id,
        JSON.stringify({ ...row.notices, [key]: [...done, ...fresh] }),
      ]);
    });
    given++;
  }
  return given;
}
