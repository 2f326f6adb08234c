/**
 * SCIM benchmark: an Entra-shaped first provisioning cycle sent over HTTP by 8 concurrent clients to
 * Keydesk on PostgreSQL, then a steady-state sample (user PATCH, member remove). Requests per second,
 * p50, p95 and p99 latency per request type, total time, and ratios to the raw single-row INSERT
 * measured in the same run. At the end the database must hold exactly what was sent.
 *
 * The documented cycle is 100,000 users and 2,000 groups with about 300,000 memberships
 * (BENCH_SCIM_USERS=100000 BENCH_SCIM_GROUPS=2000, 8–13 minutes on 2 cores). By default the
 * suite runs a fifth of it, 20,000 users and 400 groups, so that `npm run bench` stays short.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Ctx, Tenant } from '../src/context.js';
import type { Db, Queryable } from '../src/db/db.js';
import { flushRateLimits, hit } from '../src/http/rate-limit.js';
import { addRoleRule, type RuleRole } from '../src/identity/provisioning/role-rules.js';
import { flushActivity, recordActivity } from '../src/scim/activity.js';
import { createCredential } from '../src/scim/credentials.js';
import { createTenant } from '../src/tenancy/tenants.js';
import {
  costRatio,
  envInt,
  explain,
  fmt,
  measure,
  measureBaselines,
  p50Ratio,
  printTable,
  round,
  scaled,
  summarize,
  withThrowawayDatabase,
  type CapturedQuery,
  type ExplainSummary,
  type Measurement,
  type Suite,
} from './lib.js';
// mulberry32: a small seeded PRNG, so every run provisions the same directory.
import { mulberry32 as prng } from '../test/helpers/prng.js';

/** Keydesk's default pool size (openPostgres). */
const POOL_SIZE = 10;
/** A fifth of the documented 100,000 / 2,000 cycle (8–13 minutes on 2 cores), so that `npm run bench` stays short. */
const DEFAULT_USERS = 20_000;
const DEFAULT_GROUPS = 400;

export const scimSuite: Suite = {
  name: 'scim',
  description: 'SCIM: Entra-shaped first cycle (20k users/400 groups; 100k/2k with BENCH_SCIM_USERS/_GROUPS) over HTTP, 8 clients, vs raw INSERT; steady-state PATCHes',
  run: ({ baseUrl, scale }) => withThrowawayDatabase(baseUrl, POOL_SIZE, (bdb) => runScim(bdb.db, bdb.url, scale)),
};

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** The second schema URI Entra puts on a group it creates (Microsoft Learn, "Create Group"). */
const ADSCIM_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

// ---------------------------------------------------------------------------------------------
// The directory: people, groups, memberships (deterministic for a given size)
// ---------------------------------------------------------------------------------------------

