import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { REVIEW_COLUMNS } from '../src/access-review/export.js';
import type { ActorCtx } from '../src/context.js';
import { createApiToken } from '../src/identity/tokens/api-tokens.js';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { forgedConnection, ENTRA } from './helpers/saml-acs.js';
import { makeKeyPair } from './helpers/saml-forge.js';
import { GROUP_SCHEMA, newUser, patch, scimClient, type ScimClient } from './helpers/scim.js';

/**
 * The access review (issue 11): each role of each person with where it came from, the account's
 * source, last sign-in and last SCIM change; per role; the export; revoking a person's grant; and
 * who may do any of it, probed from the outside.
 */
let t: TestApp;
let tt: TestTenant;
let first: Client;
let ana: { id: string; email: string; client: Client; ctx: ActorCtx };
let scim: ScimClient;

const GROUPS_CLAIM = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  first = t.client();
  assert.equal((await first.signIn(tt.tenant.slug, tt.adminEmail, tt.adminPassword)).status, 200);
  const made = await t.user(tt.tenant, ['requester', 'admin'], `ana@${tt.tenant.slug}.test`);
  ana = made;
  assert.equal((await first.patch(`/api/v1/users/${ana.id}`, { displayName: 'Ana Admin' })).status, 200);
  scim = await scimClient(t, tt.tenant);
});
after(() => t.close());

