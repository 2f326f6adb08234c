import { storableJson } from '../db/storable.js';
import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { WEBHOOK_MAX_ATTEMPTS } from '../webhooks/publish.js';
import { heldWritesOf, writeCtes, type Param } from '../db/held-writes.js';

/**
 * Identity events: what happened to a person or a group, for the workflows that turn them into
 * tickets (onboarding, offboarding) and for webhook subscribers. Written in the transaction that
 * makes the change, with the jobs they start, so an event and its effects exist exactly when its
 * change does.
 */
export const IDENTITY_EVENT_TYPES = [
  'user.provisioned',
  'user.first_signin',
  'user.updated',
  'user.role_changed',
  'user.deactivated',
  'user.reactivated',
  'user.deleted',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.member_added',
  'group.member_removed',
] as const;
export type IdentityEventType = (typeof IDENTITY_EVENT_TYPES)[number];

/** Where an event came from: the directory, a sign-in, an administrator, or the system. */
export type IdentityEventSource = 'scim' | 'signin' | 'admin' | 'system';

export interface IdentityEvent {
  type: IdentityEventType;
  userId?: string | null;
  groupId?: string | null;
  data?: Record<string, unknown>;
}

/**
 * Records events in `tx` and starts what they drive: a delivery job per subscribed webhook
 * endpoint (message id `evt_<id>`; the Standard Webhooks body's `data` carries the event id,
 * tenant, source, the person and group as they are now, and the event's own data) and a
 * `workflow.run` job per enabled rule whose trigger is the event's type (conditions are judged when
 * it runs: src/workflows/run.ts). One statement, whoever listens; a transaction that holds its
 * writes (src/db/held-writes.ts) gets the events at its end instead.
 */
export async function emitIdentityEvents(ctx: Ctx, tx: Queryable, source: IdentityEventSource, events: IdentityEvent[]): Promise<void> {
  const rows = events.map((e) => ({ type: e.type, source, user_id: e.userId ?? null, group_id: e.groupId ?? null, data: e.data ?? {} }));
  const held = heldWritesOf(tx);
  if (held) for (const row of rows) held.add('identity', row);
  else await writeCtes(tx, (p) => identityEventCtes(ctx, rows, p));
}

/** The CTEs that write identity event rows, in order, and the jobs they start (emitIdentityEvents); '' when there are none. */
export function identityEventCtes(ctx: Ctx, rows: readonly unknown[], p: Param): string {
  if (!rows.length) return '';
  const tenant = p(ctx.tenant.id);
  return `identity_rows AS (
       INSERT INTO identity_events (tenant_id, type, source, user_id, group_id, data)
       SELECT ${tenant}, e.type, e.source, e.user_id, e.group_id, coalesce(e.data, '{}')
       FROM ROWS FROM (jsonb_to_recordset(${p(storableJson(rows))}::jsonb) AS (type text, source text, user_id uuid, group_id uuid, data jsonb))
         WITH ORDINALITY AS e(type, source, user_id, group_id, data, n)
       ORDER BY e.n
       RETURNING id, type, source, user_id, group_id, data, created_at),
     identity_messages AS (
       SELECT e.id, e.type, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts,
         jsonb_build_object('eventId', e.id::text, 'tenant', ${p(ctx.tenant.slug)}::text, 'source', e.source)
         || CASE WHEN u.id IS NOT NULL THEN jsonb_build_object('user', jsonb_build_object('id', u.id, 'email', u.email, 'displayName', u.display_name, 'userName', u.user_name, 'externalId', u.external_id, 'source', u.source)) ELSE '{}' END
         || CASE WHEN g.id IS NOT NULL THEN jsonb_build_object('group', jsonb_build_object('id', g.id, 'displayName', g.display_name, 'externalId', g.external_id)) ELSE '{}' END
         || e.data AS data
       FROM identity_rows e LEFT JOIN users u ON u.tenant_id = ${tenant} AND u.id = e.user_id LEFT JOIN scim_groups g ON g.tenant_id = ${tenant} AND g.id = e.group_id
       -- Read by the endpoints' part alone (workflow jobs read the event rows), so PostgreSQL inlines
       -- it and looks the person and group up only for events an endpoint takes; built for every event
       -- first, 50 of them read all the tenant's groups and people by hash. The EXISTS, evaluated once,
       -- keeps nothing built without an enabled endpoint whatever the join order.
       WHERE EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.tenant_id = ${tenant} AND w.enabled)),
     identity_jobs AS (
       INSERT INTO jobs (tenant_id, kind, max_attempts, payload, idempotency_key)
       SELECT ${tenant}, 'webhook.deliver', ${WEBHOOK_MAX_ATTEMPTS},
         jsonb_build_object('endpointId', w.id, 'messageId', 'evt_' || m.id, 'type', m.type, 'timestamp', m.ts, 'data', m.data),
         'webhook:' || w.id || ':evt_' || m.id
       FROM identity_messages m JOIN webhook_endpoints w ON w.tenant_id = ${tenant} AND w.enabled AND (m.type = ANY (w.events) OR '*' = ANY (w.events))
       UNION ALL
       SELECT ${tenant}, 'workflow.run', 8, jsonb_build_object('ruleId', r.id, 'eventId', e.id::text), 'workflow:' || r.id || ':' || e.id
       FROM identity_rows e JOIN workflow_rules r ON r.tenant_id = ${tenant} AND r.enabled AND r.trigger = e.type
       ON CONFLICT (idempotency_key) DO NOTHING)`;
}

/**
 * Marks a person's successful sign-in (`last_signin_at`, which the access review shows) and, the
 * first time only, sets `first_signin_at` and emits `user.first_signin`. Called in the sign-in's
 * transaction by every sign-in method.
 */
export async function noteSignin(ctx: Ctx, tx: Queryable, userId: string, how: { method: string; connection?: string }): Promise<void> {
  // One statement; the row lock makes a concurrent first sign-in see the other's first_signin_at: one event.
  const [row] = await tx.query<{ first: boolean }>(
    `WITH before AS (SELECT first_signin_at FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE)
     UPDATE users u SET last_signin_at = now(), first_signin_at = coalesce(u.first_signin_at, now()) FROM before
     WHERE u.tenant_id = $1 AND u.id = $2 RETURNING before.first_signin_at IS NULL AS first`,
    [ctx.tenant.id, userId],
  );
  if (row?.first) await emitFirstSignin(ctx, tx, userId, how);
}

/** The `user.first_signin` event, for a sign-in that found the person had never signed in. */
export async function emitFirstSignin(ctx: Ctx, tx: Queryable, userId: string, how: { method: string; connection?: string }): Promise<void> {
  await emitIdentityEvents(ctx, tx, 'signin', [{ type: 'user.first_signin', userId, data: how }]);
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

/** One event, by id. */
export async function getIdentityEvent(q: Queryable, tenantId: string, id: string): Promise<StoredIdentityEvent | undefined> {
  const rows = await q.query<StoredIdentityEvent>(
    `SELECT id, type, source, user_id AS "userId", group_id AS "groupId", data, created_at AS "createdAt" FROM identity_events WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
  return rows[0];
}
