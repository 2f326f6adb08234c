import type { Queryable } from '../db/db.js';
import { TooManyRequests } from './errors.js';

export interface Limit {
  /** What is counted, e.g. `signin:ip:127.0.0.1`. */
  bucket: string;
  max: number;
  windowSeconds: number;
}

/**
 * Fixed-window counters shared by every node through PostgreSQL (`rate_limit_counters`), written
 * in batches. Each process counts hits locally and, at most once a second (FLUSH_MS) and off the
 * request's path, adds every bucket's pending hits to the shared rows in one statement, learning
 * the other nodes' hits from the rows' new totals; once a bucket has used half its budget, every
 * hit is added at once and its answer waits for the shared total. So a request well inside its
 * limit costs no statement, a busy node writes once a second however many sources it sees, and the
 * limit holds across nodes where it matters, near the budget: what a node has not yet seen is at
 * most the other nodes' hits of their last second below half the budget.
 */
const FLUSH_MS = 1000;
/** Buckets a process keeps at once; the oldest windows go first beyond this (a spray of source addresses). */
const MAX_BUCKETS = 50_000;
/** Buckets per batch statement, so one statement's parameters stay small. */
const BATCH = 5_000;

interface Counter {
  bucket: string;
  /** The window's start and end, ms since the epoch. */
  windowStart: number;
  windowEnd: number;
  /** The shared total as the last write returned it (this node's and others' hits). */
  shared: number;
  /** Hits of this node not yet added to the shared row. */
  pending: number;
  /** This node forgot the bucket during its window (forgetOldest): its first hit asks the shared row. */
  recount: boolean;
  /** The write under way of hits taken from `pending` (neither pending nor in `shared` until it answers). */
  inFlight: Promise<void> | null;
}

/** Per database (each test app has its own), the process's counters by bucket and its batch timer. */
interface Counters {
  byBucket: Map<string, Counter>;
  timer: NodeJS.Timeout | null;
  /** Buckets forgotten while their window ran, with that window's start (at most MAX_BUCKETS). */
  forgotten: Map<string, number>;
  /** The write of the forgotten buckets' pending hits, which a recount waits for. */
  forgetting: Promise<void>;
}
const countersByDb = new WeakMap<Queryable, Counters>();

function countersFor(q: Queryable): Counters {
  let m = countersByDb.get(q);
  if (!m) countersByDb.set(q, (m = { byBucket: new Map(), timer: null, forgotten: new Map(), forgetting: Promise.resolve() }));
  return m;
}

function refused(c: Counter, limit: Limit): TooManyRequests {
  const retry = Math.max(1, Math.ceil((c.windowStart + limit.windowSeconds * 1000 - Date.now()) / 1000));
  return new TooManyRequests('Too many attempts. Wait a moment and try again.', retry);
}

/** Adds these counters' pending hits to their shared rows, in one statement per BATCH, and learns the new totals. */
async function flush(q: Queryable, counters: Counter[]): Promise<void> {
  for (let i = 0; i < counters.length; i += BATCH) {
    const batch = counters.slice(i, i + BATCH).filter((c) => c.pending > 0);
    if (!batch.length) continue;
    const deltas = batch.map((c) => c.pending);
    for (const c of batch) c.pending = 0;
    let done!: () => void;
    const written = new Promise<void>((resolve) => (done = resolve));
    for (const c of batch) c.inFlight = written;
    try {
      const rows = await q.query<{ bucket: string; hits: number }>(
        `INSERT INTO rate_limit_counters AS r (bucket, window_start, hits)
         SELECT b.bucket, to_timestamp(b.window_ms / 1000), b.hits
           FROM unnest($1::text[], $2::double precision[], $3::int[]) AS b(bucket, window_ms, hits)
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + EXCLUDED.hits
         RETURNING r.bucket, r.hits`,
        [batch.map((c) => c.bucket), batch.map((c) => c.windowStart), deltas],
      );
      const totals = new Map(rows.map((r) => [r.bucket, r.hits]));
      for (const c of batch) c.shared = Math.max(c.shared, totals.get(c.bucket) ?? 0);
    } catch (err) {
      batch.forEach((c, j) => (c.pending += deltas[j]!));
      throw err;
    } finally {
      for (const c of batch) if (c.inFlight === written) c.inFlight = null;
      done();
    }
  }
}

