import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startApp, TEST_DB, type TestApp } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { cliDatabase, keydesk } from './helpers/cli.js';

let t: TestApp;
let aAdmin: { id: string; client: Client };
let aToken: Client;
const b: Record<string, any> = {};

before(async () => {
  t = await startApp();
  const A = await t.tenant();
  const B = await t.tenant();
  aAdmin = await t.user(A.tenant, ['requester', 'agent', 'change_manager', 'admin']);
  aToken = t.client().withToken((await aAdmin.client.post('/api/v1/me/tokens', { name: 'iso' })).body.secret);

  // Tenant B's resources, made through B's own users.
  const bAdmin = await t.user(B.tenant, ['requester', 'agent', 'admin']);
  const bReq = await t.user(B.tenant, ['requester']);
  b.user = bReq.id;
  b.team = (await bAdmin.client.post('/api/v1/teams', { name: 'B team', memberIds: [bAdmin.id] })).body.id;
  b.ticket = (await bReq.client.post('/api/v1/tickets', { type: 'incident', title: 'B-SECRET incident' })).body;
  b.change = (await bAdmin.client.post('/api/v1/tickets', { type: 'change', title: 'B-SECRET change' })).body;
  b.comment = (await bAdmin.client.post(`/api/v1/tickets/${b.ticket.id}/comments`, { body: 'B-SECRET note', visibility: 'internal' })).body.id;
  b.tokenId = (await bAdmin.client.post('/api/v1/me/tokens', { name: 'b' })).body.token.id;
  b.tenantId = B.tenant.id;
});
after(() => t.close());

