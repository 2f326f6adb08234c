import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { AutovacuumStandIn } from './autovacuum.js';

/** Anything SQL can be sent to: the database itself or an open transaction. One dialect: PostgreSQL. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: it commits whole or rolls back whole. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** pg returns int8 as strings; our int8 values (counters, ids) fit a JS number. */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * Most of what the app sends is a handful of statement texts, some of them large CTEs (a sign-in's,
 * a SCIM write's), and PostgreSQL parses and plans an unnamed statement anew each time: on a
 * sign-in that was most of the database's CPU. A named statement is parsed once per connection,
 * and after five executions PostgreSQL may keep a generic plan. Texts built at run time (filters)
 * could be many, and each named statement holds memory in its backend for the connection's life,
 * so a connection prepares at most MAX_PREPARED_PER_CONNECTION texts and sends the rest unnamed.
 */
const MAX_PREPARED_PER_CONNECTION = 200;

/** A statement's name: a digest of its text, so every connection and node gives a text the same name. */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `kd_${createHash('sha256').update(sql).digest('base64url').slice(0, 22)}`;
    // Only the app's own texts come here (values travel as parameters), but bound the memo all the same.
    if (statementNames.size >= 10 * MAX_PREPARED_PER_CONNECTION) statementNames.clear();
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * What Keydesk keeps about each pooled connection: the names it prepared (pg keeps its own record;
 * this one is for the limit), and the schema generation its statements were prepared under.
 */
interface ConnectionState {
  prepared: Set<string>;
  generation: number;
}

function send<R>(client: pg.PoolClient, state: ConnectionState, sql: string, params: readonly unknown[], prepare: boolean): Promise<pg.QueryResult<R & pg.QueryResultRow>> {
  // Without parameters pg uses the simple protocol, which also carries the migrations' scripts of
  // several statements (a named statement holds one).
  if (!prepare || params.length === 0) return client.query(sql, params as unknown[]);
  const name = statementName(sql);
  if (!state.prepared.has(name)) {
    if (state.prepared.size >= MAX_PREPARED_PER_CONNECTION) return client.query(sql, params as unknown[]);
    state.prepared.add(name);
  }
  return client.query({ name, text: sql, values: params as unknown[] });
}

/**
 * PostgreSQL's answer when a connection's named statement no longer fits the schema: a migration
 * changed the shape of its result ("cached plan must not change result type"), or the statement is
 * gone. The statement did not run.
 */
function isStaleStatement(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return (e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '')) || e?.code === '26000';
}

/**
 * A pool of pg connections, to a PostgreSQL server or to the embedded PGlite through its
 * node-postgres adapter: one driver, so both databases return the same types and both keep
 * statements prepared (PGlite's own `query` parses and plans every statement afresh).
 */
class PooledDb implements Db {
  /**
   * Moves on when any connection finds its statements stale (a schema change under a running
   * node): every connection checked out before then forgets its statements at its next checkout
   * rather than failing a statement of its own, so a migration costs a process one failed
   * statement at most.
   */
  private generation = 0;
  private readonly states = new WeakMap<pg.PoolClient, ConnectionState>();
  /** Only on PGlite, which has no autovacuum of its own (see autovacuum.ts). */
  private readonly autovacuum: AutovacuumStandIn | null;
  private readonly onClose: () => Promise<void>;

  constructor(
    readonly kind: 'pglite' | 'postgres',
    private readonly pool: pg.Pool,
    private readonly prepare: boolean,
    opts: { onClose?: () => Promise<void>; autovacuumIntervalMs?: number } = {},
  ) {
    this.onClose = opts.onClose ?? (async () => {});
    this.autovacuum = opts.autovacuumIntervalMs ? new AutovacuumStandIn(this, opts.autovacuumIntervalMs) : null;
  }

  private async connect(): Promise<{ client: pg.PoolClient; state: ConnectionState }> {
    for (;;) {
      const client = await this.pool.connect();
      let state = this.states.get(client);
      if (!state) this.states.set(client, (state = { prepared: new Set(), generation: this.generation }));
      if (state.generation === this.generation) return { client, state };
      if (this.kind === 'pglite') {
        try {
          await this.forgetStatements(client, state);
        } catch (err) {
          // Its one connection must go back to the pool whatever happens, or every later query waits.
          client.release();
          throw err;
        }
        return { client, state };
      }
      // A PostgreSQL connection's statements go with its backend.
      client.release(new Error('named statements from before a schema change'));
    }
  }