/**
 * Writes the bucket's pending hits and learns the shared total, after any write of its hits already
 * under way (the timer's batch): so the total it learns includes every hit this node counted.
 */
async function settle(q: Queryable, c: Counter): Promise<void> {
  while (c.inFlight) await c.inFlight;
  await flush(q, [c]);
}

/**
 * Counts a hit on `limit.bucket`, and throws TooManyRequests (with the seconds until the window
 * ends) once the window's budget is spent, on this node or, as far as it knows, on all of them.
 * @throws TooManyRequests
 */
export async function hit(q: Queryable, limit: Limit): Promise<void> {
  const now = Date.now();
  const windowStart = Math.floor(now / (limit.windowSeconds * 1000)) * limit.windowSeconds * 1000;
  const counters = countersFor(q);
  let c = counters.byBucket.get(limit.bucket);
  if (!c || c.windowStart !== windowStart) {
    // A window's unsent hits go with it: the new window starts from nothing anyway.
    counters.byBucket.delete(limit.bucket);
    if (counters.byBucket.size >= MAX_BUCKETS) forgetOldest(q, counters, now);
    const recount = counters.forgotten.get(limit.bucket) === windowStart;
    counters.forgotten.delete(limit.bucket);
    c = { bucket: limit.bucket, windowStart, windowEnd: windowStart + limit.windowSeconds * 1000, shared: 0, pending: 0, recount, inFlight: null };
    counters.byBucket.set(limit.bucket, c);
  }
  if (c.shared + c.pending >= limit.max) throw refused(c, limit);
  c.pending++;
  // Near the budget, or what this node knew of the window is gone (forgetOldest): the shared total decides, now.
  if (c.recount || (c.shared + c.pending) * 2 > limit.max) {
    if (c.recount) {
      c.recount = false;
      await counters.forgetting.catch(() => undefined);
    }
    await settle(q, c);
    if (c.shared > limit.max) throw refused(c, limit);
    return;
  }
  if (!counters.timer) {
    counters.timer = setTimeout(() => {
      counters.timer = null;
      // A lost batch undercounts by a second's hits; the next hit tries again.
      flush(q, [...counters.byBucket.values()]).catch(() => undefined);
    }, FLUSH_MS);
    counters.timer.unref();
  }
}

/**
 * Makes room: windows that ended go first; then, if still needed, the oldest running ones, whose
 * pending hits are written and whose names are remembered, so that the bucket's next hit in the
 * same window asks the shared row instead of starting again from nothing.
 */
function forgetOldest(q: Queryable, counters: Counters, now: number): void {
  const { byBucket, forgotten } = counters;
  for (const [bucket, c] of byBucket) if (c.windowEnd <= now) byBucket.delete(bucket);
  const dropped: Counter[] = [];
  for (const [bucket, c] of byBucket) {
    if (byBucket.size < MAX_BUCKETS * 0.9) break;
    byBucket.delete(bucket);
    dropped.push(c);
    forgotten.delete(bucket);
    forgotten.set(bucket, c.windowStart);
  }
  for (const bucket of forgotten.keys()) {
    if (forgotten.size <= MAX_BUCKETS) break;
    forgotten.delete(bucket);
  }
  if (dropped.length) counters.forgetting = counters.forgetting.then(() => flush(q, dropped)).catch(() => undefined);
}

/**
 * Adds every pending hit counted through `q` to the shared rows now: on shutdown, so a node's
 * last second of hits is not lost, and wherever the shared rows must be up to date.
 */
export async function flushRateLimits(q: Queryable): Promise<void> {
  const counters = countersByDb.get(q);
  if (!counters) return;
  if (counters.timer) clearTimeout(counters.timer);
  counters.timer = null;
  await flush(q, [...counters.byBucket.values()]);
}

/** Drops windows that ended; called from the periodic housekeeping job. */
export async function pruneCounters(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 day'`);
}
