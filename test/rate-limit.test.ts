/**
 * The shared rate limit (src/http/rate-limit.ts): counted in batches, so a hit well inside the
 * budget sends nothing on the request's path, yet the budget holds across nodes sharing the
 * database, and exactly on one node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../src/db/db.js';
import { TooManyRequests } from '../src/http/errors.js';
import { flushRateLimits, hit } from '../src/http/rate-limit.js';
import { freshDatabase } from './helpers/app.js';
import { freshWindow } from './helpers/windows.js';

let db: Db;
let drop: () => Promise<void>;
before(async () => {
  ({ db, drop } = await freshDatabase());
});
after(() => drop());

/** Another process on the same database, as far as the limiter can tell: its own counters, counting what it sends. */
function node(): Queryable & { sent: number } {
  const n = { sent: 0, query: <T>(sql: string, params?: readonly unknown[]) => (n.sent++, db.query<T>(sql, params)) };
  return n;
}
const shared = async (bucket: string) => (await db.query<{ hits: number }>('SELECT coalesce(sum(hits), 0)::int AS hits FROM rate_limit_counters WHERE bucket = $1', [bucket]))[0]!.hits;
const refused = (p: Promise<void>) =>
  p.then(
    () => false,
    (err: unknown) => {
      if (err instanceof TooManyRequests) return true;
      throw err;
    },
  );

describe('the shared rate limit', () => {
  test('hits inside half the budget send nothing at once; they reach the shared row within a second or two', async () => {
    await freshWindow(60, 10);
    const a = node();
    const bucket = `t:${randomUUID()}`;
    for (let i = 0; i < 10; i++) await hit(a, { bucket, max: 100, windowSeconds: 60 });
    assert.equal(a.sent, 0, 'no statement on the requests’ path');
    for (let i = 0; i < 100 && (await shared(bucket)) < 10; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await shared(bucket), 10, 'the batch arrived');
    assert.equal(a.sent, 1, 'in one statement');
  });

  test('one node writes all its buckets’ hits in one statement, however many sources it sees', async () => {
    await freshWindow(60, 10);
    const a = node();
    const buckets = Array.from({ length: 40 }, () => `t:${randomUUID()}`);
    for (const bucket of buckets) for (let i = 0; i < 3; i++) await hit(a, { bucket, max: 100, windowSeconds: 60 });
    assert.equal(a.sent, 0);
    for (let i = 0; i < 100 && (await shared(buckets.at(-1)!)) < 3; i++) await new Promise((r) => setTimeout(r, 50));
    for (const bucket of buckets) assert.equal(await shared(bucket), 3, bucket);
    assert.equal(a.sent, 1, 'one statement for 40 buckets');
  });

  test('one node: the budget is exact, and the refusal says when to come back', async () => {
    await freshWindow(60, 10);
    const a = node();
    const bucket = `t:${randomUUID()}`;
    let admitted = 0;
    for (let i = 0; i < 30; i++) if (!(await refused(hit(a, { bucket, max: 20, windowSeconds: 60 })))) admitted++;
    assert.equal(admitted, 20);
    const err = await hit(a, { bucket, max: 20, windowSeconds: 60 }).catch((e: unknown) => e);
    assert.ok(err instanceof TooManyRequests);
    assert.ok(err.retryAfterSeconds >= 1 && err.retryAfterSeconds <= 60);
  });

  test('a node that forgets a spent bucket under a spray of others still refuses it: the shared row decides its next hit', async () => {
    await freshWindow(300, 60);
    const a = node();
    const bucket = `t:${randomUUID()}`;
    let admitted = 0;
    for (let i = 0; i < 25; i++) if (!(await refused(hit(a, { bucket, max: 20, windowSeconds: 300 })))) admitted++;
    assert.equal(admitted, 20);
    // More buckets than a process keeps (50,000): the spent one is among those forgotten.
    for (let i = 0; i < 50_001; i++) await hit(a, { bucket: `spray:${i}:${bucket}`, max: 1000, windowSeconds: 300 });
    assert.equal(await refused(hit(a, { bucket, max: 20, windowSeconds: 300 })), true, 'still spent');
    for (let i = 0; i < 10; i++) assert.equal(await refused(hit(a, { bucket, max: 20, windowSeconds: 300 })), true);
    assert.ok((await shared(bucket)) <= 21, `${await shared(bucket)} hits stored`);
  });

  test('a hit near the budget while the timer’s batch is still being written waits for it: the budget stays exact', async () => {
    // A database that answers the batch slowly, as a loaded one does.
    let delay = false;
    const slow: Queryable = {
      query: async <T>(sql: string, params?: readonly unknown[]) => {
        if (delay) await new Promise((r) => setTimeout(r, 300));
        return db.query<T>(sql, params);
      },
    };
    await freshWindow(300, 10);
    const bucket = `t:${randomUUID()}`;
    const limit = { bucket, max: 2, windowSeconds: 300 };
    assert.equal(await refused(hit(slow, limit)), false); // counted in memory
    delay = true;
    const batch = flushRateLimits(slow); // the timer's batch, under way
    delay = false;
    assert.equal(await refused(hit(slow, limit)), false, 'the second hit is within the budget');
    assert.equal(await refused(hit(slow, limit)), true, 'the third is not, although the first is still being written');
    await batch;
    assert.equal(await shared(bucket), 3);
  });

  test('three nodes share one budget: together they admit no more than it, once past half of it', async () => {
    await freshWindow(60, 15);
    const nodes = [node(), node(), node()];
    const bucket = `t:${randomUUID()}`;
    let admitted = 0;
    // Round robin, as a load balancer would spread one source's requests.
    for (let i = 0; i < 90; i++) if (!(await refused(hit(nodes[i % 3]!, { bucket, max: 30, windowSeconds: 60 })))) admitted++;
    // Below half the budget each node counts alone (at most 15 each, unseen by the others for a second).
    assert.ok(admitted <= 30 + 2 * 15, `${admitted} admitted`);
    // A moment later every node has flushed and learnt the total: nothing more is admitted anywhere.
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of nodes) assert.equal(await refused(hit(n, { bucket, max: 30, windowSeconds: 60 })), true);
    assert.ok((await shared(bucket)) >= 30);
  });
});
