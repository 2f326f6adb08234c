/**
 * Webhooks (issue 11): endpoints subscribe to events and get Standard Webhooks-signed messages
 * from the job queue, with retries, a delivery log, redelivery, secret rotation with overlap, and
 * no calls into the operator's network unless KEYDESK_WEBHOOK_ALLOW_PRIVATE allows them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { SecretBox } from '../src/identity/secrets.js';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { cliDatabase, keydesk } from './helpers/cli.js';
import { eventually, startReceiver } from './helpers/receiver.js';
import { GROUP_SCHEMA, newUser, type ScimClient } from './helpers/scim.js';
import { startScimTenant } from './helpers/scim-tenant.js';

let t: TestApp;
let tt: TestTenant;
let admin: Client;
let scim: ScimClient;

before(async () => {
  ({ t, tt, admin, scim } = await startScimTenant());
});
after(() => t.close());

const deliveries = async (id: string) => (await admin.get(`/api/v1/webhooks/${id}/deliveries`)).body.items as { messageId: string; succeeded: boolean; statusCode: number | null; attempt: number; error: string | null }[];
/** The queue's backoff is 10 s and up: a test moves the retry's time to now instead of waiting. */
const dueNow = () => t.db.query(`UPDATE jobs SET run_at = now() WHERE kind = 'webhook.deliver' AND status = 'pending'`);