/** One person as the review shows them (found by email through the q filter). */
async function reviewOf(client: Client, email: string) {
  const res = await client.get(`/api/v1/access-review?q=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const p = res.body.items.find((x: any) => x.email.toLowerCase() === email.toLowerCase());
  assert.ok(p, `${email} is in the review`);
  return p;
}

/** The export as text (the test client would parse JSON Lines as one JSON document), with a personal API token of `who`. */
async function download(who: { ctx: ActorCtx }, query: string) {
  const { secret } = await createApiToken(who.ctx, { name: `export ${randomUUID()}` });
  const res = await fetch(`${t.url}/api/v1/access-review/export?${query}`, { headers: { authorization: `Bearer ${secret}` } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const grantsOf = async (userId: string) =>
  (await t.db.query<{ role: string; origin: string }>('SELECT role, origin FROM role_grants WHERE tenant_id = $1 AND user_id = $2 ORDER BY role, origin', [tt.tenant.id, userId])).map((g) => `${g.role}:${g.origin}`);

const revokedEvents = async (userId: string) =>
  t.db.query<{ details: any; actor_id: string }>(`SELECT details, actor_id FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.role_revoked' AND target_id = $2`, [tt.tenant.id, userId]);

describe('provenance of every role', () => {
  test("the tenant's first administrator: system grants, a local account, break-glass", async () => {
    const p = await reviewOf(ana.client, tt.adminEmail);
    assert.equal(p.source, 'local');
    assert.equal(p.breakGlass, true);
    assert.deepEqual(p.roles, ['requester', 'admin']);
    for (const g of p.grants) {
      assert.equal(g.origin, 'system');
      assert.equal(g.system, 'tenant_created');
      assert.equal(g.revocable, false);
      assert.equal(g.grantedBy, null);
      assert.match(g.provenance, /first administrator/);
    }
  });

  test('a person-granted role names the administrator who gave it and when', async () => {
    const pat = await t.user(tt.tenant, ['requester'], `pat@${tt.tenant.slug}.test`);
    assert.equal((await ana.client.put(`/api/v1/users/${pat.id}/roles`, { roles: ['requester', 'agent'] })).status, 200);
    const p = await reviewOf(ana.client, pat.email);
    const agent = p.grants.find((g: any) => g.role === 'agent');
    assert.equal(agent.origin, 'person');
    assert.deepEqual(agent.grantedBy, { id: ana.id, displayName: 'Ana Admin', email: ana.email });
    assert.equal(agent.revocable, true);
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(agent.grantedAt.slice(0, 10), today);
    assert.equal(agent.provenance, `given by Ana Admin <${ana.email}> on ${today}`);
    // The helper made the requester grant with no actor: no administrator is recorded, and it says so.
    const requester = p.grants.find((g: any) => g.role === 'requester');
    assert.equal(requester.grantedBy, null);
    assert.match(requester.provenance, /no administrator recorded/);
  });

  test('a rule grant through a SCIM group membership: the rule, the group by name, the source and the last SCIM change', async () => {
    const objectId = randomUUID();
    const rule = await ana.client.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'agent' });
    assert.equal(rule.status, 201);
    const user = (await scim.call('POST', 'Users', newUser(`scim.agent@${tt.tenant.slug}.test`))).body;
    const before = await reviewOf(ana.client, user.userName);
    assert.equal(before.source, 'scim');
    assert.deepEqual(before.roles, ['requester']);
    assert.equal(before.grants[0].system, 'scim', 'SCIM gives its accounts requester by default');
    assert.ok(before.lastScimChangeAt, 'the provisioning is a SCIM change');
    await new Promise((r) => setTimeout(r, 20));
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'IT-Agents', externalId: objectId })).body;
    assert.equal((await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'Add', path: 'members', value: [{ value: user.id }] }))).status, 204);

    const p = await reviewOf(ana.client, user.userName);
    assert.deepEqual(p.roles, ['requester', 'agent']);
    const agent = p.grants.find((g: any) => g.role === 'agent');
    assert.equal(agent.origin, 'rule');
    assert.equal(agent.revocable, false);
    assert.deepEqual(agent.rule, { id: rule.body.id, groupRef: objectId, precedence: 100, connection: null, connectionName: null });
    assert.deepEqual(agent.via, [{ kind: 'scim', groupId: group.id, displayName: 'IT-Agents', externalId: objectId }]);
    assert.match(agent.provenance, new RegExp(`rule for group ${objectId}: member of the SCIM group IT-Agents`));
    assert.ok(new Date(p.lastScimChangeAt) > new Date(before.lastScimChangeAt), 'the group membership moved the last SCIM change');
    assert.equal(p.lastSigninAt, null);
  });

  test('a rule grant through the groups claim of a real SAML sign-in, a just-in-time account and its last sign-in', async () => {
    const keys = makeKeyPair();
    const entra = await forgedConnection(t, tt.tenant, ana.client, 'entra', keys, 'Contoso Entra');
    assert.equal((await ana.client.post('/api/v1/sso/role-rules', { groupRef: 'KD-Change-Board', role: 'change_manager' })).status, 201);
    const email = `jit.cm@${tt.tenant.slug}.test`;
    const oid = randomUUID();
    const xml = await entra.response(
      { oid, email },
      { attributes: { [ENTRA.objectidentifier]: [oid], [ENTRA.emailaddress]: [email], [GROUPS_CLAIM]: ['KD-Change-Board', 'All Staff'] } },
    );
    const startedAt = Date.now();
    const r = await entra.post(xml);
    assert.equal(r.status, 303, r.code ?? '');

    const p = await reviewOf(ana.client, email);
    assert.equal(p.source, 'jit');
    assert.deepEqual(p.roles, ['requester', 'change_manager']);
    assert.equal(p.grants.find((g: any) => g.role === 'requester').system, 'jit');
    const cm = p.grants.find((g: any) => g.role === 'change_manager');
    assert.equal(cm.origin, 'rule');
    assert.deepEqual(cm.via, [{ kind: 'signin', connection: 'entra', connectionName: 'Contoso Entra' }]);
    assert.match(cm.provenance, /in the groups claim of the latest sign-in through Contoso Entra/);
    assert.ok(new Date(p.lastSigninAt).getTime() >= startedAt - 1000, 'the sign-in is the last sign-in');
    assert.equal(p.firstSigninAt, p.lastSigninAt);
    assert.equal(p.lastScimChangeAt, null);
  });

  test('the last sign-in follows password sign-ins; the first stays', async () => {
    const email = `pw.user@${tt.tenant.slug}.test`;
    const made = await ana.client.post('/api/v1/users', { email, displayName: 'Password User', password: 'a-long-enough-password', roles: ['requester'] });
    assert.equal(made.status, 201);
    assert.equal((await reviewOf(ana.client, email)).lastSigninAt, null, 'never signed in');
    const startedAt = Date.now();
    assert.equal((await t.client().signIn(tt.tenant.slug, email, 'a-long-enough-password')).status, 200);
    const once = await reviewOf(ana.client, email);
    assert.ok(new Date(once.lastSigninAt).getTime() >= startedAt - 1000);
    assert.equal(once.firstSigninAt, once.lastSigninAt);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await t.client().signIn(tt.tenant.slug, email, 'a-long-enough-password')).status, 200);
    const twice = await reviewOf(ana.client, email);
    assert.ok(new Date(twice.lastSigninAt) > new Date(once.lastSigninAt), 'the second sign-in is the last');
    assert.equal(twice.firstSigninAt, once.firstSigninAt);
    // A failed sign-in is not a sign-in.
    assert.equal((await t.client().signIn(tt.tenant.slug, email, 'the-wrong-password')).status, 401);
    assert.equal((await reviewOf(ana.client, email)).lastSigninAt, twice.lastSigninAt);
  });
});

