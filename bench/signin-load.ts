/**
 * Sign-in load (issue 12): full SAML sign-ins per second over HTTP, with the server in a process of
 * its own and a separate load process driving it on loopback, at 1, 4 and 16 clients, for known
 * people and for new ones (just-in-time accounts), on PostgreSQL and on PGlite; the same load, in
 * the same run, against the last commit before issues 10-12 (380f93c, checked out beside this one),
 * alternating old and new per configuration; /healthz of both at the same concurrency as the scale;
 * and the statements and commits one sign-in costs each commit, counted in its server process
 * (and, on PostgreSQL, checked against pg_stat_database's xact_commit).
 *
 * Processes: this one (the suite) sets up and reads counters; bench/signin-server.ts runs one
 * commit's Keydesk (old and new side by side, each with its own database); bench/signin-driver.ts
 * is the load process (browsers and IdP). See docs/PERFORMANCE.md, "Sign-in load against the old
 * commit".
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { makeKeyPair } from '../test/helpers/saml-forge.js';
import { guids, person, type Person } from './entra.js';
import { autovacuumOnce } from '../src/db/autovacuum.js';
import { openPostgres } from '../src/db/db.js';
import { createEmptyDatabase, envInt, fmt, percentile, printTable, round, scaled, type Suite, type SuiteEnv } from './lib.js';
import type { DriverCommand, DriverMessage, RunResult, Target } from './signin-driver.js';
import type { ServerCommand, ServerCounts, ServerMessage } from './signin-server.js';

const REPO = path.resolve(import.meta.dirname, '..');
const CLIENTS = [1, 4, 16] as const;
/** New people first, so that the known runs after them have people enough. */
const KINDS = ['jit', 'known'] as const;
type Kind = (typeof KINDS)[number];
type DbKind = 'postgres' | 'pglite';
type Commit = 'old' | 'new';
/** Sign-ins per timed run, by clients (× BENCH_SCALE). */
const PER_RUN: Record<(typeof CLIENTS)[number], number> = { 1: 60, 4: 120, 16: 240 };
/** Sign-ins counted one by one, per kind and commit. */
const COUNTED = 6;
/** Keydesk's rate limiter adds a bucket's hits to the shared row 1 s after the first (FLUSH_MS). */
const OFF_PATH_SETTLE_MS = 1_300;

export const signinLoadSuite: Suite = {
  name: 'signin-load',
  description: 'Full SAML sign-ins/s from a separate load process, 1/4/16 clients, known and JIT, PostgreSQL and PGlite, this commit ÷ 380f93c (before issues 10-12) in the same run; round trips and commits per sign-in',
  run: runSigninLoad,
};

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/** Omit that keeps a union a union. */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A child with an IPC channel and request/answer by id. */
class Child<C extends { id: number }, M> {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: M) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;
  readonly firstMessage: Promise<M>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    idOf: (m: M) => number | undefined,
    failed: (m: M) => string | undefined,
  ) {
    let first: ((m: M) => void) | null = null;
    let firstFailed: ((e: Error) => void) | null = null;
    this.firstMessage = new Promise<M>((res, rej) => {
      first = res;
      firstFailed = rej;
    });
    // Only servers send a first message (ready); a child that never does must not leave a rejection unhandled.
    this.firstMessage.catch(() => undefined);
    proc.on('message', (m: M) => {
      const id = idOf(m);
      const w = id === undefined ? undefined : this.waiting.get(id);
      if (w) {
        this.waiting.delete(id!);
        const err = failed(m);
        if (err) w.reject(new Error(`${name}: ${err}`));
        else w.resolve(m);
      } else if (first) {
        const err = failed(m);
        if (err) firstFailed!(new Error(`${name}: ${err}`));
        else first(m);
        first = null;
      }
    });
    proc.on('exit', (code, signal) => {
      this.exited = new Error(`${name} exited (${signal ?? code})`);
      firstFailed?.(this.exited);
      for (const w of this.waiting.values()) w.reject(this.exited);
      this.waiting.clear();
    });
  }

  call(cmd: Without<C, 'id'>): Promise<M> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<M>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.send({ ...cmd, id });
    });
  }
}

const children = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
let exitHooked = false;

/** Whatever is left when the process ends (also on Ctrl-C, which bench/lib.ts turns into exit 130). */
function onExit(fn: () => void): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const c of children) c.kill('SIGKILL');
      for (const f of cleanups.splice(0).reverse()) {
        try {
          f();
        } catch {
          // best effort
        }
      }
    });
  }
  cleanups.push(fn);
}

function spawnTs(file: string, cwd: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(REPO, 'bench', file)], { cwd, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  onExit(() => undefined); // hooks the exit handler that kills what is left
  return proc;
}

type ServerChild = Child<ServerCommand, ServerMessage>;
type DriverChild = Child<DriverCommand, DriverMessage>;

interface Server {
  commit: Commit;
  child: ServerChild;
  target: Target;
  pid: number;
  /** PostgreSQL: the throwaway database's name and URL. */
  dbName: string | null;
  dbUrl: string | null;
}