describe('webhook endpoints', () => {
  test('a subscribed event arrives signed per Standard Webhooks, and is logged', async () => {
    const rx = await startReceiver();
    const created = await admin.post('/api/v1/webhooks', { url: rx.url, events: ['user.provisioned'], description: 'HR system' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { endpoint, secret } = created.body;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal((await admin.get(`/api/v1/webhooks/${endpoint.id}`)).body.secret, undefined, 'the secret is shown once');

    assert.equal((await scim.call('POST', 'Users', newUser('new.hire@example.com'))).status, 201);
    const [msg] = await rx.waitFor(1);
    const payload = new Webhook(secret).verify(msg!.body, msg!.headers as Record<string, string>) as { type: string; data: { user: { email: string }; source: string } };
    assert.equal(payload.type, 'user.provisioned');
    assert.equal(payload.data.user.email, 'new.hire@example.com');
    assert.equal(payload.data.source, 'scim');
    assert.match(String(msg!.headers['webhook-id']), /^evt_\d+$/);
    assert.ok(Math.abs(Number(msg!.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(msg!.body, msg!.headers as Record<string, string>), 'another secret does not verify');

    const log = await eventually(async () => (await deliveries(endpoint.id)).find((d) => d.succeeded), 5000, 'the delivery log');
    assert.equal(log.statusCode, 200);
    assert.equal(log.messageId, msg!.headers['webhook-id']);
    const audited = await eventually(async () => (await admin.get('/api/v1/audit?action=webhook.delivered')).body.items[0], 5000, 'the delivery in the audit log');
    assert.equal(audited.details.messageId, msg!.headers['webhook-id']);
    // An event it did not subscribe to is not sent.
    await admin.post('/api/v1/teams', { name: 'Not subscribed' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.received.length, 1);
    await rx.close();
  });

  test('a deleted group still names the group in its members’ member_removed messages', async (tc) => {
    const rx = await startReceiver();
    tc.after(() => rx.close());
    const { endpoint } = (await admin.post('/api/v1/webhooks', { url: rx.url, events: ['group.member_removed'] })).body;
    const user = (await scim.call('POST', 'Users', newUser(`leaving-${Date.now()}@example.com`))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'Doomed group', externalId: 'doomed-1', members: [{ value: user.id }] })).body;
    assert.equal((await scim.call('DELETE', `Groups/${group.id}`)).status, 204);
    const [job] = await t.db.query<{ payload: { data: { group?: { id: string; displayName: string; externalId: string }; user?: { id: string } } } }>(
      `SELECT payload FROM jobs WHERE kind = 'webhook.deliver' AND payload ->> 'endpointId' = $1 AND payload ->> 'type' = 'group.member_removed'`,
      [endpoint.id],
    );
    assert.deepEqual(job!.payload.data.group, { id: group.id, displayName: 'Doomed group', externalId: 'doomed-1' });
    assert.equal(job!.payload.data.user!.id, user.id);
  });

  test('a failed attempt is retried with the same webhook-id; 410 Gone disables the endpoint', async () => {
    const rx = await startReceiver([500]);
    const { endpoint } = (await admin.post('/api/v1/webhooks', { url: rx.url, events: ['ticket.created'] })).body;
    const ticket = await admin.post('/api/v1/tickets', { type: 'incident', title: 'Printer on fire' });
    assert.equal(ticket.status, 201);
    await rx.waitFor(1);
    await eventually(async () => (await deliveries(endpoint.id)).some((d) => d.statusCode === 500), 5000, 'the failed attempt');
    const job = (await t.db.query<{ status: string; attempts: number; last_error: string }>(`SELECT status, attempts, last_error FROM jobs WHERE payload ->> 'endpointId' = $1`, [endpoint.id]))[0]!;
    assert.equal(job.status, 'pending', 'waits for its retry');
    assert.match(job.last_error, /answered 500/);
    await dueNow();
    const [first, second] = await rx.waitFor(2);
    assert.equal(second!.headers['webhook-id'], first!.headers['webhook-id'], 'the same message');
    assert.equal(JSON.parse(second!.body).data.ticket.title, 'Printer on fire');
    const log = await eventually(async () => ((await deliveries(endpoint.id)).length === 2 ? deliveries(endpoint.id) : null), 5000, 'two attempts');
    assert.deepEqual(log.map((d) => [d.attempt, d.succeeded]), [[2, true], [1, false]]);

    rx.answers.push(410);
    await admin.post('/api/v1/tickets', { type: 'incident', title: 'Second fire' });
    await rx.waitFor(3);
    const gone = await eventually(async () => {
      const e = (await admin.get(`/api/v1/webhooks/${endpoint.id}`)).body;
      return e.enabled ? null : e;
    }, 5000, 'the endpoint to be disabled');
    assert.match(gone.disabledReason, /410/);
    await admin.post('/api/v1/tickets', { type: 'incident', title: 'Third fire' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.received.length, 3, 'a disabled endpoint is not called');
    const audit = (await admin.get('/api/v1/audit?action=webhook.disabled')).body.items;
    assert.equal(audit[0].reason, 'gone');
    await rx.close();
  });

  test('redelivery sends the logged message again; rotation signs with both secrets for the overlap', async () => {
    const rx = await startReceiver();
    const { endpoint, secret: oldSecret } = (await admin.post('/api/v1/webhooks', { url: rx.url, events: ['*'] })).body;
    const test1 = await admin.post(`/api/v1/webhooks/${endpoint.id}/test`, {});
    assert.equal(test1.status, 202);
    const [m1] = await rx.waitFor(1);
    assert.equal(JSON.parse(m1!.body).type, 'webhook.test');

    const rotated = await admin.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, {});
    assert.equal(rotated.status, 200);
    const newSecret = rotated.body.secret as string;
    assert.notEqual(newSecret, oldSecret);
    assert.ok(new Date(rotated.body.previousSecretUntil).getTime() > Date.now() + 23 * 3600_000);

    const again = await admin.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${m1!.headers['webhook-id']}/redeliver`, {});
    assert.equal(again.status, 202);
    const [, m2] = await rx.waitFor(2);
    assert.equal(m2!.headers['webhook-id'], m1!.headers['webhook-id'], 'receivers deduplicate on the id');
    assert.equal(String(m2!.headers['webhook-signature']).split(' ').length, 2, 'two signatures during the overlap');
    for (const s of [oldSecret, newSecret]) new Webhook(s).verify(m2!.body, m2!.headers as Record<string, string>);

    // After the overlap only the new secret signs.
    await t.db.query(`UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second' WHERE id = $1`, [endpoint.id]);
    await admin.post(`/api/v1/webhooks/${endpoint.id}/test`, {});
    const [, , m3] = await rx.waitFor(3);
    assert.equal(String(m3!.headers['webhook-signature']).split(' ').length, 1);
    new Webhook(newSecret).verify(m3!.body, m3!.headers as Record<string, string>);
    assert.throws(() => new Webhook(oldSecret).verify(m3!.body, m3!.headers as Record<string, string>));
    assert.equal((await admin.post(`/api/v1/webhooks/${endpoint.id}/deliveries/msg_nope/redeliver`, {})).status, 404);
    await admin.patch(`/api/v1/webhooks/${endpoint.id}`, { enabled: false });
    await rx.close();
  });

  test('a redirect is an answer, never followed: it cannot lead a delivery inside the network', async () => {
    const inside = await startReceiver();
    const { createServer } = await import('node:http');
    const redirector = createServer((req, res) => {
      req.resume();
      res.writeHead(307, { location: inside.url }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(redirector.address() as { port: number }).port}/hook`;
    const { endpoint } = (await admin.post('/api/v1/webhooks', { url, events: ['*'] })).body;
    await admin.post(`/api/v1/webhooks/${endpoint.id}/test`, {});
    const log = await eventually(async () => (await deliveries(endpoint.id))[0], 5000, 'the attempt');
    assert.equal(log.succeeded, false);
    assert.equal(log.statusCode, 307);
    assert.match(log.error!, /redirects are not followed/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(inside.received.length, 0);
    await admin.delete(`/api/v1/webhooks/${endpoint.id}`);
    redirector.close();
    await inside.close();
  });

  test('the audit trail streams to an endpoint subscribed to audit.event', async () => {
    const rx = await startReceiver();
    const { endpoint, secret } = (await admin.post('/api/v1/webhooks', { url: rx.url, events: ['audit.event'] })).body;
    await admin.post('/api/v1/teams', { name: 'Streamed team' });
    const got = await eventually(async () => rx.received.map((m) => JSON.parse(m.body)).find((b) => b.data.action === 'team.created'), 5000, 'the audit event');
    assert.equal(got.type, 'audit.event');
    assert.equal(got.data.actorLabel, tt.adminEmail);
    const msg = rx.received.find((m) => JSON.parse(m.body).data.action === 'team.created')!;
    new Webhook(secret).verify(msg.body, msg.headers as Record<string, string>);
    assert.ok(!rx.received.some((m) => JSON.parse(m.body).data.action.startsWith('webhook.')), 'webhook outcomes do not feed the stream');
    await admin.delete(`/api/v1/webhooks/${endpoint.id}`);
    await rx.close();
  });

  test('bad input is refused whole and stores nothing', async () => {
    const before = (await admin.get('/api/v1/webhooks')).body.items.length;
    // Malformed requests answer 400; well-formed ones Keydesk will not act on, 422 naming the field.
    for (const [status, body] of [
      [422, { url: 'ftp://example.com/hook', events: ['user.provisioned'] }],
      [422, { url: 'https://user:pw@example.com/hook', events: ['user.provisioned'] }],
      [422, { url: 'https://example.com/hook', events: ['user.exploded'] }],
      [400, { url: 'https://example.com/hook', events: [] }],
      [422, { url: 'not a url at all', events: ['*'] }],
      [400, { url: 'https://example.com/hook', events: ['*'], extra: 1 }],
      [400, { url: 'https://example.com/\u0000hook', events: ['*'] }],
    ] as const) {
      const r = await admin.post('/api/v1/webhooks', body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(r.body.type, /^urn:keydesk:problem:/);
    }
    const agent = await t.user(tt.tenant, ['agent']);
    assert.equal((await agent.client.post('/api/v1/webhooks', { url: 'https://example.com/x', events: ['*'] })).status, 403);
    assert.equal((await admin.get('/api/v1/webhooks')).body.items.length, before);
  });
});

describe('sends by hand and their limits', () => {
  // No worker: what is queued stays queued, so "still on its way" is a state the test controls.
  let q: TestApp;
  let qa: Client;
  before(async () => {
    q = await startApp({ KEYDESK_WORKER: 'false' });
    const qt = await q.tenant();
    qa = q.client();
    await qa.signIn(qt.tenant.slug, qt.adminEmail, qt.adminPassword);
  });
  after(() => q.close());
  const queued = async (id: string) => (await q.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE payload ->> 'endpointId' = $1`, [id]))[0]!.n;

  test('a test message or redelivery still on its way is not queued twice, a waiting retry is tried now; a turned-off endpoint says so; a second rotation waits for the overlap unless immediate', async () => {
    const { endpoint } = (await qa.post('/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'] })).body;
    assert.equal((await qa.post(`/api/v1/webhooks/${endpoint.id}/test`, {})).status, 202);
    const twice = await qa.post(`/api/v1/webhooks/${endpoint.id}/test`, {});
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'delivery_pending');
    assert.match(twice.body.detail, /still on its way/);
    assert.equal(await queued(endpoint.id), 1, 'one test message queued');

    // Redelivery of a message that is still queued: refused, nothing added.
    const [job] = await q.db.query<{ payload: { messageId: string } }>(`SELECT payload FROM jobs WHERE payload ->> 'endpointId' = $1`, [endpoint.id]);
    const redo = await qa.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${job!.payload.messageId}/redeliver`, {});
    assert.equal(redo.status, 409);
    assert.equal(redo.body.code, 'delivery_pending');
    assert.equal(await queued(endpoint.id), 1);
    // The same message failed once and waits for its retry (the receiver was down): redelivery
    // tries it now rather than queueing a second copy, or making the admin wait out the backoff.
    await q.db.query(`UPDATE jobs SET attempts = 1, run_at = now() + interval '1 hour' WHERE payload ->> 'endpointId' = $1`, [endpoint.id]);
    assert.equal((await qa.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${job!.payload.messageId}/redeliver`, {})).status, 202);
    assert.equal(await queued(endpoint.id), 1, 'no second copy');
    const due = (await q.db.query<{ due: boolean }>(`SELECT run_at <= now() AS due FROM jobs WHERE payload ->> 'endpointId' = $1`, [endpoint.id]))[0]!.due;
    assert.equal(due, true, 'the waiting retry is due now');

    assert.equal((await qa.patch(`/api/v1/webhooks/${endpoint.id}`, { enabled: false })).status, 200);
    await q.db.query(`UPDATE jobs SET status = 'done' WHERE payload ->> 'endpointId' = $1`, [endpoint.id]);
    const off = await qa.post(`/api/v1/webhooks/${endpoint.id}/test`, {});
    assert.equal(off.status, 409);
    assert.equal(off.body.code, 'endpoint_disabled');
    assert.match(off.body.detail, /turned off \(Disabled by an administrator\); turn it on/);
    assert.equal(await queued(endpoint.id), 1, 'nothing queued for a turned-off endpoint');
    const offRedo = await qa.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${job!.payload.messageId}/redeliver`, {});
    assert.equal(offRedo.status, 409);
    assert.equal(offRedo.body.code, 'endpoint_disabled');
    assert.equal(await queued(endpoint.id), 1, 'nor redelivered to it');

    assert.equal((await qa.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, {})).status, 200);
    const sealed = (await q.db.query<{ s: string }>('SELECT secret_sealed AS s FROM webhook_endpoints WHERE id = $1', [endpoint.id]))[0]!.s;
    const again = await qa.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'rotation_in_progress');
    assert.match(again.body.detail, /previous secret still signs until/);
    assert.equal((await q.db.query<{ s: string }>('SELECT secret_sealed AS s FROM webhook_endpoints WHERE id = $1', [endpoint.id]))[0]!.s, sealed, 'the secret is unchanged');
    await q.db.query(`UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second' WHERE id = $1`, [endpoint.id]);
    assert.equal((await qa.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, {})).status, 200, 'after the overlap it rotates');
    // A leaked secret: an immediate rotation retires every earlier secret at once, overlap or not.
    const now = await qa.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, { immediate: true });
    assert.equal(now.status, 200);
    assert.equal(now.body.previousSecretUntil, null);
    const row = (await q.db.query<{ prev: string | null; until: Date | null }>('SELECT previous_secret_sealed AS prev, previous_secret_until AS until FROM webhook_endpoints WHERE id = $1', [endpoint.id]))[0]!;
    assert.deepEqual([row.prev, row.until], [null, null], 'no earlier secret signs');
  });

  test('a URL carrying a token shows as its site in the audit trail and on the jobs page; the full URL stays on the endpoint', async () => {
    const url = 'http://127.0.0.1:9/services/T0001/B0001/hunter2hunter2?key=sekrit';
    const { endpoint } = (await qa.post('/api/v1/webhooks', { url, events: ['*'] })).body;
    assert.equal((await qa.get(`/api/v1/webhooks/${endpoint.id}`)).body.url, url);
    assert.equal((await qa.post(`/api/v1/webhooks/${endpoint.id}/test`, {})).status, 202);
    assert.equal((await qa.patch(`/api/v1/webhooks/${endpoint.id}`, { url: `${url}&v=2` })).status, 200);
    const entries = (await qa.get(`/api/v1/audit?limit=200`)).body.items.filter((e: { targetId: string }) => e.targetId === endpoint.id) as { action: string; details: { url?: string }; targetLabel: string }[];
    assert.deepEqual(entries.map((e) => e.action).sort(), ['webhook.created', 'webhook.updated']);
    for (const e of entries) {
      assert.equal(e.details.url, 'http://127.0.0.1:9/…', e.action);
      assert.equal(e.targetLabel, 'http://127.0.0.1:9/…', e.action);
    }
    const jobs = (await qa.get('/api/v1/jobs')).body.items as { summary: string }[];
    const job = jobs.find((j) => j.summary.startsWith('webhook.test → http://127.0.0.1:9/'));
    assert.equal(job?.summary, 'webhook.test → http://127.0.0.1:9/…');
    const everything = JSON.stringify([await qa.get('/api/v1/audit?limit=200'), jobs].map((r) => ('body' in r ? r.body : r)));
    assert.doesNotMatch(everything, /hunter2|sekrit/, 'the token is nowhere in the trail or the jobs');
    await qa.delete(`/api/v1/webhooks/${endpoint.id}`);
  });

  test('a workspace has at most 50 endpoints, and the 51st is refused with what to do', async () => {
    const have = (await qa.get('/api/v1/webhooks')).body.items.length as number;
    for (let i = have; i < 50; i++) assert.equal((await qa.post('/api/v1/webhooks', { url: `http://127.0.0.1:9/hook/${i}`, events: ['ticket.created'] })).status, 201);
    const over = await qa.post('/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook/51', events: ['ticket.created'] });
    assert.equal(over.status, 409);
    assert.equal(over.body.code, 'too_many_endpoints');
    assert.match(over.body.detail, /at most 50 webhook endpoints\. Delete one/);
    assert.equal((await qa.get('/api/v1/webhooks')).body.items.length, 50);
  });
});

