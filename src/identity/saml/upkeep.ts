import type { Db } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { describeCertificate } from './certificates.js';
import { fetchMetadata, type SamlConnection } from '../connections.js';
import { parseIdpMetadata } from './metadata.js';

/** Days before expiry at which admins are told, on the page and in the audit log. */
export const EXPIRY_NOTICES = [30, 14, 7] as const;

interface Row {
  tenant_id: string;
  slug: string;
  tenant_slug: string;
  tenant_name: string;
  connection: SamlConnection & { certificateNotices: Record<string, number[]> };
}

async function samlConnections(db: Db, where = 'true'): Promise<Row[]> {
  return db.query<Row>(
    `SELECT c.tenant_id, c.slug, t.slug AS tenant_slug, t.name AS tenant_name,
            json_build_object('id', c.id, 'slug', c.slug, 'config', c.config, 'metadataUrl', c.metadata_url,
                              'metadataFetchedAt', c.metadata_fetched_at, 'certificateNotices', c.certificate_notices) AS connection
     FROM sso_connections c JOIN tenants t ON t.id = c.tenant_id WHERE c.protocol = 'saml' AND ${where}`,
  );
}

/**
 * Writes one audit event per certificate per threshold crossed (30, 14, 7 days before expiry, and on
 * expiry), across all tenants. Idempotent: notices given are remembered on the connection.
 */
export async function noticeExpiringCertificates(db: Db, now = Date.now()): Promise<number> {
  let given = 0;
  for (const row of await samlConnections(db)) {
    const notices = { ...row.connection.certificateNotices };
    for (const pem of row.connection.config.certificates) {
      const info = describeCertificate(pem, now);
      const due = [...EXPIRY_NOTICES, 0].filter((d) => info.daysLeft <= d);
      const done = new Set(notices[info.thumbprintSha1] ?? []);
      const fresh = due.filter((d) => !done.has(d));
      if (!fresh.length) continue;
      const threshold = Math.min(...fresh);
      await db.transaction(async (tx) => {
        await audit({ db, tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name }, actor: null }, tx, {
          action: threshold === 0 ? 'sso.certificate_expired' : 'sso.certificate_expiring',
          outcome: threshold === 0 ? 'failure' : 'success',
          targetType: 'connection',
          targetId: row.connection.id,
          details: { connection: row.slug, thumbprint: info.thumbprintSha1, notAfter: info.notAfter, daysLeft: info.daysLeft, threshold },
        });
        notices[info.thumbprintSha1] = [...done, ...fresh];
        await tx.query('UPDATE sso_connections SET certificate_notices = $3 WHERE tenant_id = $1 AND id = $2', [row.tenant_id, row.connection.id, JSON.stringify(notices)]);
      });
      given++;
    }
  }
  return given;
}

/**
 * Re-reads metadata from each connection's URL once a day. A good document replaces the IdP side
 * (new certificates are how Entra rolls over); a failed fetch keeps the last good copy and records
 * the error for the admin page.
 */
export async function refreshMetadata(db: Db, fetchImpl: typeof fetch = fetch, maxAgeHours = 24): Promise<{ refreshed: number; failed: number }> {
  const due = await samlConnections(
    db,
    `c.metadata_url IS NOT NULL AND (c.metadata_fetched_at IS NULL OR c.metadata_fetched_at < now() - make_interval(hours => ${Math.floor(maxAgeHours)}))
     AND (c.metadata_checked_at IS NULL OR c.metadata_checked_at < now() - interval '1 hour')`,
  );
  let refreshed = 0;
  let failed = 0;
  for (const row of due) {
    const ctx = { db, tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name }, actor: null };
    try {
      const xml = await fetchMetadata(row.connection.metadataUrl!, fetchImpl);
      const md = parseIdpMetadata(xml);
      const before = row.connection.config;
      // A rollover changes certificates, never who the provider is: another entity ID at the same
      // URL is refused (the last good copy stays), as the admin would have to test it first.
      if (md.entityId !== before.idpEntityId) {
        throw new Error(`The metadata now names another identity provider (${md.entityId.slice(0, 200)}, not ${before.idpEntityId}); it was not taken. If this is intended, replace the identity provider's side under Settings and test it.`);
      }
      const config = { ...before, idpEntityId: md.entityId, ssoUrl: md.ssoUrl, sloUrl: md.sloUrl, certificates: md.certificates };
      await db.transaction(async (tx) => {
        await tx.query(
          `UPDATE sso_connections SET config = $3, metadata_xml = $4, metadata_fetched_at = now(), metadata_checked_at = now(), metadata_error = NULL WHERE tenant_id = $1 AND id = $2`,
          [row.tenant_id, row.connection.id, JSON.stringify(config), xml],
        );
        const changed = JSON.stringify(before.certificates) !== JSON.stringify(md.certificates) || before.ssoUrl !== md.ssoUrl || before.idpEntityId !== md.entityId;
        if (changed) {
          await audit(ctx, tx, {
            action: 'sso.metadata_refreshed',
            targetType: 'connection',
            targetId: row.connection.id,
            details: { connection: row.slug, certificates: md.certificates.map((c) => describeCertificate(c).thumbprintSha1) },
          });
        }
      });
      refreshed++;
    } catch (err) {
      await db.query(`UPDATE sso_connections SET metadata_error = $3, metadata_checked_at = now() WHERE tenant_id = $1 AND id = $2`, [
        row.tenant_id,
        row.connection.id,
        `${new Date().toISOString()}: ${(err as Error).message}`.slice(0, 1000),
      ]);
      await audit(ctx, db, { action: 'sso.metadata_refreshed', outcome: 'failure', reason: 'fetch_failed', targetType: 'connection', targetId: row.connection.id, details: { error: (err as Error).message.slice(0, 300) } });
      failed++;
    }
  }
  return { refreshed, failed };
}