describe('filters and pages', () => {
  test('stale, status, source, role and origin filters; tombstones are left out, waiting and disabled accounts are in', async () => {
    const s = tt.tenant.slug;
    const old = await t.user(tt.tenant, ['requester'], `stale.old@${s}.test`);
    const never = await t.user(tt.tenant, ['requester'], `stale.never@${s}.test`);
    const fresh = await t.user(tt.tenant, ['requester'], `stale.fresh@${s}.test`);
    await t.db.query(`UPDATE users SET last_signin_at = now() - interval '40 days' WHERE id = $1`, [old.id]);
    await t.db.query(`UPDATE users SET created_at = now() - interval '40 days' WHERE id = $1`, [never.id]);
    await t.db.query(`UPDATE users SET last_signin_at = now() - interval '2 days' WHERE id = $1`, [fresh.id]);
    const stale = (await ana.client.get('/api/v1/access-review?staleDays=30&q=stale.&limit=200')).body.items.map((p: any) => p.email).sort();
    assert.deepEqual(stale, [never.email, old.email]);

    const waiting = await t.user(tt.tenant, [], `waiting.one@${s}.test`);
    await t.db.query(`UPDATE users SET status = 'waiting' WHERE id = $1`, [waiting.id]);
    const off = await t.user(tt.tenant, ['agent'], `disabled.one@${s}.test`);
    assert.equal((await ana.client.patch(`/api/v1/users/${off.id}`, { status: 'disabled' })).status, 200);
    assert.deepEqual((await ana.client.get('/api/v1/access-review?status=waiting')).body.items.map((p: any) => [p.email, p.roles]), [[waiting.email, []]]);
    assert.ok((await ana.client.get('/api/v1/access-review?status=disabled')).body.items.some((p: any) => p.email === off.email && p.status === 'disabled'));

    const gone = (await scim.call('POST', 'Users', newUser(`leaver@${s}.test`))).body;
    assert.ok((await ana.client.get('/api/v1/access-review?source=scim')).body.items.some((p: any) => p.id === gone.id));
    assert.equal((await scim.call('DELETE', `Users/${gone.id}`)).status, 204);
    const scimPeople = (await ana.client.get('/api/v1/access-review?source=scim&limit=200')).body.items;
    assert.ok(scimPeople.length > 0 && scimPeople.every((p: any) => p.source === 'scim'));
    assert.ok(!scimPeople.some((p: any) => p.id === gone.id), 'a SCIM tombstone is not reviewed');

    const ruleAgents = (await ana.client.get('/api/v1/access-review?role=agent&origin=rule')).body.items;
    assert.deepEqual(ruleAgents.map((p: any) => p.email), [`scim.agent@${s}.test`]);
    const personAgents = (await ana.client.get('/api/v1/access-review?role=agent&origin=person')).body.items.map((p: any) => p.email);
    assert.ok(personAgents.includes(`pat@${s}.test`) && !personAgents.includes(`scim.agent@${s}.test`));
  });

  test('keyset pages cover everyone once, in email order; a forged cursor is a 400', async () => {
    const all = (await ana.client.get('/api/v1/access-review?limit=200')).body;
    assert.equal(all.nextCursor, null);
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: any = (await ana.client.get(`/api/v1/access-review?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body;
      assert.ok(page.items.length <= 3);
      seen.push(...page.items.map((p: any) => p.id));
      cursor = page.nextCursor;
    }
    assert.deepEqual(seen, all.items.map((p: any) => p.id));
    assert.equal(new Set(seen).size, seen.length);
    const bad = await ana.client.get('/api/v1/access-review?cursor=AA');
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type')?.startsWith('application/problem+json'), true);
    for (const q of ['staleDays=0', 'role=root', 'origin=magic', 'limit=201', 'status=gone', 'unknown=1']) {
      assert.equal((await ana.client.get(`/api/v1/access-review?${q}`)).status, 400, q);
    }
  });
});

describe('per role', () => {
  test('who holds each role and through what: rules with their holders, grantors, the first holders', async () => {
    const res = await ana.client.get('/api/v1/access-review/roles?holders=100');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.items.map((r: any) => r.role), ['requester', 'agent', 'change_manager', 'admin']);
    const agent = res.body.items.find((r: any) => r.role === 'agent');
    const people = (await ana.client.get('/api/v1/access-review?role=agent&limit=200')).body.items;
    assert.equal(agent.holderCount, people.length);
    assert.equal(agent.holders.length, people.length);
    assert.equal(agent.more, false);
    assert.ok(agent.holders.every((h: any) => h.grants.every((g: any) => g.role === 'agent')), "each holder's grants of this role alone");
    const scimAgent = agent.holders.find((h: any) => h.email === `scim.agent@${tt.tenant.slug}.test`);
    assert.equal(scimAgent.grants[0].via[0].displayName, 'IT-Agents');
    assert.equal(agent.rules.length, 1);
    assert.equal(agent.rules[0].holders, 1);
    assert.deepEqual(agent.rules[0].scimGroups, ['IT-Agents'], 'the SCIM group the rule names, by its externalId');
    assert.equal(agent.byOrigin.rule, 1);
    const byAna = agent.grantors.find((g: any) => g.id === ana.id);
    assert.equal(byAna.holders, 1, 'Ana gave Pat the agent role');
    const admin = res.body.items.find((r: any) => r.role === 'admin');
    assert.equal(admin.byOrigin.system, 1, 'the first administrator');
    const cm = res.body.items.find((r: any) => r.role === 'change_manager');
    assert.deepEqual(cm.rules.map((r: any) => [r.groupRef, r.holders]), [['KD-Change-Board', 1]]);
    const few = (await ana.client.get('/api/v1/access-review/roles?holders=1')).body.items.find((r: any) => r.role === 'requester');
    assert.equal(few.holders.length, 1);
    assert.equal(few.more, true);
  });
});

describe('export for an auditor', () => {
  test('CSV: a header, one row per (person, grant), RFC 4180 quoting, formula cells neutralised, audited', async () => {
    const evil = await t.user(tt.tenant, ['requester', 'agent'], `formula@${tt.tenant.slug}.test`);
    await t.db.query(`UPDATE users SET display_name = '=HYPERLINK("http://x.test","click"), me' WHERE id = $1`, [evil.id]);
    const res = await ana.client.get('/api/v1/access-review/export?format=csv');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="access-review-${tt.tenant.slug}-${new Date().toISOString().slice(0, 10)}.csv"`);
    const text: string = res.body;
    assert.ok(text.endsWith('\r\n'));
    const lines = text.split('\r\n').slice(0, -1);
    assert.equal(lines[0], REVIEW_COLUMNS.join(','));
    const evilRows = lines.filter((l) => l.startsWith(`${evil.id},`));
    assert.equal(evilRows.length, 2, 'one row per grant');
    assert.ok(evilRows[0]!.includes(`,"'=HYPERLINK(""http://x.test"",""click""), me",`), evilRows[0]);
    // Every live person is there; the people with grants have a row per grant.
    const people = (await ana.client.get('/api/v1/access-review?limit=200')).body.items;
    const expected = people.reduce((n: number, p: any) => n + Math.max(1, p.grants.length), 0);
    assert.equal(lines.length - 1, expected);
    const scimRow = lines.find((l) => l.includes(`scim.agent@${tt.tenant.slug}.test`) && l.includes(',agent,rule,'));
    assert.ok(scimRow?.includes(',scim:IT-Agents,'), scimRow);
    const [event] = await t.db.query<{ actor_id: string; details: any }>(`SELECT actor_id, details FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.exported' ORDER BY id DESC LIMIT 1`, [tt.tenant.id]);
    assert.equal(event?.actor_id, ana.id);
    assert.equal(event?.details.format, 'csv');
  });

  test('JSON Lines: the same keys on every line; a person without roles is one row; filters apply and are recorded', async () => {
    const res = await download(ana, 'format=jsonl&status=waiting');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const rows = res.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.email, r.role, r.origin, r.provenance]), [[`waiting.one@${tt.tenant.slug}.test`, null, null, 'no role']]);
    assert.deepEqual(Object.keys(rows[0]), [...REVIEW_COLUMNS]);
    const all = (await download(ana, 'format=jsonl&role=change_manager')).text.trim().split('\n').map((l: string) => JSON.parse(l));
    const cm = all.find((r: any) => r.role === 'change_manager' && r.origin === 'rule');
    assert.deepEqual(cm.groupSeenIn, [{ kind: 'signin', connection: 'entra', connectionName: 'Contoso Entra' }]);
    const [event] = await t.db.query<{ details: any }>(`SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.exported' ORDER BY id DESC LIMIT 1`, [tt.tenant.id]);
    assert.deepEqual(event?.details, { format: 'jsonl', filters: { role: 'change_manager' } });
    assert.equal((await ana.client.get('/api/v1/access-review/export?format=xlsx')).status, 400);
    assert.equal((await ana.client.get('/api/v1/access-review/export')).status, 400);
  });
});

