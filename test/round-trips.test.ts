/**
 * Round trips to the database (issue 12), counted, not timed: a known person's SAML sign-in through
 * the ACS sends at most 7 statements (BEGIN and COMMIT included; a new person 9) and commits once, a failure's
 * trace is still written; a SCIM write's fixed cost outside its own transaction is one statement
 * (the tenant and credential), and its audit line, identity events and activity line go in one
 * statement with its change (a create: 7 statements); a read's line goes into a batch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApp, type StatementLog, type TestApp, type TestTenant } from './helpers/app.js';
import { forgedConnection } from './helpers/saml-acs.js';
import { HeldWrites } from '../src/db/held-writes.js';
import { buildAssertion, idpLogoutUrl, makeKeyPair, sign, wrapInResponse, type KeyPair } from './helpers/saml-forge.js';
import { GROUP_SCHEMA, newUser, PATCH_OP, scimClient } from './helpers/scim.js';
import type { Client } from './helpers/client.js';

/** The connection's honest response for a person, signed with another key (a rollover at the IdP). */
async function forgedConnectionResponse(idp: Awaited<ReturnType<typeof forgedConnection>>, person: { oid: string; email: string }, keys: KeyPair): Promise<string> {
  const xml = await idp.response(person);
  const parts = {
    issuer: idp.issuer,
    destination: `${idp.base}/acs`,
    audience: `${idp.base}/metadata`,
    recipient: `${idp.base}/acs`,
    nameId: person.email,
    inResponseTo: /InResponseTo="([^"]+)"/.exec(xml)![1],
    attributes: { 'http://schemas.microsoft.com/identity/claims/objectidentifier': [person.oid], 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': [person.email] },
  };
  return wrapInResponse(parts, sign(buildAssertion(parts), 'Assertion', keys));
}

/**
 * The statements a request sent itself: without the rate limiter's once-a-second batch, which a
 * timer sends whatever requests are under way (test/rate-limit.test.ts shows a hit inside the
 * budget sends nothing). At most one batch can fall inside a request this short.
 */
function requestsOwn(statements: StatementLog['statements']): StatementLog['statements'] {
  const own = statements.filter((s) => !s.sql.startsWith('INSERT INTO rate_limit_counters'));
  assert.ok(statements.length - own.length <= 1, 'at most one rate-limit batch');
  return own;
}

const log: StatementLog = {
  statements: [],
  reset() {
    this.statements.length = 0;
  },
};
let t: TestApp;
let tt: TestTenant;
let admin: Client;

before(async () => {
  t = await startApp({ KEYDESK_WORKER: 'false' }, { statementLog: log });
  tt = await t.tenant();
  admin = t.client();
  await admin.signIn(tt.tenant.slug, tt.adminEmail, tt.adminPassword);
});
after(() => t.close());

/** Posts a response to the ACS and returns what that request sent, up to the trace lookup the test helper makes afterwards. */
async function countedPost(idp: Awaited<ReturnType<typeof forgedConnection>>, xml: string, ctx: { diagnostic(m: string): void }) {
  await t.flushRateLimits();
  log.reset();
  const r = await idp.post(xml);
  const end = log.statements.findIndex((s) => /FROM signin_traces/.test(s.sql) && !s.inTransaction);
  const sent = requestsOwn(log.statements.slice(0, end < 0 ? undefined : end));
  ctx.diagnostic(sent.map((s, i) => `${i + 1}. ${s.inTransaction ? '  ' : ''}${s.sql.slice(0, 140)}`).join('\n'));
  return { r, sent };
}