describe('no calls into the operator network (SSRF)', () => {
  let strict: TestApp;
  let st: TestTenant;
  let sa: Client;
  before(async () => {
    strict = await startApp({ KEYDESK_WEBHOOK_ALLOW_PRIVATE: 'false' });
    st = await strict.tenant();
    sa = strict.client();
    await sa.signIn(st.tenant.slug, st.adminEmail, st.adminPassword);
  });
  after(() => strict.close());

  test('loopback, private, link-local and metadata addresses are refused when added, and at delivery', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost/hook', 'http://[::1]/x', 'http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:127.0.0.1]/x', 'http://0.0.0.0/x']) {
      const r = await sa.post('/api/v1/webhooks', { url, events: ['*'] });
      assert.equal(r.status, 422, url);
      assert.match(r.body.detail, /loopback, private or link-local|does not resolve/, url);
    }
    assert.equal((await sa.get('/api/v1/webhooks')).body.items.length, 0);

    // A name that was public when added and points inside later (DNS rebinding) is refused when called.
    const rx = await startReceiver();
    const [{ id }] = (await strict.db.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (tenant_id, url, events, secret_sealed) VALUES ($1, $2, '{*}', $3) RETURNING id`,
      [st.tenant.id, rx.url.replace('127.0.0.1', 'localhost'), new SecretBox(strict.config.secret, 'webhook').seal(`whsec_${Buffer.alloc(32, 2).toString('base64')}`)],
    )) as [{ id: string }];
    await sa.post(`/api/v1/webhooks/${id}/test`, {});
    const log = await eventually(async () => (await sa.get(`/api/v1/webhooks/${id}/deliveries`)).body.items[0], 5000, 'the refused attempt');
    assert.equal(log.succeeded, false);
    assert.match(log.error, /Not called: localhost resolves to (127\.0\.0\.1|::1), which is not a public address/);
    assert.equal(rx.received.length, 0, 'nothing reached the loopback receiver');
    await rx.close();
  });
});

describe('keydesk webhook add', () => {
  test('prints the id and the signing secret once; refuses an unknown event with exit code 2', async (tc) => {
    // Before `serve` (on the embedded database in the PGlite run), as an operator scripting a setup would.
    const cdb = await cliDatabase();
    tc.after(cdb.drop);
    const run = (args: string[]) => keydesk(args, { ...cdb.env, KEYDESK_WEBHOOK_ALLOW_PRIVATE: 'true' });
    const slug = `cli${process.pid}`;
    await run(['tenant', 'create', slug, '--name', 'CLI', '--admin-email', `it@${slug}.test`]);
    const out = JSON.parse((await run(['webhook', 'add', slug, '--url', 'http://127.0.0.1:9/hook', '--events', 'user.provisioned,user.deactivated', '--json'])).stdout);
    assert.match(out.id, /^[0-9a-f-]{36}$/);
    assert.match(out.secret, /^whsec_/);
    assert.deepEqual(out.events, ['user.provisioned', 'user.deactivated']);
    const text = (await run(['webhook', 'add', slug, '--url', 'http://127.0.0.1:9/other', '--events', '*'])).stdout;
    assert.match(text, /Signing secret\s+whsec_\S+\s+\(not shown again\)/);
    const list = JSON.parse((await run(['webhook', 'list', slug, '--json'])).stdout);
    assert.equal(list.items.length, 2);
    assert.equal(JSON.stringify(list).includes(out.secret), false, 'listing never shows a secret');
    const bad = await run(['webhook', 'add', slug, '--url', 'http://127.0.0.1:9/x', '--events', 'user.exploded']).catch((e) => e);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown event: user\.exploded/);
  });
});