describe('tenant isolation', () => {
  const probes = (): [string, string, unknown?][] => [
    ['GET', `/api/v1/tickets/${b.ticket.id}`],
    ['GET', `/api/v1/tickets/${b.ticket.ref}`],
    ['PATCH', `/api/v1/tickets/${b.ticket.id}`, { title: 'pwned' }],
    ['POST', `/api/v1/tickets/${b.ticket.id}/status`, { status: 'in_progress' }],
    ['GET', `/api/v1/tickets/${b.ticket.id}/comments`],
    ['POST', `/api/v1/tickets/${b.ticket.id}/comments`, { body: 'pwned' }],
    ['GET', `/api/v1/tickets/${b.ticket.id}/events`],
    ['GET', `/api/v1/tickets/${b.change.id}/approvals`],
    ['POST', `/api/v1/tickets/${b.change.id}/approvals`, { decision: 'approved', comment: 'x' }],
    ['GET', `/api/v1/users/${b.user}`],
    ['PATCH', `/api/v1/users/${b.user}`, { status: 'disabled' }],
    ['PUT', `/api/v1/users/${b.user}/roles`, { roles: ['admin'] }],
    ['POST', `/api/v1/users/${b.user}/sessions/revoke`],
    ['GET', `/api/v1/teams/${b.team}`],
    ['PATCH', `/api/v1/teams/${b.team}`, { name: 'pwned' }],
    ['DELETE', `/api/v1/me/tokens/${b.tokenId}`],
  ];

  for (const via of ['session', 'API token'] as const) {
    test(`a ${via} of tenant A gets 404 for every tenant B resource, and nothing in B changes`, async () => {
      const c = via === 'session' ? aAdmin.client : aToken;
      const before = await snapshotB();
      for (const [method, path, body] of probes()) {
        const res = await c.request(method, path, body);
        assert.equal(res.status, 404, `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
        assert.match(res.headers.get('content-type')!, /problem\+json/);
        assert.ok(!JSON.stringify(res.body).includes('B-SECRET'));
      }
      assert.deepEqual(await snapshotB(), before);
    });
  }

  test('lists and searches of tenant A hold nothing of tenant B', async () => {
    const bodies = await Promise.all(
      ['/api/v1/tickets?limit=100', '/api/v1/tickets?q=B-SECRET', '/api/v1/users?limit=200', '/api/v1/teams', '/api/v1/audit?limit=200', '/api/v1/me/tokens'].map(
        async (p) => JSON.stringify((await aAdmin.client.get(p)).body),
      ),
    );
    for (const body of bodies) {
      assert.ok(!body.includes('B-SECRET'));
      assert.ok(!body.includes(b.user) && !body.includes(b.team) && !body.includes(b.ticket.id));
    }
  });

  test('tenant B people and teams cannot be used in tenant A tickets', async () => {
    const withB = await aAdmin.client.post('/api/v1/tickets', { type: 'incident', title: 'x', requesterId: b.user });
    assert.equal(withB.status, 422);
    const withTeam = await aAdmin.client.post('/api/v1/tickets', { type: 'incident', title: 'x', teamId: b.team });
    assert.equal(withTeam.status, 422);
    const team = await aAdmin.client.post('/api/v1/teams', { name: 'A team', memberIds: [b.user] });
    assert.equal(team.status, 404);
  });

  test('a session cookie forged with another tenant id does not open that tenant', async () => {
    const c = aAdmin.client as any;
    const [, secret] = c.cookies.get('keydesk_session').split('.');
    const forged = t.client();
    forged.setSession(`${b.tenantId}.${secret}`, aAdmin.client.csrf!);
    assert.equal((await forged.get('/api/v1/session')).status, 401);
  });
});

async function snapshotB() {
  return t.db.query(
    `SELECT (SELECT json_agg(json_build_object('id', id, 'title', title, 'status', status) ORDER BY id) FROM tickets WHERE tenant_id = $1) AS tickets,
            (SELECT count(*)::int FROM ticket_comments WHERE tenant_id = $1) AS comments,
            (SELECT json_agg(json_build_object('id', id, 'status', status) ORDER BY id) FROM users WHERE tenant_id = $1) AS users,
            (SELECT json_agg(role ORDER BY role) FROM role_grants WHERE tenant_id = $1) AS roles,
            (SELECT json_agg(name) FROM teams WHERE tenant_id = $1) AS teams,
            (SELECT count(*)::int FROM sessions WHERE tenant_id = $1 AND revoked_at IS NULL) AS sessions,
            (SELECT count(*)::int FROM api_tokens WHERE tenant_id = $1 AND revoked_at IS NULL) AS tokens`,
    [b.tenantId],
  );
}

describe('keydesk tenant create', () => {
  test('creates a tenant and its first admin with a one-time password (the embedded database before serve, or PostgreSQL); a duplicate slug is refused', async (tc) => {
    const cdb = await cliDatabase();
    tc.after(cdb.drop);
    const run = (args: string[]) => keydesk(args, cdb.env);
    const out = await run(['tenant', 'create', 'acme', '--name', 'Acme Corp', '--admin-email', 'it@acme.test', '--json']);
    const created = JSON.parse(out.stdout);
    assert.equal(created.tenant.slug, 'acme');
    assert.equal(created.admin.email, 'it@acme.test');
    assert.ok(created.admin.oneTimePassword.length >= 16);
    const dup = await run(['tenant', 'create', 'acme', '--name', 'Again', '--admin-email', 'x@acme.test']).catch((e) => e);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /already exists/);
    const list = JSON.parse((await run(['user', 'list', 'acme', '--json'])).stdout);
    assert.deepEqual(list.items.map((u: any) => [u.email, u.roles.sort()]), [['it@acme.test', ['admin', 'requester']]]);

    // The operator's way back in: `user recover` makes the account an active break-glass admin again.
    const recovered = JSON.parse((await run(['user', 'recover', 'acme', '--email', 'IT@acme.test', '--json'])).stdout);
    assert.equal(recovered.user.email, 'it@acme.test');
    assert.equal(recovered.user.breakGlass, true);
    assert.equal(recovered.user.status, 'active');
    assert.ok(recovered.user.roles.includes('admin'));
    assert.ok(recovered.oneTimePassword.length >= 16);
    assert.notEqual(recovered.oneTimePassword, created.admin.oneTimePassword);
    const unknown = await run(['user', 'recover', 'acme', '--email', 'nobody@acme.test']).catch((e) => e);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no account with the email nobody@acme\.test/);
  });
});

describe('keydesk migrate', () => {
  test('says which migrations it applied, then that the database is up to date', async (tc) => {
    const cdb = await cliDatabase();
    tc.after(cdb.drop);
    const files = readdirSync(path.join(import.meta.dirname, '../src/db/migrations')).filter((f) => f.endsWith('.sql'));
    const first = JSON.parse((await keydesk(['migrate', '--json'], cdb.env)).stdout);
    // An embedded folder starts empty; the run's PostgreSQL database was migrated when it was made.
    assert.equal(first.applied.length, TEST_DB === 'pglite' ? files.length : 0);
    const again = await keydesk(['migrate'], cdb.env);
    assert.match(again.stdout, /The database is up to date\./);
  });
});
