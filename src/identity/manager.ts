import type { Queryable } from '../db/db.js';

/** SCIM's enterprise extension (RFC 7643 §4.3), where the directory puts department and manager. */
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export interface Manager {
  id: string;
  email: string;
  displayName: string;
}

/**
 * Who a person's manager is, by the directory's word (SCIM enterprise `manager.value`, RFC 7643
 * §4.3): the Keydesk account whose SCIM id, externalId or userName it names, in the same tenant.
 * The one rule for everything that asks (manager approvals, workflow notifications).
 * @returns `{ manager }` for a live, active account; else `{ manager: null, reason }` in words
 */
export async function resolveManager(q: Queryable, tenantId: string, userId: string): Promise<{ manager: Manager; reason?: undefined } | { manager: null; reason: string }> {
  const rows = await q.query<{ ref: string | null; self: boolean; id: string | null; email: string | null; display_name: string | null; status: string | null; deleted: boolean | null }>(
    `SELECT p.scim_data -> $3 -> 'manager' ->> 'value' AS ref,
       coalesce(p.id::text = p.scim_data -> $3 -> 'manager' ->> 'value' OR p.external_id = p.scim_data -> $3 -> 'manager' ->> 'value'
         OR lower(p.user_name) = lower(p.scim_data -> $3 -> 'manager' ->> 'value'), false) AS self,
       m.id, m.email, m.display_name, m.status, m.deleted_at IS NOT NULL AS deleted
     FROM users p
     LEFT JOIN LATERAL (
       SELECT m.* FROM users m
       WHERE m.tenant_id = p.tenant_id AND m.id <> p.id AND (m.id::text = p.scim_data -> $3 -> 'manager' ->> 'value'
         OR m.external_id = p.scim_data -> $3 -> 'manager' ->> 'value' OR lower(m.user_name) = lower(p.scim_data -> $3 -> 'manager' ->> 'value'))
       ORDER BY m.deleted_at IS NULL DESC, m.status = 'active' DESC LIMIT 1) m ON true
     WHERE p.tenant_id = $1 AND p.id = $2`,
    [tenantId, userId, ENTERPRISE],
  );
  const r = rows[0];
  if (!r?.ref) return { manager: null, reason: 'the directory names no manager for this person' };
  // Nobody approves their own request, even when the directory says so.
  if (!r.id && r.self) return { manager: null, reason: 'the directory names this person as their own manager' };
  if (!r.id) return { manager: null, reason: `the manager the directory names (${r.ref}) has no Keydesk account` };
  if (r.deleted || r.status !== 'active') return { manager: null, reason: `the manager, ${r.email}, has no active Keydesk account` };
  return { manager: { id: r.id, email: r.email!, displayName: r.display_name! } };
}

/** The person's department, as the directory gives it (SCIM enterprise `department`), or null. */
export async function departmentOf(q: Queryable, tenantId: string, userId: string): Promise<string | null> {
  const rows = await q.query<{ department: string | null }>(`SELECT scim_data -> $3 ->> 'department' AS department FROM users WHERE tenant_id = $1 AND id = $2`, [tenantId, userId, ENTERPRISE]);
  return rows[0]?.department ?? null;
}
