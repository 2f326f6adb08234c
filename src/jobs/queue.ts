import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../db/db.js';
import { storableJson, toStorable } from '../db/storable.js';

/**
 * The durable job queue: an outbox table in the same database, claimed with FOR UPDATE SKIP
 * LOCKED so several nodes share the work without taking the same job, and leased so a job whose
 * node died is run again. Delivery is at least once: a job's `id` is the idempotency key its
 * effect carries (a webhook's `webhook-id`, a ticket's source), so running it twice does no harm.
 */
export interface Job<P = Record<string, unknown>> {
  id: string;
  tenantId: string | null;
  kind: string;
  payload: P;
  attempts: number;
  maxAttempts: number;
}

export interface NewJob {
  tenantId: string | null;
  /** What runs it: a handler name such as `webhook.deliver`. */
  kind: string;
  payload: Record<string, unknown>;
  /** The same key enqueued twice is one job (the first wins): a change retried enqueues nothing new. */
  key: string;
  /** Not before (default now). */
  runAt?: Date;
  maxAttempts?: number;
}

/** How long a claimed job is its node's before another may take it over (default; KEYDESK_JOB_LEASE_SECONDS). */
export const LEASE_SECONDS = 60;

/**
 * Adds a job, in the caller's transaction: it exists if and only if the change that made it is
 * committed.
 * @returns the job id, or null when a job with this key exists already
 */
