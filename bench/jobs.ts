/**
 * The job queue (issue 11): enqueueing in a transaction, draining with several workers (claim with
 * FOR UPDATE SKIP LOCKED, run, complete), and webhook deliveries signed and POSTed to a loopback
 * receiver, against an autocommitted single-row INSERT measured in the same run.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Db } from '../src/db/db.js';
import { SecretBox } from '../src/identity/secrets.js';
import { enqueue, startWorker } from '../src/jobs/queue.js';
import { createTenant } from '../src/tenancy/tenants.js';
import { deliverWebhook } from '../src/webhooks/deliver.js';
import { createEndpoint } from '../src/webhooks/endpoints.js';
import { publishWebhookMessages } from '../src/webhooks/publish.js';
import { costRatio, envInt, fmt, measure, measureBaselines, printTable, round, scaled, summarize, withThrowawayDatabase, type Measurement, type Suite } from './lib.js';

export const jobsSuite: Suite = {
  name: 'jobs',
  description: 'Job queue: enqueue in a transaction, drain with several workers, webhook deliveries to a loopback receiver; vs a raw INSERT',
  run: ({ baseUrl }) => withThrowawayDatabase(baseUrl, 12, (bdb) => runJobs(bdb.db)),
};

/** Runs `workers` workers until every job of `kind` is done; the elapsed time is the measurement. */
async function drain(db: Db, name: string, kind: string, count: number, workers: number, handler: Parameters<typeof startWorker>[1][string]): Promise<Measurement> {
  const started = performance.now();
  const running = Array.from({ length: workers }, (_, i) => startWorker(db, { [kind]: handler }, { pollMs: 5, id: `bench-${kind}-${i}` }));
  for (;;) {
    const [{ left }] = (await db.query<{ left: number }>(`SELECT count(*)::int AS left FROM jobs WHERE kind = $1 AND status <> 'done'`, [kind])) as [{ left: number }];
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const totalMs = performance.now() - started;
  await Promise.all(running.map((w) => w.stop()));
  // One sample per job at the mean: the drain is measured as a whole (throughput), not per job.
  return summarize(name, Array.from({ length: count }, () => (totalMs * workers) / count), totalMs, workers);
}

async function runJobs(db: Db): Promise<Record<string, unknown>> {
  const workers = envInt('BENCH_WORKERS', 4);
  const { tenant } = await createTenant(db, { slug: 'bench', name: 'Bench Company', adminEmail: 'admin@bench.example' });
  const baselines = await measureBaselines(db, { inserts: scaled(2000), selects: 10 });

  const n = scaled(2000);
  const enqueued = await measure(
    'enqueue one job (its own transaction)',
    (i) => db.transaction((tx) => enqueue(tx, { tenantId: tenant.id, kind: 'bench.noop', payload: { i }, key: `bench:${i}:${Math.random()}` })),
    { iterations: n, warmup: 0 },
  );
  const drained = await drain(db, `drain ${n} no-op jobs, ${workers} workers`, 'bench.noop', n, workers, async () => {});

  // Webhook deliveries: signed (standardwebhooks) and POSTed over HTTP to a receiver on loopback.
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const box = new SecretBox('bench-secret-bench-secret-bench-secret', 'webhook');
  const ctx = { db, tenant, actor: null, actorLabel: 'bench' };
  await createEndpoint(ctx, box, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, events: ['*'] }, { allowPrivate: true });
  const m = scaled(1000);
  for (let i = 0; i < m; i += 100) {
    await db.transaction((tx) =>
      publishWebhookMessages(tx, tenant.id, Array.from({ length: Math.min(100, m - i) }, (_, k) => ({ messageId: `bench_${i + k}`, type: 'user.provisioned', timestamp: new Date().toISOString(), data: { n: i + k } }))),
    );
  }
  const delivered = await drain(db, `deliver ${m} webhooks, ${workers} workers`, 'webhook.deliver', m, workers, deliverWebhook(box, { allowPrivate: true }));
  server.close();
  if (received !== m) throw new Error(`the receiver got ${received} of ${m} messages`);

  const rows = [baselines.insert, enqueued, drained, delivered];
  printTable('Job queue (per second; cost = baseline INSERTs per operation)', [
    { header: 'operation', value: (r: Measurement) => r.name, align: 'left' },
    { header: 'per second', value: (r) => fmt(r.opsPerSec, 0) },
    { header: 'cost', value: (r) => fmt(costRatio(r, baselines.insert)) },
  ], rows);
  return {
    workers,
    baselineInsertPerSec: baselines.insert.opsPerSec,
    enqueuePerSec: enqueued.opsPerSec,
    drainPerSec: drained.opsPerSec,
    webhookDeliveriesPerSec: delivered.opsPerSec,
    ratios: {
      enqueueCost: costRatio(enqueued, baselines.insert),
      drainCost: costRatio(drained, baselines.insert),
      deliveryCost: costRatio(delivered, baselines.insert),
    },
    measurements: rows.map((r) => ({ name: r.name, opsPerSec: r.opsPerSec, totalMs: round(r.totalMs, 0) })),
  };
}