describe('revoking from the review', () => {
  test("a person-granted role is revoked with the reason, audited, and gone from the person's access", async () => {
    const sam = await t.user(tt.tenant, ['requester'], `sam@${tt.tenant.slug}.test`);
    assert.equal((await ana.client.put(`/api/v1/users/${sam.id}/roles`, { roles: ['requester', 'agent'] })).status, 200);
    assert.deepEqual((await sam.client.get('/api/v1/session')).body.roles, ['agent', 'requester']);
    const res = await first.post('/api/v1/access-review/revoke', { userId: sam.id, role: 'agent', reason: 'Moved to finance in May' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.stillHeld, false);
    assert.equal(res.body.revoked.origin, 'person');
    assert.equal(res.body.revoked.grantedBy.id, ana.id);
    assert.deepEqual(res.body.person.roles, ['requester']);
    assert.deepEqual(await grantsOf(sam.id), ['requester:person']);
    assert.deepEqual((await sam.client.get('/api/v1/session')).body.roles, ['requester'], 'the next request already lacks the role');
    const [event] = await revokedEvents(sam.id);
    assert.equal(event?.details.reason, 'Moved to finance in May');
    assert.equal(event?.details.role, 'agent');
    assert.equal(event?.details.grantedBy, ana.email);
    assert.deepEqual(event?.details.stillHeldThrough, []);
    const roleEvent = await t.db.query<{ data: any }>(`SELECT data FROM identity_events WHERE tenant_id = $1 AND user_id = $2 AND type = 'user.role_changed' ORDER BY id DESC LIMIT 1`, [tt.tenant.id, sam.id]);
    assert.deepEqual(roleEvent[0]?.data, { by: 'access_review', added: [], removed: ['agent'] });
    // Again: nothing left to revoke.
    const again = await first.post('/api/v1/access-review/revoke', { userId: sam.id, role: 'agent', reason: 'double click' });
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'grant_not_found');
    assert.equal((await revokedEvents(sam.id)).length, 1);
  });

  test('a rule grant is refused with 409, where it comes from and what to do instead, and nothing changes', async () => {
    const user = (await ana.client.get(`/api/v1/access-review?q=scim.agent@`)).body.items[0];
    const before = await grantsOf(user.id);
    const res = await ana.client.post('/api/v1/access-review/revoke', { userId: user.id, role: 'agent', reason: 'not an agent' });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'not_person_granted');
    const ref = user.grants.find((g: any) => g.role === 'agent').rule.groupRef;
    assert.match(res.body.detail, new RegExp(`remove the person from the group ${ref} in the identity provider, or change the rule`, 'i'));
    assert.match(res.body.detail, /member of the SCIM group IT-Agents/);
    assert.deepEqual(await grantsOf(user.id), before);
    assert.equal((await revokedEvents(user.id)).length, 0);
    // And the system's default of a SCIM account.
    const sys = await ana.client.post('/api/v1/access-review/revoke', { userId: user.id, role: 'requester', reason: 'x' });
    assert.equal(sys.status, 409);
    assert.match(sys.body.detail, /default role of an account SCIM provisioned/);
    assert.deepEqual(await grantsOf(user.id), before);
  });

  test('a role held by a person and a rule: the person grant goes, the role stays through the rule', async () => {
    const user = (await ana.client.get(`/api/v1/access-review?q=scim.agent@`)).body.items[0];
    assert.equal((await ana.client.put(`/api/v1/users/${user.id}/roles`, { roles: ['requester', 'agent'] })).status, 200);
    assert.ok((await grantsOf(user.id)).includes('agent:person'));
    const res = await ana.client.post('/api/v1/access-review/revoke', { userId: user.id, role: 'agent', reason: 'the group gives it' });
    assert.equal(res.status, 200);
    assert.equal(res.body.stillHeld, true);
    assert.ok(res.body.person.roles.includes('agent'));
    assert.ok(!(await grantsOf(user.id)).includes('agent:person'));
    assert.equal((await revokedEvents(user.id))[0]?.details.stillHeldThrough.length, 1);
  });

  test('the last administrator keeps the role: 409 last_admin, nothing changed', async () => {
    const solo = await t.tenant();
    const me = await t.user(solo.tenant, ['requester', 'admin']);
    assert.equal((await me.client.put(`/api/v1/users/${solo.adminId}/roles`, { roles: ['requester'] })).status, 200);
    const res = await me.client.post('/api/v1/access-review/revoke', { userId: me.id, role: 'admin', reason: 'testing the guard' });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'last_admin');
    assert.deepEqual((await me.client.get('/api/v1/session')).body.roles, ['admin', 'requester']);
    const events = await t.db.query(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.role_revoked'`, [solo.tenant.id]);
    assert.equal(events.length, 0);
  });

  test('bad input is a problem document and changes nothing', async () => {
    const pat = (await ana.client.get(`/api/v1/access-review?q=pat@`)).body.items[0];
    const before = await grantsOf(pat.id);
    const cases: [unknown, number][] = [
      [{ userId: pat.id, role: 'agent' }, 400],
      [{ userId: pat.id, role: 'agent', reason: '   ' }, 400],
      [{ userId: pat.id, role: 'agent', reason: '\u200b' }, 400],
      [{ userId: pat.id, role: 'agent', reason: 'x'.repeat(501) }, 400],
      [{ userId: pat.id, role: 'root', reason: 'x' }, 400],
      [{ userId: 'not-a-uuid', role: 'agent', reason: 'x' }, 400],
      [{ userId: pat.id, role: 'agent', reason: 'x', extra: 1 }, 400],
      [{ userId: randomUUID(), role: 'agent', reason: 'x' }, 404],
      [{ userId: pat.id, role: 'change_manager', reason: 'x' }, 404],
    ];
    for (const [body, status] of cases) {
      const res = await ana.client.post('/api/v1/access-review/revoke', body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.ok(res.headers.get('content-type')?.startsWith('application/problem+json'));
    }
    assert.deepEqual(await grantsOf(pat.id), before);
    assert.equal((await revokedEvents(pat.id)).length, 0);
  });
});