  /**
   * PGlite is one session for the life of the process, and pg's record of what it prepared lives on
   * the adapter's one connection object, so replacing the pg client would not drop the statements.
   */
  private async forgetStatements(client: pg.PoolClient, state: ConnectionState): Promise<void> {
    await client.query('DEALLOCATE ALL');
    (client as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements = {};
    state.prepared.clear();
    state.generation = this.generation;
  }

  /** Gives the connection back; when its statements went stale, every connection forgets its own. */
  private async release(client: pg.PoolClient, state: ConnectionState, err: unknown): Promise<void> {
    if (!isStaleStatement(err)) return client.release();
    if (state.generation === this.generation) this.generation++;
    if (this.kind === 'postgres') return client.release(err as Error);
    // Never destroyed: a new pg client would share the adapter's one connection object, and get
    // the old client's end. Statements not forgotten now are forgotten at the next checkout.
    await this.forgetStatements(client, state).catch(() => undefined);
    client.release();
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    for (let attempt = 0; ; attempt++) {
      const { client, state } = await this.connect();
      let failure: unknown;
      try {
        return (await send<T>(client, state, sql, params, this.prepare)).rows;
      } catch (err) {
        failure = err;
        // It did not run: once more on a connection that prepares it afresh.
        if (attempt === 0 && isStaleStatement(err)) continue;
        throw err;
      } finally {
        await this.release(client, state, failure);
      }
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const { client, state } = await this.connect();
    let stale: unknown;
    const tx: Queryable = {
      query: async <R>(sql: string, params: readonly unknown[] = []) => {
        try {
          return (await send<R>(client, state, sql, params, this.prepare)).rows;
        } catch (err) {
          if (isStaleStatement(err)) stale = err;
          throw err;
        }
      },
    };
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await this.release(client, state, stale);
    }
  }

  async close(): Promise<void> {
    await this.autovacuum?.stop();
    await this.pool.end();
    await this.onClose();
  }
}

/**
 * A pool of `max` connections to the PostgreSQL server at `url`. `preparedStatements: false` sends
 * every statement unnamed, for a connection pooler that cannot carry named statements between
 * clients (PgBouncer in transaction mode before 1.21, or without max_prepared_statements).
 */
export async function openPostgres(url: string, max = 10, opts: { preparedStatements?: boolean } = {}): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max, types: pgTypes });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return new PooledDb('postgres', pool, opts.preparedStatements ?? true);
}

/**
 * The embedded database in `dataDir` (undefined: in memory, for tests). PGlite is one session, so
 * the pool holds one connection: a transaction has it to itself, and statements outside wait for
 * the transaction to end, as they would with PGlite's own `transaction`. It has no autovacuum, so
 * every `autovacuumIntervalMs` (default 30 s; 0: never) Keydesk does autovacuum's work on it (autovacuum.ts).
 */
export async function openPglite(dataDir?: string, opts: { autovacuumIntervalMs?: number } = {}): Promise<Db> {
  const pglite = new PGlite(dataDir);
  await pglite.waitReady;
  // idleTimeoutMillis 0: the one connection stays open; closing it would gain nothing.
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1, idleTimeoutMillis: 0, types: pgTypes });
  pool.on('error', () => undefined);
  return new PooledDb('pglite', pool, true, { onClose: () => pglite.close(), autovacuumIntervalMs: opts.autovacuumIntervalMs ?? 30_000 });
}

export function openDatabase(opts: { databaseUrl?: string; dataDir?: string; preparedStatements?: boolean }): Promise<Db> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, 10, { preparedStatements: opts.preparedStatements }) : openPglite(opts.dataDir);
}

/** Unique-violation test that works for both drivers (both surface SQLSTATE as `code`). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e?.code !== '23505') return false;
  if (!constraint) return true;
  return e.constraint === constraint || (e.message ?? '').includes(constraint);
}
