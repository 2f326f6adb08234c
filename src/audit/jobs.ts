import type { Tenant } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import { enqueue, type Handler, type Job } from '../jobs/queue.js';
import type { JobDeps } from '../jobs/runtime.js';
import { queryAudit } from './query.js';
import { CHECKPOINT_EVERY_SECONDS, CheckpointKey, registerCheckpointKey, SEAL_SETTLE_SECONDS, sealTenant, type SealOptions } from './chain.js';
import { connectSyslog, frame, SyslogError, syslogMessage, type SyslogConnection, type SyslogTarget } from './syslog.js';

/**
 * Streaming a tenant's audit events to its SIEM, durably, at least once and in order.
 *
 * One chain of jobs per tenant: each run (`audit.syslog`, payload `{ generation, step }`) sends the
 * events after the tenant's cursor, advancing the cursor after each batch is written and flushed,
 * then enqueues the next step (idempotency key `audit.syslog:<tenant>:<generation>:<step>`, so a run
 * repeated after a crash adds no second chain). Turning streaming on (or changing where it goes)
 * starts a new generation; runs of an older one end without sending. A run holds a lease on the
 * stream (`audit_settings.syslog_lease_*`) and moves the cursor only from the value it started
 * from, so two nodes never send at once; a node killed mid-batch leaves the cursor where it was and
 * the batch is sent again (a duplicate, never a gap). Failures are recorded on the settings (last
 * error and time) and the next step waits 5 s doubling to 5 minutes: the chain never dies.
 *
 * Ids are allocated at insert and committed in any order, so an event with a smaller id can become
 * visible after a larger one. The stream sends only events older than a settle window
 * (SETTLE_SECONDS) and stops at the first younger one: an event is missed only if its transaction
 * commits more than the window after it began (documented in docs/audit.md).
 */

export const SYSLOG_JOB = 'audit.syslog';
/** Events younger than this are not streamed yet (their transaction may still commit a smaller id). */
export const SETTLE_SECONDS = 10;
/** How often a caught-up stream looks for new events. */
export const IDLE_POLL_SECONDS = 5;
/** How long a run holds the stream; renewed with every batch. */
export const STREAM_LEASE_SECONDS = 60;
const BATCH_SIZE = 500;
/** A run hands over to the next step after this long, so one busy tenant does not hold a worker. */
const RUN_MS = 15_000;

export interface SyslogStreamOptions {
  settleSeconds?: number;
  idlePollSeconds?: number;
  batchSize?: number;
}

/** The delay after the n-th failure in a row: 5 s doubling to 5 minutes. */
export function streamBackoffSeconds(failures: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, failures - 1));
}

/** Enqueues a step of a tenant's stream chain, in the caller's transaction. */
export async function enqueueSyslogRun(q: Queryable, tenantId: string, generation: number, step: number, runAt?: Date): Promise<void> {
  await enqueue(q, { tenantId, kind: SYSLOG_JOB, payload: { generation, step }, key: `${SYSLOG_JOB}:${tenantId}:${generation}:${step}`, runAt, maxAttempts: 100 });
}

/** The job handlers of the audit trail: `audit.syslog`, streaming to a tenant's SIEM, and `audit.seal`, the hash chain's sealer. */
export function auditJobs(deps: JobDeps, opts: SyslogStreamOptions = {}): Record<string, Handler> {
  const key = new CheckpointKey(deps.config.secret);
  registerCheckpointKey(deps.db, key);
  return {
    [SYSLOG_JOB]: (job, db) => streamToSyslog(db, job, { allowPrivate: deps.config.webhookAllowPrivate, hostname: new URL(deps.config.publicUrl).hostname, ...opts }),
    [SEAL_JOB]: async (_job, db) => {
      await sealTick(db, key, { onError: (err, tenantId) => deps.log.warn({ err, tenantId }, 'sealing the audit chain failed') });
    },
  };
}

/**
 * The audit chain's sealer (see chain.ts): one job chain for the whole installation. Each tick
 * (`audit.seal`, every SEAL_INTERVAL_SECONDS) seals every tenant with events waiting, oldest
 * waiting first, and writes the checkpoints that are due, then schedules the next tick. Ticks are
 * aligned to a grid of SEAL_INTERVAL_SECONDS and keyed by their slot (`audit.seal:<slot>`), so two
 * chains (a revived one, a tick re-run after a crash) merge into one at the next slot instead of
 * doubling. Tenants are sealed under their chain head's lock, so ticks on several nodes are safe.
 */