/**
 * Where the PostgreSQL server runs without autovacuum (this CI machine's conf.d sets it off), the
 * suite does autovacuum's work on a commit's database before each of its timed runs, untimed:
 * production servers run autovacuum, and without statistics a prepared statement keeps the plan it
 * got while the tables were small (src/db/autovacuum.ts). Both commits get it alike.
 */
async function autovacuumStandIn(dbUrl: string): Promise<void> {
  // A connection of its own, closed again, so no backend of it is idle among the database's during the timed run.
  const db = await openPostgres(dbUrl, 1);
  try {
    await autovacuumOnce(db);
  } finally {
    await db.close();
  }
}

interface Snapshot {
  counts: ServerCounts;
  cpuMicros: number;
  log: string[];
}

async function snapshot(s: Server): Promise<Snapshot> {
  const m = await s.child.call({ cmd: 'snapshot' });
  if (m.type !== 'snapshot') throw new Error(`unexpected answer ${m.type}`);
  return { counts: m.counts, cpuMicros: m.cpuMicros, log: m.log };
}

function minus(a: ServerCounts, b: ServerCounts): ServerCounts {
  return {
    statements: a.statements - b.statements,
    transactions: a.transactions - b.transactions,
    commits: a.commits - b.commits,
    rollbacks: a.rollbacks - b.rollbacks,
    autocommitted: a.autocommitted - b.autocommitted,
    autocommittedWrites: a.autocommittedWrites - b.autocommittedWrites,
  };
}

async function driverCall<T>(d: DriverChild, cmd: Without<DriverCommand, 'id'>): Promise<T> {
  const m = await d.call(cmd);
  if (m.type !== 'done') throw new Error('driver failed');
  return m.result as T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// CPU of everything else: PostgreSQL backends and the whole machine, from /proc
// ---------------------------------------------------------------------------------------------

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
  } catch {
    return null;
  }
}

/** Busy CPU time of the whole machine (all cores), ms. */
function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
    return (user + nice + system + irq + softirq + (steal ?? 0)) * TICK_MS;
  } catch {
    return NaN;
  }
}

async function backendCpu(admin: pg.Client, dbName: string): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName]);
  const m = new Map<number, number>();
  for (const r of rows) {
    const ms = procCpuMs(r.pid);
    if (ms !== null) m.set(r.pid, ms);
  }
  return m;
}

/** CPU the database's backends used between two readings (backends that left in between are missed). */
function backendDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

/**
 * The database's committed and rolled-back transactions as pg_stat_database counts them. A backend
 * publishes its counts when it goes idle, at most once a second and up to 10 s late, but always
 * when it exits: so the database's backends (idle between the counted sign-ins; the server's pool
 * opens new ones when it needs them) are ended first, and the counters read once they are gone.
 */
async function xactCounters(admin: pg.Client, dbName: string): Promise<{ commits: number; rollbacks: number }> {
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]);
  for (let i = 0; i < 100; i++) {
    const { rows: left } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [dbName]);
    if (left[0]!.n === 0) break;
    await sleep(50);
  }
  // pg_stat_database as of now, not as of an earlier read in this session.
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ c: string; r: string }>('SELECT xact_commit AS c, xact_rollback AS r FROM pg_stat_database WHERE datname = $1', [dbName]);
  return { commits: Number(rows[0]?.c ?? NaN), rollbacks: Number(rows[0]?.r ?? NaN) };
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

interface TimedRun {
  db: DbKind;
  kind: Kind;
  clients: number;
  commit: Commit;
  round: number;
  n: number;
  elapsedMs: number;
  latencies: number[];
  acsLatencies: number[];
  serverCpuMs: number;
  pgCpuMs: number | null;
  loadCpuMs: number;
  /** The other commit's server, idle meanwhile (part of "others"). */
  idleServerCpuMs: number;
  machineBusyMs: number;
  counts: ServerCounts;
}

interface HealthRun {
  db: DbKind;
  clients: number;
  commit: Commit;
  n: number;
  elapsedMs: number;
  latencies: number[];
}

/** Per request of a counted sign-in, on its path, and what followed it within OFF_PATH_SETTLE_MS. */
interface CountedSignin {
  login: ServerCounts;
  acs: ServerCounts;
  after: ServerCounts;
}

interface Counted {
  db: DbKind;
  kind: Kind;
  commit: Commit;
  signins: CountedSignin[];
  /** The last one's statements: GET /login, the ACS POST, what followed. */
  example: { login: string[]; acs: string[]; after: string[] };
  /** PostgreSQL: xact_commit / xact_rollback of the commit's database over the counted sign-ins. */
  xact: { commits: number; rollbacks: number } | null;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : NaN);

const ZERO: ServerCounts = { statements: 0, transactions: 0, commits: 0, rollbacks: 0, autocommitted: 0, autocommittedWrites: 0 };