describe('who may review', () => {
  test('agents, requesters and (by default) change managers are refused everywhere; signed-out callers too', async () => {
    const agent = await t.user(tt.tenant, ['agent']);
    const requester = await t.user(tt.tenant, ['requester']);
    const cm = await t.user(tt.tenant, ['change_manager']);
    const pat = (await ana.client.get(`/api/v1/access-review?q=pat@`)).body.items[0];
    const before = await grantsOf(pat.id);
    for (const who of [agent, requester, cm]) {
      for (const path of ['/api/v1/access-review', '/api/v1/access-review/roles', '/api/v1/access-review/export?format=csv']) {
        assert.equal((await who.client.get(path)).status, 403, path);
      }
      assert.equal((await who.client.post('/api/v1/access-review/revoke', { userId: pat.id, role: 'agent', reason: 'x' })).status, 403);
      assert.equal((await who.client.put('/api/v1/access-review/settings', { changeManagersMayReview: true })).status, 403);
    }
    assert.equal((await t.client().get('/api/v1/access-review')).status, 401);
    assert.equal((await t.client().post('/api/v1/access-review/revoke', { userId: pat.id, role: 'agent', reason: 'x' })).status, 401);
    assert.deepEqual(await grantsOf(pat.id), before);
    const exports = await t.db.query(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.exported' AND actor_id = ANY($2::uuid[])`, [tt.tenant.id, [agent.id, requester.id, cm.id]]);
    assert.equal(exports.length, 0, 'a refused export is not an export');
  });

  test('a tenant may let change managers review; turning it off takes it back; the switch is audited', async () => {
    const cm = await t.user(tt.tenant, ['change_manager']);
    assert.deepEqual((await cm.client.get('/api/v1/access-review/settings')).body, { changeManagersMayReview: false });
    assert.equal((await ana.client.put('/api/v1/access-review/settings', { changeManagersMayReview: true })).status, 200);
    assert.equal((await cm.client.get('/api/v1/access-review')).status, 200);
    assert.equal((await download(cm, 'format=jsonl')).status, 200);
    const person = await t.user(tt.tenant, ['requester', 'agent'], `cm.target@${tt.tenant.slug}.test`);
    const revoked = await cm.client.post('/api/v1/access-review/revoke', { userId: person.id, role: 'agent', reason: 'quarterly review' });
    assert.equal(revoked.status, 200);
    assert.equal((await revokedEvents(person.id))[0]?.actor_id, cm.id);
    assert.equal((await cm.client.put('/api/v1/access-review/settings', { changeManagersMayReview: false })).status, 403, 'only admins decide');
    assert.equal((await ana.client.put('/api/v1/access-review/settings', { changeManagersMayReview: false })).status, 200);
    assert.equal((await cm.client.get('/api/v1/access-review')).status, 403);
    const switches = await t.db.query<{ details: any }>(`SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.settings_changed' ORDER BY id`, [tt.tenant.id]);
    assert.deepEqual(switches.map((s) => s.details.changeManagersMayReview), [true, false]);
  });

  test("another tenant's administrator sees none of these people and can revoke nothing here", async () => {
    const other = await t.tenant();
    const theirAdmin = await t.user(other.tenant, ['requester', 'admin']);
    const pat = (await ana.client.get(`/api/v1/access-review?q=pat@`)).body.items[0];
    const before = await grantsOf(pat.id);
    const theirs = (await theirAdmin.client.get('/api/v1/access-review?limit=200')).body.items.map((p: any) => p.email);
    assert.ok(theirs.length >= 2 && theirs.every((e: string) => e.endsWith(`${other.tenant.slug}.test`)), theirs.join());
    const res = await theirAdmin.client.post('/api/v1/access-review/revoke', { userId: pat.id, role: 'agent', reason: 'x' });
    assert.equal(res.status, 404);
    assert.deepEqual(await grantsOf(pat.id), before);
    const csv: string = (await theirAdmin.client.get('/api/v1/access-review/export?format=csv')).body;
    assert.ok(csv.includes(`@${other.tenant.slug}.test`) && !csv.includes(`@${tt.tenant.slug}.test`));
  });
});