export const SEAL_JOB = 'audit.seal';
export const SEAL_INTERVAL_SECONDS = 5;
/** A tick hands over to the next one after this long. */
const SEAL_RUN_MS = 15_000;

/**
 * Schedules the sealer's next tick: the next slot of the grid, at its time (or at once with `soon`,
 * when a tick ran out of time); idempotent per slot.
 */
export async function enqueueSealTick(q: Queryable, opts: { soon?: boolean } = {}): Promise<void> {
  const now = Date.now();
  const slot = Math.floor(now / (SEAL_INTERVAL_SECONDS * 1000)) + 1;
  const runAt = opts.soon ? new Date(now) : new Date(slot * SEAL_INTERVAL_SECONDS * 1000);
  await enqueue(q, { tenantId: null, kind: SEAL_JOB, payload: { slot }, key: `${SEAL_JOB}:${slot}`, runAt, maxAttempts: 100 });
}

/** Makes sure the sealer runs (housekeeping calls it): schedules the next tick, which merges with a live chain's. */
export async function ensureAuditSealing(db: Queryable): Promise<void> {
  await enqueueSealTick(db);
}

/**
 * One tick: seals each tenant with events waiting (dated after its `sealed_through`) or a
 * checkpoint due, writing due checkpoints with `key`. A tenant that fails is reported through
 * `onError` and retried at the next tick; the next tick is scheduled whatever happens (only a
 * database that refuses that too fails the job, which the queue then retries).
 * @returns how many events were sealed
 */
export async function sealTick(db: Db, key: CheckpointKey, o: SealOptions & { onError?: (err: unknown, tenantId: string) => void } = {}): Promise<number> {
  const started = Date.now();
  let sealed = 0;
  let more = false;
  try {
    const tenants = await db.query<{ tenantId: string }>(
      `SELECT tenant_id AS "tenantId" FROM (
         SELECT a.tenant_id, min(a.occurred_at) AS since FROM audit_events a LEFT JOIN audit_chain c ON c.tenant_id = a.tenant_id
         WHERE a.chain_seq IS NULL AND (c.sealed_through IS NULL OR a.occurred_at > c.sealed_through) GROUP BY a.tenant_id
         UNION ALL
         SELECT tenant_id, checkpoint_at FROM audit_chain
         WHERE seq > checkpoint_seq AND (checkpoint_at IS NULL OR checkpoint_at <= now() - make_interval(secs => $1))) x
       GROUP BY tenant_id ORDER BY min(since) NULLS FIRST`,
      [CHECKPOINT_EVERY_SECONDS],
    );
    for (const { tenantId } of tenants) {
      if (Date.now() - started > SEAL_RUN_MS) {
        more = true;
        break;
      }
      try {
        // A long backlog (the first sealing of a large log) goes on at the next tick, not past the job's lease.
        const r = await sealTenant(db, tenantId, { settleSeconds: o.settleSeconds ?? SEAL_SETTLE_SECONDS, batchSize: o.batchSize, checkpoint: { key, when: 'due' }, budgetMs: Math.max(0, SEAL_RUN_MS - (Date.now() - started)) });
        sealed += r.sealed;
        if (!r.complete) more = true;
      } catch (err) {
        o.onError?.(err, tenantId);
      }
    }
  } finally {
    await enqueueSealTick(db, { soon: more });
  }
  return sealed;
}

interface Leased {
  slug: string;
  name: string;
  host: string;
  port: number;
  caPem: string | null;
  servername: string | null;
  cursor: number | null;
  failures: number;
}

/**
 * One run of a tenant's stream (see the module comment). Delivery failures are recorded and
 * retried by the chain; only a database failure throws (the queue then retries this step).
 */
