/**
 * The durable job queue (src/jobs/queue.ts): jobs exist only with the change that made them,
 * run once per claim, retry with backoff, die after their attempts, come back when their node's
 * lease runs out, and are shared by several workers without being run twice at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { claim, complete, enqueue, fail, retryJob, startWorker, type Job } from '../src/jobs/queue.js';

let t: TestApp;
let tt: TestTenant;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
});
after(() => t.close());

const status = async (id: string) =>
  (await t.db.query<{ status: string; attempts: number; due_in: number; last_error: string | null }>(
    `SELECT status, attempts, extract(epoch FROM run_at - now())::int AS due_in, last_error FROM jobs WHERE id = $1`,
    [id],
  ))[0]!;

describe('the job queue', () => {
  test('a job exists only if the change that enqueued it commits; the same key is one job', async () => {
    const key = `k-${randomUUID()}`;
    await t.db
      .transaction(async (tx) => {
        await enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.noop', payload: {}, key });
        throw new Error('the change is refused');
      })
      .catch(() => {});
    assert.equal((await t.db.query('SELECT 1 FROM jobs WHERE idempotency_key = $1', [key])).length, 0);
    const first = await t.db.transaction((tx) => enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.noop', payload: { n: 1 }, key }));
    const again = await t.db.transaction((tx) => enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.noop', payload: { n: 2 }, key }));
    assert.ok(first);
    assert.equal(again, null);
  });

  test('a failing job is retried with backoff, dies after its attempts, and an admin can put it back', async () => {
    const id = (await t.db.transaction((tx) => enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.flaky', payload: {}, key: randomUUID(), maxAttempts: 2 })))!;
    const worker = 'w-flaky';
    let [job] = await claim(t.db, worker, ['test.flaky']);
    assert.equal(job!.id, id);
    assert.equal(await fail(t.db, worker, job!, new Error('the endpoint answered 503')), 'retry');
    let s = await status(id);
    assert.deepEqual([s.status, s.attempts, s.last_error], ['pending', 1, 'the endpoint answered 503']);
    assert.ok(s.due_in >= 5 && s.due_in <= 13, `backoff of about 10 s, got ${s.due_in}`);
    assert.equal((await claim(t.db, worker, ['test.flaky'])).length, 0, 'not before its time');
    await t.db.query('UPDATE jobs SET run_at = now() WHERE id = $1', [id]);
    [job] = await claim(t.db, worker, ['test.flaky']);
    assert.equal(await fail(t.db, worker, job!, new Error('again')), 'dead');
    assert.equal((await status(id)).status, 'dead');
    assert.equal(await retryJob(t.db, tt.tenant.id, id), true);
    s = await status(id);
    assert.deepEqual([s.status, s.attempts], ['pending', 0]);
  });

  test('a job whose node died is taken over when its lease runs out; the dead node’s late word counts for nothing', async () => {
    const id = (await t.db.transaction((tx) => enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.lease', payload: {}, key: randomUUID() })))!;
    const [held] = await claim(t.db, 'node-a', ['test.lease']);
    assert.equal(held!.id, id);
    assert.equal((await claim(t.db, 'node-b', ['test.lease'])).length, 0, 'leased: no one else takes it');
    await t.db.query(`UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, [id]);
    const [taken] = await claim(t.db, 'node-b', ['test.lease']);
    assert.equal(taken!.id, id);
    assert.equal(taken!.attempts, 2);
    await complete(t.db, 'node-a', held!);
    assert.equal((await status(id)).status, 'running', 'node A no longer holds it');
    await complete(t.db, 'node-b', taken!);
    assert.equal((await status(id)).status, 'done');
  });

  test('several workers share the jobs and run each once', async () => {
    const ran = new Map<string, number>();
    const ids = await t.db.transaction(async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 40; i++) out.push((await enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.count', payload: { i }, key: randomUUID() }))!);
      return out;
    });
    const handler = async (job: Job) => {
      ran.set(job.id, (ran.get(job.id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
    };
    const workers = [1, 2, 3].map((n) => startWorker(t.db, { 'test.count': handler }, { id: `w${n}`, pollMs: 20 }));
    try {
      for (let i = 0; i < 200 && ids.some((id) => !ran.has(id)); i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    assert.equal(ids.filter((id) => ran.get(id) === 1).length, ids.length, 'every job ran exactly once');
    const done = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'done'`, [ids]);
    assert.equal(done[0]!.n, ids.length);
  });

  test('one tenant\'s slow jobs hold some of a worker\'s lanes, never all: another tenant\'s job runs meanwhile', async () => {
    const other = await t.tenant();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const finished: string[] = [];
    const handler = async (job: Job) => {
      started.push(job.tenantId!);
      if (job.tenantId === tt.tenant.id) await released; // a receiver that takes its time
      finished.push(job.tenantId!);
    };
    const slow = await t.db.transaction(async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 6; i++) out.push((await enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.lane', payload: { i }, key: randomUUID() }))!);
      return out;
    });
    const w = startWorker(t.db, { 'test.lane': handler }, { pollMs: 20, lanes: 3 });
    try {
      // The slow tenant takes lanes - 1 = 2 lanes and no more.
      for (let i = 0; i < 200 && started.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(started.length, 2, 'two lanes on the slow tenant, the third kept free');
      await t.db.transaction((tx) => enqueue(tx, { tenantId: other.tenant.id, kind: 'test.lane', payload: {}, key: randomUUID() }));
      for (let i = 0; i < 200 && !finished.includes(other.tenant.id); i++) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(finished, [other.tenant.id], 'the other tenant\'s job ran while the slow ones were still running');
    } finally {
      release();
      for (let i = 0; i < 400 && finished.length < 7; i++) await new Promise((r) => setTimeout(r, 25));
      await w.stop();
    }
    assert.equal(finished.length, 7);
    const done = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'done'`, [slow]);
    assert.equal(done[0]!.n, 6, 'every slow job ran once the receiver answered');
  });

  test('a job that outlasts its lease while its worker lives runs once: the lease is renewed, and no lane takes it again', async () => {
    let started = 0;
    const handler = async () => {
      started++;
      await new Promise((r) => setTimeout(r, 7000));
    };
    const id = await t.db.transaction((tx) => enqueue(tx, { tenantId: tt.tenant.id, kind: 'test.long', payload: {}, key: randomUUID() }));
    const w = startWorker(t.db, { 'test.long': handler }, { pollMs: 20, lanes: 3, leaseSeconds: 3 });
    const other = startWorker(t.db, { 'test.long': handler }, { pollMs: 20, lanes: 2, leaseSeconds: 3 });
    try {
      // More than twice the lease: without renewal another lane would take it.
      for (let i = 0; i < 400 && (await status(id!)).status !== 'done'; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await Promise.all([w.stop(), other.stop()]);
    }
    assert.equal((await status(id!)).status, 'done');
    assert.equal(started, 1, 'started once, by one lane of one worker');
  });

  test('stop() wakes idle lanes at once, even with a long poll interval', async () => {
    const w = startWorker(t.db, { 'test.idle': async () => {} }, { pollMs: 60_000, lanes: 4 });
    await new Promise((r) => setTimeout(r, 100));
    const began = Date.now();
    await w.stop();
    assert.ok(Date.now() - began < 5000, `stopped after ${Date.now() - began} ms`);
  });
});
