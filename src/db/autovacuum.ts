import type { Queryable } from './db.js';

/** Missing relation or schema: the table went away between the list and its turn. */
const GONE = new Set(['42P01', '3F000']);

/**
 * What autovacuum would do to the database now, by the server's own autovacuum settings
 * (PostgreSQL documentation, "The Autovacuum Daemon"; the defaults in brackets):
 * - ANALYZE a table once more than `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor
 *   × reltuples` rows changed since its last analysis (50 + 10%), or once it takes more than
 *   `1 + 1.1 × relpages` pages: PGlite does not keep its change counters when it closes, so growth
 *   from before a restart is seen only in the table's size;
 * - VACUUM it once its dead rows pass `autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor
 *   × reltuples` (50 + 20%), capped by `autovacuum_vacuum_max_threshold` where the server has it
 *   (PostgreSQL 18), or its rows inserted since the last vacuum pass
 *   `autovacuum_vacuum_insert_threshold + autovacuum_vacuum_insert_scale_factor × reltuples`
 *   (1000 + 20%; PostgreSQL 18 scales this by the share of the table not yet frozen, so it
 *   vacuums later than this does).
 * Not modelled: per-table autovacuum settings (Keydesk sets none) and the anti-wraparound vacuum.
 *
 * Why the embedded database needs it: PGlite runs PostgreSQL as a single-user backend, which has no
 * autovacuum launcher, so its statistics never refresh and dead rows are never reclaimed. Keydesk
 * prepares its statements, and after five executions PostgreSQL may keep a generic plan; one made
 * while a table was small (where reading it whole is cheapest) is kept until the table's statistics
 * change. Measured once on PGlite: the account lookup of a just-in-time sign-in, planned at one
 * user, read all 20,000 users of a tenant in 56 ms; after ANALYZE it took 0.08 ms through the index
 * (test/db-autovacuum.test.ts checks the plans).
 *
 * `q` must not be inside a transaction (VACUUM cannot run in one). A table dropped meanwhile is
 * skipped; any other failure is thrown after the remaining tables have had their turn. Returns the
 * tables it vacuumed and analyzed, named as `format('%I.%I', schema, table)` quotes them.
 */
export async function autovacuumOnce(q: Queryable): Promise<{ vacuumed: string[]; analyzed: string[] }> {
  // The backend publishes its table counters at most once a second, at the end of a statement;
  // asked first, this statement's end publishes the last second's too.
  await q.query('SELECT pg_stat_force_next_flush()');
  const due = await q.query<{ name: string; vacuum: boolean; analyze: boolean }>(
    `WITH setting AS (
       SELECT current_setting('autovacuum_analyze_threshold')::float8 AS analyze_base,
              current_setting('autovacuum_analyze_scale_factor')::float8 AS analyze_scale,
              current_setting('autovacuum_vacuum_threshold')::float8 AS vacuum_base,
              current_setting('autovacuum_vacuum_scale_factor')::float8 AS vacuum_scale,
              -- NULL where the server has no cap or it is off (-1); least() passes over a NULL.
              nullif(nullif(current_setting('autovacuum_vacuum_max_threshold', true), '')::float8, -1) AS vacuum_max,
              current_setting('autovacuum_vacuum_insert_threshold')::float8 AS insert_base,
              current_setting('autovacuum_vacuum_insert_scale_factor')::float8 AS insert_scale,
              current_setting('block_size')::int AS block_size)
     SELECT format('%I.%I', s.schemaname, s.relname) AS name,
            s.n_dead_tup > least(x.vacuum_max, x.vacuum_base + x.vacuum_scale * t.rows)
              OR (x.insert_base >= 0 AND s.n_ins_since_vacuum > x.insert_base + x.insert_scale * t.rows) AS vacuum,
            s.n_mod_since_analyze > x.analyze_base + x.analyze_scale * t.rows
              OR pg_relation_size(c.oid) / x.block_size > 1 + 1.1 * c.relpages AS analyze
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid, setting x,
            LATERAL (SELECT greatest(c.reltuples, 0) AS rows) t -- -1 until first analyzed
      ORDER BY s.schemaname, s.relname`,
  );
  const vacuumed: string[] = [];
  const analyzed: string[] = [];
  let failure: unknown = null;
  for (const t of due) {
    if (!t.vacuum && !t.analyze) continue;
    try {
      await q.query(t.vacuum ? (t.analyze ? `VACUUM (ANALYZE) ${t.name}` : `VACUUM ${t.name}`) : `ANALYZE ${t.name}`);
    } catch (err) {
      if (!GONE.has((err as { code?: string }).code ?? '')) failure ??= err;
      continue;
    }
    if (t.vacuum) vacuumed.push(t.name);
    if (t.analyze) analyzed.push(t.name);
  }
  if (failure) throw failure;
  return { vacuumed, analyzed };
}

/**
 * Runs {@link autovacuumOnce} every `intervalMs` (autovacuum's own nap is 60 s) until stopped. The
 * timer does not keep the process alive. A failed run is tried again at the next interval: the
 * database works without it, only more slowly as it grows. The first failure after a success is
 * reported as a process warning (code KEYDESK_AUTOVACUUM, on standard error), so one that persists
 * is seen once rather than every interval. `warn` stands in for the process warning (tests).
 */
export class AutovacuumStandIn {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<unknown> | null = null;
  private failing = false;

  /** @throws RangeError unless `intervalMs` is a whole number of ms from 1 to 2³¹ − 1 (what setInterval honours). */
  constructor(q: Queryable, intervalMs = 30_000, warn: (message: string) => void = (message) => process.emitWarning(message, { code: 'KEYDESK_AUTOVACUUM' })) {
    if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 2 ** 31 - 1) throw new RangeError(`autovacuum interval: ${intervalMs} ms is not a whole number from 1 to 2147483647`);
    this.timer = setInterval(() => {
      this.running ??= autovacuumOnce(q)
        .then(
          () => (this.failing = false),
          (err: unknown) => {
            if (!this.failing) warn(`the embedded database's maintenance (ANALYZE, VACUUM) failed and will be retried: ${err instanceof Error ? err.message : String(err)}`);
            this.failing = true;
          },
        )
        .finally(() => (this.running = null));
    }, intervalMs);
    this.timer.unref();
  }

  /** No further runs; resolves when a run under way has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