export async function enqueue(tx: Queryable, job: NewJob): Promise<string | null> {
  const rows = await tx.query<{ id: string }>(
    `INSERT INTO jobs (tenant_id, kind, payload, idempotency_key, run_at, max_attempts) VALUES ($1, $2, $3, $4, coalesce($5, now()), $6)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
    [job.tenantId, job.kind, storableJson(job.payload), job.key.slice(0, 200), job.runAt ?? null, job.maxAttempts ?? 8],
  );
  return rows[0]?.id ?? null;
}

/** Jobs a claim leaves for later: of these tenants, system jobs (no tenant), these ids. */
export interface ClaimSkip {
  tenants?: string[];
  system?: boolean;
  /** Jobs this worker is running still: their lease may have run out, but their node lives. */
  ids?: string[];
}

/** A worker's name for the jobs of no tenant, in its count of what each lane serves. */
const SYSTEM = 'system';

/**
 * Takes up to `limit` due jobs of the given kinds for `worker`: pending ones whose time has come,
 * and running ones whose lease ran out (their node died). Each claim counts as an attempt.
 */
export async function claim(db: Db, worker: string, kinds: string[], limit = 10, leaseSeconds = LEASE_SECONDS, skip: ClaimSkip = {}): Promise<Job[]> {
  return db.query<Job>(
    `UPDATE jobs SET status = 'running', locked_by = $1, locked_until = now() + make_interval(secs => $4), attempts = attempts + 1, updated_at = now()
     WHERE id IN (
       SELECT id FROM jobs
       WHERE kind = ANY($2) AND ((status = 'pending' AND run_at <= now()) OR (status = 'running' AND locked_until < now()))
         AND (CASE WHEN tenant_id IS NULL THEN NOT $6 ELSE NOT tenant_id = ANY($5::uuid[]) END)
         AND NOT id = ANY($7::uuid[])
       ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, tenant_id AS "tenantId", kind, payload, attempts, max_attempts AS "maxAttempts"`,
    [worker, kinds, limit, leaseSeconds, skip.tenants ?? [], skip.system ?? false, skip.ids ?? []],
  );
}

/** The running job is still its worker's: its lease starts again (a job may outlast one lease while its node lives). */
export async function renewLease(db: Queryable, worker: string, job: Job, leaseSeconds: number): Promise<void> {
  await db.query(`UPDATE jobs SET locked_until = now() + make_interval(secs => $3) WHERE id = $1 AND locked_by = $2 AND status = 'running'`, [job.id, worker, leaseSeconds]);
}

/** The job's effect happened: done, for good. Only the worker holding it may say so. */
export async function complete(db: Queryable, worker: string, job: Job): Promise<void> {
  await db.query(`UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, finished_at = now(), updated_at = now() WHERE id = $1 AND locked_by = $2`, [job.id, worker]);
}

/**
 * The job failed: tried again later (exponential backoff, 10 s doubling to at most an hour, with
 * jitter), or dead once its attempts are spent. An admin can retry a dead job.
 */
export async function fail(db: Queryable, worker: string, job: Job, error: unknown): Promise<'retry' | 'dead'> {
  const dead = job.attempts >= job.maxAttempts;
  const message = toStorable(error instanceof Error ? error.message : String(error)).slice(0, 2000);
  await db.query(
    `UPDATE jobs SET status = $3, run_at = now() + make_interval(secs => $4), locked_by = NULL, locked_until = NULL, last_error = $5,
       finished_at = CASE WHEN $3 = 'dead' THEN now() ELSE NULL END, updated_at = now()
     WHERE id = $1 AND locked_by = $2`,
    [job.id, worker, dead ? 'dead' : 'pending', backoffSeconds(job.attempts), message],
  );
  return dead ? 'dead' : 'retry';
}

/** Seconds before attempt n + 1: 10, 20, 40 … at most 3600, each ±20%. */
export function backoffSeconds(attempts: number): number {
  const base = Math.min(3600, 10 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A dead or failed job back in line, now, with its attempts counted afresh (the admin's retry). */
export async function retryJob(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE jobs SET status = 'pending', attempts = 0, run_at = now(), last_error = NULL, finished_at = NULL, updated_at = now()
     WHERE tenant_id = $1 AND id = $2 AND status = 'dead' RETURNING 1`,
    [tenantId, id],
  );
  return rows.length > 0;
}

/** Forgets jobs done more than a week ago; dead ones stay until an admin retries or they age out (30 days). */
export async function pruneJobs(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM jobs WHERE (status = 'done' AND finished_at < now() - interval '7 days') OR (status = 'dead' AND finished_at < now() - interval '30 days')`);
}

export type Handler = (job: Job, db: Db) => Promise<void>;

/** Lanes a worker runs by default (KEYDESK_WORKER_CONCURRENCY). */
export const WORKER_LANES = 4;

/**
 * Runs due jobs until stopped, in `lanes` concurrent lanes that each claim and run one job at a
 * time, so a slow job (a receiver taking its full 20 s) holds one lane, never the queue, and a job
 * is claimed only when a lane is free to start it (its lease covers the job alone). A lane first
 * looks for work of tenants no other lane of this worker is serving, so one tenant's backlog to a
 * slow receiver cannot take every lane while another tenant waits; a tenant gets at most
 * `lanes - 1` of them (system jobs, of no tenant, count as one tenant; with one lane there is no
 * such fairness). A running job's lease is renewed every third of it, so a job outlasting a lease
 * is taken over only when its node died, and never claimed again by its own worker. Idle lanes
 * sleep `pollMs`; `stop` wakes them and waits for the jobs running.
 *
 * `runOnce` claims and runs a batch in the caller's turn (tests use it to drain the queue).
 */
export function startWorker(
  db: Db,
  handlers: Record<string, Handler>,
  opts: { pollMs?: number; id?: string; leaseSeconds?: number; lanes?: number; onError?: (err: unknown, job?: Job) => void } = {},
): { id: string; stop: () => Promise<void>; runOnce: () => Promise<number> } {
  const id = opts.id ?? `worker-${randomBytes(6).toString('hex')}`;
  const kinds = Object.keys(handlers);
  const lanes = Math.max(1, opts.lanes ?? WORKER_LANES);
  const leaseSeconds = opts.leaseSeconds ?? LEASE_SECONDS;
  /** Tenant id (or SYSTEM) → lanes of this worker running one of its jobs. */
  const serving = new Map<string, number>();
  /** Jobs running here now, never claimed again by this worker while they run. */
  const inFlight = new Set<string>();
  let stopped = false;
  const wakers = new Set<() => void>();
  // A log call that throws must not take a lane (and the job it holds) down with it.
  const reportError = (err: unknown, job?: Job) => {
    try {
      opts.onError?.(err, job);
    } catch {
      // nothing more to do
    }
  };

  const run = async (job: Job): Promise<void> => {
    inFlight.add(job.id);
    // While the job runs its lease is renewed, so it is taken over only if this node dies.
    const renew = setInterval(() => renewLease(db, id, job, leaseSeconds).catch((err: unknown) => reportError(err, job)), (leaseSeconds * 1000) / 3);
    renew.unref();
    try {
      await handlers[job.kind]!(job, db);
      await complete(db, id, job);
    } catch (err) {
      reportError(err, job);
      await fail(db, id, job, err).catch((e: unknown) => reportError(e, job));
    } finally {
      clearInterval(renew);
      inFlight.delete(job.id);
    }
  };
  const runOnce = async (): Promise<number> => {
    const jobs = await claim(db, id, kinds, 10, leaseSeconds, { ids: [...inFlight] });
    for (const job of jobs) await run(job);
    return jobs.length;
  };
  const keyOf = (job: Job) => job.tenantId ?? SYSTEM;
  // Lanes claim one at a time, so each sees which tenants the others have just taken.
  let claiming: Promise<unknown> = Promise.resolve();
  const claimForLane = (): Promise<Job | undefined> => {
    const next = claiming.then(async () => {
      if (stopped) return undefined;
      const skipOf = (keys: string[]): ClaimSkip => ({ tenants: keys.filter((k) => k !== SYSTEM), system: keys.includes(SYSTEM), ids: [...inFlight] });
      const busy = [...serving.keys()];
      let [job] = await claim(db, id, kinds, 1, leaseSeconds, skipOf(busy));
      if (!job && busy.length) {
        const full = [...serving].filter(([, n]) => n >= Math.max(1, lanes - 1)).map(([k]) => k);
        [job] = await claim(db, id, kinds, 1, leaseSeconds, skipOf(full));
      }
      if (job) serving.set(keyOf(job), (serving.get(keyOf(job)) ?? 0) + 1);
      return job;
    });
    claiming = next.catch(() => undefined);
    return next;
  };
  const sleep = () =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, opts.pollMs ?? 1000);
      timer.unref();
      wakers.add(wake);
    });
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const job = await claimForLane().catch((err: unknown) => {
        reportError(err);
        return undefined;
      });
      if (!job) {
        if (!stopped) await sleep();
        continue;
      }
      try {
        await run(job);
      } finally {
        const n = serving.get(keyOf(job))! - 1;
        if (n) serving.set(keyOf(job), n);
        else serving.delete(keyOf(job));
      }
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  return {
    id,
    runOnce,
    stop: async () => {
      stopped = true;
      for (const wake of [...wakers]) wake();
      await running;
    },
  };
}
