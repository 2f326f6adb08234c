import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let ticket: any;
let change: any;
let teamId: string;

before(async () => {
  // No background worker: the sweep enables workflows and webhooks with accepted bodies, and their
  // effects (tickets raised later, deliveries) would move the row counts that show a refusal changed nothing.
  t = await startApp({ KEYDESK_WORKER: 'false' });
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'agent', 'change_manager', 'admin']);
  ticket = (await admin.client.post('/api/v1/tickets', { type: 'incident', title: 'target' })).body;
  change = (await admin.client.post('/api/v1/tickets', { type: 'change', title: 'change target' })).body;
  teamId = (await admin.client.post('/api/v1/teams', { name: 'T' })).body.id;
});
after(() => t.close());

const TABLES = ['tickets', 'ticket_comments', 'ticket_events', 'change_approvals', 'users', 'role_grants', 'teams', 'team_members', 'api_tokens'];
async function counts() {
  const out: Record<string, unknown> = {};
  for (const table of TABLES) out[table] = (await t.db.query(`SELECT count(*)::int AS n FROM ${table}`))[0];
  out.ticket = (await t.db.query('SELECT title, status, assignee_id, priority FROM tickets WHERE id = $1', [ticket.id]))[0];
  return out;
}

test('bad input to every write endpoint gets a 4xx problem document and changes nothing', async () => {
  const big = 'x'.repeat(300 * 1024);
  const cases: [string, string, unknown][] = [
    ['POST', '/api/v1/tickets', { type: 'incident' }],
    ['POST', '/api/v1/tickets', { type: 'outage', title: 'x' }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: '' }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: 'x'.repeat(201) }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: 'x', impact: 7 }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: 'x', admin: true }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: 'x', assigneeId: 'nope' }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: 'x', assigneeId: '00000000-0000-4000-8000-000000000000' }],
    ['POST', '/api/v1/tickets', { type: 'incident', title: big }],
    ['POST', '/api/v1/tickets', '{"type": "incident", "title": '],
    ['POST', '/api/v1/tickets', [1, 2, 3]],
    ['PATCH', `/api/v1/tickets/${ticket.id}`, {}],
    ['PATCH', `/api/v1/tickets/${ticket.id}`, { title: 'ok', urgency: 0 }],
    ['PATCH', `/api/v1/tickets/${ticket.id}`, { title: 'ok', teamId: '00000000-0000-4000-8000-000000000000' }],
    ['PATCH', `/api/v1/tickets/${ticket.id}`, { status: 'closed' }],
    ['PATCH', '/api/v1/tickets/not-a-ticket', { title: 'x' }],
    ['POST', `/api/v1/tickets/${ticket.id}/status`, { status: 'teleported' }],
    ['POST', `/api/v1/tickets/${ticket.id}/status`, { status: 'closed' }],
    ['POST', `/api/v1/tickets/${ticket.id}/status`, {}],
    ['POST', `/api/v1/tickets/${ticket.id}/comments`, { body: '' }],
    ['POST', `/api/v1/tickets/${ticket.id}/comments`, { body: 'x', visibility: 'secret' }],
    ['POST', `/api/v1/tickets/${ticket.id}/comments`, { body: 'x'.repeat(20001) }],
    ['POST', `/api/v1/tickets/${ticket.id}/approvals`, { decision: 'approved', comment: 'not a change' }],
    ['POST', `/api/v1/tickets/${change.id}/approvals`, { decision: 'approved', comment: 'still draft' }],
    ['POST', `/api/v1/tickets/${change.id}/approvals`, { decision: 'maybe', comment: 'x' }],
    ['POST', `/api/v1/tickets/${change.id}/approvals`, { decision: 'approved' }],
    ['POST', '/api/v1/users', { email: 'not-an-email', displayName: 'x', roles: [] }],
    ['POST', '/api/v1/users', { email: 'a@b.test', displayName: 'x', roles: ['overlord'] }],
    ['POST', '/api/v1/users', { email: 'a@b.test', displayName: 'x', roles: [], password: 'short' }],
    ['PATCH', `/api/v1/users/${admin.id}`, { status: 'waiting' }],
    ['PATCH', `/api/v1/users/${admin.id}`, { email: '   ' }],
    ['PATCH', `/api/v1/users/${admin.id}`, { source: 'scim' }],
    ['PUT', `/api/v1/users/${admin.id}/roles`, { roles: 'admin' }],
    ['PUT', '/api/v1/users/00000000-0000-4000-8000-000000000000/roles', { roles: [] }],
    ['POST', '/api/v1/teams', { name: '' }],
    ['POST', '/api/v1/teams', { name: 'ok', memberIds: ['nope'] }],
    ['POST', '/api/v1/teams', { name: 'ok2', memberIds: ['00000000-0000-4000-8000-000000000000'] }],
    ['PATCH', `/api/v1/teams/${teamId}`, { memberIds: [admin.id, '00000000-0000-4000-8000-000000000000'] }],
    ['POST', '/api/v1/me/tokens', { name: '' }],
    ['POST', '/api/v1/me/tokens', { name: 'x', expiresInDays: -1 }],
    ['DELETE', '/api/v1/me/tokens/00000000-0000-4000-8000-000000000000', undefined],
    ['POST', '/api/v1/me/totp/confirm', { code: 'abcdef' }],
    ['POST', '/api/v1/me/totp/confirm', { code: '123456' }],
    ['DELETE', '/api/v1/me/totp', { code: '123456' }],
    ['POST', '/api/v1/me/password', { currentPassword: 'x' }],
  ];
  const before = await counts();
  for (const [method, path, body] of cases) {
    const res = await admin.client.request(method, path, body);
    const label = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`;
    assert.ok(res.status >= 400 && res.status < 500, `${label} → ${res.status}`);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/, label);
    assert.equal(res.body.status, res.status, label);
    assert.equal(typeof res.body.detail, 'string', label);
  }
  assert.deepEqual(await counts(), before);
});

test('unknown routes and methods answer with a problem, not HTML', async () => {
  const res = await admin.client.get('/api/v1/nothing-here');
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type')!, /problem\+json/);
});

test('odd Content-Type headers cannot slip a body past validation (CVE-2026-25223 and kin)', async () => {
  const before = await counts();
  for (const ct of ['application/json\t; charset=utf-8', 'application/json;', 'Application/JSON ;x=y', 'application/json, text/plain']) {
    const res = await admin.client.request('POST', '/api/v1/tickets', JSON.stringify({ type: 'incident', title: 'x', impact: 99 }), { 'content-type': ct });
    assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(ct)} → ${res.status}`);
  }
  assert.deepEqual(await counts(), before);
});