const FIRST = ['Megan', 'Adele', 'Alex', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Lee', 'Lidia', 'Lynne', 'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Irvin', 'Joni', 'Christie', 'Allan', 'Debra'];
const LAST = ['Bowen', 'Vance', 'Wilber', 'Siciliani', 'Archie', 'Mueller', 'Langer', 'Lorenz', 'Gu', 'Holloway', 'Robbins', 'Graham', 'Wilke', 'Fernandez', 'Gupta', 'Sayavong', 'Sherman', 'Cline', 'Deyoung', 'Berger'];
const DEPARTMENTS = ['Finance', 'Sales', 'Marketing', 'Engineering', 'Operations', 'Legal', 'Human Resources', 'IT', 'Procurement', 'Customer Service', 'Research', 'Facilities'];
const TITLES = ['Accountant', 'Account Manager', 'Marketing Specialist', 'Software Engineer', 'Operations Analyst', 'Paralegal', 'HR Generalist', 'Systems Administrator', 'Buyer', 'Support Agent', 'Scientist', 'Facilities Coordinator'];
const REGIONS = ['EMEA', 'AMER', 'APAC'];
const GROUP_KINDS = ['Team', 'Project', 'Access', 'Site', 'Distribution'];

interface Person {
  upn: string;
  mailNickname: string;
  givenName: string;
  familyName: string;
  department: string;
  title: string;
  employeeNumber: string;
  costCenter: string;
}

function person(i: number): Person {
  const givenName = FIRST[i % FIRST.length]!;
  const familyName = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
  const mailNickname = `${givenName}.${familyName}${i}`.toLowerCase();
  const d = (i * 7) % DEPARTMENTS.length;
  return {
    upn: `${mailNickname}@contoso.example`,
    mailNickname,
    givenName,
    familyName,
    department: DEPARTMENTS[d]!,
    title: TITLES[d]!,
    employeeNumber: String(100_000 + i),
    costCenter: `CC-${1000 + (i % 250)}`,
  };
}

/** POST /Users as Entra sends it with the default attribute mappings of a non-gallery app. */
function userBody(p: Person): string {
  return JSON.stringify({
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: p.mailNickname,
    userName: p.upn,
    active: true,
    displayName: `${p.givenName} ${p.familyName}`,
    emails: [{ primary: true, type: 'work', value: p.upn }],
    meta: { resourceType: 'User' },
    name: { formatted: `${p.givenName} ${p.familyName}`, familyName: p.familyName, givenName: p.givenName },
    title: p.title,
    [ENTERPRISE]: { department: p.department, employeeNumber: p.employeeNumber, costCenter: p.costCenter },
  });
}

/** Entra's query encoding: spaces as '+', quotes as %22 (see test/fixtures/scim/entra-sequence.json). */
const eqFilter = (attr: string, value: string) => `filter=${attr}+eq+%22${encodeURIComponent(value).replace(/%20/g, '+')}%22`;

interface RuleSpec {
  /** Rank of the group by size, as a fraction of the number of groups. */
  rankShare: number;
  role: RuleRole;
  name: string;
}

/** Five groups that group → role rules name; by their size rank they hold about 1.5% of all memberships. */
const RULES: RuleSpec[] = [
  { rankShare: 0.005, role: 'agent', name: 'Keydesk Agents - Service Desk' },
  { rankShare: 0.015, role: 'agent', name: 'Keydesk Agents - Field Services' },
  { rankShare: 0.05, role: 'agent', name: 'Keydesk Agents - Applications' },
  { rankShare: 0.1, role: 'change_manager', name: 'Change Advisory Board' },
  { rankShare: 0.5, role: 'admin', name: 'Keydesk Administrators' },
];

interface Group {
  name: string;
  externalId: string;
  rule: RuleSpec | null;
  /** Users (indices), in the order they were assigned. */
  members: number[];
}

/**
 * Memberships: every user is in 1 to 5 groups (3 on average), drawn without repetition from a
 * Zipf-like popularity (weight 1/rank), so a few groups are large (the largest holds about a third
 * of everyone, like an all-staff group) and most are small (a few dozen at 2,000 groups).
 */
function directory(users: number, groups: number): Group[] {
  const rand = prng(20_240_601);
  const ruleAt = new Map<number, RuleSpec>();
  for (const r of RULES) {
    let rank = Math.min(groups - 1, Math.floor(r.rankShare * groups));
    while (ruleAt.has(rank)) rank++;
    ruleAt.set(rank, r);
  }
  const out: Group[] = Array.from({ length: groups }, (_, g) => {
    const rule = ruleAt.get(g) ?? null;
    const name = rule?.name ?? `${DEPARTMENTS[g % DEPARTMENTS.length]} ${GROUP_KINDS[g % GROUP_KINDS.length]} ${REGIONS[g % REGIONS.length]} ${String(g).padStart(4, '0')}`;
    return { name, externalId: randomUUID(), rule, members: [] };
  });
  const cumulative: number[] = [];
  let sum = 0;
  for (let g = 0; g < groups; g++) cumulative.push((sum += 1 / (g + 1)));
  const pick = () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = groups - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (let u = 0; u < users; u++) {
    const k = Math.min(groups, 1 + Math.floor(rand() * 5));
    const mine = new Set<number>();
    while (mine.size < k) mine.add(pick());
    for (const g of mine) out[g]!.members.push(u);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP client: keep-alive sockets to the in-process server, as Entra's provisioning service holds them
// ---------------------------------------------------------------------------------------------

interface Response {
  status: number;
  body: string;
}

class ScimHttp {
  readonly agent: http.Agent;
  /** SCIM requests sent (each lands in the activity log); `raw` calls are not counted. */
  requests = 0;

  constructor(
    private readonly port: number,
    private readonly base: string,
    private readonly token: string,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** `path` is relative to the Tenant URL; `raw` sends it from the server root without a token. */
  send(method: string, path: string, body?: string, raw = false): Promise<Response> {
    if (!raw) this.requests++;
    const headers: http.OutgoingHttpHeaders = raw ? {} : { authorization: `Bearer ${this.token}`, accept: 'application/scim+json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/scim+json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: raw ? path : `${this.base}/${path}`, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Sends and insists on `status`; anything else fails the run with what the server said. */
  async expect(status: number, method: string, path: string, body?: string): Promise<Response> {
    const res = await this.send(method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path} answered ${res.status} instead of ${status}: ${res.body.slice(0, 400)}`);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Statement accounting: what each request sends to PostgreSQL, and how long those statements take
// ---------------------------------------------------------------------------------------------

const CATEGORIES = ['tenant lookup', 'rate-limit UPSERT', 'bearer check', 'activity INSERT', 'operation, autocommitted', 'operation, in transaction'] as const;
type Category = (typeof CATEGORIES)[number];

interface Tally {
  count: Record<Category, number>;
  ms: Record<Category, number>;
  transactions: number;
  transactionMs: number;
  /** Autocommitted statements that write (each is a commit with a WAL flush). */
  autocommitWrites: number;
}

function emptyTally(): Tally {
  const zero = () => Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  return { count: zero(), ms: zero(), transactions: 0, transactionMs: 0, autocommitWrites: 0 };
}

function minus(a: Tally, b: Tally): Tally {
  const t = emptyTally();
  for (const c of CATEGORIES) {
    t.count[c] = a.count[c] - b.count[c];
    t.ms[c] = a.ms[c] - b.ms[c];
  }
  t.transactions = a.transactions - b.transactions;
  t.transactionMs = a.transactionMs - b.transactionMs;
  t.autocommitWrites = a.autocommitWrites - b.autocommitWrites;
  return t;
}

function categorise(sql: string, inTx: boolean): Category {
  if (inTx) return 'operation, in transaction';
  if (/FROM tenants WHERE slug/.test(sql)) return 'tenant lookup';
  if (/rate_limit_counters/.test(sql)) return 'rate-limit UPSERT';
  if (/scim_credentials|scim_access_tokens/.test(sql)) return 'bearer check';
  if (/INSERT INTO scim_activity/.test(sql)) return 'activity INSERT';
  return 'operation, autocommitted';
}

/**
 * The Db Keydesk is built on in this suite: counts and times every statement by category (a
 * statement's time includes waiting for a pooled connection), and can capture the SQL.
 */
function accountingDb(db: Db): { db: Db; tally: Tally; capture: CapturedQuery[] | null; setCapture(on: boolean): void } {
  const tally = emptyTally();
  const state = { capture: null as CapturedQuery[] | null };
  const timed = async <T>(sql: string, params: readonly unknown[], inTx: boolean, run: () => Promise<T[]>): Promise<T[]> => {
    const c = categorise(sql, inTx);
    if (!inTx && /^\s*(INSERT|UPDATE|DELETE)\b/i.test(sql)) tally.autocommitWrites++;
    state.capture?.push({ sql, params: [...params] });
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      tally.count[c]++;
      tally.ms[c] += performance.now() - t0;
    }
  };
  const wrapped: Db = {
    kind: db.kind,
    query: <T>(sql: string, params: readonly unknown[] = []) => timed<T>(sql, params, false, () => db.query<T>(sql, params)),
    transaction: async (fn) => {
      const t0 = performance.now();
      try {
        return await db.transaction((tx) =>
          fn({ query: <T>(sql: string, params: readonly unknown[] = []) => timed<T>(sql, params, true, () => tx.query<T>(sql, params)) } satisfies Queryable),
        );
      } finally {
        tally.transactions++;
        tally.transactionMs += performance.now() - t0;
      }
    },
    close: () => db.close(),
  };
  return {
    db: wrapped,
    tally,
    get capture() {
      return state.capture;
    },
    setCapture(on: boolean) {
      state.capture = on ? [] : null;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU: this Node process (server and client together) and, when the server is local, PostgreSQL
// ---------------------------------------------------------------------------------------------

/** CPU ms of one process (Linux /proc, CLK_TCK 100), if it is a PostgreSQL process on this machine. */
function postgresProcessCpuMs(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = stat.lastIndexOf(')');
  if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') return null;
  const fields = stat.slice(close + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU ms used by the backends connected to this suite's throwaway database (the pool, and any
 * backend that ANALYZE or autovacuum runs in it), polled four times a second so that a pooled
 * connection closed in between (pg closes one idle for 10 s) loses at most a quarter second of its
 * CPU. Null when the server is not on this machine. Other databases' backends (other work on a
 * shared server) and the shared WAL writer and checkpointer are not counted.
 */
class PgCpuTracker {
  private last = new Map<number, number>();
  private total = 0;
  private started = false;
  private available = true;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db) {}

  private poll(): Promise<void> {
    this.chain = this.chain
      .then(async () => {
        const rows = await this.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
        const seen = new Map<number, number>();
        for (const { pid } of rows) {
          const ms = postgresProcessCpuMs(pid);
          if (ms !== null) seen.set(pid, ms);
        }
        if (!seen.size) {
          this.available = false;
          return;
        }
        for (const [pid, ms] of seen) {
          const before = this.last.get(pid);
          // A backend first seen after the start was born since the last poll: all its CPU is new.
          if (before !== undefined) this.total += ms - before;
          else if (this.started) this.total += ms;
        }
        this.last = seen;
        this.started = true;
      })
      .catch(() => undefined);
    return this.chain;
  }

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** CPU ms of this database's backends since start, or null when they cannot be read. */
  async read(): Promise<number | null> {
    await this.poll();
    return this.available ? this.total : null;
  }
}

interface CpuMark {
  node: NodeJS.CpuUsage;
  pg: number | null;
  at: number;
}

async function cpuMark(t: PgCpuTracker): Promise<CpuMark> {
  return { pg: await t.read(), node: process.cpuUsage(), at: performance.now() };
}

interface CpuUse {
  nodeMsPerOp: number;
  pgMsPerOp: number | null;
  /** Node + PostgreSQL backends as a share of all the machine's cores. */
  machineShare: number | null;
}

/** CPU ms per operation since `m`: Node (server + client) and this database's PostgreSQL backends. */
async function cpuSince(t: PgCpuTracker, m: CpuMark, operations: number): Promise<CpuUse> {
  const node = process.cpuUsage(m.node);
  const wall = performance.now() - m.at;
  const nodeMs = (node.user + node.system) / 1000;
  const now = await t.read();
  const pgMs = m.pg !== null && now !== null ? now - m.pg : null;
  return {
    nodeMsPerOp: round(nodeMs / operations, 2),
    pgMsPerOp: pgMs === null ? null : round(pgMs / operations, 2),
    machineShare: pgMs === null ? null : round((nodeMs + pgMs) / wall / os.cpus().length, 2),
  };
}

// ---------------------------------------------------------------------------------------------
// What this database's backends are doing: sampled from pg_stat_activity twice a second
// ---------------------------------------------------------------------------------------------

class WaitSampler {
  private readonly counts = new Map<string, number>();
  private readonly lockPairs = new Map<string, number>();
  private samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private mx0 = 0;

  constructor(private readonly db: Db) {}

  async start(): Promise<void> {
    this.mx0 = await multixactAge(this.db);
    this.timer = setInterval(() => {
      void this.db
        .query<{ what: string; n: number }>(
          `SELECT CASE WHEN state = 'idle' THEN 'idle (between requests)'
                       WHEN state LIKE 'idle in transaction%' THEN 'in a transaction, waiting for Node'
                       WHEN wait_event IS NULL THEN 'running (CPU)'
                       ELSE wait_event_type || ': ' || wait_event END AS what, count(*)::int AS n
           FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
           GROUP BY 1`,
        )
        .then((rows) => {
          this.samples++;
          for (const r of rows) this.counts.set(r.what, (this.counts.get(r.what) ?? 0) + r.n);
          if (!rows.some((r) => r.what.startsWith('Lock:'))) return;
          // Who waits for whom: the waiting statement, and what the first blocking backend is running now.
          return this.db
            .query<{ pair: string; n: number }>(
              `SELECT left(regexp_replace(a.query, '\\s+', ' ', 'g'), 50) || '  ←  ' ||
                      coalesce((SELECT left(regexp_replace(b.query, '\\s+', ' ', 'g'), 50) || CASE WHEN b.state LIKE 'idle in transaction%' THEN ' (then idle in transaction)' ELSE '' END
                                FROM pg_stat_activity b WHERE b.pid = (pg_blocking_pids(a.pid))[1]), '?') AS pair, count(*)::int AS n
               FROM pg_stat_activity a WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' GROUP BY 1`,
            )
            .then((pairs) => {
              for (const p of pairs) this.lockPairs.set(p.pair, (this.lockPairs.get(p.pair) ?? 0) + p.n);
            });
        })
        .catch(() => undefined);
    }, 500);
    this.timer.unref();
  }

  /** Average number of this database's backends in each state, and MultiXacts created meanwhile (cluster-wide). */
  async stop(): Promise<{ states: { what: string; backends: number }[]; lockWaits: { pair: string; backends: number }[]; multixacts: number }> {
    if (this.timer) clearInterval(this.timer);
    const multixacts = (await multixactAge(this.db)) - this.mx0;
    const states = [...this.counts.entries()]
      .map(([what, n]) => ({ what, backends: round(n / Math.max(1, this.samples), 2) }))
      .sort((a, b) => b.backends - a.backends);
    const lockWaits = [...this.lockPairs.entries()]
      .map(([pair, n]) => ({ pair, backends: round(n / Math.max(1, this.samples), 2) }))
      .sort((a, b) => b.backends - a.backends)
      .slice(0, 5);
    return { states, lockWaits, multixacts };
  }
}

/** Rows read so far per table (index fetches plus sequential reads), from pg_stat_user_tables. */
async function relationReads(db: Db): Promise<Map<string, number>> {
  const rows = await db.query<{ rel: string; n: number }>(`SELECT relname AS rel, (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::float8 AS n FROM pg_stat_user_tables`);
  return new Map(rows.map((r) => [r.rel, Number(r.n)]));
}

/** MultiXact IDs handed out so far (the counter is cluster-wide: other databases' work on the server counts too). */
async function multixactAge(db: Db): Promise<number> {
  const [r] = await db.query<{ age: number }>('SELECT mxid_age(datminmxid) AS age FROM pg_database WHERE datname = current_database()');
  return r!.age;
}

// ---------------------------------------------------------------------------------------------
// Phases: a shared queue, N workers, latencies by request type
// ---------------------------------------------------------------------------------------------

class Latencies {
  readonly samples = new Map<string, number[]>();

  async time<T>(type: string, call: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const r = await call();
    const ms = performance.now() - t0;
    let list = this.samples.get(type);
    if (!list) this.samples.set(type, (list = []));
    list.push(ms);
    return r;
  }
}

interface PhaseResult {
  name: string;
  /** What the phase provisions (users, groups, memberships). */
  items: number;
  itemLabel: string;
  requests: number;
  wallMs: number;
  requestsPerSec: number;
  itemsPerSec: number;
  /** CPU time of this Node process (server and client together) per request. */
  cpuMsPerRequest: number;
  /** CPU time of PostgreSQL (all its processes, when local) per request. */
  pgCpuMsPerRequest: number | null;
  /** Node + PostgreSQL CPU as a share of all the machine's cores (1 = every core busy with them). */
  machineShare: number | null;
  /** Share of the phase the main thread's event loop was busy (1 = saturated). */
  eventLoopUtilisation: number;
  /** Statements and their mean time per request, by category (all requests of the phase). */
  perRequest: { category: Category; statements: number; meanMs: number }[];
  transactionsPerRequest: number;
  meanTransactionMs: number;
  loadAverage: number[];
  /** Average number of this database's backends per state (pg_stat_activity, sampled every 500 ms). */
  backendStates: { what: string; backends: number }[];
  /** The most frequent lock waits: waiting statement ← what the blocking backend was running. */
  lockWaits: { pair: string; backends: number }[];
  /** MultiXact IDs created per request (cluster-wide counter). */
  multixactsPerRequest: number;
  /** The ANALYZE runs that stood in for autoanalyze (autovacuum off), and their time. */
  analyzes: { runs: number; totalMs: number };
  /** Every 20 s: requests/s in the interval, 1-minute load average, other databases' busy backends, autovacuum workers. */
  timeline: TimelinePoint[];
}

interface TimelinePoint {
  seconds: number;
  requestsPerSec: number;
  nodeCpuMsPerRequest: number;
  pgCpuMsPerRequest: number | null;
  /** The table with the most rows read (index fetches + sequential) per request in the interval, and how many. */
  heaviestReads: string;
  load1: number;
  otherActiveBackends: number;
  autovacuumWorkers: number;
}

async function runPhase<T>(
  name: string,
  items: T[],
  opts: { concurrency: number; itemLabel: string; itemCount?: number; client: ScimHttp; acct: { tally: Tally }; db: Db; cpu: PgCpuTracker; analyzeEverySec: number },
  work: (item: T, k: number) => Promise<void>,
): Promise<PhaseResult> {
  const requests0 = opts.client.requests;
  const tally0 = structuredClone(opts.acct.tally);
  const sampler = new WaitSampler(opts.db);
  await sampler.start();
  const cpu0 = await cpuMark(opts.cpu);
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let next = 0;
  let failed: unknown = null;
  // Every 20 s: this interval's rate and CPU per request, the machine's load, and who else is busy on the PostgreSQL server.
  const timeline: TimelinePoint[] = [];
  let lastTick = { requests: requests0, cpu: await cpuMark(opts.cpu), reads: await relationReads(opts.db) };
  const progress = setInterval(() => {
    const requests = opts.client.requests;
    const prev = lastTick;
    void (async () => {
      const cpu = await cpuSince(opts.cpu, prev.cpu, Math.max(1, requests - prev.requests));
      const mark = await cpuMark(opts.cpu);
      const reads = await relationReads(opts.db);
      const perRequest = (rel: string) => round(((reads.get(rel) ?? 0) - (prev.reads.get(rel) ?? 0)) / Math.max(1, requests - prev.requests), 1);
      const heaviest = [...reads.keys()].map((rel) => ({ rel, n: perRequest(rel) })).sort((a, b) => b.n - a.n)[0];
      const [r] = await opts.db.query<{ others: number; autovacuum: number }>(
        `SELECT count(*) FILTER (WHERE datname IS DISTINCT FROM current_database() AND state = 'active' AND backend_type = 'client backend')::int AS others,
                count(*) FILTER (WHERE backend_type = 'autovacuum worker')::int AS autovacuum
         FROM pg_stat_activity`,
      );
      const rate = ((requests - prev.requests) / (mark.at - prev.cpu.at)) * 1000;
      lastTick = { requests, cpu: mark, reads };
      const point: TimelinePoint = {
        seconds: round((mark.at - t0) / 1000, 0),
        requestsPerSec: round(rate, 0),
        nodeCpuMsPerRequest: cpu.nodeMsPerOp,
        pgCpuMsPerRequest: cpu.pgMsPerOp,
        heaviestReads: heaviest ? `${heaviest.rel} ${heaviest.n}` : '',
        load1: round(os.loadavg()[0]!, 2),
        otherActiveBackends: r!.others,
        autovacuumWorkers: r!.autovacuum,
      };
      timeline.push(point);
      console.log(
        `      … ${name}: ${next.toLocaleString('en-US')} / ${items.length.toLocaleString('en-US')} after ${point.seconds} s; last 20 s: ${point.requestsPerSec} requests/s, ` +
          `CPU ms/request Node ${point.nodeCpuMsPerRequest} PostgreSQL ${point.pgCpuMsPerRequest}; most rows read per request: ${point.heaviestReads}; load ${point.load1}, ` +
          `${point.otherActiveBackends} busy backend(s) of other databases, ${point.autovacuumWorkers} autovacuum worker(s)`,
      );
    })().catch(() => undefined);
  }, 20_000);
  progress.unref();
  // Where the server runs without autovacuum (this CI machine's conf.d sets autovacuum = off), stand in
  // for autoanalyze: without statistics the planner reads every user of the tenant to load one (see PERFORMANCE.md).
  const analyzes = { runs: 0, ms: 0, busy: false };
  const analyzer =
    opts.analyzeEverySec > 0
      ? setInterval(() => {
          if (analyzes.busy) return;
          analyzes.busy = true;
          const a0 = performance.now();
          void opts.db
            .query('ANALYZE')
            .then(() => {
              analyzes.runs++;
              analyzes.ms += performance.now() - a0;
            })
            .catch(() => undefined)
            .finally(() => (analyzes.busy = false));
        }, opts.analyzeEverySec * 1000)
      : null;
  analyzer?.unref();
  const worker = async () => {
    while (failed === null && next < items.length) {
      const k = next++;
      try {
        await work(items[k]!, k);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    clearInterval(progress);
    if (analyzer) clearInterval(analyzer);
  }
  if (failed !== null) throw failed;
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  const requests = opts.client.requests - requests0;
  const cpu = await cpuSince(opts.cpu, cpu0, requests);
  const waits = await sampler.stop();
  const t = minus(opts.acct.tally, tally0);
  const count = opts.itemCount ?? items.length;
  return {
    name,
    items: count,
    itemLabel: opts.itemLabel,
    requests,
    wallMs: round(wallMs, 0),
    requestsPerSec: round((requests / wallMs) * 1000, 1),
    itemsPerSec: round((count / wallMs) * 1000, 1),
    cpuMsPerRequest: cpu.nodeMsPerOp,
    pgCpuMsPerRequest: cpu.pgMsPerOp,
    machineShare: cpu.machineShare,
    eventLoopUtilisation: round(elu.utilization, 3),
    perRequest: CATEGORIES.map((c) => ({ category: c, statements: round(t.count[c] / requests, 2), meanMs: t.count[c] ? round(t.ms[c] / t.count[c], 3) : 0 })),
    transactionsPerRequest: round(t.transactions / requests, 2),
    meanTransactionMs: t.transactions ? round(t.transactionMs / t.transactions, 2) : 0,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    backendStates: waits.states,
    lockWaits: waits.lockWaits,
    multixactsPerRequest: round(waits.multixacts / requests, 2),
    analyzes: { runs: analyzes.runs, totalMs: round(analyzes.ms, 0) },
    timeline,
  };
}

interface ProbeResult {
  request: string;
  latencyMs: number;
  counts: Record<Category, number>;
  transactions: number;
  /** Round trips: every statement, plus BEGIN and COMMIT of each transaction. */
  roundTrips: number;
  /** Commits that write WAL: autocommitted INSERT/UPDATE/DELETE plus the transactions. */
  commits: number;
}

/**
 * One request with nothing else in flight, counting the statements it sends. What earlier requests
 * left in Keydesk's batches (rate-limit hits, activity lines of reads) is written first and not
 * counted; this request's own batched lines are not counted either (one batch statement serves many
 * requests): a write's activity line is in its transaction and is counted.
 */
async function probe(acct: ReturnType<typeof accountingDb>, label: string, call: () => Promise<unknown>, capture = false): Promise<{ result: ProbeResult; captured: CapturedQuery[] }> {
  await flushRateLimits(acct.db);
  await flushActivity(acct.db);
  await settle(acct.tally);
  const before = structuredClone(acct.tally);
  if (capture) acct.setCapture(true);
  const t0 = performance.now();
  await call();
  const latencyMs = performance.now() - t0;
  await settle(acct.tally);
  const captured = acct.capture ?? [];
  acct.setCapture(false);
  const d = minus(acct.tally, before);
  const statements = CATEGORIES.reduce((n, c) => n + d.count[c], 0);
  return {
    result: { request: label, latencyMs: round(latencyMs, 2), counts: d.count, transactions: d.transactions, roundTrips: statements + 2 * d.transactions, commits: d.autocommitWrites + d.transactions },
    captured,
  };
}

/** Waits until no statement has been counted for 50 ms, so nothing of an earlier request is counted for the next. */
async function settle(t: Tally): Promise<void> {
  let last = -1;
  for (;;) {
    const now = CATEGORIES.reduce((n, c) => n + t.count[c], 0);
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

interface Model {
  userIds: string[];
  groupIds: string[];
  groups: Group[];
  /** Memberships still in place (group index → user indices), after removals. */
  current: Set<number>[];
  removed: number;
  added: number;
}

async function runScim(rawDb: Db, url: string, scale: number): Promise<Record<string, unknown>> {
  const started = performance.now();
  const step = (msg: string) => console.log(`  [${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
  const concurrency = envInt('BENCH_SCIM_CONCURRENCY', 8);
  const batch = Math.max(1, envInt('BENCH_SCIM_BATCH', 50));
  const nUsers = Math.max(50, Math.round(envInt('BENCH_SCIM_USERS', DEFAULT_USERS) * scale));
  const nGroups = Math.max(10, Math.round(envInt('BENCH_SCIM_GROUPS', DEFAULT_GROUPS) * scale));
  const loadAtStart = os.loadavg().map((l) => round(l, 2));

  step(`directory: ${nUsers.toLocaleString('en-US')} users, ${nGroups.toLocaleString('en-US')} groups, 1–5 groups per user (Zipf-like group sizes), ${batch} members per PATCH`);
  const groups = directory(nUsers, nGroups);
  const memberships = groups.reduce((n, g) => n + g.members.length, 0);
  const sizes = groups.map((g) => g.members.length).sort((a, b) => b - a);

  // Production PostgreSQL runs autovacuum, which re-analyzes a table once a tenth of it changed; a server
  // without it (this CI machine) leaves the users table without statistics for the whole cycle.
  const [{ off: autovacuumOff }] = (await rawDb.query<{ off: boolean }>(`SELECT current_setting('autovacuum') = 'off' AS off`)) as [{ off: boolean }];
  const analyzeEverySec = autovacuumOff ? envInt('BENCH_SCIM_ANALYZE_SECONDS', 30) : 0;
  if (autovacuumOff) {
    step(analyzeEverySec ? `autovacuum is off on this server: ANALYZE runs every ${analyzeEverySec} s during the cycle in its stead` : 'autovacuum is off on this server, and BENCH_SCIM_ANALYZE_SECONDS=0: no statistics during the cycle');
  }

  step('tenant, SCIM token, Keydesk listening on 127.0.0.1 (rate limit raised out of the way)');
  const created = await createTenant(rawDb, { slug: 'bench', name: 'Bench Company', adminEmail: 'admin@bench.example', adminPassword: 'bench-admin-password-0123' });
  const tenant: Tenant = created.tenant;
  const system: Ctx = { db: rawDb, tenant, actor: null, actorLabel: 'bench' };
  const { secret } = await createCredential(system, { kind: 'token', name: 'Entra provisioning' });
  const acct = accountingDb(rawDb);
  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: url,
    KEYDESK_SECRET: randomBytes(24).toString('base64url'),
    KEYDESK_DATA_DIR: '/tmp/keydesk-bench-unused',
    LOG_LEVEL: 'warn',
    // The default (12,000 a minute per tenant) would throttle this run; the counter's UPSERT still runs on every request.
    KEYDESK_SCIM_REQUESTS_PER_MINUTE: '10000000',
  });
  const app: FastifyInstance = await buildApp({ config, db: acct.db, logger: false });
  const pgCpu = new PgCpuTracker(rawDb);
  await pgCpu.start();
  let client: ScimHttp | null = null;
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    config.publicUrl = `http://127.0.0.1:${port}`;
    client = new ScimHttp(port, `/t/${tenant.slug}/scim/v2`, secret, concurrency);
    const c = client;
    const lat = new Latencies();

    // 1. Floors, measured before the cycle on the same pool and server.
    step(`baselines: raw INSERT (1 and ${concurrency} callers), PK SELECT, the per-request bookkeeping alone, HTTP floors`);
    const baselines = await measureBaselines(rawDb, { inserts: scaled(2000), selects: scaled(1000), tenantId: tenant.id });
    const insertConcurrent = await measure(
      `baseline: INSERT one row, ${concurrency} callers`,
      (i) => rawDb.query('INSERT INTO bench_baseline (tenant_id, title) VALUES ($1, $2)', [tenant.id, `Concurrent row ${i}`]),
      { iterations: scaled(4000), concurrency },
    );
    // The same INSERT into a table whose tenant_id references the tenant row, as every Keydesk table's does:
    // each one takes FOR KEY SHARE on that one row, and concurrent holders share it through a MultiXact.
    await rawDb.query('CREATE TABLE bench_fk (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants (id), title text)');
    const mxFk0 = await multixactAge(rawDb);
    const insertFk = await measure(
      `INSERT one row with a foreign key to the tenant row, ${concurrency} callers`,
      (i) => rawDb.query('INSERT INTO bench_fk (tenant_id, title) VALUES ($1, $2)', [tenant.id, `FK row ${i}`]),
      { iterations: scaled(4000), warmup: 50, concurrency },
    );
    const fkMultixactsPerInsert = round(((await multixactAge(rawDb)) - mxFk0) / (insertFk.iterations + 50), 2);
    const rateLimitHot = await measure(
      `rate-limit hit (counted in memory, batched), one bucket, ${concurrency} callers`,
      () => hit(rawDb, { bucket: 'bench:one-bucket', max: 1e9, windowSeconds: 60 }),
      { iterations: scaled(4000), concurrency },
    );
    const rateLimitSpread = await measure(
      `rate-limit hit (counted in memory, batched), a bucket per caller, ${concurrency} callers`,
      (i) => hit(rawDb, { bucket: `bench:bucket-${((i % concurrency) + concurrency) % concurrency}`, max: 1e9, windowSeconds: 60 }),
      { iterations: scaled(4000), concurrency },
    );
    const activityInsert = await measure(
      `activity INSERT on its own (recordActivity), ${concurrency} callers`,
      () =>
        recordActivity(rawDb, tenant.id, {
          credentialName: 'bench',
          method: 'GET',
          path: '/t/bench/scim/v2/Users?filter=userName+eq+%22x%22',
          operation: 'List Users',
          resourceType: 'User',
          resourceId: null,
          status: 200,
          durationMs: 1.5,
          error: null,
        }),
      { iterations: scaled(4000), concurrency },
    );
    await rawDb.query('DELETE FROM scim_activity WHERE tenant_id = $1', [tenant.id]);
    const cpuHealthz0 = await cpuMark(pgCpu);
    const healthz = await measure(
      `GET /healthz, ${concurrency} clients`,
      async () => {
        const r = await c.send('GET', '/healthz', undefined, true);
        if (r.status !== 200) throw new Error(`/healthz answered ${r.status}`);
      },
      { iterations: scaled(4000), warmup: 50, concurrency },
    );
    const healthzCpu = await cpuSince(pgCpu, cpuHealthz0, healthz.iterations + 50);
    const cpuSpc0 = await cpuMark(pgCpu);
    const spc = await measure(
      `GET /ServiceProviderConfig (SCIM floor), ${concurrency} clients`,
      () => c.expect(200, 'GET', 'ServiceProviderConfig'),
      { iterations: scaled(4000), warmup: 50, concurrency },
    );
    const spcCpu = await cpuSince(pgCpu, cpuSpc0, spc.iterations + 50);

    // 2. The first cycle.
    const model: Model = { userIds: new Array<string>(nUsers), groupIds: new Array<string>(nGroups), groups, current: groups.map(() => new Set<number>()), removed: 0, added: 0 };
    const probes: ProbeResult[] = [];
    const explains: { what: string; summary: ExplainSummary; text: string }[] = [];
    const people = (u: number) => person(u);

    const lookupUser = (p: Person) =>
      lat.time('GET /Users?filter=userName eq (not found)', async () => {
        const r = await c.expect(200, 'GET', `Users?${eqFilter('userName', p.upn)}`);
        if ((JSON.parse(r.body) as { totalResults: number }).totalResults !== 0) throw new Error(`${p.upn} already exists`);
      });
    const createUser = (u: number, p: Person) =>
      lat.time('POST /Users', async () => {
        const r = await c.expect(201, 'POST', 'Users', userBody(p));
        model.userIds[u] = (JSON.parse(r.body) as { id: string }).id;
      });
    const provisionUser = async (u: number) => {
      const p = people(u);
      await lookupUser(p);
      await createUser(u, p);
    };

    step(`first cycle, users: ${nUsers.toLocaleString('en-US')} × (GET /Users?filter=userName eq, POST /Users), ${concurrency} clients`);
    const userItems = Array.from({ length: nUsers - 1 }, (_, u) => u);
    const usersPhase = await runPhase('users', userItems, { concurrency, itemLabel: 'users', itemCount: nUsers, client: c, acct, db: rawDb, cpu: pgCpu, analyzeEverySec }, (u) => provisionUser(u));
    // The last user alone, counting its statements and capturing the look-up's SQL for EXPLAIN.
    const last = nUsers - 1;
    const lookupProbe = await probe(acct, 'GET /Users?filter=userName eq (not found)', () => c.expect(200, 'GET', `Users?${eqFilter('userName', people(last).upn)}`), true);
    probes.push(lookupProbe.result);
    probes.push((await probe(acct, 'POST /Users', () => createUser(last, people(last)))).result);

    step(`first cycle, groups: ${nGroups.toLocaleString('en-US')} × (GET /Groups?excludedAttributes=members&filter=displayName eq, POST /Groups)`);
    const groupBody = (g: Group) => JSON.stringify({ schemas: [GROUP_SCHEMA, ADSCIM_GROUP], externalId: g.externalId, displayName: g.name, meta: { resourceType: 'Group' } });
    const lookupGroupPath = (g: Group) => `Groups?excludedAttributes=members&${eqFilter('displayName', g.name)}`;
    const createGroup = (k: number) =>
      lat.time('POST /Groups', async () => {
        const r = await c.expect(201, 'POST', 'Groups', groupBody(groups[k]!));
        model.groupIds[k] = (JSON.parse(r.body) as { id: string }).id;
      });
    const groupItems = Array.from({ length: nGroups - 1 }, (_, k) => k);
    const groupsPhase = await runPhase('groups', groupItems, { concurrency, itemLabel: 'groups', itemCount: nGroups, client: c, acct, db: rawDb, cpu: pgCpu, analyzeEverySec }, async (k) => {
      await lat.time('GET /Groups?filter=displayName eq (not found)', async () => {
        const r = await c.expect(200, 'GET', lookupGroupPath(groups[k]!));
        if ((JSON.parse(r.body) as { totalResults: number }).totalResults !== 0) throw new Error(`${groups[k]!.name} already exists`);
      });
      await createGroup(k);
    });
    const lastGroup = nGroups - 1;
    const groupLookupProbe = await probe(acct, 'GET /Groups?filter=displayName eq (not found)', () => c.expect(200, 'GET', lookupGroupPath(groups[lastGroup]!)), true);
    probes.push(groupLookupProbe.result);
    probes.push((await probe(acct, 'POST /Groups', () => createGroup(lastGroup))).result);

    // EXPLAIN the two look-ups as they ran (the users table now holds every user).
    await rawDb.query('ANALYZE');
    for (const [what, captured] of [
      ['user look-up by userName', lookupProbe.captured],
      ['group look-up by displayName', groupLookupProbe.captured],
    ] as const) {
      const q = captured.find((x) => /count\(\*\)/.test(x.sql));
      if (q) {
        const e = await explain(rawDb, q);
        explains.push({ what, summary: e.summary, text: e.text });
      }
    }

    step(`group → role rules on ${RULES.length} groups (${RULES.map((r) => r.role).join(', ')}), by externalId, before any member arrives`);
    const ruleGroups = groups.map((g, k) => ({ g, k })).filter((x) => x.g.rule);
    console.log(`      ${ruleGroups.map((x) => `"${x.g.name}" → ${x.g.rule!.role}: ${x.g.members.length.toLocaleString('en-US')} members`).join('; ')}`);
    for (const { g } of ruleGroups) await addRoleRule(system, { groupRef: g.externalId, role: g.rule!.role });

    // Memberships: a group's batches go in order, 8 groups at a time, largest groups first.
    const patchType = (g: Group) => (g.rule ? `PATCH /Groups members Add ×≤${batch}, rule group` : `PATCH /Groups members Add ×≤${batch}`);
    const addBody = (userIdxs: number[]) =>
      JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: userIdxs.map((u) => ({ value: model.userIds[u] })) }] });
    const sendBatch = async (k: number, userIdxs: number[]) => {
      const g = groups[k]!;
      await lat.time(patchType(g), () => c.expect(204, 'PATCH', `Groups/${model.groupIds[k]}`, addBody(userIdxs)));
      for (const u of userIdxs) model.current[k]!.add(u);
      model.added += userIdxs.length;
    };
    const batchesOf = (g: Group) => {
      const out: number[][] = [];
      for (let i = 0; i < g.members.length; i += batch) out.push(g.members.slice(i, i + batch));
      return out;
    };
    // Hold back the first batch of the largest plain group and of the largest rule group, to send alone and count.
    const order = groups.map((_, k) => k).sort((a, b) => groups[b]!.members.length - groups[a]!.members.length);
    const plainProbeGroup = order.find((k) => !groups[k]!.rule && groups[k]!.members.length > 0)!;
    const ruleProbeGroup = order.find((k) => groups[k]!.rule && groups[k]!.members.length > 0);
    const heldBack = new Map<number, number[]>();
    const patches = order.reduce((n, k) => n + Math.ceil(groups[k]!.members.length / batch), 0);
    const rulePatches = ruleGroups.reduce((n, x) => n + Math.ceil(x.g.members.length / batch), 0);
    const ruleMemberships = ruleGroups.reduce((n, x) => n + x.g.members.length, 0);
    step(
      `first cycle, memberships: ${memberships.toLocaleString('en-US')} in ${patches.toLocaleString('en-US')} PATCHes ` +
        `(${ruleMemberships.toLocaleString('en-US')} memberships in ${rulePatches} PATCHes of rule groups)`,
    );
    const membersPhase = await runPhase(
      'memberships',
      order,
      { concurrency, itemLabel: 'memberships', itemCount: memberships, client: c, acct, db: rawDb, cpu: pgCpu, analyzeEverySec },
      async (k) => {
        const all = batchesOf(groups[k]!);
        if (k === plainProbeGroup || k === ruleProbeGroup) heldBack.set(k, all.shift()!);
        for (const b of all) await sendBatch(k, b);
      },
    );
    probes.push((await probe(acct, `PATCH /Groups members Add ×${heldBack.get(plainProbeGroup)!.length}`, () => sendBatch(plainProbeGroup, heldBack.get(plainProbeGroup)!))).result);
    if (ruleProbeGroup !== undefined) {
      probes.push(
        (await probe(acct, `PATCH /Groups members Add ×${heldBack.get(ruleProbeGroup)!.length}, rule group`, () => sendBatch(ruleProbeGroup, heldBack.get(ruleProbeGroup)!))).result,
      );
    }
    const cycleMs = usersPhase.wallMs + groupsPhase.wallMs + membersPhase.wallMs;

    step('checking the first cycle against the database');
    const firstCheck = await verify(rawDb, tenant, model, c.requests);

    // 3. Steady state: what an incremental cycle sends for a handful of changes.
    const steadyN = scaled(3000);
    const removeN = scaled(2000);
    const rand = prng(7);
    step(`steady state: ${steadyN} × PATCH /Users (Replace displayName), ${concurrency} clients`);
    const renameBody = (u: number, n: number) => JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: `${people(u).givenName} ${people(u).familyName} (${n})` }] });
    const warm = 20;
    const renameUsers = Array.from({ length: warm + steadyN + 1 }, () => Math.floor(rand() * nUsers));
    const pickIdx = (i: number) => (i < 0 ? -1 - i : warm + i);
    probes.push((await probe(acct, 'PATCH /Users Replace displayName', () => c.expect(200, 'PATCH', `Users/${model.userIds[renameUsers[warm + steadyN]!]}`, renameBody(renameUsers[warm + steadyN]!, 0)))).result);
    const tallyRename0 = structuredClone(acct.tally);
    const renameSampler = new WaitSampler(rawDb);
    await renameSampler.start();
    const cpuRename0 = await cpuMark(pgCpu);
    const rename = await measure(
      `PATCH /Users Replace displayName, ${concurrency} clients`,
      async (i) => {
        const u = renameUsers[pickIdx(i)]!;
        await c.expect(200, 'PATCH', `Users/${model.userIds[u]}`, renameBody(u, i + 100));
      },
      { iterations: steadyN, warmup: warm, concurrency, maxMs: 180_000 },
    );
    const renameTally = minus(acct.tally, tallyRename0);
    const renameCpu = await cpuSince(pgCpu, cpuRename0, rename.iterations + warm);
    const renameWaits = await renameSampler.stop();

    // Member removals: a random group, then a random member of it (so 8 in flight rarely share a group).
    step(`steady state: ${removeN} × PATCH /Groups Remove one member (Entra's old dialect), ${concurrency} clients`);
    const removals: { k: number; u: number }[] = [];
    const taken = new Set<string>();
    while (removals.length < warm + removeN + 1) {
      const k = Math.floor(rand() * nGroups);
      const list = [...model.current[k]!];
      if (!list.length) continue;
      const u = list[Math.floor(rand() * list.length)]!;
      if (taken.has(`${k}:${u}`)) continue;
      taken.add(`${k}:${u}`);
      removals.push({ k, u });
    }
    const removeOne = async (r: { k: number; u: number }) => {
      await c.expect(204, 'PATCH', `Groups/${model.groupIds[r.k]}`, JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: model.userIds[r.u] }] }] }));
      model.current[r.k]!.delete(r.u);
      model.removed++;
    };
    const probeRemoval = removals.pop()!;
    probes.push((await probe(acct, 'PATCH /Groups members Remove ×1', () => removeOne(probeRemoval))).result);
    const tallyRemove0 = structuredClone(acct.tally);
    const removeSampler = new WaitSampler(rawDb);
    await removeSampler.start();
    const cpuRemove0 = await cpuMark(pgCpu);
    const remove = await measure(`PATCH /Groups Remove one member, ${concurrency} clients`, (i) => removeOne(removals[pickIdx(i)]!), {
      iterations: removeN,
      warmup: warm,
      concurrency,
      maxMs: 180_000,
    });
    const removeTally = minus(acct.tally, tallyRemove0);
    const removeCpu = await cpuSince(pgCpu, cpuRemove0, remove.iterations + warm);
    const removeWaits = await removeSampler.stop();
    const removalsInRuleGroups = removals.slice(0, warm + remove.iterations).filter((r) => groups[r.k]!.rule).length + (groups[probeRemoval.k]!.rule ? 1 : 0);

    step('checking the database again, then the INSERT baseline once more');
    const finalCheck = await verify(rawDb, tenant, model, c.requests);
    const insertAfter = await measure('baseline: INSERT one row (autocommit), after the cycle', (i) => rawDb.query('INSERT INTO bench_baseline (tenant_id, title) VALUES ($1, $2)', [tenant.id, `After ${i}`]), {
      iterations: scaled(2000),
    });
    const insertConcurrentAfter = await measure(
      `baseline: INSERT one row, ${concurrency} callers, after the cycle`,
      (i) => rawDb.query('INSERT INTO bench_baseline (tenant_id, title) VALUES ($1, $2)', [tenant.id, `After concurrent ${i}`]),
      { iterations: scaled(4000), concurrency },
    );
    const [tableSizes] = await rawDb.query<Record<string, string>>(
      `SELECT pg_size_pretty(pg_total_relation_size('users')) AS users, pg_size_pretty(pg_total_relation_size('scim_group_members')) AS scim_group_members,
              pg_size_pretty(pg_total_relation_size('scim_activity')) AS scim_activity, pg_size_pretty(pg_total_relation_size('audit_events')) AS audit_events,
              pg_size_pretty(pg_total_relation_size('identity_events')) AS identity_events, pg_size_pretty(pg_database_size(current_database())) AS database`,
    );
    const totalSeconds = round((performance.now() - started) / 1000, 1);
    const loadAtEnd = os.loadavg().map((l) => round(l, 2));

    // ---- Report ----
    const insert = baselines.insert;
    const types = [...lat.samples.entries()].map(([type, samples]) => ({ type, m: summarize(type, samples, samples.reduce((a, b) => a + b, 0), concurrency) }));
    const steady = [rename, remove];

    printTable(
      'Baselines and floors (same pool, same server, before the cycle)',
      [
        { header: 'operation', value: (m: Measurement) => m.name, align: 'left' },
        { header: 'n', value: (m) => m.iterations },
        { header: 'ops/s', value: (m) => fmt(m.opsPerSec, 0) },
        { header: 'p50 ms', value: (m) => fmt(m.p50Ms, 3) },
        { header: 'p95 ms', value: (m) => fmt(m.p95Ms, 3) },
        { header: 'p99 ms', value: (m) => fmt(m.p99Ms, 3) },
      ],
      [insert, insertConcurrent, insertFk, baselines.select, rateLimitHot, rateLimitSpread, activityInsert, healthz, spc, insertAfter, insertConcurrentAfter],
    );
    console.log(`MultiXacts created per INSERT with the foreign key, ${concurrency} callers: ${fkMultixactsPerInsert} (cluster-wide counter).`);
    console.log(
      `CPU per request: GET /healthz Node ${fmt(healthzCpu.nodeMsPerOp, 2)} ms, PostgreSQL ${fmt(healthzCpu.pgMsPerOp, 2)} ms; ` +
        `GET /ServiceProviderConfig Node ${fmt(spcCpu.nodeMsPerOp, 2)} ms, PostgreSQL ${fmt(spcCpu.pgMsPerOp, 2)} ms.`,
    );
    const phases = [usersPhase, groupsPhase, membersPhase];
    printTable(
      `First cycle by phase, ${concurrency} clients (× ${concurrency}-caller INSERT = its ops/s ÷ requests/s)`,
      [
        { header: 'phase', value: (p: PhaseResult) => p.name, align: 'left' },
        { header: 'provisioned', value: (p) => `${p.items.toLocaleString('en-US')} ${p.itemLabel}` },
        { header: 'requests', value: (p) => p.requests.toLocaleString('en-US') },
        { header: 'wall s', value: (p) => fmt(p.wallMs / 1000, 1) },
        { header: 'requests/s', value: (p) => fmt(p.requestsPerSec, 0) },
        { header: '20-s range', value: (p) => (p.timeline.length ? `${Math.min(...p.timeline.map((t) => t.requestsPerSec))}–${Math.max(...p.timeline.map((t) => t.requestsPerSec))}` : '–') },
        { header: 'items/s', value: (p) => fmt(p.itemsPerSec, 0) },
        { header: 'Node CPU ms/req', value: (p) => fmt(p.cpuMsPerRequest, 2) },
        { header: 'PG CPU ms/req', value: (p) => fmt(p.pgCpuMsPerRequest, 2) },
        { header: 'cores busy', value: (p) => (p.machineShare === null ? '–' : `${Math.round(p.machineShare * 100)} %`) },
        { header: 'event loop', value: (p) => `${Math.round(p.eventLoopUtilisation * 100)} %` },
        { header: 'MultiXacts/req', value: (p) => fmt(p.multixactsPerRequest, 2) },
        { header: 'ANALYZE runs', value: (p) => (p.analyzes.runs ? `${p.analyzes.runs} (${fmt(p.analyzes.totalMs / 1000, 1)} s)` : '–') },
        { header: `× ${concurrency}-caller INSERT`, value: (p) => fmt(insertConcurrent.opsPerSec / p.requestsPerSec, 1) },
        { header: 'load avg', value: (p) => p.loadAverage.join(' ') },
      ],
      phases,
    );
    const cycleRequests = phases.reduce((n, p) => n + p.requests, 0);
    console.log(
      `First cycle: ${cycleRequests.toLocaleString('en-US')} requests in ${fmt(cycleMs / 1000, 1)} s = ${fmt((cycleRequests / cycleMs) * 1000, 0)} requests/s ` +
        `(${nUsers.toLocaleString('en-US')} users, ${nGroups.toLocaleString('en-US')} groups, ${memberships.toLocaleString('en-US')} memberships; ` +
        `largest group ${sizes[0]!.toLocaleString('en-US')}, median ${sizes[Math.floor(sizes.length / 2)]!.toLocaleString('en-US')}, smallest ${sizes[sizes.length - 1]!.toLocaleString('en-US')} members).`,
    );
    printTable(
      `Latency by request type, ${concurrency} clients (× INSERT p50 = p50 ÷ raw INSERT p50 ${fmt(insert.p50Ms, 3)} ms)`,
      [
        { header: 'request', value: (r: { type: string; m: Measurement }) => r.type, align: 'left' },
        { header: 'n', value: (r) => r.m.iterations.toLocaleString('en-US') },
        { header: 'p50 ms', value: (r) => fmt(r.m.p50Ms, 2) },
        { header: 'p95 ms', value: (r) => fmt(r.m.p95Ms, 2) },
        { header: 'p99 ms', value: (r) => fmt(r.m.p99Ms, 2) },
        { header: 'max ms', value: (r) => fmt(r.m.maxMs, 1) },
        { header: '× INSERT p50', value: (r) => fmt(p50Ratio(r.m, insert), 1) },
      ],
      [...types, ...steady.map((m) => ({ type: m.name, m }))],
    );
    const steadyCpu = [renameCpu, removeCpu];
    printTable(
      `Steady state, ${concurrency} clients (× ${concurrency}-caller INSERT = its ops/s ÷ ops/s)`,
      [
        { header: 'operation', value: (r: { m: Measurement; cpu: CpuUse }) => r.m.name, align: 'left' },
        { header: 'n', value: (r) => r.m.iterations },
        { header: 'ops/s', value: (r) => fmt(r.m.opsPerSec, 0) },
        { header: 'p50 ms', value: (r) => fmt(r.m.p50Ms, 2) },
        { header: 'p95 ms', value: (r) => fmt(r.m.p95Ms, 2) },
        { header: 'p99 ms', value: (r) => fmt(r.m.p99Ms, 2) },
        { header: '× INSERT p50', value: (r) => fmt(p50Ratio(r.m, insert), 1) },
        { header: `× ${concurrency}-caller INSERT`, value: (r) => fmt(costRatio(r.m, insertConcurrent), 1) },
        { header: 'Node CPU ms', value: (r) => fmt(r.cpu.nodeMsPerOp, 2) },
        { header: 'PG CPU ms', value: (r) => fmt(r.cpu.pgMsPerOp, 2) },
      ],
      steady.map((m, i) => ({ m, cpu: steadyCpu[i]! })),
    );
    console.log(`(${removalsInRuleGroups} of the removals were from rule groups.)`);
    printTable(
      'Statements per request, one request with nothing else in flight (round trips include BEGIN/COMMIT; commits = writing autocommitted statements + transactions)',
      [
        { header: 'request', value: (p: ProbeResult) => p.request, align: 'left' },
        { header: 'tenant', value: (p) => p.counts['tenant lookup'] },
        { header: 'rate limit', value: (p) => p.counts['rate-limit UPSERT'] },
        { header: 'bearer', value: (p) => p.counts['bearer check'] },
        { header: 'activity', value: (p) => p.counts['activity INSERT'] },
        { header: 'other autocommit', value: (p) => p.counts['operation, autocommitted'] },
        { header: 'in transaction', value: (p) => p.counts['operation, in transaction'] },
        { header: 'round trips', value: (p) => p.roundTrips },
        { header: 'commits', value: (p) => p.commits },
        { header: 'ms alone', value: (p) => fmt(p.latencyMs, 1) },
      ],
      probes,
    );
    const bookRows = [
      ...phases.map((p) => ({ phase: p.name, perRequest: p.perRequest, tx: p.transactionsPerRequest, txMs: p.meanTransactionMs })),
      ...[
        ['user PATCH', renameTally, rename.iterations + warm],
        ['member remove', removeTally, remove.iterations + warm],
      ].map(([phase, t, n]) => ({
        phase: phase as string,
        perRequest: CATEGORIES.map((cat) => ({ category: cat, statements: round((t as Tally).count[cat] / (n as number), 2), meanMs: (t as Tally).count[cat] ? round((t as Tally).ms[cat] / (t as Tally).count[cat], 3) : 0 })),
        tx: round((t as Tally).transactions / (n as number), 2),
        txMs: (t as Tally).transactions ? round((t as Tally).transactionMs / (t as Tally).transactions, 2) : 0,
      })),
    ];
    const cell = (r: (typeof bookRows)[number], cat: Category) => {
      const x = r.perRequest.find((p) => p.category === cat)!;
      return x.statements ? `${fmt(x.statements, 2)} × ${fmt(x.meanMs, 2)}` : '–';
    };
    printTable(
      `Where a request's database time goes under load: statements per request × mean ms each (includes waiting for a pooled connection; a write's activity line is in its transaction, other lines are written in batches)`,
      [
        { header: 'phase', value: (r: (typeof bookRows)[number]) => r.phase, align: 'left' },
        ...CATEGORIES.map((cat) => ({ header: cat, value: (r: (typeof bookRows)[number]) => cell(r, cat) })),
        { header: 'transaction ms', value: (r) => (r.tx ? `${fmt(r.tx, 2)} × ${fmt(r.txMs, 2)}` : '–') },
      ],
      bookRows,
    );
    const stateRows = [
      ...phases.map((p) => ({ phase: p.name, states: p.backendStates, mx: p.multixactsPerRequest })),
      { phase: 'user PATCH', states: renameWaits.states, mx: round(renameWaits.multixacts / (rename.iterations + warm), 2) },
      { phase: 'member remove', states: removeWaits.states, mx: round(removeWaits.multixacts / (remove.iterations + warm), 2) },
    ];
    const lockRows = [
      ...phases.map((p) => ({ phase: p.name, waits: p.lockWaits })),
      { phase: 'user PATCH', waits: renameWaits.lockWaits },
      { phase: 'member remove', waits: removeWaits.lockWaits },
    ].flatMap((r) => r.waits.slice(0, 3).map((w) => ({ phase: r.phase, ...w })));
    printTable(
      `What the pool's ${POOL_SIZE} backends were doing (average number in each state, sampled every 500 ms; the top six)`,
      [
        { header: 'phase', value: (r: (typeof stateRows)[number]) => r.phase, align: 'left' },
        { header: 'states', value: (r) => r.states.slice(0, 6).map((x) => `${x.what} ${fmt(x.backends, 2)}`).join('; '), align: 'left' },
      ],
      stateRows,
    );
    printTable(
      'Lock waits (average number of backends waiting; the waiting statement ← what the blocking backend was running; top three per phase)',
      [
        { header: 'phase', value: (r: (typeof lockRows)[number]) => r.phase, align: 'left' },
        { header: 'backends', value: (r) => fmt(r.backends, 2) },
        { header: 'waiting ← blocking', value: (r) => r.pair, align: 'left' },
      ],
      lockRows,
    );
    for (const e of explains) {
      console.log(`EXPLAIN ${e.what}: ${e.summary.executionMs} ms execution, ${e.summary.planningMs} ms planning; ${e.summary.scans.map((s) => `${s.node}${s.index ? ` ${s.index}` : ''} (${s.rows} rows)`).join(', ')}`);
    }
    console.log(`Checks: ${JSON.stringify(finalCheck.counts)}`);
    console.log(`Tables after the run: ${JSON.stringify(tableSizes)}; load average ${loadAtStart.join(' ')} at the start, ${loadAtEnd.join(' ')} at the end`);
    console.log(`\nscim suite: ${totalSeconds} s`);

    return {
      totalSeconds,
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      autovacuumOff,
      analyzeEverySec,
      ruleGroups: groups.filter((g) => g.rule).map((g) => ({ name: g.name, role: g.rule!.role, members: g.members.length })),
      settings: { users: nUsers, groups: nGroups, memberships, concurrency, membersPerPatch: batch, patches, rulePatches, ruleMemberships, largestGroup: sizes[0], medianGroup: sizes[Math.floor(sizes.length / 2)], smallestGroup: sizes[sizes.length - 1] },
      fkMultixactsPerInsert,
      baselines: { insert, insertConcurrent, insertFk, select: baselines.select, rateLimitHot, rateLimitSpread, activityInsert, healthz, serviceProviderConfig: spc, insertAfter, insertConcurrentAfter },
      floorCpu: { healthz: healthzCpu, serviceProviderConfig: spcCpu },
      firstCycle: {
        wallSeconds: round(cycleMs / 1000, 1),
        requests: cycleRequests,
        requestsPerSec: round((cycleRequests / cycleMs) * 1000, 1),
        vsInsertConcurrent: round(insertConcurrent.opsPerSec / ((cycleRequests / cycleMs) * 1000), 2),
        phases,
      },
      latency: types.map((t) => ({ ...t.m, vsInsertP50: p50Ratio(t.m, insert) })),
      steadyState: steady.map((m, i) => ({ ...m, vsInsertP50: p50Ratio(m, insert), vsInsertConcurrent: costRatio(m, insertConcurrent), cpu: steadyCpu[i] })),
      removalsInRuleGroups,
      statementsPerRequest: probes,
      bookkeepingUnderLoad: bookRows,
      backendStates: stateRows,
      lockWaits: lockRows,
      explains: explains.map((e) => ({ what: e.what, ...e.summary })),
      checks: { afterFirstCycle: firstCheck.counts, final: finalCheck.counts },
      tableSizes,
    };
  } finally {
    pgCpu.stop();
    client?.close();
    await app.close();
  }
}

