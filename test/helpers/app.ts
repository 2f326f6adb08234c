import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { ActorCtx, Tenant } from '../../src/context.js';
import { openPglite, openPostgres, type Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { loadActor } from '../../src/identity/actor.js';
import type { Role } from '../../src/identity/roles.js';
import { createSession } from '../../src/identity/sessions/sessions.js';
import { createUser } from '../../src/identity/users.js';
import { flushRateLimits } from '../../src/http/rate-limit.js';
import { flushActivity } from '../../src/scim/activity.js';
import { createTenant } from '../../src/tenancy/tenants.js';
import { Client } from './client.js';

/** Which database this run uses: `pglite` (default) or `postgres` (needs DATABASE_URL). */
export const TEST_DB = process.env.KEYDESK_TEST_DB === 'postgres' ? 'postgres' : 'pglite';

/**
 * A fresh, empty database for one test file: an in-memory PGlite, or a new database on the
 * PostgreSQL server named by DATABASE_URL (dropped again on close).
 */
export async function freshDatabase(): Promise<{ db: Db; url?: string; drop: () => Promise<void> }> {
  if (TEST_DB === 'pglite') {
    const db = await openPglite();
    await migrate(db);
    return { db, drop: () => db.close() };
  }
  return freshPostgresDatabase();
}

/** A new database on the PostgreSQL server (DATABASE_URL, or the local default), whatever this run's TEST_DB. */
export async function freshPostgresDatabase(): Promise<{ db: Db; url: string; drop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `keydesk_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = await openPostgres(url.toString(), 5);
  await migrate(db);
  return {
    db,
    url: url.toString(),
    drop: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestTenant {
  tenant: Tenant;
  adminEmail: string;
  adminPassword: string;
  adminId: string;
}

export interface TestApp {
  url: string;
  db: Db;
  /** On PostgreSQL, the test database's URL (another process, such as the CLI, can open it); null on in-memory PGlite. */
  databaseUrl: string | null;
  app: FastifyInstance;
  config: Config;
  close(): Promise<void>;
  /** A tenant with a first admin whose password is known (and need not be changed). */
  tenant(slug?: string): Promise<TestTenant>;
  /** A new active user with these roles, and a client already signed in as them. */
  user(t: Tenant, roles: Role[], email?: string): Promise<{ id: string; email: string; client: Client; ctx: ActorCtx }>;
  client(): Client;
  /** Writes the app's batched rate-limit hits now (src/http/rate-limit.ts), so no batch falls inside what a test counts next. */
  flushRateLimits(): Promise<void>;
  /** Writes the SCIM activity lines the app queued (reads, refusals, failed writes: src/scim/activity.ts). */
  flushActivity(): Promise<void>;
}

let counter = 0;

/** Starts Keydesk on a fresh database, listening on a loopback port: tests speak real HTTP to it. */
/** Every statement the app sent to the database, in order: a round trip each (BEGIN and COMMIT included). */
export interface StatementLog {
  statements: { sql: string; inTransaction: boolean }[];
  /** Forget what was logged so far. */
  reset(): void;
}

/** The database as the app sees it, logging each statement it sends (for counting round trips). */
function loggingDb(db: Db, log: StatementLog): Db {
  const note = (sql: string, inTransaction: boolean) => log.statements.push({ sql: sql.replace(/\s+/g, ' ').trim(), inTransaction });
  return {
    kind: db.kind,
    query: (sql, params) => (note(sql, false), db.query(sql, params)),
    transaction: (fn) => {
      note('BEGIN', true);
      return db
        .transaction((tx) => fn({ query: (sql, params) => (note(sql, true), tx.query(sql, params)) }))
        .then(
          (v) => (note('COMMIT', true), v),
          (err: unknown) => {
            note('ROLLBACK', true);
            throw err;
          },
        );
    },
    close: () => db.close(),
  };
}

export async function startApp(env: Record<string, string> = {}, opts: { statementLog?: StatementLog } = {}): Promise<TestApp> {
  const { db, url: databaseUrl, drop } = await freshDatabase();
  const config = loadConfig({
    PORT: '0',
    KEYDESK_SECRET: 'test-secret-test-secret-test-secret-0123',
    KEYDESK_DATA_DIR: '/tmp/keydesk-test-unused',
    LOG_LEVEL: 'warn',
    // Webhook receivers in tests listen on loopback; jobs run promptly.
    KEYDESK_WEBHOOK_ALLOW_PRIVATE: 'true',
    KEYDESK_WORKER_POLL_MS: '50',
    ...(process.env.KEYDESK_WEB_DIR ? { KEYDESK_WEB_DIR: process.env.KEYDESK_WEB_DIR } : {}),
    ...env,
  });
  const appDb = opts.statementLog ? loggingDb(db, opts.statementLog) : db;
  const app = await buildApp({ config, db: appDb, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  // The configured public URL must be the one browsers use, for Origin checks and cookies.
  config.publicUrl = url;

  const t: TestApp = {
    url,
    db,
    databaseUrl: databaseUrl ?? null,
    app,
    config,
    flushRateLimits: () => flushRateLimits(appDb),
    flushActivity: () => flushActivity(appDb),
    async close() {
      await app.close();
      await drop();
    },
    async tenant(slug) {
      const s = slug ?? `t${process.pid}x${++counter}`;
      const adminPassword = `pw-${randomBytes(9).toString('base64url')}`;
      const created = await createTenant(db, { slug: s, name: `Tenant ${s}`, adminEmail: `admin@${s}.test`, adminPassword });
      await db.query('UPDATE users SET password_change_required = false WHERE tenant_id = $1', [created.tenant.id]);
      return { tenant: created.tenant, adminEmail: created.admin.email, adminPassword, adminId: created.admin.id };
    },
    async user(tenant, roles, email) {
      const system = { db, tenant, actor: null };
      const u = await db.transaction((tx) =>
        createUser(system, tx, { email: email ?? `u${++counter}-${roles.join('-') || 'none'}@${tenant.slug}.test`, displayName: `User ${counter}`, roles }),
      );
      const s = await db.transaction((tx) => createSession(tx, config.session, { tenantId: tenant.id, userId: u.id, method: 'test' }));
      const client = new Client(url);
      client.setSession(s.cookieValue, s.session.csrfToken);
      const actor = await loadActor(db, tenant, u.id);
      return { id: u.id, email: u.email, client, ctx: actor!.ctx };
    },
    client: () => new Client(url),
  };
  return t;
}
