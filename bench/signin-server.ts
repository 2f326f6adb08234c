/**
 * One Keydesk server for the signin-load suite (bench/signin-load.ts), in a process of its own.
 * It runs the code of the checkout named by KD_ROOT (this one, or the old commit's worktree): that
 * checkout's own config, database, migrations, tenant and connection code, as `keydesk serve`
 * starts it (openDatabase, migrate, buildApp, listen), so two commits are set up alike.
 *
 * The only addition is a Db that counts what the app sends through it: statements (BEGIN and
 * COMMIT included, each a round trip), transactions, and statements sent on their own
 * (autocommitted; PostgreSQL commits each). The suite reads the counts, this process's CPU time and
 * an optional statement log over the IPC channel; nothing is added to the HTTP side.
 *
 * Started by the suite with `node --import tsx bench/signin-server.ts` and an IPC channel;
 * environment: KD_ROOT, DATABASE_URL or KEYDESK_DATA_DIR, KEYDESK_SECRET, KEYDESK_WORKER=false,
 * KEYDESK_TRUST_PROXY=true, LOG_LEVEL, KEYDESK_WEB_DIR, BENCH_IDP_ENTITY_ID, BENCH_IDP_CERT (PEM).
 * Not meant to be run by hand.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The modules are the other checkout's; their shapes are today's (checked: the same signatures at
// 380f93c), so today's types describe them.
type AppModule = typeof import('../src/app.js');
type ConfigModule = typeof import('../src/config.js');
type DbModule = typeof import('../src/db/db.js');
type MigrateModule = typeof import('../src/db/migrate.js');
type TenantsModule = typeof import('../src/tenancy/tenants.js');
type ActorModule = typeof import('../src/identity/actor.js');
type ConnectionsModule = typeof import('../src/identity/connections.js');
type Db = import('../src/db/db.js').Db;
type Queryable = import('../src/db/db.js').Queryable;

/** What the counting Db has seen since the process started. */
export interface ServerCounts {
  /** Every statement sent, BEGIN, COMMIT and ROLLBACK included: the round trips. */
  statements: number;
  /** Transactions opened (BEGIN). */
  transactions: number;
  commits: number;
  rollbacks: number;
  /** Statements sent on their own, outside a transaction: each is a transaction of its own. */
  autocommitted: number;
  /** Of those, the ones that write (INSERT, UPDATE, DELETE). */
  autocommittedWrites: number;
}

/** Messages from the suite. */
export type ServerCommand = { cmd: 'snapshot'; id: number } | { cmd: 'log'; id: number; on: boolean } | { cmd: 'stop'; id: number };

/** Answers to the suite. */
export type ServerMessage =
  | { type: 'ready'; url: string; tenantSlug: string; connSlug: string; acsUrl: string; loginUrl: string; spEntityId: string; pid: number }
  | { type: 'snapshot'; id: number; counts: ServerCounts; cpuMicros: number; log: string[] }
  | { type: 'ok'; id: number }
  | { type: 'error'; message: string };

const WRITE = /^\s*(with\b[\s\S]*\b(insert|update|delete)\b|insert|update|delete)\b/i;

function countingDb(db: Db, counts: ServerCounts, log: { on: boolean; lines: string[] }): Db {
  const note = (sql: string, inTransaction: boolean) => {
    counts.statements++;
    if (log.on) log.lines.push(`${inTransaction ? '  ' : ''}${sql.replace(/\s+/g, ' ').trim().slice(0, 160)}`);
  };
  return {
    kind: db.kind,
    query: <T>(sql: string, params?: readonly unknown[]) => {
      note(sql, false);
      counts.autocommitted++;
      if (WRITE.test(sql)) counts.autocommittedWrites++;
      return db.query<T>(sql, params);
    },
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => {
      note('BEGIN', true);
      counts.transactions++;
      return db
        .transaction((tx) => fn({ query: <R>(sql: string, params?: readonly unknown[]) => (note(sql, true), tx.query<R>(sql, params)) }))
        .then(
          (v) => {
            note('COMMIT', true);
            counts.commits++;
            return v;
          },
          (err: unknown) => {
            note('ROLLBACK', true);
            counts.rollbacks++;
            throw err;
          },
        );
    },
    close: () => db.close(),
  };
}

async function main(): Promise<void> {
  const root = process.env.KD_ROOT;
  if (!root || !process.send) throw new Error('signin-server.ts is started by bench/signin-load.ts (KD_ROOT and an IPC channel)');
  const send = (m: ServerMessage) => process.send!(m);
  const load = <T>(rel: string) => import(pathToFileURL(path.join(root, 'src', rel)).href) as Promise<T>;
  const { buildApp } = await load<AppModule>('app.ts');
  const { loadConfig } = await load<ConfigModule>('config.ts');
  const { openDatabase } = await load<DbModule>('db/db.ts');
  const { migrate } = await load<MigrateModule>('db/migrate.ts');
  const { createTenant } = await load<TenantsModule>('tenancy/tenants.ts');
  const { loadActor } = await load<ActorModule>('identity/actor.ts');
  const { createSamlConnection, spUrls } = await load<ConnectionsModule>('identity/connections.ts');

  // As `keydesk serve`: configuration from the environment, the database it names, migrated.
  const config = loadConfig({ ...process.env, PORT: '0' });
  const raw = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(raw);

  // The same tenant and connection on every commit, made by that commit's own code.
  const tenantSlug = 'bench';
  const connSlug = 'entra';
  const created = await createTenant(raw, { slug: tenantSlug, name: 'Bench Company', adminEmail: 'admin@bench.example', adminPassword: 'bench-admin-password-0123' });
  const admin = (await loadActor(raw, created.tenant, created.admin.id))!.ctx;
  await createSamlConnection(admin, {
    slug: connSlug,
    publish: true,
    source: { entityId: process.env.BENCH_IDP_ENTITY_ID!, ssoUrl: 'https://login.microsoftonline.com/bench/saml2', certificates: [process.env.BENCH_IDP_CERT!] },
  });

  const counts: ServerCounts = { statements: 0, transactions: 0, commits: 0, rollbacks: 0, autocommitted: 0, autocommittedWrites: 0 };
  const log = { on: false, lines: [] as string[] };
  const db = countingDb(raw, counts, log);
  const app = await buildApp({ config, db, logger: false });
  app.addHook('onClose', async () => db.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  // PUBLIC_URL is the address the load process uses (Destination, Audience and Recipient follow it).
  config.publicUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const sp = spUrls(config.publicUrl, tenantSlug, connSlug);

  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= app.close().then(() => undefined, () => undefined));
  process.on('message', (m: ServerCommand) => {
    if (m.cmd === 'snapshot') {
      const cpu = process.cpuUsage();
      send({ type: 'snapshot', id: m.id, counts: { ...counts }, cpuMicros: cpu.user + cpu.system, log: log.lines.splice(0) });
    } else if (m.cmd === 'log') {
      log.on = m.on;
      log.lines.length = 0;
      send({ type: 'ok', id: m.id });
    } else if (m.cmd === 'stop') {
      void stop().then(() => {
        send({ type: 'ok', id: m.id });
        setImmediate(() => process.exit(0));
      });
    }
  });
  // The suite gone (ended or killed): so is this server.
  process.on('disconnect', () => void stop().then(() => process.exit(0)));
  send({ type: 'ready', url: config.publicUrl, tenantSlug, connSlug, acsUrl: sp.acsUrl, loginUrl: sp.loginUrl, spEntityId: sp.entityId, pid: process.pid });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies ServerMessage);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
});
