import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { cliDatabase, keydesk } from './helpers/cli.js';

/** The token lifecycle admins expect, OAuth client credentials, and the CLI. */
let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'admin']);
});
after(() => t.close());

const status = async (token: string, slug = tt.tenant.slug) =>
  (await fetch(`${t.url}/t/${slug}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('secret tokens', () => {
  test('generate (shown once), at most two, inactive/active, renew, remove; each step audited', async () => {
    const page = (await admin.client.get('/api/v1/provisioning')).body;
    assert.equal(page.tenantUrl, `${t.url}/t/${tt.tenant.slug}/scim/v2`);
    assert.equal(page.tokenEndpoint, `${t.url}/t/${tt.tenant.slug}/oauth/token`);
    assert.deepEqual(page.credentials, []);

    const first = await admin.client.post('/api/v1/provisioning/credentials', { kind: 'token', name: 'Entra' });
    assert.equal(first.status, 201);
    const secret: string = first.body.secret;
    assert.match(secret, /^kdscim_[A-Za-z0-9_-]{43}$/);
    assert.equal(first.body.credential.hint, secret.slice(-4));
    assert.equal(first.body.credential.state, 'active');
    assert.ok(new Date(first.body.credential.expiresAt).getTime() > Date.now() + 300 * 86400_000);
    const listed = (await admin.client.get('/api/v1/provisioning')).body.credentials;
    assert.ok(!JSON.stringify(listed).includes(secret.slice(7)), 'never shown again');
    const stored = await t.db.query<{ secret_hash: string }>('SELECT secret_hash FROM scim_credentials WHERE id = $1', [first.body.credential.id]);
    assert.ok(!stored[0]!.secret_hash.includes(secret.slice(7)), 'stored hashed');
    assert.equal(await status(secret), 200);
    const used = (await admin.client.get('/api/v1/provisioning')).body.credentials[0];
    assert.ok(used.lastUsedAt, 'last use is shown');

    const second = await admin.client.post('/api/v1/provisioning/credentials', { kind: 'token', name: 'Entra (next)' });
    assert.equal(second.status, 201);
    const third = await admin.client.post('/api/v1/provisioning/credentials', { kind: 'token' });
    assert.equal(third.status, 409);
    assert.equal(third.body.code, 'credential_limit');

    const id = first.body.credential.id;
    assert.equal((await admin.client.patch(`/api/v1/provisioning/credentials/${id}`, { active: false })).body.state, 'inactive');
    assert.equal(await status(secret), 401);
    assert.equal(await status(second.body.secret), 200, 'the other token carries on: rotation without downtime');
    await admin.client.patch(`/api/v1/provisioning/credentials/${id}`, { active: true });
    assert.equal(await status(secret), 200);

    const renewed = await admin.client.post(`/api/v1/provisioning/credentials/${id}/renew`, {});
    assert.equal(renewed.status, 200);
    assert.notEqual(renewed.body.secret, secret);
    assert.equal(await status(secret), 401, 'the old secret stops at once');
    assert.equal(await status(renewed.body.secret), 200);

    assert.equal((await admin.client.request('DELETE', `/api/v1/provisioning/credentials/${id}`)).status, 204);
    assert.equal(await status(renewed.body.secret), 401);
    assert.equal((await admin.client.request('DELETE', `/api/v1/provisioning/credentials/${id}`)).status, 404);

    // Expired is refused too, and shown as such.
    await t.db.query(`UPDATE scim_credentials SET expires_at = now() - interval '1 minute' WHERE id = $1`, [second.body.credential.id]);
    assert.equal(await status(second.body.secret), 401);
    assert.equal((await admin.client.get('/api/v1/provisioning')).body.credentials[0].state, 'expired');

    const actions = (await admin.client.get('/api/v1/audit?limit=100')).body.items.map((e: any) => e.action);
    for (const a of ['scim.credential_created', 'scim.credential_deactivated', 'scim.credential_activated', 'scim.credential_renewed', 'scim.credential_removed']) {
      assert.ok(actions.includes(a), a);
    }
  });

  test('only admins manage credentials; another tenant\'s admin cannot touch them', async () => {
    const agent = await t.user(tt.tenant, ['agent']);
    assert.equal((await agent.client.get('/api/v1/provisioning')).status, 403);
    assert.equal((await agent.client.post('/api/v1/provisioning/credentials', { kind: 'token' })).status, 403);
    assert.equal((await agent.client.get('/api/v1/provisioning/activity')).status, 403);
    const mine = (await admin.client.get('/api/v1/provisioning')).body.credentials[0];
    const other = await t.tenant();
    const otherAdmin = await t.user(other.tenant, ['admin']);
    assert.equal((await otherAdmin.client.patch(`/api/v1/provisioning/credentials/${mine.id}`, { active: false })).status, 404);
    assert.equal((await otherAdmin.client.request('DELETE', `/api/v1/provisioning/credentials/${mine.id}`)).status, 404);
    assert.equal((await admin.client.get('/api/v1/provisioning')).body.credentials[0].state, mine.state);
  });
});

describe('OAuth 2.0 client credentials', () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const tokenUrl = () => `${t.url}/t/${tt.tenant.slug}/oauth/token`;
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });

  test('a client gets a short-lived access token that opens this tenant\'s SCIM endpoint and no other', async () => {
    const created = await admin.client.post('/api/v1/provisioning/credentials', { kind: 'client', name: 'Entra gallery app' });
    assert.equal(created.status, 201);
    const clientId: string = created.body.credential.clientId;
    const secret: string = created.body.secret;
    assert.match(clientId, /^kdc_/);
    // A client secret is no bearer token for SCIM.
    assert.equal(await status(secret), 401);

    const basic = await post(form({ grant_type: 'client_credentials', scope: 'scim' }), { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` });
    assert.equal(basic.status, 200);
    assert.equal(basic.headers.get('cache-control'), 'no-store');
    const issued = await basic.json();
    assert.equal(issued.token_type, 'Bearer');
    assert.equal(issued.expires_in, 3600);
    assert.equal(await status(issued.access_token), 200);
    const viaForm = await (await post(form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }))).json();
    assert.equal(await status(viaForm.access_token), 200);

    const other = await t.tenant();
    assert.equal(await status(issued.access_token, other.tenant.slug), 401);
    const elsewhere = await fetch(`${t.url}/t/${other.tenant.slug}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }) });
    assert.equal(elsewhere.status, 401);

    // Every token of a client set inactive is refused, and an expired one too.
    await admin.client.patch(`/api/v1/provisioning/credentials/${created.body.credential.id}`, { active: false });
    assert.equal(await status(issued.access_token), 401);
    assert.equal((await post(form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }))).status, 401);
    await admin.client.patch(`/api/v1/provisioning/credentials/${created.body.credential.id}`, { active: true });
    assert.equal(await status(issued.access_token), 200);
    await t.db.query(`UPDATE scim_access_tokens SET expires_at = now() - interval '1 second' WHERE credential_id = $1`, [created.body.credential.id]);
    assert.equal(await status(issued.access_token), 401);
    // Renewing the client secret ends the tokens issued with the old one.
    const fresh = await (await post(form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }))).json();
    assert.equal(await status(fresh.access_token), 200);
    await admin.client.post(`/api/v1/provisioning/credentials/${created.body.credential.id}/renew`, {});
    assert.equal(await status(fresh.access_token), 401);
  });

  test('bad requests get RFC 6749 errors', async () => {
    const created = await admin.client.post('/api/v1/provisioning/credentials', { kind: 'client' });
    const clientId: string = created.body.credential.clientId;
    const secret: string = created.body.secret;
    const check = async (res: Response, code: number, error: string) => {
      assert.equal(res.status, code);
      const body = await res.json();
      assert.equal(body.error, error);
      assert.equal(typeof body.error_description, 'string');
    };
    await check(await post(form({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' })), 401, 'invalid_client');
    await check(await post(form({ grant_type: 'client_credentials', client_id: 'kdc_nobody', client_secret: secret })), 401, 'invalid_client');
    await check(await post(form({ grant_type: 'password', client_id: clientId, client_secret: secret })), 400, 'unsupported_grant_type');
    await check(await post(form({ client_id: clientId, client_secret: secret })), 400, 'invalid_request');
    await check(await post(form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'admin' })), 400, 'invalid_scope');
    await check(await post(`grant_type=client_credentials&grant_type=client_credentials&client_id=${clientId}&client_secret=${secret}`), 400, 'invalid_request');
    await check(await post(form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }), { authorization: 'Basic !!!' }), 400, 'invalid_request');
    await check(await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'invalid_request');
    await check(await post('x'.repeat(20_000)), 400, 'invalid_request');
    const failures = (await admin.client.get('/api/v1/provisioning/activity?failures=true')).body.items;
    assert.ok(failures.some((a: any) => a.operation === 'Issue access token' && a.status === 401));
  });
});

test('keydesk scim token create | list | revoke', async (tc) => {
  const cdb = await cliDatabase();
  tc.after(cdb.drop);
  const run = (args: string[]) => keydesk(args, { ...cdb.env, PUBLIC_URL: 'https://desk.example.com' });
  await run(['tenant', 'create', 'acme', '--name', 'Acme', '--admin-email', 'it@acme.test']);
  const created = JSON.parse((await run(['scim', 'token', 'create', 'acme', '--name', 'Entra', '--json'])).stdout);
  assert.equal(created.tenantUrl, 'https://desk.example.com/t/acme/scim/v2');
  assert.match(created.secret, /^kdscim_/);
  const text = (await run(['scim', 'token', 'create', 'acme', '--client'])).stdout;
  assert.match(text, /Token endpoint: https:\/\/desk\.example\.com\/t\/acme\/oauth\/token/);
  assert.match(text, /Client ID: +kdc_/);
  const list = JSON.parse((await run(['scim', 'token', 'list', 'acme', '--json'])).stdout).items;
  assert.deepEqual(list.map((c: any) => [c.kind, c.state]).sort(), [['client', 'active'], ['token', 'active']]);
  assert.ok(!JSON.stringify(list).includes(created.secret));
  await run(['scim', 'token', 'create', 'acme']);
  const third = await run(['scim', 'token', 'create', 'acme']).catch((e) => e);
  assert.equal(third.code, 2);
  assert.match(third.stderr, /at most 2/);
  assert.match((await run(['scim', 'token', 'revoke', 'acme', created.credential.id])).stdout, /Removed/);
  assert.equal(JSON.parse((await run(['scim', 'token', 'list', 'acme', '--json'])).stdout).items.length, 2);
});
