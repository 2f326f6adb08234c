import type { ActorCtx, Tenant } from '../context.js';
import type { Db } from '../db/db.js';
import { isRole } from './roles.js';

interface UserRow {
  email: string;
  display_name: string;
  status: string;
  password_change_required: boolean;
  roles: string[];
}

/** The acting context for a user, or null unless they are active: a disabled or waiting user acts on nothing. */
export async function loadActor(db: Db, tenant: Tenant, userId: string): Promise<{ ctx: ActorCtx; passwordChangeRequired: boolean } | null> {
  const rows = await db.query<UserRow>(
    `SELECT u.email, u.display_name, u.status, u.password_change_required,
            coalesce((SELECT array_agg(DISTINCT g.role) FROM role_grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id), '{}') AS roles
     FROM users u WHERE u.tenant_id = $1 AND u.id = $2`,
    [tenant.id, userId],
  );
  const u = rows[0];
  if (!u || u.status !== 'active') return null;
  return {
    ctx: { db, tenant, actor: { userId, email: u.email, displayName: u.display_name, roles: new Set(u.roles.filter(isRole)) } },
    passwordChangeRequired: u.password_change_required,
  };
}
