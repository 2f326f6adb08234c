/**
 * Statements go to PostgreSQL as named prepared statements (src/db/db.ts): each connection parses a
 * text once, prepares at most 200 texts (the rest go unnamed, so texts built at run time cannot
 * grow a backend's memory without bound), sends parameterless scripts of several statements as
 * before, and prepares nothing with `preparedStatements: false` (KEYDESK_PG_PREPARED_STATEMENTS).
 * A schema change under a running process (a migration while it serves) costs it at most one
 * failed statement: a statement outside a transaction is sent again, and every connection that
 * prepared statements before the change is replaced.
 * The embedded database goes through the same pg pool (PGlite's node-postgres adapter), so it
 * prepares too; its one session forgets its statements after a schema change.
 * Read from PostgreSQL's own pg_prepared_statements.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPglite, openPostgres, type Db } from '../src/db/db.js';
import { freshPostgresDatabase } from './helpers/app.js';
import { loadConfig } from '../src/config.js';

let server: Awaited<ReturnType<typeof freshPostgresDatabase>>;
const opened: Db[] = [];

before(async () => {
  server = await freshPostgresDatabase();
});
after(async () => {
  for (const db of opened) await db.close();
  await server.drop();
});

async function open(preparedStatements?: boolean, connections = 1): Promise<Db> {
  const db = await openPostgres(server.url, connections, preparedStatements === undefined ? {} : { preparedStatements });
  opened.push(db);
  return db;
}

/** The statements this connection has prepared (a query without parameters is itself never prepared). */
const prepared = async (db: Db) =>
  (await db.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements WHERE name LIKE 'kd\\_%' ORDER BY prepare_time`)).map((r) => r.statement);

test('a statement with parameters is prepared once on its connection and then reused', async () => {
  const db = await open();
  for (let i = 0; i < 3; i++) assert.deepEqual(await db.query('SELECT $1::int + 1 AS n', [i]), [{ n: i + 1 }]);
  await db.transaction(async (tx) => assert.deepEqual(await tx.query('SELECT $1::int + 1 AS n', [41]), [{ n: 42 }]));
  assert.deepEqual(await prepared(db), ['SELECT $1::int + 1 AS n']);
});

test('a connection prepares at most 200 texts; beyond them statements still run, unnamed', async () => {
  const db = await open();
  for (let i = 0; i < 230; i++) assert.deepEqual(await db.query(`SELECT $1::int AS n, ${i} AS k`, [i]), [{ n: i, k: i }]);
  const names = await prepared(db);
  assert.equal(names.length, 200);
  assert.equal(names[0], 'SELECT $1::int AS n, 0 AS k');
  assert.ok(!names.includes('SELECT $1::int AS n, 229 AS k'));
  // A text already prepared stays in use past the limit.
  assert.deepEqual(await db.query('SELECT $1::int AS n, 0 AS k', [7]), [{ n: 7, k: 0 }]);
  assert.equal((await prepared(db)).length, 200);
});

test('a script of several statements without parameters runs as before', async () => {
  const db = await open();
  await db.query('CREATE TEMP TABLE t1 (n int); INSERT INTO t1 VALUES (1), (2);');
  assert.deepEqual(await db.query('SELECT count(*)::int AS c FROM t1 WHERE n > $1', [0]), [{ c: 2 }]);
});

test('a statement that fails leaves the connection usable and its text can run again', async () => {
  const db = await open();
  await assert.rejects(db.query('SELECT 1 / $1::int AS x', [0]), /division by zero/);
  assert.deepEqual(await db.query('SELECT 1 / $1::int AS x', [1]), [{ x: 1 }]);
  await assert.rejects(db.query('SELEC $1', [1]), /syntax error/);
  assert.deepEqual(await db.query('SELECT $1::int AS y', [3]), [{ y: 3 }]);
});

test('KEYDESK_PG_PREPARED_STATEMENTS=false prepares nothing', async () => {
  const config = loadConfig({ KEYDESK_PG_PREPARED_STATEMENTS: 'false', DATABASE_URL: server.url, KEYDESK_SECRET: 'x'.repeat(32) });
  assert.equal(config.preparedStatements, false);
  assert.equal(loadConfig({ DATABASE_URL: server.url, KEYDESK_SECRET: 'x'.repeat(32) }).preparedStatements, true);
  const db = await open(config.preparedStatements);
  for (let i = 0; i < 3; i++) await db.query('SELECT $1::int AS n', [i]);
  assert.deepEqual(await prepared(db), []);
});

/** Both connections of a pool of two prepare `sql` (two transactions held open at once). */
async function prepareOnBoth(db: Db, sql: string, params: unknown[]): Promise<void> {
  let arrived = 0;
  let go!: () => void;
  const bothIn = new Promise<void>((resolve) => (go = resolve));
  await Promise.all(
    [0, 1].map(() =>
      db.transaction(async (tx) => {
        await tx.query(sql, params);
        if (++arrived === 2) go();
        await bothIn;
      }),
    ),
  );
}

/**
 * A table holding the row `n`, whose `SELECT *` both connections of a new pool of two have
 * prepared; then a column is added from another connection, as a migration would.
 */
async function columnAddedUnderPool(table: string, n: number): Promise<{ db: Db; sql: string }> {
  const ddl = await open(false);
  await ddl.query(`CREATE TABLE ${table} (n int); INSERT INTO ${table} VALUES (${n});`);
  const db = await open(true, 2);
  const sql = `SELECT * FROM ${table} WHERE n = $1`;
  await prepareOnBoth(db, sql, [n]);
  await ddl.query(`ALTER TABLE ${table} ADD COLUMN extra text`);
  return { db, sql };
}

test('a column added under a running process: the next statement outside a transaction runs (sent again), and no other connection fails', async () => {
  const { db, sql } = await columnAddedUnderPool('shape_a', 1);
  assert.deepEqual(await db.query(sql, [1]), [{ n: 1, extra: null }]);
  // The other connection prepared it before the change too: it is replaced, not failed.
  await prepareOnBoth(db, sql, [1]);
  assert.deepEqual(await db.query(sql, [1]), [{ n: 1, extra: null }]);
});

test('a column added under a running process: a transaction that meets the stale statement fails once, and the next one runs', async () => {
  const { db, sql } = await columnAddedUnderPool('shape_b', 2);
  await assert.rejects(db.transaction((tx) => tx.query(sql, [2])), /cached plan must not change result type/);
  for (let i = 0; i < 3; i++) assert.deepEqual(await db.transaction((tx) => tx.query(sql, [2])), [{ n: 2, extra: null }]);
  await prepareOnBoth(db, sql, [2]);
});

test('the embedded database (PGlite) prepares statements too, and after a schema change fails at most one transaction', async () => {
  const db = await openPglite();
  opened.push(db);
  await db.query('CREATE TABLE shape_c (n int); INSERT INTO shape_c VALUES (3);');
  const sql = 'SELECT * FROM shape_c WHERE n = $1';
  for (let i = 0; i < 2; i++) assert.deepEqual(await db.query(sql, [3]), [{ n: 3 }]);
  assert.deepEqual(await prepared(db), [sql]);
  // Its one session is the one that changes the schema: outside a transaction the statement is sent again.
  await db.query('ALTER TABLE shape_c ADD COLUMN extra text');
  assert.deepEqual(await db.query(sql, [3]), [{ n: 3, extra: null }]);
  await db.query('ALTER TABLE shape_c ADD COLUMN more int');
  await assert.rejects(db.transaction((tx) => tx.query(sql, [3])), /cached plan must not change result type/);
  for (let i = 0; i < 2; i++) assert.deepEqual(await db.transaction((tx) => tx.query(sql, [3])), [{ n: 3, extra: null, more: null }]);
  assert.deepEqual(await prepared(db), [sql]);
});
