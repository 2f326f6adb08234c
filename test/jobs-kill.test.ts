/**
 * The job queue survives a kill -9 mid-run (issue 11): a node dies while delivering a webhook;
 * another node on the same PostgreSQL takes the job over when its lease runs out and delivers the
 * message, with the same webhook-id; one killed inside a workflow's transaction leaves nothing done
 * and another finishes it once; two nodes share the work without running a job twice. Real processes on a real PostgreSQL in both halves of the
 * suite (PGlite is one process's database).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freshPostgresDatabase } from './helpers/app.js';
import { freePort, startKeydeskProcess, type KeydeskProcess } from './helpers/process.js';
import { eventually } from './helpers/receiver.js';
import { createTenant } from '../src/tenancy/tenants.js';
import { createEndpoint, sendTestMessage } from '../src/webhooks/endpoints.js';
import { SecretBox } from '../src/identity/secrets.js';
import pg from 'pg';
import { createUser } from '../src/identity/users.js';
import { createTeam } from '../src/itsm/teams.js';
import { publishWebhookMessages } from '../src/webhooks/publish.js';
import { enableTemplate } from '../src/workflows/rules.js';

const SECRET = 'kill-nine-secret-kill-nine-secret-0123456';
let pgdb: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let nodes: KeydeskProcess[] = [];
let server: Server;
const received: IncomingHttpHeaders[] = [];

before(async () => {
  pgdb = await freshPostgresDatabase();
  // The first call hangs (the node dies while waiting); later ones are answered.
  server = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    if (received.length > 1) res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => null)));
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await pgdb?.drop();
});

test('a webhook delivery in flight on a node killed with -9 is delivered by another node', async () => {
  const { tenant } = await createTenant(pgdb.db, { slug: 'killnine', name: 'Kill nine', adminEmail: 'admin@kill.test' });
  const ctx = { db: pgdb.db, tenant, actor: null, actorLabel: 'test' };
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const { endpoint } = await createEndpoint(ctx, new SecretBox(SECRET, 'webhook'), { url, events: ['*'] }, { allowPrivate: true });
  const env = { DATABASE_URL: pgdb.url, KEYDESK_SECRET: SECRET, KEYDESK_WEBHOOK_ALLOW_PRIVATE: 'true', KEYDESK_WORKER_POLL_MS: '100', KEYDESK_JOB_LEASE_SECONDS: '20' };

  const nodeA = await startKeydeskProcess(['serve'], { ...env, PORT: String(await freePort()) });
  nodes.push(nodeA);
  const messageId = await sendTestMessage(ctx, endpoint.id);
  await eventually(async () => received.length === 1, 20_000, 'node A to start the delivery');
  const [inFlight] = await pgdb.db.query<{ status: string; locked_by: string; attempts: number }>(`SELECT status, locked_by, attempts FROM jobs WHERE payload ->> 'messageId' = $1`, [messageId]);
  assert.equal(inFlight!.status, 'running');
  await nodeA.kill();
  nodes = nodes.filter((n) => n !== nodeA);

  const nodeB = await startKeydeskProcess(['serve'], { ...env, PORT: String(await freePort()) });
  nodes.push(nodeB);
  const done = await eventually(async () => {
    const [j] = await pgdb.db.query<{ status: string; locked_by: string | null; attempts: number }>(`SELECT status, locked_by, attempts FROM jobs WHERE payload ->> 'messageId' = $1`, [messageId]);
    return j!.status === 'done' ? j : null;
  }, 60_000, 'node B to take the job over');
  assert.equal(done.attempts, 2, 'the dead node’s claim counted as an attempt');
  assert.equal(received.length, 2);
  assert.equal(received[1]!['webhook-id'], messageId, 'the same message: receivers deduplicate on webhook-id');
  const log = await pgdb.db.query<{ succeeded: boolean; attempt: number }>(`SELECT succeeded, attempt FROM webhook_deliveries WHERE message_id = $1`, [messageId]);
  assert.deepEqual(log, [{ succeeded: true, attempt: 2 }], 'only the attempt that finished is logged');
});

test('a node killed with -9 in the middle of a workflow: another node finishes it, and nothing is done twice', async () => {
  const { tenant } = await createTenant(pgdb.db, { slug: 'killwf', name: 'Kill workflow', adminEmail: 'admin@killwf.test' });
  const ctx = { db: pgdb.db, tenant, actor: null, actorLabel: 'test' };
  await createTeam(ctx, { name: 'Service Desk' });
  await enableTemplate(ctx, 'onboarding', { team: 'Service Desk' });
  const env = { DATABASE_URL: pgdb.url, KEYDESK_SECRET: SECRET, KEYDESK_WORKER_POLL_MS: '100', KEYDESK_JOB_LEASE_SECONDS: '20' };
  const nodeA = await startKeydeskProcess(['serve'], { ...env, PORT: String(await freePort()) });
  nodes.push(nodeA);

  // Hold the tenant's request counter: node A's workflow transaction will stop there, mid-way,
  // after it has claimed the run and before the ticket exists.
  const holder = new pg.Client({ connectionString: pgdb.url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query(`INSERT INTO ticket_counters (tenant_id, type, last_number) VALUES ($1, 'request', 0) ON CONFLICT (tenant_id, type) DO UPDATE SET last_number = ticket_counters.last_number`, [tenant.id]);
  const person = await pgdb.db.transaction((tx) => createUser(ctx, tx, { email: 'new.hire@killwf.test', displayName: 'New Hire', roles: ['requester'] }));
  await eventually(async () => {
    const [{ n }] = (await pgdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)) as [{ n: number }];
    return n > 0;
  }, 20_000, 'node A to be inside the workflow');
  await nodeA.kill();
  nodes = nodes.filter((n) => n !== nodeA);
  await holder.query('ROLLBACK');
  await holder.end();

  const nodeB = await startKeydeskProcess(['serve'], { ...env, PORT: String(await freePort()) });
  nodes.push(nodeB);
  await eventually(async () => (await pgdb.db.query(`SELECT 1 FROM jobs WHERE tenant_id = $1 AND kind = 'workflow.run' AND status = 'done'`, [tenant.id])).length === 1, 60_000, 'node B to finish the workflow');
  const tickets = await pgdb.db.query<{ id: string; title: string }>(`SELECT id, title FROM tickets WHERE tenant_id = $1 AND requester_id = $2`, [tenant.id, person.id]);
  assert.deepEqual(tickets.map((x) => x.title), ['Onboarding: New Hire'], 'one ticket');
  const tasks = await pgdb.db.query(`SELECT 1 FROM ticket_tasks WHERE ticket_id = $1`, [tickets[0]!.id]);
  assert.equal(tasks.length, 4, 'its checklist once');
  const runs = await pgdb.db.query<{ outcome: string }>(`SELECT outcome FROM workflow_runs WHERE tenant_id = $1`, [tenant.id]);
  assert.deepEqual(runs, [{ outcome: 'done' }]);
});

test('two nodes on one PostgreSQL share the deliveries and never send one twice', async () => {
  const { tenant } = await createTenant(pgdb.db, { slug: 'twoworkers', name: 'Two workers', adminEmail: 'admin@two.test' });
  const ctx = { db: pgdb.db, tenant, actor: null, actorLabel: 'test' };
  const seen = new Map<string, number>();
  const rx = createServer((req, res) => {
    const id = String(req.headers['webhook-id']);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  await createEndpoint(ctx, new SecretBox(SECRET, 'webhook'), { url: `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`, events: ['*'] }, { allowPrivate: true });
  // Only these two nodes work now (the earlier tests' nodes would refuse loopback receivers).
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
  const env = { DATABASE_URL: pgdb.url, KEYDESK_SECRET: SECRET, KEYDESK_WEBHOOK_ALLOW_PRIVATE: 'true', KEYDESK_WORKER_POLL_MS: '20' };
  nodes.push(...(await Promise.all([0, 1].map(async () => startKeydeskProcess(['serve'], { ...env, PORT: String(await freePort()) })))));
  const count = 200;
  await pgdb.db.transaction((tx) =>
    publishWebhookMessages(tx, tenant.id, Array.from({ length: count }, (_, i) => ({ messageId: `two_${i}`, type: 'user.provisioned', timestamp: new Date().toISOString(), data: { i } }))),
  );
  await eventually(async () => (await pgdb.db.query(`SELECT 1 FROM jobs WHERE tenant_id = $1 AND status <> 'done'`, [tenant.id])).length === 0, 60_000, 'every delivery');
  rx.close();
  assert.equal(seen.size, count);
  assert.deepEqual([...new Set(seen.values())], [1], 'each message once');
  const attempts = await pgdb.db.query<{ attempts: number }>(`SELECT DISTINCT attempts FROM jobs WHERE tenant_id = $1`, [tenant.id]);
  assert.deepEqual(attempts, [{ attempts: 1 }], 'no job claimed twice');
});