export async function streamToSyslog(db: Db, job: Job, o: SyslogStreamOptions & { allowPrivate: boolean; hostname: string }): Promise<void> {
  const generation = Number(job.payload.generation);
  const step = Number(job.payload.step);
  const tenantId = job.tenantId;
  if (!tenantId || !Number.isInteger(generation) || !Number.isInteger(step)) return;
  const settle = o.settleSeconds ?? SETTLE_SECONDS;
  const batchSize = o.batchSize ?? BATCH_SIZE;
  const idle = o.idlePollSeconds ?? IDLE_POLL_SECONDS;
  const holder = `${job.id}#${job.attempts}`;
  const later = (seconds: number) => new Date(Date.now() + seconds * 1000);

  const [s] = await db.query<Leased>(
    `UPDATE audit_settings s SET syslog_lease_holder = $3, syslog_lease_until = now() + make_interval(secs => $4)
     FROM tenants t
     WHERE s.tenant_id = $1 AND t.id = s.tenant_id AND s.syslog_enabled AND s.syslog_generation = $2
       AND (s.syslog_lease_until IS NULL OR s.syslog_lease_until < now())
     RETURNING t.slug, t.name, s.syslog_host AS host, s.syslog_port AS port, s.syslog_ca_pem AS "caPem", s.syslog_servername AS servername,
               s.syslog_cursor AS cursor, s.syslog_failures AS failures`,
    [tenantId, generation, holder, STREAM_LEASE_SECONDS],
  );
  if (!s) {
    // Turned off or superseded: this chain ends. Otherwise another run holds the stream: look again soon.
    const live = await db.query('SELECT 1 FROM audit_settings WHERE tenant_id = $1 AND syslog_enabled AND syslog_generation = $2', [tenantId, generation]);
    if (live.length) await enqueueSyslogRun(db, tenantId, generation, step + 1, later(idle));
    return;
  }

  const tenant: Tenant = { id: tenantId, slug: s.slug, name: s.name };
  const target: SyslogTarget = { host: s.host, port: s.port, caPem: s.caPem, servername: s.servername };
  const source = { tenant: s.slug, hostname: o.hostname };
  let cursor = s.cursor ?? 0;
  let conn: SyslogConnection | null = null;
  let error: SyslogError | null = null;
  let lost = false;
  let more = false;
  const started = Date.now();
  try {
    for (;;) {
      // The horizon is read before the rows: whatever began before it has committed by now.
      const [{ horizon }] = (await db.query<{ horizon: Date }>('SELECT now() - make_interval(secs => $1) AS horizon', [settle])) as [{ horizon: Date }];
      const rows = await queryAudit({ db, tenant, actor: null }, { after: cursor, order: 'asc', limit: batchSize });
      const young = rows.findIndex((e) => new Date(e.occurredAt).getTime() > new Date(horizon).getTime());
      const batch = young < 0 ? rows : rows.slice(0, young);
      if (!batch.length) break;
      conn ??= await connectSyslog(target, { allowPrivate: o.allowPrivate });
      await conn.send(Buffer.concat(batch.map((e) => frame(syslogMessage(e, source)))));
      const next = batch[batch.length - 1]!.id;
      // Written and flushed: the cursor moves, only from where this run found it and only while it holds the stream.
      const moved = await db.query(
        `UPDATE audit_settings SET syslog_cursor = $3, syslog_lease_until = now() + make_interval(secs => $5), syslog_last_delivered_at = now(), syslog_failures = 0
         WHERE tenant_id = $1 AND syslog_lease_holder = $2 AND coalesce(syslog_cursor, 0) = $4 RETURNING 1`,
        [tenantId, holder, next, cursor, STREAM_LEASE_SECONDS],
      );
      if (!moved.length) {
        lost = true;
        break;
      }
      cursor = next;
      if (batch.length < rows.length || rows.length < batchSize) break;
      if (Date.now() - started > RUN_MS) {
        more = true;
        break;
      }
    }
  } catch (err) {
    // Not the network's or the collector's fault (the database, a bug): the queue retries this step,
    // and the stream's lease runs out meanwhile.
    if (!(err instanceof SyslogError)) {
      await conn?.close();
      throw err;
    }
    error = err;
  }
  await conn?.close();
  if (lost) return; // another run took the stream over and carries the chain on

  const failures = error ? s.failures + 1 : 0;
  await db.transaction(async (tx) => {
    const released = await tx.query(
      `UPDATE audit_settings SET syslog_lease_holder = NULL, syslog_lease_until = NULL,
         syslog_failures = $3, syslog_last_error = coalesce($4, syslog_last_error), syslog_last_error_at = CASE WHEN $4::text IS NULL THEN syslog_last_error_at ELSE now() END
       WHERE tenant_id = $1 AND syslog_lease_holder = $2 RETURNING 1`,
      [tenantId, holder, failures, error ? error.message.slice(0, 2000) : null],
    );
    if (!released.length) return;
    await enqueueSyslogRun(tx, tenantId, generation, step + 1, error ? later(streamBackoffSeconds(failures)) : more ? undefined : later(idle));
  });
}