function totalCounts(list: ServerCounts[]): ServerCounts {
  const t = { ...ZERO };
  for (const c of list) for (const k of Object.keys(t) as (keyof ServerCounts)[]) t[k] += c[k];
  return t;
}

/** What PostgreSQL counts as commits: explicit COMMITs, and each statement sent on its own. */
const serverCommits = (c: ServerCounts) => c.commits + c.autocommitted;
/** Commits that wrote: the explicit ones (every sign-in transaction writes) and the writing statements sent on their own. */
const writingCommits = (c: ServerCounts) => c.commits + c.autocommittedWrites;

interface Aggregate {
  n: number;
  perSec: number;
  p50: number;
  p99: number;
  acsP50: number;
  serverCpu: number;
  pgCpu: number | null;
  loadCpu: number;
  otherCpu: number;
  /** The share of the machine's CPU (all cores) that other processes used during the runs. */
  othersShare: number;
  /** Of that, the other commit's server (idle: it is not being driven), ms per sign-in. */
  idleServerCpu: number;
  statements: number;
  commits: number;
  writingCommits: number;
  roundRates: number[];
}

/** CPU ms of a sign-in in the processes the benchmark runs: server, its PostgreSQL backends, load process. */
const ownCpu = (a: Aggregate) => a.serverCpu + (a.pgCpu ?? 0) + a.loadCpu;

function aggregate(runs: TimedRun[]): Aggregate {
  const n = sum(runs.map((r) => r.n));
  const lat = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const acs = runs.flatMap((r) => r.acsLatencies).sort((a, b) => a - b);
  const counts = totalCounts(runs.map((r) => r.counts));
  const pg = runs.every((r) => r.pgCpuMs !== null) ? sum(runs.map((r) => r.pgCpuMs!)) / n : null;
  const serverCpu = sum(runs.map((r) => r.serverCpuMs)) / n;
  const loadCpu = sum(runs.map((r) => r.loadCpuMs)) / n;
  return {
    n,
    perSec: (n / sum(runs.map((r) => r.elapsedMs))) * 1000,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    acsP50: percentile(acs, 50),
    serverCpu,
    pgCpu: pg,
    loadCpu,
    otherCpu: sum(runs.map((r) => r.machineBusyMs)) / n - serverCpu - (pg ?? 0) - loadCpu,
    idleServerCpu: sum(runs.map((r) => r.idleServerCpuMs)) / n,
    othersShare: (sum(runs.map((r) => r.machineBusyMs)) - (serverCpu + (pg ?? 0) + loadCpu) * n) / (sum(runs.map((r) => r.elapsedMs)) * os.cpus().length),
    statements: counts.statements / n,
    commits: serverCommits(counts) / n,
    writingCommits: writingCommits(counts) / n,
    roundRates: runs.sort((a, b) => a.round - b.round).map((r) => (r.n / r.elapsedMs) * 1000),
  };
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

/** The old commit's checkout: BENCH_OLD_ROOT as given, or a temporary worktree of BENCH_OLD_COMMIT (removed at the end). */
function oldCheckout(): { root: string; commit: string; remove: () => void } {
  const given = process.env.BENCH_OLD_ROOT;
  if (given) return { root: path.resolve(given), commit: git(given, 'rev-parse', '--short', 'HEAD'), remove: () => undefined };
  // 380f93c: the last commit before issues 10-12. The commit just before issue 12 (cb2b5a3) did not
  // survive; this one does less per sign-in (no OIDC, no identity-event fan-out), so ratios understate.
  const commit = process.env.BENCH_OLD_COMMIT || '380f93c';
  try {
    git(REPO, 'cat-file', '-e', `${commit}^{commit}`);
  } catch {
    throw new Error(
      `The baseline commit ${commit} is not in this clone. Give BENCH_OLD_ROOT (a checkout of the build to compare with) or BENCH_OLD_COMMIT (a commit that is here); docs/PERFORMANCE.md, "signin-load", says what the recorded ratios were measured against.`,
    );
  }
  const root = path.join(os.tmpdir(), `keydesk-old-${randomBytes(4).toString('hex')}`);
  git(REPO, 'worktree', 'add', '--detach', root, commit);
  // The old commit's pinned dependencies are the same versions as today's for everything it uses
  // (node-saml 5.1.0, xpath 0.0.34, xml-crypto 6.3.2 through the override): today's node_modules.
  symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: REPO, stdio: 'ignore' });
  };
  onExit(remove);
  return { root, commit: git(root, 'rev-parse', '--short', 'HEAD'), remove };
}

