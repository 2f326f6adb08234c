import { toStorable } from '../db/storable.js';
import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { writeCtes, type Param } from '../db/held-writes.js';

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

/**
 * The CTE that writes these lines, in the order given (their ids follow it): a write's line goes
 * in with its change, in the statement that writes the request's other records (scim/routes.ts).
 */
export function activityCte(lines: readonly { tenantId: string; a: ActivityRecord }[], p: Param): string {
  if (!lines.length) return '';
  return `activity_rows AS (
       INSERT INTO scim_activity (tenant_id, credential_name, method, path, operation, resource_type, resource_id, status, duration_ms, error)
       SELECT (e ->> 'tenant_id')::uuid, e ->> 'credential_name', e ->> 'method', e ->> 'path', e ->> 'operation', e ->> 'resource_type',
              e ->> 'resource_id', (e ->> 'status')::int, (e ->> 'duration_ms')::double precision, e ->> 'error'
       FROM jsonb_array_elements(${p(JSON.stringify(lines.map(({ tenantId, a }) => ({ tenant_id: tenantId, ...storableLine(a) }))))}::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n)`;
}

/** Writes one line now, with `q`, in a statement of its own. */
export async function recordActivity(q: Queryable, tenantId: string, a: ActivityRecord): Promise<void> {
  await insertLines(q, [{ tenantId, a }]);
}

async function insertLines(q: Queryable, lines: { tenantId: string; a: ActivityRecord }[]): Promise<void> {
  await writeCtes(q, (p) => activityCte(lines, p));
}

/** How long a queued line waits at most before its batch is written, in ms. */
const BATCH_MS = 500;
/** Lines a batch statement writes at most; a full queue is written at once. */
const BATCH_LINES = 500;
/** Lines kept while the database refuses them; beyond this the oldest are dropped (and said so in the server log). */
const MAX_QUEUED = 20_000;

interface Queue {
  lines: { tenantId: string; a: ActivityRecord }[];
  timer: NodeJS.Timeout | null;
  writing: Promise<void>;
}
const queues = new WeakMap<Queryable, Queue>();

/**
 * Queues the line of a request that changed nothing (a read, a refusal, a failed write): lines are
 * written in batches of one statement, at most BATCH_MS later, so a read costs no statement or
 * commit of its own for its log line. `listActivity` and shutdown (flushActivity) write what waits.
 * @param onError told when a batch could not be written (its lines are queued again, up to MAX_QUEUED)
 */
export function queueActivity(q: Queryable, tenantId: string, a: ActivityRecord, onError: (err: unknown) => void): void {
  let queue = queues.get(q);
  if (!queue) queues.set(q, (queue = { lines: [], timer: null, writing: Promise.resolve() }));
  queue.lines.push({ tenantId, a });
  if (queue.lines.length > MAX_QUEUED) queue.lines.splice(0, queue.lines.length - MAX_QUEUED);
  if (queue.lines.length >= BATCH_LINES) void writeQueued(q, queue).catch(onError);
  else if (!queue.timer) {
    queue.timer = setTimeout(() => void writeQueued(q, queue).catch(onError), BATCH_MS);
    queue.timer.unref();
  }
}

/** Writes every queued line of `q` now: on shutdown, and before the log is read. */
export async function flushActivity(q: Queryable): Promise<void> {
  const queue = queues.get(q);
  if (queue) await writeQueued(q, queue);
}

/** One statement per BATCH_LINES lines, in the order they were queued (their ids follow it). */
function writeQueued(q: Queryable, queue: Queue): Promise<void> {
  if (queue.timer) clearTimeout(queue.timer);
  queue.timer = null;
  const lines = queue.lines.splice(0);
  // Batches are written one after another, so ids keep the order lines were queued in.
  queue.writing = queue.writing.catch(() => undefined).then(async () => {
    for (let i = 0; i < lines.length; i += BATCH_LINES) {
      try {
        await insertLines(q, lines.slice(i, i + BATCH_LINES));
      } catch (err) {
        queue.lines.unshift(...lines.slice(i));
        if (queue.lines.length > MAX_QUEUED) queue.lines.splice(0, queue.lines.length - MAX_QUEUED);
        throw err;
      }
    }
  });
  return queue.writing;
}

/** A line's columns as stored: text cut to its column's size and made storable. */
function storableLine(a: ActivityRecord) {
  return {
    credential_name: a.credentialName,
    method: a.method,
    path: clean(a.path, 2000),
    operation: a.operation,
    resource_type: a.resourceType,
    resource_id: a.resourceId === null ? null : clean(a.resourceId, 200),
    status: a.status,
    duration_ms: a.durationMs,
    error: a.error === null ? null : clean(a.error, 2000),
  };
}

/** What a client sent may hold what PostgreSQL text refuses (and a cut may split a pair): the log must still be written. */
function clean(v: string, max: number): string {
  return toStorable(v.slice(0, max));
}

export async function listActivity(ctx: Ctx, q: { limit: number; before?: number; failures?: boolean }): Promise<ScimActivity[]> {
  await flushActivity(ctx.db);
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
