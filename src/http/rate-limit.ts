import type { Queryable } from '../db/db.js';
import { TooManyRequests } from './errors.js';

export interface Limit {
  /** What is counted, e.g. `signin:ip:127.0.0.1`. */
  bucket: string;
  max: number;
  windowSeconds: number;
}

/**
 * Fixed-window counter kept in PostgreSQL so every node shares it. Counts the hit, then throws
 * TooManyRequests once the window's budget is spent.
 */
export async function hit(q: Queryable, limit: Limit): Promise<void> {
  const rows = await q.query<{ hits: number; window_start: Date }>(
    `INSERT INTO rate_limit_counters (bucket, window_start, hits)
     VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
     ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
     RETURNING hits, window_start`,
    [limit.bucket, limit.windowSeconds],
  );
  const row = rows[0]!;
  if (row.hits > limit.max) {
    const retry = Math.max(1, Math.ceil((row.window_start.getTime() + limit.windowSeconds * 1000 - Date.now()) / 1000));
    throw new TooManyRequests('Too many attempts. Wait a moment and try again.', retry);
  }
}

/** Drops windows that ended; called from the periodic housekeeping job. */
export async function pruneCounters(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 day'`);
}