describe('a SAML sign-in’s round trips', () => {
  test('a known person signs in with at most 7 statements and one commit', async (ctx) => {
    const idp = await forgedConnection(t, tt.tenant, admin, 'entra', makeKeyPair());
    const person = { oid: randomUUID(), email: `known@${tt.tenant.slug}.test` };
    await idp.signIn(person); // the first sign-in creates the account
    await idp.signIn(person); // and a second warms what may be cached
    const { r, sent } = await countedPost(idp, await idp.response(person), ctx);
    assert.equal(r.status, 303);
    assert.ok(sent.length <= 7, `${sent.length} round trips`);
    assert.equal(sent.filter((s) => s.sql === 'COMMIT').length, 1, 'one commit');
  });

  test('a new person (just in time) signs in with at most 9 statements and one commit', async (ctx) => {
    const idp = await forgedConnection(t, tt.tenant, admin, 'entra-jit', makeKeyPair());
    await idp.signIn({ oid: randomUUID(), email: `warm@${tt.tenant.slug}.test` }); // warms what may be cached
    const { r, sent } = await countedPost(idp, await idp.response({ oid: randomUUID(), email: `newcomer@${tt.tenant.slug}.test` }), ctx);
    assert.equal(r.status, 303);
    assert.ok(sent.length <= 9, `${sent.length} round trips`);
    assert.equal(sent.filter((s) => s.sql === 'COMMIT').length, 1, 'one commit');
    // The account was made with its default role, and the session carries it.
    const session = (await r.client.get('/api/v1/session')).body;
    assert.equal(session.user.email, `newcomer@${tt.tenant.slug}.test`);
    assert.deepEqual(session.user.roles, ['requester']);
    // The events held to the end of the transaction are written in the order they happened.
    const audit = await t.db.query<{ action: string }>(`SELECT action FROM audit_events WHERE tenant_id = $1 AND (target_id = $2::text OR actor_id = $2::uuid) ORDER BY id`, [tt.tenant.id, session.user.id]);
    assert.deepEqual(
      audit.map((e) => e.action),
      ['user.created', 'user.identity_linked', 'signin.saml'],
    );
    const identity = await t.db.query<{ type: string; source: string }>(`SELECT type, source FROM identity_events WHERE tenant_id = $1 AND user_id = $2 ORDER BY id`, [tt.tenant.id, session.user.id]);
    assert.deepEqual(identity.map((e) => [e.type, e.source]), [['user.provisioned', 'signin'], ['user.first_signin', 'signin']]);
  });

  test('a change to the connection made elsewhere holds for the next sign-in, whatever this node remembers', async () => {
    const keys = makeKeyPair();
    const idp = await forgedConnection(t, tt.tenant, admin, 'moving', keys);
    const person = { oid: randomUUID(), email: `mover@${tt.tenant.slug}.test` };
    await idp.signIn(person); // this node now remembers the connection
    const pending = await idp.response(person); // a sign-in under way at the IdP
    // Another node (here: SQL straight to the shared database) turns the connection off.
    await t.db.query(`UPDATE sso_connections SET enabled = false WHERE tenant_id = $1 AND slug = 'moving'`, [tt.tenant.id]);
    const refused = await idp.post(pending);
    assert.equal(refused.status, 400);
    assert.equal(refused.code, 'connection_disabled');
    // Starting a sign-in (GET /login) sees it too, and sends no one to the identity provider.
    const login = await fetch(`${idp.base}/login`, { redirect: 'manual' });
    assert.equal(login.status, 400);
    assert.match(await login.text(), /not an enabled SAML connection/);
    await t.db.query(`UPDATE sso_connections SET enabled = true WHERE tenant_id = $1 AND slug = 'moving'`, [tt.tenant.id]);
    assert.equal((await idp.post(await idp.response(person))).status, 303, 'on again');

    // The identity provider's sign-on URL changed elsewhere: the next GET /login sends people there.
    await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{ssoUrl}', '"https://idp.example.net/moved/saml2"') WHERE tenant_id = $1 AND slug = 'moving'`, [tt.tenant.id]);
    const moved = await fetch(`${idp.base}/login`, { redirect: 'manual' });
    assert.equal(moved.status, 302);
    assert.match(moved.headers.get('location')!, /^https:\/\/idp\.example\.net\/moved\/saml2\?SAMLRequest=/);

    // A certificate rollover elsewhere: responses signed with the new key are accepted at once,
    // although this node's copy does not trust that key yet.
    const next = makeKeyPair('Rolled over');
    await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{certificates}', $2::jsonb) WHERE tenant_id = $1 AND slug = 'moving'`, [
      tt.tenant.id,
      JSON.stringify([next.cert]),
    ]);
    // Single logout holds to it at once too: a LogoutRequest signed with the removed key ends nothing.
    const live = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 AND s.revoked_at IS NULL`, [person.email]))[0]!.n;
    const liveBefore = await live();
    assert.ok(liveBefore > 0);
    const slo = await fetch(idpLogoutUrl(`${idp.base}/slo`, idp.issuer, keys, person.email), { redirect: 'manual' });
    assert.equal(slo.status, 400);
    assert.equal(await live(), liveBefore, 'no session ended');
    const rolled = await forgedConnectionResponse(idp, person, next);
    const ok = await idp.post(rolled);
    assert.equal(ok.status, 303, `${ok.code}`);
    // And the old key is no longer trusted, on the next sign-in already.
    const old = await idp.post(await idp.response(person));
    assert.equal(old.status, 400);
    assert.equal(old.code, 'untrusted_certificate');
    // While a LogoutRequest signed with the new key ends the person's sessions.
    assert.equal((await fetch(idpLogoutUrl(`${idp.base}/slo`, idp.issuer, next, person.email), { redirect: 'manual' })).status, 200);
    assert.equal(await live(), 0);
  });

  test('a refused sign-in still leaves its trace, written on its own', async () => {
    const idp = await forgedConnection(t, tt.tenant, admin, 'replayed', makeKeyPair());
    const person = { oid: randomUUID(), email: `replay@${tt.tenant.slug}.test` };
    const xml = await idp.response(person);
    assert.equal((await idp.post(xml)).status, 303);
    const again = await idp.post(xml);
    assert.equal(again.status, 400);
    assert.equal(again.code, 'unknown_request');
    assert.ok(again.ref, 'the failure has its trace');
  });
});

describe('a SCIM request’s round trips', () => {
  let scim: Awaited<ReturnType<typeof scimClient>>;
  before(async () => {
    scim = await scimClient(t, tt.tenant); // a tenant has at most two secret tokens
  });
  test('a write sends one statement outside its own transaction (tenant and credential), and writes its audit line, identity event and activity line in one statement before COMMIT', async (ctx) => {
    assert.equal((await scim.call('GET', 'Users?count=1')).status, 200); // warm up
    await t.flushRateLimits();
    await t.flushActivity();
    log.reset();
    const created = await scim.call('POST', 'Users', newUser(`rt-${randomUUID()}@example.com`));
    assert.equal(created.status, 201);
    const sent = requestsOwn(log.statements);
    ctx.diagnostic(sent.map((s, i) => `${i + 1}. ${s.inTransaction ? '  ' : ''}${s.sql.slice(0, 120)}`).join('\n'));
    const outside = sent.filter((s) => !s.inTransaction);
    assert.equal(outside.length, 1, outside.map((s) => s.sql.slice(0, 80)).join(' | '));
    assert.match(outside[0]!.sql, /FROM tenants t LEFT JOIN LATERAL/);
    const commit = sent.findIndex((s) => s.sql === 'COMMIT');
    const last = sent[commit - 1]!.sql;
    for (const table of ['audit_events', 'identity_events', 'scim_activity']) assert.match(last, new RegExp(`INSERT INTO ${table}\\b`), `${table} written in the transaction’s last statement`);
    assert.equal(sent.filter((s) => /INSERT INTO (audit_events|identity_events|scim_activity)\b/.test(s.sql)).length, 1, 'and in no other');
    assert.ok(sent.length <= 7, `a create: at most 7 statements, BEGIN and COMMIT included (${sent.length})`);
    // And it says what the admin needs: the created resource and the answer's status.
    const line = (await t.db.query<{ status: number; resource_id: string; operation: string }>(
      'SELECT status, resource_id, operation FROM scim_activity WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1',
      [tt.tenant.id],
    ))[0]!;
    assert.deepEqual(line, { status: 201, resource_id: created.body.id, operation: 'Create User' });
    assert.equal(sent.filter((s) => s.sql === 'COMMIT').length, 1, 'the change commits once');
  });

  test('50 people added to a group a role rule names: the rules are judged for all of them at once (a lock, a read, two writes), and each gets the role, an audit line and an event', async (ctx) => {
    const ref = `Agents ${randomUUID()}`;
    assert.equal((await admin.post('/api/v1/sso/role-rules', { groupRef: ref, role: 'agent' })).status, 201);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await scim.call('POST', 'Users', newUser(`rule-${i}-${randomUUID()}@example.com`))).body.id);
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: ref })).body;
    await t.flushRateLimits();
    log.reset();
    const res = await scim.call('PATCH', `Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }] });
    assert.equal(res.status, 204);
    const sent = requestsOwn(log.statements);
    ctx.diagnostic(sent.map((s, i) => `${i + 1}. ${s.sql.slice(0, 100)}`).join('\n'));
    assert.ok(sent.length <= 14, `at most 14 statements, BEGIN and COMMIT included (${sent.length})`);
    const agents = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM role_grants WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND role = 'agent' AND origin = 'rule'`, [tt.tenant.id, ids]);
    assert.equal(agents[0]!.n, 50);
    const audited = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'user.roles_changed' AND target_id = ANY($2::text[])`, [tt.tenant.id, ids]);
    assert.equal(audited[0]!.n, 50);
    const events = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM identity_events WHERE tenant_id = $1 AND type = 'user.role_changed' AND user_id = ANY($2::uuid[])`, [tt.tenant.id, ids]);
    assert.equal(events[0]!.n, 50);
    // And out again: the role goes with the group, judged the same way.
    log.reset();
    const out = await scim.call('PATCH', `Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members', value: ids.map((value) => ({ value })) }] });
    assert.equal(out.status, 204);
    const leaving = requestsOwn(log.statements);
    assert.ok(leaving.length <= 16, `at most 16 statements, sessions and tokens revoked included (${leaving.length})`);
    const removed = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM role_grants WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND role = 'agent'`, [tt.tenant.id, ids]);
    assert.equal(removed[0]!.n, 0);
  });

  test('a read costs no statement for its activity line: lines of many reads are written in one batch', async () => {
    await t.flushRateLimits();
    await t.flushActivity();
    const marker = randomUUID();
    log.reset();
    for (let i = 0; i < 5; i++) assert.equal((await scim.call('GET', `Users?filter=userName+eq+%22${marker}-${i}%22`)).status, 200);
    const reads = requestsOwn(log.statements);
    assert.equal(reads.filter((s) => /INSERT INTO scim_activity/.test(s.sql)).length, 0, 'none on the reads’ path (a batch may follow later)');
    assert.ok(reads.length <= 5 * 2 + 1, `each read: tenant and credential, then its query (${reads.map((s) => s.sql.slice(0, 60)).join(' | ')})`);
    log.reset();
    await t.flushActivity();
    assert.equal(log.statements.filter((s) => /INSERT INTO scim_activity/.test(s.sql)).length, 1, 'one batch');
    const lines = await t.db.query<{ operation: string; status: number; path: string }>('SELECT operation, status, path FROM scim_activity WHERE tenant_id = $1 AND path LIKE $2 ORDER BY id', [tt.tenant.id, `%${marker}%`]);
    assert.deepEqual(lines.map((l) => [l.operation, l.status]), Array.from({ length: 5 }, () => ['List Users', 200]));
    assert.deepEqual(lines.map((l) => l.path.match(/-(\d)%22/)![1]), ['0', '1', '2', '3', '4'], 'in the order they were answered');
  });

  test('a write that fails rolls back and still has its activity line, written in the next batch', async () => {
    const body = newUser(`twice-${randomUUID()}@example.com`);
    assert.equal((await scim.call('POST', 'Users', body)).status, 201);
    const users = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
    const before = await users();
    const again = await scim.call('POST', 'Users', body);
    assert.equal(again.status, 409);
    assert.equal(await users(), before, 'nothing was written');
    await t.flushActivity();
    const line = (await t.db.query<{ status: number; error: string }>('SELECT status, error FROM scim_activity WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1', [tt.tenant.id]))[0]!;
    assert.equal(line.status, 409);
    assert.match(line.error, /already/);
  });
});

test('held writes: rolling back to a savepoint drops what was held after it, and nothing is held once the writes are sent', () => {
  const writes = new HeldWrites();
  writes.add('audit', 'before');
  const backToSavepoint = writes.mark();
  writes.add('audit', 'after');
  writes.add('identity', 'after');
  backToSavepoint();
  assert.deepEqual([writes.of('audit'), writes.of('identity')], [['before'], []]);
  writes.seal();
  assert.throws(() => writes.add('audit', 'late'), /held after its transaction's held writes were sent/);
  assert.deepEqual(writes.of('audit'), ['before']);
});
