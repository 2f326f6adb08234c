import { storableJson } from '../db/storable.js';
import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';

/**
 * Identity events: what happened to a person or a group, for the workflows that turn them into
 * tickets (onboarding, offboarding). Written in the transaction that makes the change, so an event
 * exists exactly when its change does.
 */
export type IdentityEventType =
  | 'user.provisioned'
  | 'user.updated'
  | 'user.deactivated'
  | 'user.reactivated'
  | 'user.deleted'
  | 'group.created'
  | 'group.updated'
  | 'group.deleted'
  | 'group.member_added'
  | 'group.member_removed';

export interface IdentityEvent {
  type: IdentityEventType;
  userId?: string | null;
  groupId?: string | null;
  data?: Record<string, unknown>;
}

export async function emitIdentityEvents(ctx: Ctx, tx: Queryable, source: string, events: IdentityEvent[]): Promise<void> {
  if (!events.length) return;
  await tx.query(
    `INSERT INTO identity_events (tenant_id, type, source, user_id, group_id, data)
     SELECT $1, e.type, $2, e.user_id, e.group_id, coalesce(e.data, '{}') FROM jsonb_to_recordset($3::jsonb) AS e(type text, user_id uuid, group_id uuid, data jsonb)`,
    [ctx.tenant.id, source, storableJson(events.map((e) => ({ type: e.type, user_id: e.userId ?? null, group_id: e.groupId ?? null, data: e.data ?? {} })))],
  );
}

export interface StoredIdentityEvent {
  id: number;
  type: IdentityEventType;
  source: string;
  userId: string | null;
  groupId: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** Events after `afterId`, oldest first: how a consumer (and a test) reads the stream. */
export async function listIdentityEvents(q: Queryable, tenantId: string, afterId = 0, limit = 100): Promise<StoredIdentityEvent[]> {
  return q.query<StoredIdentityEvent>(
    `SELECT id, type, source, user_id AS "userId", group_id AS "groupId", data, created_at AS "createdAt"
     FROM identity_events WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [tenantId, afterId, limit],
  );
}
