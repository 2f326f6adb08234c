import { toStorable } from '../db/storable.js';
import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';

/** One line per SCIM request, so an admin can see what the identity provider did and what failed. */
export interface ScimActivity {
  id: number;
  at: Date;
  credentialName: string | null;
  method: string;
  path: string;
  operation: string;
  resourceType: string | null;
  resourceId: string | null;
  status: number;
  durationMs: number;
  error: string | null;
}

export type ActivityRecord = Omit<ScimActivity, 'id' | 'at'>;

export const ACTIVITY_RETENTION_DAYS = 30;

export async function recordActivity(q: Queryable, tenantId: string, a: ActivityRecord): Promise<void> {
  await q.query(
    `INSERT INTO scim_activity (tenant_id, credential_name, method, path, operation, resource_type, resource_id, status, duration_ms, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [tenantId, a.credentialName, a.method, clean(a.path, 2000), a.operation, a.resourceType, a.resourceId === null ? null : clean(a.resourceId, 200), a.status, a.durationMs, a.error === null ? null : clean(a.error, 2000)],
  );
}

/** What a client sent may hold what PostgreSQL text refuses (and a cut may split a pair): the log must still be written. */
function clean(v: string, max: number): string {
  return toStorable(v.slice(0, max));
}

export async function listActivity(ctx: Ctx, q: { limit: number; before?: number; failures?: boolean }): Promise<ScimActivity[]> {
  const params: unknown[] = [ctx.tenant.id, q.limit];
  const where = ['tenant_id = $1'];
  if (q.before !== undefined) {
    params.push(q.before);
    where.push(`id < $${params.length}`);
  }
  if (q.failures) where.push('status >= 400');
  return ctx.db.query<ScimActivity>(
    `SELECT id, at, credential_name AS "credentialName", method, path, operation, resource_type AS "resourceType", resource_id AS "resourceId",
            status, duration_ms AS "durationMs", error
     FROM scim_activity WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $2`,
    params,
  );
}

export async function pruneActivity(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM scim_activity WHERE at < now() - make_interval(days => $1)`, [ACTIVITY_RETENTION_DAYS]);
}
