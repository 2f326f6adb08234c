import type { Queryable } from './db.js';

/**
 * What autovacuum would do to the database now, with PostgreSQL's default thresholds
 * (PostgreSQL 15 documentation §25.1.6, "The Autovacuum Daemon"):
 * - ANALYZE a table once more than `50 + 0.1 × reltuples` rows changed since its last analysis,
 *   or once it takes more than `1 + 1.1 × relpages` pages: PGlite does not keep its change counters
 *   when it closes, so growth from before a restart is seen only in the table's size;
 * - VACUUM it once it holds more than `50 + 0.2 × reltuples` dead rows, or more than
 *   `1000 + 0.2 × reltuples` rows were inserted since its last vacuum.
 *
 * Why the embedded database needs it: PGlite runs PostgreSQL as a single-user backend, which has no
 * autovacuum launcher, so its statistics never refresh and dead rows are never reclaimed. Keydesk
 * prepares its statements, and after five executions PostgreSQL may keep a generic plan; one made
 * while a table was small (where reading it whole is cheapest) is kept until the table's statistics
 * change. Measured: the account lookup of a just-in-time sign-in, planned at a handful of users,
 * read all 20,000 users of a tenant in 51 ms; after ANALYZE it took 0.08 ms through the index.
 *
 * `q` must not be inside a transaction (VACUUM cannot run in one). Returns the tables it vacuumed
 * and analyzed, as `schema.table`.
 */
export async function autovacuumOnce(q: Queryable): Promise<{ vacuumed: string[]; analyzed: string[] }> {
  // The single-user backend publishes its table counters only when told to; they are flushed when
  // the statement after this one begins.
  await q.query('SELECT pg_stat_force_next_flush()');
  const due = await q.query<{ name: string; vacuum: boolean; analyze: boolean }>(
    `SELECT format('%I.%I', s.schemaname, s.relname) AS name,
            s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0) OR s.n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0) AS vacuum,
            s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
              OR pg_relation_size(c.oid) / current_setting('block_size')::int > 1 + 1.1 * c.relpages AS analyze
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      ORDER BY s.schemaname, s.relname`,
  );
  const vacuumed: string[] = [];
  const analyzed: string[] = [];
  for (const t of due) {
    if (t.vacuum) {
      await q.query(t.analyze ? `VACUUM (ANALYZE) ${t.name}` : `VACUUM ${t.name}`);
      vacuumed.push(t.name);
    } else if (t.analyze) {
      await q.query(`ANALYZE ${t.name}`);
    }
    if (t.analyze) analyzed.push(t.name);
  }
  return { vacuumed, analyzed };
}

/**
 * Runs {@link autovacuumOnce} every `intervalMs` (autovacuum's own nap is 60 s) until stopped. The
 * timer does not keep the process alive. A failed run is tried again at the next interval: the
 * database works without it, only more slowly as it grows. The first failure after a success is
 * reported as a process warning (code KEYDESK_AUTOVACUUM, on standard error), so one that persists
 * is seen once rather than every interval.
 */
export class AutovacuumStandIn {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<unknown> | null = null;
  private failing = false;

  constructor(q: Queryable, intervalMs = 30_000) {
    this.timer = setInterval(() => {
      this.running ??= autovacuumOnce(q)
        .then(
          () => (this.failing = false),
          (err: unknown) => {
            if (!this.failing) process.emitWarning(`the embedded database's maintenance (ANALYZE, VACUUM) failed and will be retried: ${err instanceof Error ? err.message : String(err)}`, { code: 'KEYDESK_AUTOVACUUM' });
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