/** The database must hold exactly what was sent; any difference fails the run. */
async function verify(db: Db, tenant: Tenant, model: Model, requestsSent: number): Promise<{ counts: Record<string, number> }> {
  let expectedRuleGrants = 0;
  const rulesOf = new Map<number, Set<string>>();
  model.groups.forEach((g, k) => {
    if (!g.rule) return;
    for (const u of model.current[k]!) {
      let roles = rulesOf.get(u);
      if (!roles) rulesOf.set(u, (roles = new Set()));
      roles.add(g.rule.role);
    }
  });
  for (const roles of rulesOf.values()) expectedRuleGrants += roles.size;
  const expected = {
    users: model.userIds.length,
    groups: model.groupIds.length,
    memberships: model.current.reduce((n, s) => n + s.size, 0),
    requesterGrants: model.userIds.length,
    ruleGrants: expectedRuleGrants,
    provisionedEvents: model.userIds.length,
    memberAddedEvents: model.added,
    memberRemovedEvents: model.removed,
    activityRows: requestsSent,
  };
  if (model.userIds.some((id) => !id) || model.groupIds.some((id) => !id)) throw new Error('some users or groups were never created');
  // Activity rows of the last requests may still be committing: give them a moment.
  let counts: Record<string, number> = {};
  for (let attempt = 0; attempt < 50; attempt++) {
    const [row] = await db.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM users WHERE tenant_id = $1 AND source = 'scim' AND deleted_at IS NULL AND user_name IS NOT NULL) AS users,
              (SELECT count(*)::int FROM scim_groups WHERE tenant_id = $1) AS groups,
              (SELECT count(*)::int FROM scim_group_members WHERE tenant_id = $1) AS memberships,
              (SELECT count(*)::int FROM role_grants g JOIN users u ON u.tenant_id = g.tenant_id AND u.id = g.user_id
                 WHERE g.tenant_id = $1 AND u.source = 'scim' AND g.role = 'requester' AND g.origin = 'system') AS "requesterGrants",
              (SELECT count(*)::int FROM role_grants WHERE tenant_id = $1 AND origin = 'rule') AS "ruleGrants",
              (SELECT count(*)::int FROM identity_events WHERE tenant_id = $1 AND type = 'user.provisioned' AND source = 'scim') AS "provisionedEvents",
              (SELECT count(*)::int FROM identity_events WHERE tenant_id = $1 AND type = 'group.member_added') AS "memberAddedEvents",
              (SELECT count(*)::int FROM identity_events WHERE tenant_id = $1 AND type = 'group.member_removed') AS "memberRemovedEvents",
              (SELECT count(*)::int FROM scim_activity WHERE tenant_id = $1) AS "activityRows"`,
      [tenant.id],
    );
    counts = row!;
    if (counts.activityRows! >= expected.activityRows) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const wrong = Object.entries(expected).filter(([k, v]) => counts[k] !== v);
  if (wrong.length) {
    throw new Error(`the database does not hold what was sent: ${wrong.map(([k, v]) => `${k} expected ${v}, found ${counts[k]}`).join('; ')}`);
  }
  return { counts };
}
