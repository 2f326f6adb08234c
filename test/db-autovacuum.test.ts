/**
 * The embedded database (PGlite) has no autovacuum, so Keydesk does its work (src/db/autovacuum.ts):
 * without it a prepared statement keeps the generic plan it got while its table was small, and reads
 * the whole table once the table has grown; dead rows are never reclaimed.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPglite, type Db } from '../src/db/db.js';
import { autovacuumOnce, AutovacuumStandIn } from '../src/db/autovacuum.js';
import { migrate } from '../src/db/migrate.js';

const opened: Db[] = [];
after(async () => {
  for (const db of opened) await db.close();
});

async function open(autovacuumIntervalMs?: number): Promise<Db> {
  // An interval of an hour: nothing runs on its own unless the test asks for it.
  const db = await openPglite(undefined, { autovacuumIntervalMs: autovacuumIntervalMs ?? 3_600_000 });
  opened.push(db);
  return db;
}

const createPeople = `CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL); CREATE UNIQUE INDEX people_email ON people (lower(email));`;

/** Shaped like the account lookup of a just-in-time sign-in (src/identity/provisioning/accounts.ts). */
const lookup = `SELECT u.id FROM users u WHERE u.tenant_id = $1
   AND (lower(u.email) = lower($2) OR (u.deleted_at IS NULL AND lower(coalesce(u.user_name, u.email)) = lower($2)))
   ORDER BY u.deleted_at IS NULL DESC LIMIT 1`;

/** EXPLAIN ANALYZE of `lookup` as the connection's own prepared statement runs it now. */
async function planOfPrepared(db: Db, params: [string, string]): Promise<string> {
  const [{ name }] = (await db.query<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE statement = $1', [lookup])) as [{ name: string }];
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) EXECUTE "${name}"('${params[0]}', '${params[1]}')`);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

test('a prepared account lookup planned at one user reads all 20,000 once the tenant grew, and uses the indexes after autovacuumOnce', async () => {
  const db = await open();
  await migrate(db);
  const [{ id: tenant }] = (await db.query<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ('t', 'T') RETURNING id`)) as [{ id: string }];
  const addPeople = (from: number, to: number) =>
    db.query(`INSERT INTO users (tenant_id, email, display_name, status, source) SELECT $1, 'p' || g || '@example.com', 'P', 'active', 'local' FROM generate_series($2::int, $3::int) g`, [tenant, from, to]);
  await addPeople(1, 1);
  // Past five executions PostgreSQL may settle on a generic plan: at one user, the tenant's rows by any index, filtered.
  for (let i = 0; i < 8; i++) assert.equal((await db.query(lookup, [tenant, `nobody${i}@example.com`])).length, 0);
  await addPeople(2, 20_000);

  const before = await planOfPrepared(db, [tenant, 'p12345@example.com']);
  assert.match(before, /Rows Removed by Filter: \d{5}/, `the stale plan reads the tenant's users:\n${before}`);

  const { analyzed } = await autovacuumOnce(db);
  assert.ok(analyzed.includes('public.users'), `users was analyzed: ${analyzed.join(', ')}`);
  const afterwards = await planOfPrepared(db, [tenant, 'p12345@example.com']);
  assert.match(afterwards, /Bitmap Index Scan on users_email_key/, afterwards);
  assert.doesNotMatch(afterwards, /Rows Removed by Filter/, afterwards);
  assert.equal((await db.query(lookup, [tenant, 'P12345@example.com'])).length, 1);
});

test('autovacuumOnce vacuums a table past the dead-row threshold and leaves tables under every threshold alone', async () => {
  const db = await open();
  await db.query(createPeople);
  await db.query(`CREATE TABLE quiet (n int); INSERT INTO quiet VALUES (1), (2);`);
  await db.query(`INSERT INTO people SELECT g, 'p' || g || '@example.com' FROM generate_series(1, 3000) g`);
  await autovacuumOnce(db);
  await db.query('DELETE FROM people WHERE id <= 1500');
  const deadRows = async () => {
    await db.query('SELECT pg_stat_force_next_flush()');
    const [row] = await db.query<{ dead: number }>(`SELECT n_dead_tup AS dead FROM pg_stat_user_tables WHERE relname = 'people'`);
    return row!.dead;
  };
  assert.equal(await deadRows(), 1500);

  const { vacuumed, analyzed } = await autovacuumOnce(db);
  assert.deepEqual(vacuumed, ['public.people']);
  assert.deepEqual(analyzed, ['public.people']);
  assert.equal(await deadRows(), 0);
  // Nothing is due any more: a second run does nothing.
  assert.deepEqual(await autovacuumOnce(db), { vacuumed: [], analyzed: [] });
});