async function runSigninLoad({ baseUrl, scale }: SuiteEnv): Promise<Record<string, unknown>> {
  const started = performance.now();
  const step = (msg: string) =>
    console.log(`  [${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s, load ${os.loadavg()[0]!.toFixed(1)}] ${msg}`);
  const rounds = envInt('BENCH_SIGNIN_ROUNDS', 3);
  const dbKinds = (process.env.BENCH_SIGNIN_DBS || 'postgres,pglite').split(',').map((s) => s.trim()) as DbKind[];
  for (const d of dbKinds) if (d !== 'postgres' && d !== 'pglite') throw new Error(`BENCH_SIGNIN_DBS: unknown database "${d}"`);

  const old = oldCheckout();
  const newRoot = path.resolve(process.env.BENCH_NEW_ROOT || REPO);
  const roots: Record<Commit, string> = { old: old.root, new: newRoot };
  const commits: Record<Commit, string> = { old: old.commit, new: git(newRoot, 'rev-parse', '--short', 'HEAD') };
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: newRoot, encoding: 'utf8' }).trimEnd();
  step(`old = ${commits.old} in ${old.root}; new = ${commits.new} in ${newRoot}${dirty ? ` (with uncommitted changes under src/: ${dirty.split('\n').map((l) => l.slice(3)).join(', ')})` : ''}`);

  const entraTenant = randomUUID();
  const keys = makeKeyPair('Microsoft Azure Federated SSO Certificate');
  const idpEntityId = `https://sts.windows.net/${entraTenant}/`;
  const groups = guids(5);
  const secret = randomBytes(24).toString('base64url');

  const driver: DriverChild = new Child('load process', spawnTs('signin-driver.ts', REPO, { ...process.env }), (m) => m.id, (m) => (m.type === 'failed' ? m.message : undefined));
  await driverCall(driver, { cmd: 'init', idp: { entityId: idpEntityId, tenantId: entraTenant, keys }, groups });

  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  const autovacuumOff = dbKinds.includes('postgres') && (await admin.query<{ off: boolean }>(`SELECT current_setting('autovacuum') = 'off' AS off`)).rows[0]!.off;
  if (autovacuumOff) step('autovacuum is off on this PostgreSQL server: the suite does its work on each database before each timed run, untimed');

  const timed: TimedRun[] = [];
  const health: HealthRun[] = [];
  const counted: Counted[] = [];
  let personSeq = 0;
  // The same people, in the same order, sign in to both commits.
  const freshPeople = (n: number) => Array.from({ length: n }, () => person(++personSeq));
  const ipOf = (p: Person) => {
    const k = Number.parseInt(p.objectId.slice(0, 6), 16);
    return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
  };

  try {
    for (const dbKind of dbKinds) {
      // ---- Two servers, one per commit, each on its own database ----
      const servers: Record<Commit, Server> = {} as Record<Commit, Server>;
      const teardown: (() => Promise<void>)[] = [];
      try {
        for (const commit of ['old', 'new'] as const) {
          const env: NodeJS.ProcessEnv = {
            ...process.env,
            KD_ROOT: roots[commit],
            KEYDESK_SECRET: secret,
            KEYDESK_WORKER: 'false',
            KEYDESK_TRUST_PROXY: 'true',
            LOG_LEVEL: 'warn',
            KEYDESK_WEB_DIR: path.join(REPO, 'dist', 'web'),
            BENCH_IDP_ENTITY_ID: idpEntityId,
            BENCH_IDP_CERT: keys.cert,
            DATABASE_URL: '',
          };
          let dbName: string | null = null;
          let dbUrl: string | null = null;
          if (dbKind === 'postgres') {
            const d = await createEmptyDatabase(baseUrl);
            teardown.push(d.drop);
            env.DATABASE_URL = dbUrl = d.url;
            dbName = d.name;
          } else {
            const dir = mkdtempSync(path.join(os.tmpdir(), `keydesk-bench-pglite-${commit}-`));
            const rm = () => rmSync(dir, { recursive: true, force: true });
            onExit(rm);
            teardown.push(async () => rm());
            env.KEYDESK_DATA_DIR = dir;
          }
          // BENCH_SIGNIN_PROFILE=<dir>: each server writes a V8 CPU profile there when it stops.
          const profile = process.env.BENCH_SIGNIN_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_SIGNIN_PROFILE, `${commit}-${dbKind}`)}`] : [];
          const child: ServerChild = new Child(
            `${commit} server (${dbKind})`,
            spawnTs('signin-server.ts', roots[commit], env, profile),
            (m) => ('id' in m ? m.id : undefined),
            (m) => (m.type === 'error' ? m.message : undefined),
          );
          teardown.push(async () => {
            if (child.proc.exitCode === null && child.proc.signalCode === null) {
              const exited = new Promise((r) => child.proc.once('exit', r));
              child.call({ cmd: 'stop' }).catch(() => undefined);
              await Promise.race([exited, sleep(15_000)]);
            }
            child.proc.kill('SIGKILL');
          });
          const ready = await child.firstMessage;
          if (ready.type !== 'ready') throw new Error(`${commit} server: ${JSON.stringify(ready)}`);
          servers[commit] = { commit, child, pid: ready.pid, dbName, dbUrl, target: { url: ready.url, loginUrl: ready.loginUrl, acsUrl: ready.acsUrl, spEntityId: ready.spEntityId } };
        }
        step(`${dbKind}: old server at ${servers.old.target.url}, new at ${servers.new.target.url}${dbKind === 'postgres' ? ` (databases ${servers.old.dbName}, ${servers.new.dbName})` : ' (PGlite in temporary data directories)'}`);
        const both = [servers.old, servers.new];
        const known: Person[] = [];
        let knownNext = 0;
        const knownPeople = (n: number) => Array.from({ length: n }, () => known[knownNext++ % known.length]!);

        // ---- Counted, one sign-in at a time: statements on each request's path, and after ----
        for (const kind of ['jit', 'known'] as const) {
          const people = kind === 'jit' ? freshPeople(COUNTED) : known.slice(0, COUNTED);
          step(`${dbKind}: counting statements, ${COUNTED} ${kind === 'jit' ? 'new people' : 'known people'} one at a time per commit`);
          const xact0 = dbKind === 'postgres' ? await Promise.all(both.map((s) => xactCounters(admin, s.dbName!))) : null;
          // Old and new take turns, person by person; each one's "after" is read 1.3 s after its answer.
          const perCommit: Counted[] = both.map((s) => ({ db: dbKind, kind, commit: s.commit, signins: [], example: { login: [], acs: [], after: [] }, xact: null }));
          for (const s of both) await s.child.call({ cmd: 'log', on: true });
          await sleep(OFF_PATH_SETTLE_MS);
          for (const p of people) {
            const open: { s0: Snapshot; s1: Snapshot; s2: Snapshot }[] = [];
            for (const s of both) {
              const s0 = await snapshot(s);
              const requestId = await driverCall<string>(driver, { cmd: 'login', target: s.target, ip: ipOf(p) });
              const s1 = await snapshot(s);
              await driverCall(driver, { cmd: 'acs', target: s.target, person: p, ip: ipOf(p), requestId });
              const s2 = await snapshot(s);
              open.push({ s0, s1, s2 });
            }
            await sleep(OFF_PATH_SETTLE_MS);
            for (const [i, s] of both.entries()) {
              const s3 = await snapshot(s);
              const o = open[i]!;
              perCommit[i]!.signins.push({ login: minus(o.s1.counts, o.s0.counts), acs: minus(o.s2.counts, o.s1.counts), after: minus(s3.counts, o.s2.counts) });
              perCommit[i]!.example = { login: o.s1.log, acs: o.s2.log, after: s3.log };
            }
          }
          for (const s of both) await s.child.call({ cmd: 'log', on: false });
          if (dbKind === 'postgres') {
            const xact1 = await Promise.all(both.map((s) => xactCounters(admin, s.dbName!)));
            perCommit.forEach((c, i) => (c.xact = { commits: xact1[i]!.commits - xact0![i]!.commits, rollbacks: xact1[i]!.rollbacks - xact0![i]!.rollbacks }));
          }
          counted.push(...perCommit);
          if (kind === 'jit') known.push(...people);
        }

        // ---- Warm-up, untimed: new people then the same again, 4 clients ----
        step(`${dbKind}: warm-up, 40 new and 40 known sign-ins per commit`);
        const warm = freshPeople(scaled(40, 8));
        for (const s of both) {
          for (const list of [warm, warm]) {
            await driverCall(driver, { cmd: 'prepare', target: s.target, people: list, ips: list.map(ipOf) });
            await driverCall<RunResult>(driver, { cmd: 'signins', target: s.target, clients: 4 });
          }
        }
        known.push(...warm);
        await sleep(OFF_PATH_SETTLE_MS);

        // ---- Timed: per clients, /healthz, then new and known people, old and new alternating ----
        // A run's statements are read once what it set off has been sent (the rate limiter's batch,
        // 1 s later): at the latest before that server's next prepare (whose GET /login statements
        // are all on their requests' path), waiting only if that comes sooner.
        const pending = new Map<Server, { run: TimedRun; c0: Snapshot; endAt: number }>();
        const settle = async (s: Server) => {
          const p = pending.get(s);
          if (!p) return;
          pending.delete(s);
          const wait = p.endAt + OFF_PATH_SETTLE_MS - performance.now();
          if (wait > 0) await sleep(wait);
          p.run.counts = minus((await snapshot(s)).counts, p.c0.counts);
        };
        let alternation = 0;
        for (const clients of CLIENTS) {
          const hn = scaled(3000, 200);
          for (const s of alternation++ % 2 ? [servers.new, servers.old] : both) {
            await settle(s); // not while the last run's rate-limit batch is being written
            const r = await driverCall<RunResult>(driver, { cmd: 'healthz', target: s.target, clients, n: hn });
            health.push({ db: dbKind, clients, commit: s.commit, n: r.n, elapsedMs: r.elapsedMs, latencies: r.latencies.sort((a, b) => a - b) });
          }
          for (const kind of KINDS) {
            const n = scaled(PER_RUN[clients], clients);
            for (let round = 0; round < rounds; round++) {
              step(`${dbKind}: ${clients} client${clients > 1 ? 's' : ''}, ${kind === 'jit' ? 'new people (JIT)' : 'known people'}, round ${round + 1}/${rounds}: ${n} sign-ins per commit`);
              const people = kind === 'jit' ? freshPeople(n) : knownPeople(n);
              for (const s of alternation++ % 2 ? [servers.new, servers.old] : both) {
                await settle(s);
                if (autovacuumOff && s.dbUrl) await autovacuumStandIn(s.dbUrl);
                await driverCall(driver, { cmd: 'prepare', target: s.target, people, ips: people.map(ipOf) });
                const c0 = await snapshot(s);
                const pg0 = s.dbName ? await backendCpu(admin, s.dbName) : null;
                const idle = s === servers.old ? servers.new : servers.old;
                const i0 = procCpuMs(idle.pid) ?? NaN;
                const m0 = machineBusyMs();
                const r = await driverCall<RunResult>(driver, { cmd: 'signins', target: s.target, clients });
                const m1 = machineBusyMs();
                const i1 = procCpuMs(idle.pid) ?? NaN;
                const c1 = await snapshot(s);
                const pg1 = s.dbName ? await backendCpu(admin, s.dbName) : null;
                const run: TimedRun = {
                  db: dbKind,
                  kind,
                  clients,
                  commit: s.commit,
                  round,
                  n: r.n,
                  elapsedMs: r.elapsedMs,
                  latencies: r.latencies,
                  acsLatencies: r.acsLatencies,
                  serverCpuMs: (c1.cpuMicros - c0.cpuMicros) / 1000,
                  pgCpuMs: pg0 && pg1 ? backendDelta(pg0, pg1) : null,
                  loadCpuMs: r.cpuMicros / 1000,
                  idleServerCpuMs: i1 - i0,
                  machineBusyMs: m1 - m0,
                  counts: minus(c1.counts, c0.counts),
                };
                timed.push(run);
                pending.set(s, { run, c0, endAt: performance.now() });
              }
              if (kind === 'jit') known.push(...people);
            }
          }
        }
        for (const s of both) await settle(s);
      } finally {
        for (const t of teardown.reverse()) await t().catch((err: unknown) => console.error(`teardown: ${String(err)}`));
      }
    }
  } finally {
    await admin.end().catch(() => undefined);
    driver.proc.disconnect();
    old.remove();
  }

  return report({ timed, health, counted, commits, rounds, scale, dbKinds, dirty, totalSeconds: round((performance.now() - started) / 1000, 1) });
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function report(r: {
  timed: TimedRun[];
  health: HealthRun[];
  counted: Counted[];
  commits: Record<Commit, string>;
  rounds: number;
  scale: number;
  dbKinds: DbKind[];
  dirty: string;
  totalSeconds: number;
}): Record<string, unknown> {
  const { timed, health, counted, commits } = r;
  const agg = (db: DbKind, kind: Kind, clients: number, commit: Commit) => aggregate(timed.filter((t) => t.db === db && t.kind === kind && t.clients === clients && t.commit === commit));
  const healthRate = (db: DbKind, clients: number, commit: Commit) => {
    const h = health.find((x) => x.db === db && x.clients === clients && x.commit === commit)!;
    return (h.n / h.elapsedMs) * 1000;
  };
  const label = (db: DbKind) => (db === 'postgres' ? 'PostgreSQL' : 'PGlite');
  const kindLabel = (k: Kind) => (k === 'known' ? 'known' : 'JIT');

  // 1. The ratios.
  const ratioRows = r.dbKinds.flatMap((db) =>
    KINDS.map((kind) => ({
      db,
      kind,
      cells: CLIENTS.map((c) => {
        const o = agg(db, kind, c, 'old');
        const n = agg(db, kind, c, 'new');
        const perRound = n.roundRates.map((x, i) => x / o.roundRates[i]!);
        return { ratio: n.perSec / o.perSec, min: Math.min(...perRound), max: Math.max(...perRound), old: o, new: n };
      }),
    })),
  );
  printTable(
    `Sign-ins/s, new (${commits.new}) ÷ old (${commits.old}), same run, ${r.rounds} alternating rounds (range of the per-round ratios in brackets); target ≥ 3`,
    [
      { header: 'database', value: (x: (typeof ratioRows)[number]) => label(x.db), align: 'left' },
      { header: 'people', value: (x) => kindLabel(x.kind), align: 'left' },
      ...CLIENTS.map((c, i) => ({ header: `${c} client${c > 1 ? 's' : ''}`, value: (x: (typeof ratioRows)[number]) => `${fmt(x.cells[i]!.ratio, 2)} (${fmt(x.cells[i]!.min, 2)}–${fmt(x.cells[i]!.max, 2)})` })),
    ],
    ratioRows,
  );

  // CPU per sign-in, which the machine's other load disturbs less than the rates: the server
  // process alone (Node, and on PGlite the embedded database), and with its PostgreSQL backends.
  printTable(
    'CPU per sign-in, old ÷ new (× less CPU): the server process; and server + its PostgreSQL backends + load process (what bounds the rate when the machine is saturated)',
    [
      { header: 'database', value: (x: (typeof ratioRows)[number]) => label(x.db), align: 'left' },
      { header: 'people', value: (x) => kindLabel(x.kind), align: 'left' },
      ...CLIENTS.map((c, i) => ({ header: `server, ${c}`, value: (x: (typeof ratioRows)[number]) => fmt(x.cells[i]!.old.serverCpu / x.cells[i]!.new.serverCpu, 2) })),
      ...CLIENTS.map((c, i) => ({ header: `all ours, ${c}`, value: (x: (typeof ratioRows)[number]) => fmt(ownCpu(x.cells[i]!.old) / ownCpu(x.cells[i]!.new), 2) })),
    ],
    ratioRows,
  );

  // 2. The measurements.
  const rows = r.dbKinds.flatMap((db) =>
    CLIENTS.flatMap((clients) =>
      KINDS.flatMap((kind) =>
        (['old', 'new'] as const).map((commit) => ({ db, clients, kind, commit, a: agg(db, kind, clients, commit), h: healthRate(db, clients, commit) })),
      ),
    ),
  );
  printTable(
    'Full sign-ins (GET /login + POST /acs) from the load process; CPU ms per sign-in: the server process, its PostgreSQL backends, the load process; others: the rest of the machine meanwhile',
    [
      { header: 'database', value: (x: (typeof rows)[number]) => label(x.db), align: 'left' },
      { header: 'clients', value: (x) => x.clients },
      { header: 'people', value: (x) => kindLabel(x.kind), align: 'left' },
      { header: 'commit', value: (x) => `${x.commit} ${commits[x.commit]}`, align: 'left' },
      { header: 'n', value: (x) => x.a.n },
      { header: 'sign-ins/s', value: (x) => fmt(x.a.perSec, 1) },
      { header: 'p50 ms', value: (x) => fmt(x.a.p50, 2) },
      { header: 'p99 ms', value: (x) => fmt(x.a.p99, 2) },
      { header: 'ACS p50', value: (x) => fmt(x.a.acsP50, 2) },
      { header: 'server CPU', value: (x) => fmt(x.a.serverCpu, 2) },
      { header: 'PG CPU', value: (x) => fmt(x.a.pgCpu, 2) },
      { header: 'load CPU', value: (x) => fmt(x.a.loadCpu, 2) },
      { header: 'others', value: (x) => `${Math.round(x.a.othersShare * 100)} %` },
      { header: 'idle server CPU', value: (x) => fmt(x.a.idleServerCpu, 2) },
      { header: 'stmts', value: (x) => fmt(x.a.statements, 2) },
      { header: 'commits', value: (x) => fmt(x.a.commits, 2) },
      { header: '/healthz/s', value: (x) => fmt(x.h, 0) },
      { header: '× /healthz', value: (x) => fmt(x.h / x.a.perSec, 1) },
    ],
    rows,
  );

  // 3. Round trips and commits, counted one sign-in at a time.
  const countRows = counted.map((c) => {
    const per = (f: (s: CountedSignin) => number) => mean(c.signins.map(f));
    return {
      c,
      acs: per((s) => s.acs.statements),
      acsMin: Math.min(...c.signins.map((s) => s.acs.statements)),
      acsMax: Math.max(...c.signins.map((s) => s.acs.statements)),
      acsCommits: per((s) => serverCommits(s.acs)),
      acsWriting: per((s) => writingCommits(s.acs)),
      acsTransactions: per((s) => s.acs.transactions),
      login: per((s) => s.login.statements),
      loginCommits: per((s) => serverCommits(s.login)),
      after: per((s) => s.after.statements),
      afterCommits: per((s) => serverCommits(s.after)),
      total: per((s) => s.login.statements + s.acs.statements + s.after.statements),
      totalCommits: per((s) => serverCommits(s.login) + serverCommits(s.acs) + serverCommits(s.after)),
      xactPerSignin: c.xact ? c.xact.commits / c.signins.length : null,
    };
  });
  printTable(
    `Round trips (statements, BEGIN and COMMIT included) and commits per sign-in, ${COUNTED} counted one at a time; commits = COMMITs + statements sent on their own (PostgreSQL commits each); target for the ACS: ≤ 9 round trips, 1 commit`,
    [
      { header: 'database', value: (x: (typeof countRows)[number]) => label(x.c.db), align: 'left' },
      { header: 'people', value: (x) => kindLabel(x.c.kind), align: 'left' },
      { header: 'commit', value: (x) => `${x.c.commit} ${commits[x.c.commit]}`, align: 'left' },
      { header: 'ACS stmts', value: (x) => (x.acsMin === x.acsMax ? String(x.acsMin) : `${fmt(x.acs, 1)} (${x.acsMin}–${x.acsMax})`) },
      { header: 'ACS commits', value: (x) => fmt(x.acsCommits, 1) },
      { header: 'of them writing', value: (x) => fmt(x.acsWriting, 1) },
      { header: '/login stmts', value: (x) => fmt(x.login, 1) },
      { header: '/login commits', value: (x) => fmt(x.loginCommits, 1) },
      { header: 'within 1.3 s after', value: (x) => `${fmt(x.after, 1)} (${fmt(x.afterCommits, 1)} commits)` },
      { header: 'whole sign-in', value: (x) => `${fmt(x.total, 1)} (${fmt(x.totalCommits, 1)} commits)` },
      { header: 'xact_commit', value: (x) => fmt(x.xactPerSignin, 1) },
    ],
    countRows,
  );
  for (const db of r.dbKinds) {
    for (const commit of ['old', 'new'] as const) {
      const c = counted.find((x) => x.db === db && x.kind === 'known' && x.commit === commit);
      if (!c) continue;
      console.log(`\nA known person's sign-in, ${commit} ${commits[commit]}, ${label(db)}: GET /login sent\n${c.example.login.map((l) => `    ${l}`).join('\n') || '    (nothing)'}`);
      console.log(`  POST /acs sent\n${c.example.acs.map((l, i) => `   ${String(i + 1).padStart(2)}. ${l}`).join('\n')}`);
      console.log(`  and within 1.3 s after the answer\n${c.example.after.map((l) => `    ${l}`).join('\n') || '    (nothing)'}`);
    }
  }
  console.log(
    `\n(server CPU = the server process's CPU time per sign-in; PG CPU = its database's PostgreSQL backends (read from /proc); load CPU = the load process's;\n` +
      ` others = the share of the machine's CPU (${os.cpus().length} cores) that everything else used meanwhile: other processes, PostgreSQL's background processes,\n` +
      ` the other commit's server (idle server CPU, ms per sign-in). × /healthz = /healthz/s ÷ sign-ins/s at the same clients.)`,
  );
  console.log(`\nsignin-load suite: ${r.totalSeconds} s`);

  return {
    totalSeconds: r.totalSeconds,
    commits,
    uncommittedSrc: r.dirty || null,
    rounds: r.rounds,
    ratios: ratioRows.map((x) => ({
      database: x.db,
      people: x.kind,
      byClients: Object.fromEntries(
        CLIENTS.map((c, i) => {
          const cell = x.cells[i]!;
          return [
            c,
            {
              newOverOld: round(cell.ratio, 3),
              perRoundMin: round(cell.min, 3),
              perRoundMax: round(cell.max, 3),
              serverCpuOldOverNew: round(cell.old.serverCpu / cell.new.serverCpu, 3),
              ownCpuOldOverNew: round(ownCpu(cell.old) / ownCpu(cell.new), 3),
            },
          ];
        }),
      ),
    })),
    signins: rows.map((x) => ({
      database: x.db,
      clients: x.clients,
      people: x.kind,
      commit: x.commit,
      n: x.a.n,
      perSec: round(x.a.perSec, 1),
      perRound: x.a.roundRates.map((v) => round(v, 1)),
      p50Ms: round(x.a.p50, 2),
      p99Ms: round(x.a.p99, 2),
      acsP50Ms: round(x.a.acsP50, 2),
      cpuMsPerSignin: { server: round(x.a.serverCpu, 2), postgres: x.a.pgCpu === null ? null : round(x.a.pgCpu, 2), load: round(x.a.loadCpu, 2), other: round(x.a.otherCpu, 2) },
      othersShareOfMachine: round(x.a.othersShare, 3),
      idleServerCpuMsPerSignin: round(x.a.idleServerCpu, 2),
      statementsPerSignin: round(x.a.statements, 2),
      commitsPerSignin: round(x.a.commits, 2),
      writingCommitsPerSignin: round(x.a.writingCommits, 2),
      healthzPerSec: round(x.h, 0),
    })),
    healthz: health.map((h) => ({ database: h.db, clients: h.clients, commit: h.commit, n: h.n, perSec: round((h.n / h.elapsedMs) * 1000, 0), p50Ms: round(percentile(h.latencies, 50), 3) })),
    counted: countRows.map((x) => ({
      database: x.c.db,
      people: x.c.kind,
      commit: x.c.commit,
      acs: { statements: round(x.acs, 2), min: x.acsMin, max: x.acsMax, transactions: round(x.acsTransactions, 2), commits: round(x.acsCommits, 2), writingCommits: round(x.acsWriting, 2) },
      login: { statements: round(x.login, 2), commits: round(x.loginCommits, 2) },
      afterAnswer: { statements: round(x.after, 2), commits: round(x.afterCommits, 2) },
      wholeSignin: { statements: round(x.total, 2), commits: round(x.totalCommits, 2) },
      pgXactCommitsPerSignin: x.xactPerSignin === null ? null : round(x.xactPerSignin, 2),
      exampleStatements: x.c.kind === 'known' ? x.c.example : undefined,
    })),
  };
}
