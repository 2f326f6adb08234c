/**
 * Small shared helpers for the benchmarks: a throwaway PostgreSQL database, a timing loop with
 * percentiles, the two raw-SQL baselines every suite compares itself to, and table printing.
 * Suites (bench/tickets.ts, bench/saml.ts, later SCIM) import from here; bench/run.ts dispatches to them.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import { openPostgres, type Db, type Queryable } from '../src/db/db.js';
import { migrate } from '../src/db/migrate.js';
import { mulberry32 } from '../test/helpers/prng.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** One benchmark file. `run` makes its own throwaway database and returns JSON-able results. */
export interface Suite {
  name: string;
  description: string;
  run(env: SuiteEnv): Promise<Record<string, unknown>>;
}

export interface SuiteEnv {
  /** Server to create throwaway databases on (DATABASE_URL). */
  baseUrl: string;
  scale: number;
}

/** BENCH_SCALE multiplies every iteration count (0.1 for a quick smoke run, 3 for steadier figures). */
export function benchScale(): number {
  const raw = process.env.BENCH_SCALE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`BENCH_SCALE must be a positive number, got "${raw}"`);
  return n;
}

/** An iteration count scaled by BENCH_SCALE, never below `min`. */
export function scaled(base: number, min = 5): number {
  return Math.max(min, Math.round(base * benchScale()));
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Throwaway database
// ---------------------------------------------------------------------------------------------

export interface BenchDatabase {
  db: Db;
  name: string;
  /** Connection URL of the throwaway database (for a second pool or a raw client). */
  url: string;
}

const liveDatabases = new Set<() => Promise<void>>();
let signalsHooked = false;

/** On Ctrl-C or SIGTERM, drop whatever throwaway databases are still alive, then exit. */
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: dropping throwaway database(s)…`);
      void Promise.allSettled([...liveDatabases].map((drop) => drop())).finally(() => process.exit(130));
    });
  }
}

async function adminQuery(baseUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Creates a fresh, empty database on the server named by `baseUrl` (not migrated) and returns its
 * URL and a `drop` that removes it; it is also dropped if the process is interrupted. For a suite
 * whose servers migrate their own databases (signin-load: each commit its own migrations).
 */
export async function createEmptyDatabase(baseUrl: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  hookSignals();
  const name = `keydesk_bench_${randomBytes(5).toString('hex')}`;
  await adminQuery(baseUrl, `CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    liveDatabases.delete(drop);
    await adminQuery(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  liveDatabases.add(drop);
  return { name, url: url.toString(), drop };
}

/**
 * Creates a fresh database on the server named by `baseUrl`, migrates it, runs `fn`, and drops the
 * database afterwards, also when `fn` throws or the process is interrupted.
 */
export async function withThrowawayDatabase<T>(baseUrl: string, poolSize: number, fn: (bdb: BenchDatabase) => Promise<T>): Promise<T> {
  const { name, url, drop: dropDatabase } = await createEmptyDatabase(baseUrl);
  let db: Db | null = null;
  try {
    db = await openPostgres(url, poolSize);
    await migrate(db);
    return await fn({ db, name, url });
  } finally {
    await db?.close().catch(() => undefined);
    await dropDatabase();
  }
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

export interface Measurement {
  name: string;
  iterations: number;
  concurrency: number;
  totalMs: number;
  opsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
}

export interface MeasureOptions {
  iterations: number;
  /** Untimed calls first (caches, JIT, pool connections). Default: 10% of iterations, 3..50. */
  warmup?: number;
  /** Callers in flight at once, sharing one iteration budget. Default 1: latency is one caller's view. */
  concurrency?: number;
  /** Stop early once this much time is spent, so a pathological case cannot blow the run. */
  maxMs?: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Runs `fn` repeatedly and reports throughput and latency percentiles. `fn` gets the iteration index. */
export async function measure(name: string, fn: (i: number) => Promise<unknown>, opts: MeasureOptions): Promise<Measurement> {
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const warmup = opts.warmup ?? Math.min(50, Math.max(3, Math.round(opts.iterations / 10)));
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const maxMs = opts.maxMs ?? 30_000;
  const samples: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < opts.iterations && performance.now() - start < maxMs) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summarize(name, samples, performance.now() - start, concurrency);
}

/** A Measurement from raw latencies (ms) and the elapsed time they were taken in (sorts `samples` in place). */
export function summarize(name: string, samples: number[], totalMs: number, concurrency: number): Measurement {
  samples.sort((a, b) => a - b);
  const sum = samples.reduce((a, b) => a + b, 0);
  return {
    name,
    iterations: samples.length,
    concurrency,
    totalMs: round(totalMs, 1),
    opsPerSec: round((samples.length / totalMs) * 1000, 1),
    meanMs: round(sum / samples.length, 3),
    p50Ms: round(percentile(samples, 50), 3),
    p90Ms: round(percentile(samples, 90), 3),
    p95Ms: round(percentile(samples, 95), 3),
    p99Ms: round(percentile(samples, 99), 3),
    minMs: round(samples[0]!, 3),
    maxMs: round(samples[samples.length - 1]!, 3),
  };
}

export interface InterleavedCase {
  name: string;
  fn: (i: number) => Promise<unknown>;
}

/**
 * For variants of one operation that are to be compared with each other (a library against our code
 * around it): iteration i of every variant runs back to back, the order rotating with i, so load that
 * drifts during the run (a shared machine, GC, CPU frequency) falls on all variants alike and their
 * ratio stays steady. One caller. Each variant's ops/s is 1000 ÷ its mean latency, its totalMs the
 * time spent in it. Warm-up calls get negative indices, as in `measure`.
 *
 * With `shuffle`, each iteration runs the variants in a new order (seeded, so runs repeat) instead
 * of rotating one. With more than two variants, a rotation keeps every variant behind the same
 * neighbour for the whole run, and variants that allocate very differently (a library that builds
 * three DOMs against one that builds one) pay for each other's garbage collection: a cheap variant
 * that always follows an expensive one would pay for much of it. Shuffled, each pays an equal
 * share on average, which still weighs more on the cheap ones. (Forcing a collection between calls
 * is no way out: tried with V8's gc(), it made every variant several times slower.)
 */
export async function measureInterleaved(cases: InterleavedCase[], opts: Omit<MeasureOptions, 'concurrency'> & { shuffle?: boolean }): Promise<Measurement[]> {
  const warmup = opts.warmup ?? Math.min(50, Math.max(3, Math.round(opts.iterations / 10)));
  for (let i = 0; i < warmup; i++) for (const c of cases) await c.fn(-1 - i);
  const maxMs = opts.maxMs ?? 30_000;
  const samples: number[][] = cases.map(() => []);
  const random = mulberry32(0x5eed); // case order that repeats from run to run
  const order = cases.map((_, k) => k);
  const start = performance.now();
  for (let i = 0; i < opts.iterations && performance.now() - start < maxMs; i++) {
    if (opts.shuffle) {
      for (let k = order.length - 1; k > 0; k--) {
        const r = Math.floor(random() * (k + 1));
        [order[k], order[r]] = [order[r]!, order[k]!];
      }
    }
    for (let k = 0; k < cases.length; k++) {
      const j = opts.shuffle ? order[k]! : (i + k) % cases.length;
      const t0 = performance.now();
      await cases[j]!.fn(i);
      samples[j]!.push(performance.now() - t0);
    }
  }
  return cases.map((c, j) => summarize(c.name, samples[j]!, samples[j]!.reduce((a, b) => a + b, 0), 1));
}

/** How many baseline operations one operation of `m` costs (baseline ops/s ÷ ops/s): 1 = as cheap, 10 = ten times dearer. */
export function costRatio(m: Measurement, baseline: Measurement): number {
  return round(baseline.opsPerSec / m.opsPerSec, 2);
}

/** The same comparison on medians (p50 ÷ baseline p50): steadier when the baseline's mean is pulled up by fsync or scheduler outliers. */
export function p50Ratio(m: Measurement, baseline: Measurement): number {
  return round(m.p50Ms / baseline.p50Ms, 2);
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Baselines: the floor a single round trip through the same pool costs on this machine
// ---------------------------------------------------------------------------------------------

export interface Baselines {
  /** Autocommitted single-row INSERT into a bare table (one WAL flush per row, like any commit). */
  insert: Measurement;
  /** Single-row SELECT by primary key, hot in cache. */
  select: Measurement;
}

export async function measureBaselines(db: Db, opts: { inserts: number; selects: number; tenantId?: string }): Promise<Baselines> {
  await db.query(`CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY, tenant_id uuid, title text, created_at timestamptz NOT NULL DEFAULT now())`);
  const tenantId = opts.tenantId ?? '00000000-0000-0000-0000-000000000000';
  const insert = await measure(
    'baseline: INSERT one row (autocommit)',
    (i) => db.query('INSERT INTO bench_baseline (tenant_id, title) VALUES ($1, $2)', [tenantId, `Baseline row ${i}`]),
    { iterations: opts.inserts },
  );
  const [{ n }] = (await db.query<{ n: number }>('SELECT max(id) AS n FROM bench_baseline')) as [{ n: number }];
  await db.query('ANALYZE bench_baseline');
  const select = await measure(
    'baseline: SELECT one row by primary key',
    (i) => db.query('SELECT id, tenant_id, title, created_at FROM bench_baseline WHERE id = $1', [1 + (Math.abs(i * 7919) % n)]),
    { iterations: opts.selects },
  );
  return { insert, select };
}

// ---------------------------------------------------------------------------------------------
// Query capture and EXPLAIN
// ---------------------------------------------------------------------------------------------

export interface CapturedQuery {
  sql: string;
  params: unknown[];
}

/** A Db that remembers every statement sent outside transactions, to EXPLAIN what domain code really runs. */
export function recordingDb(db: Db): { db: Db; queries: CapturedQuery[] } {
  const queries: CapturedQuery[] = [];
  const wrapped: Db = {
    kind: db.kind,
    query: <T>(sql: string, params: readonly unknown[] = []) => {
      queries.push({ sql, params: [...params] });
      return db.query<T>(sql, params);
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  };
  return { db: wrapped, queries };
}

export interface ExplainSummary {
  executionMs: number;
  planningMs: number;
  /** Scan nodes with their index (if any) and the rows they produced, outermost first. */
  scans: { node: string; relation?: string; index?: string; rows: number; estimatedRows: number; removedByFilter?: number }[];
  /** Rows the top Sort node sorted, if the plan sorts. */
  sortedRows?: number;
  sharedHitBlocks: number;
  sharedReadBlocks: number;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Alias'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Plan Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** EXPLAIN (ANALYZE, BUFFERS) a captured statement; the summary lists the scans (on `focus` only, if given). */
export async function explain(q: Queryable, query: CapturedQuery, focus?: string): Promise<{ text: string; summary: ExplainSummary }> {
  const textRows = await q.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${query.sql}`, query.params);
  const jsonRows = await q.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.sql}`,
    query.params,
  );
  const top = jsonRows[0]!['QUERY PLAN'][0];
  const scans: ExplainSummary['scans'] = [];
  let sortedRows: number | undefined;
  const walk = (n: PlanNode) => {
    const relevant = !focus || n['Relation Name'] === focus || (n['Index Name'] ?? '').startsWith(focus);
    if (/Scan/.test(n['Node Type']) && relevant) {
      scans.push({
        node: n['Node Type'],
        relation: n['Relation Name'],
        index: n['Index Name'],
        rows: n['Actual Rows'] * n['Actual Loops'],
        estimatedRows: n['Plan Rows'],
        removedByFilter: n['Rows Removed by Filter'],
      });
    }
    if (n['Node Type'] === 'Sort' && sortedRows === undefined) sortedRows = n.Plans?.[0]?.['Actual Rows'];
    n.Plans?.forEach(walk);
  };
  walk(top.Plan);
  return {
    text: textRows.map((r) => r['QUERY PLAN']).join('\n'),
    summary: {
      executionMs: round(top['Execution Time'], 3),
      planningMs: round(top['Planning Time'], 3),
      scans,
      sortedRows,
      sharedHitBlocks: top.Plan['Shared Hit Blocks'] ?? 0,
      sharedReadBlocks: top.Plan['Shared Read Blocks'] ?? 0,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

export interface Column<R> {
  header: string;
  value: (row: R) => string | number | null | undefined;
  align?: 'left' | 'right';
}

export function fmt(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(Math.max(0, digits - 2));
  if (Math.abs(n) >= 10) return n.toFixed(Math.max(0, digits - 1));
  return n.toFixed(digits);
}

export function printTable<R>(title: string, columns: Column<R>[], rows: R[]): void {
  const cells = rows.map((r) => columns.map((c) => String(c.value(r) ?? '–')));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals.map((v, i) => ((columns[i]!.align ?? 'right') === 'left' ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(columns.map((c) => c.header)));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

/** What the figures were taken on; stored with every result file. */
export async function machineInfo(baseUrl: string): Promise<Record<string, unknown>> {
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  let version: string;
  let settings: { name: string; setting: string }[];
  try {
    version = (await c.query<{ version: string }>('SELECT version()')).rows[0]!.version;
    settings = (
      await c.query<{ name: string; setting: string }>(
        `SELECT name, current_setting(name) AS setting FROM pg_settings
         WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'synchronous_commit', 'fsync', 'max_connections', 'jit', 'autovacuum')
         ORDER BY name`,
      )
    ).rows;
  } finally {
    await c.end();
  }
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    postgres: version,
    postgresSettings: Object.fromEntries(settings.map((s) => [s.name, s.setting])),
  };
}

/**
 * Keydesk on a throwaway database, listening on loopback, trusting X-Forwarded-For so each simulated
 * person can come from their own address (the sign-in endpoints limit requests per address, which
 * one loopback address would exhaust in seconds; the limiter still runs on every request).
 */
export async function startBenchApp(db: Db, url: string): Promise<{ app: FastifyInstance; config: Config }> {
  const config = loadConfig({ PORT: '0', DATABASE_URL: url, KEYDESK_SECRET: randomBytes(24).toString('base64url'), KEYDESK_DATA_DIR: '/tmp/keydesk-bench-unused', LOG_LEVEL: 'warn' });
  const trustProxyBefore = process.env.KEYDESK_TRUST_PROXY;
  process.env.KEYDESK_TRUST_PROXY = 'true';
  let app: FastifyInstance;
  try {
    app = await buildApp({ config, db, logger: false });
  } finally {
    if (trustProxyBefore === undefined) delete process.env.KEYDESK_TRUST_PROXY;
    else process.env.KEYDESK_TRUST_PROXY = trustProxyBefore;
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  config.publicUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, config };
}