test('openPglite runs it on its own every interval, and close() waits for a run under way', async () => {
  const db = await open(50);
  await db.query(createPeople);
  await db.query(`INSERT INTO people SELECT g, 'p' || g || '@example.com' FROM generate_series(1, 2000) g`);
  let reltuples = -1;
  for (let waited = 0; waited < 10_000 && reltuples < 2000; waited += 50) {
    await sleep(50);
    [{ reltuples }] = (await db.query<{ reltuples: number }>(`SELECT reltuples::int AS reltuples FROM pg_class WHERE relname = 'people'`)) as [{ reltuples: number }];
  }
  assert.equal(reltuples, 2000, 'the table was analyzed without being asked');
  await db.close();
  opened.splice(opened.indexOf(db), 1);
});

test('a run that fails is retried, and warned about once until a run succeeds again', async () => {
  let failing = true;
  let runs = 0;
  const q = {
    query: async <T>(): Promise<T[]> => {
      runs++;
      if (failing) throw new Error('the database is away');
      return [];
    },
  };
  const warnings: string[] = [];
  const standIn = new AutovacuumStandIn(q, 10, (message) => warnings.push(message));
  try {
    const until = async (done: () => boolean) => {
      for (let waited = 0; waited < 5_000 && !done(); waited += 10) await sleep(10);
    };
    await until(() => runs >= 5);
    assert.ok(runs >= 5, 'retried at every interval');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /maintenance \(ANALYZE, VACUUM\) failed and will be retried: the database is away/);
    failing = false;
    const succeeded = runs;
    await until(() => runs >= succeeded + 4);
    failing = true;
    const failed = runs;
    await until(() => runs >= failed + 5);
    assert.equal(warnings.length, 2, 'warned again after a success');
  } finally {
    await standIn.stop();
  }
});

test('growth from before a restart is analyzed too: PGlite forgets its change counters when it closes', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'keydesk-autovacuum-'));
  try {
    let db = await openPglite(dataDir, { autovacuumIntervalMs: 3_600_000 });
    await db.query(`${createPeople} INSERT INTO people SELECT g, 'p' || g || '@example.com' FROM generate_series(1, 5) g; ANALYZE people;`);
    await db.query(`INSERT INTO people SELECT g, 'p' || g || '@example.com' FROM generate_series(6, 20000) g`);
    await db.close();

    db = await openPglite(dataDir, { autovacuumIntervalMs: 3_600_000 });
    opened.push(db);
    await db.query('SELECT pg_stat_force_next_flush()');
    const [counters] = await db.query<{ changed: number }>(`SELECT n_mod_since_analyze AS changed FROM pg_stat_user_tables WHERE relname = 'people'`);
    assert.equal(counters!.changed, 0, 'the counters start again from nothing');

    assert.deepEqual((await autovacuumOnce(db)).analyzed, ['public.people']);
    const [{ reltuples }] = (await db.query<{ reltuples: number }>(`SELECT reltuples::int AS reltuples FROM pg_class WHERE relname = 'people'`)) as [{ reltuples: number }];
    assert.equal(reltuples, 20000);
    assert.deepEqual(await autovacuumOnce(db), { vacuumed: [], analyzed: [] });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a table dropped before its turn is skipped; another failure is thrown after the other tables had theirs', async () => {
  const db = await open();
  const twoTables = async () => {
    await db.query(`DROP TABLE IF EXISTS a_first; DROP TABLE IF EXISTS b_next;
                    CREATE TABLE a_first (n int); CREATE TABLE b_next (n int);
                    INSERT INTO a_first SELECT generate_series(1, 100); INSERT INTO b_next SELECT generate_series(1, 100);`);
  };
  const reltuples = async (table: string) =>
    ((await db.query<{ n: number }>(`SELECT reltuples::int AS n FROM pg_class WHERE relname = $1`, [table]))[0]?.n ?? null);
  /** The database, with something done just before a_first's turn. */
  const withTurnOfFirst = (before: () => Promise<void>) => ({
    query: async <T>(sql: string, params?: readonly unknown[]): Promise<T[]> => {
      if (/^(ANALYZE|VACUUM).*public\.a_first$/.test(sql)) await before();
      return db.query<T>(sql, params);
    },
  });

  await twoTables();
  const dropped = await autovacuumOnce(withTurnOfFirst(() => db.query('DROP TABLE a_first').then(() => undefined)));
  assert.deepEqual(dropped.analyzed, ['public.b_next']);
  assert.equal(await reltuples('b_next'), 100);

  await twoTables();
  await assert.rejects(
    autovacuumOnce(withTurnOfFirst(() => Promise.reject(Object.assign(new Error('disk full'), { code: '53100' })))),
    /disk full/,
  );
  assert.equal(await reltuples('b_next'), 100, 'b_next still had its turn');
  assert.equal(await reltuples('a_first'), -1);
});

test('an interval setInterval would not honour is refused', () => {
  const q = { query: async <T>(): Promise<T[]> => [] };
  for (const bad of [0, -5, 1.5, Infinity, NaN, 2 ** 31]) assert.throws(() => new AutovacuumStandIn(q, bad), RangeError, String(bad));
});
