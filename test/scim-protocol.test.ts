import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { ENTERPRISE, GROUP_SCHEMA, newUser, patch, scimClient, type ScimClient } from './helpers/scim.js';
import { freshWindow } from './helpers/windows.js';

/** The protocol where clients rely on it (RFC 7643/7644), and bad input refused in SCIM's own format. */
let t: TestApp;
let tt: TestTenant;
let scim: ScimClient;
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  scim = await scimClient(t, tt.tenant);
});
after(() => t.close());

function isScimError(res: { status: number; body: any; headers: Headers }, status: number, scimType?: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/);
  assert.deepEqual(res.body.schemas, [ERROR]);
  assert.equal(res.body.status, String(status));
  if (scimType) assert.equal(res.body.scimType, scimType, res.body.detail);
  assert.equal(typeof res.body.detail, 'string');
}

async function counts() {
  const rows = await t.db.query<{ users: number; groups: number; members: number; events: number }>(
    `SELECT (SELECT count(*)::int FROM users WHERE tenant_id = $1) AS users, (SELECT count(*)::int FROM scim_groups WHERE tenant_id = $1) AS groups,
            (SELECT count(*)::int FROM scim_group_members WHERE tenant_id = $1) AS members, (SELECT count(*)::int FROM identity_events WHERE tenant_id = $1) AS events`,
    [tt.tenant.id],
  );
  return rows[0]!;
}

describe('discovery tells the truth', () => {
  test('ServiceProviderConfig, ResourceTypes and Schemas', async () => {
    const spc = (await scim.call('GET', 'ServiceProviderConfig')).body;
    assert.equal(spc.patch.supported, true);
    assert.equal(spc.bulk.supported, false);
    assert.equal(spc.sort.supported, false);
    assert.equal(spc.etag.supported, false);
    assert.equal(spc.changePassword.supported, false);
    assert.equal(spc.filter.supported, true);
    assert.equal(spc.authenticationSchemes[0].type, 'oauthbearertoken');
    const types = (await scim.call('GET', 'ResourceTypes')).body;
    assert.deepEqual(types.Resources.map((r: any) => r.endpoint).sort(), ['/Groups', '/Users']);
    assert.deepEqual(types.Resources.find((r: any) => r.id === 'User').schemaExtensions, [{ schema: ENTERPRISE, required: false }]);
    const schemas = (await scim.call('GET', 'Schemas')).body;
    const enterprise = schemas.Resources.find((s: any) => s.id === ENTERPRISE);
    assert.deepEqual(enterprise.attributes.map((a: any) => a.name).sort(), ['costCenter', 'department', 'division', 'employeeNumber', 'manager', 'organization']);
    const user = (await scim.call('GET', 'Schemas/urn:ietf:params:scim:schemas:core:2.0:User')).body;
    assert.equal(user.attributes.find((a: any) => a.name === 'password').returned, 'never');
    isScimError(await scim.call('GET', 'Schemas/urn:nope'), 404);
    isScimError(await scim.call('GET', 'Bulk'), 404);
  });
});

describe('who may call', () => {
  test('no token, a wrong token, another tenant\'s token: 401 in the SCIM error schema, nothing read', async () => {
    const other = await t.tenant();
    const otherScim = await scimClient(t, other.tenant);
    const bare = await fetch(`${t.url}${scim.base}/Users`);
    assert.equal(bare.status, 401);
    assert.match(bare.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await bare.json()).schemas[0], ERROR);
    const wrong = await fetch(`${t.url}${scim.base}/Users`, { headers: { authorization: 'Bearer kdscim_not-a-real-token' } });
    assert.equal(wrong.status, 401);
    // Tenant B's token on tenant A's URL, for reads and for writes.
    const cross = await fetch(`${t.url}${scim.base}/Users`, { headers: { authorization: `Bearer ${otherScim.token}` } });
    assert.equal(cross.status, 401);
    const before = await counts();
    const write = await fetch(`${t.url}${scim.base}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${otherScim.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(newUser('intruder@corp.test')),
    });
    assert.equal(write.status, 401);
    assert.deepEqual(await counts(), before);
    // A session cookie is no SCIM credential.
    const admin = await t.user(tt.tenant, ['admin']);
    assert.equal((await admin.client.get(`${scim.base}/Users`)).status, 401);
    isScimError(await scimClientWithSlug('no-such-tenant').call('GET', 'Users'), 404);
  });
});

function scimClientWithSlug(slug: string): ScimClient {
  return { ...scim, call: (method, path) => fetch(`${t.url}/t/${slug}/scim/v2/${path}`, { method, headers: { authorization: `Bearer ${scim.token}` } }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })) };
}

describe('users', () => {
  test('create: 201 with Location and meta; the password is never stored or returned; duplicates are 409 uniqueness', async () => {
    const res = await scim.call('POST', 'Users', newUser('Grace.Hopper@corp.test', { password: 'P@ssw0rd!', externalId: 'ghopper', title: 'Rear Admiral', [ENTERPRISE]: { department: 'Navy', manager: { value: randomUUID() } } }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `${t.url}${scim.base}/Users/${res.body.id}`);
    assert.equal(res.body.meta.location, res.headers.get('location'));
    assert.equal(res.body.meta.resourceType, 'User');
    assert.equal(res.body.title, 'Rear Admiral');
    assert.equal(res.body[ENTERPRISE].department, 'Navy');
    assert.ok(!('password' in res.body));
    const stored = await t.db.query<{ scim_data: object; password_hash: string | null; source: string }>('SELECT scim_data, password_hash, source FROM users WHERE id = $1', [res.body.id]);
    assert.ok(!JSON.stringify(stored[0]!.scim_data).includes('P@ssw0rd'));
    assert.equal(stored[0]!.password_hash, null);
    assert.equal(stored[0]!.source, 'scim');
    const dup = await scim.call('POST', 'Users', newUser('grace.hopper@CORP.test'));
    isScimError(dup, 409, 'uniqueness');
    const dupName = await scim.call('POST', 'Users', newUser('GRACE.HOPPER@corp.test', { emails: [{ value: 'other@corp.test', primary: true }] }));
    isScimError(dupName, 409, 'uniqueness');
  });

  test('an account made by an admin or a sign-in is found by userName and adopted by POST, not duplicated', async () => {
    const local = await t.user(tt.tenant, ['requester', 'agent'], 'linus@corp.test');
    const found = (await scim.call('GET', 'Users?filter=userName+eq+%22Linus@Corp.test%22')).body;
    assert.equal(found.totalResults, 1);
    assert.equal(found.Resources[0].id, local.id);
    // Entra's userName is the UPN; the account is matched by its email.
    const res = await scim.call('POST', 'Users', newUser('linus.t@corp.onmicrosoft.test', { emails: [{ value: 'LINUS@corp.test', type: 'work', primary: true }], externalId: 'linus' }));
    assert.equal(res.status, 201);
    assert.equal(res.body.id, local.id);
    assert.equal(res.body.userName, 'linus.t@corp.onmicrosoft.test');
    const roles = await t.db.query<{ role: string }>('SELECT role FROM role_grants WHERE user_id = $1 ORDER BY role', [local.id]);
    assert.deepEqual(roles.map((r) => r.role), ['agent', 'requester']);
    // Now managed by SCIM: a second POST for the same email is a conflict.
    isScimError(await scim.call('POST', 'Users', newUser('linus2@corp.onmicrosoft.test', { emails: [{ value: 'linus@corp.test' }] })), 409, 'uniqueness');
  });

  test('break-glass accounts are outside SCIM\'s reach', async () => {
    await t.db.query(`UPDATE users SET break_glass = true WHERE id = $1`, [tt.adminId]);
    assert.equal((await scim.call('GET', `Users?filter=userName+eq+%22${encodeURIComponent(tt.adminEmail)}%22`)).body.totalResults, 0);
    isScimError(await scim.call('GET', `Users/${tt.adminId}`), 404);
    isScimError(await scim.call('PATCH', `Users/${tt.adminId}`, patch({ op: 'replace', path: 'active', value: false })), 404);
    isScimError(await scim.call('POST', 'Users', newUser(tt.adminEmail)), 409, 'uniqueness');
    const status = await t.db.query<{ status: string }>('SELECT status FROM users WHERE id = $1', [tt.adminId]);
    assert.equal(status[0]!.status, 'active');
  });

  test('bad bodies: a SCIM error, never a 5xx, and nothing written', async () => {
    const before = await counts();
    const cases: [unknown, number, string | undefined][] = [
      [{ ...newUser('x1@corp.test'), schemas: undefined }, 400, 'invalidSyntax'],
      [{ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], emails: [{ value: 'x2@corp.test' }] }, 400, 'invalidValue'],
      [newUser('x3@corp.test', { favouriteColour: 'blue' }), 400, 'invalidValue'],
      [newUser('x4@corp.test', { active: 'maybe' }), 400, 'invalidValue'],
      [newUser('x5@corp.test', { name: 'not an object' }), 400, 'invalidValue'],
      [newUser('x6@corp.test', { emails: [{ value: 'a@corp.test', primary: true }, { value: 'b@corp.test', primary: true }] }), 400, 'invalidValue'],
      [newUser('not-an-email', { emails: [] }), 400, 'invalidValue'],
      [newUser('x7@corp.test', { [ENTERPRISE]: { shoeSize: '44' } }), 400, 'invalidValue'],
      [newUser('x8@corp.test', { displayName: 'x'.repeat(5000) }), 400, 'invalidValue'],
      [[newUser('x9@corp.test')], 400, 'invalidSyntax'],
      ['{"schemas": [', 400, 'invalidSyntax'],
      ['{"__proto__": {"admin": true}, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "p@corp.test"}', 400, undefined],
    ];
    for (const [body, status, type] of cases) isScimError(await scim.call('POST', 'Users', body), status, type);
    isScimError(await scim.call('POST', 'Users', JSON.stringify(newUser('big@corp.test', { nickName: 'x'.repeat(1_100_000) }))), 413);
    isScimError(await scim.call('POST', 'Users', 'userName=x', { 'content-type': 'text/plain' }), 415);
    assert.deepEqual(await counts(), before);
  });

  test('unknown ids are 404 for every method, including ids that are not UUIDs', async () => {
    for (const id of [randomUUID(), 'not-a-uuid', '5171a35d82074e068ce2', "1' OR '1'='1"]) {
      for (const [method, body] of [['GET'], ['PUT', newUser('q@corp.test')], ['PATCH', patch({ op: 'replace', path: 'displayName', value: 'Q' })], ['DELETE']] as const) {
        isScimError(await scim.call(method, `Users/${encodeURIComponent(id)}`, body), 404);
        isScimError(await scim.call(method, `Groups/${encodeURIComponent(id)}`, method === 'PUT' ? { schemas: [GROUP_SCHEMA], displayName: 'Q' } : body), 404);
      }
    }
  });
});

describe('filters', () => {
  let ids: string[] = [];
  before(async () => {
    const people = [
      ['ada@filters.test', 'Ada', 'Lovelace', 'Engineering', true],
      ['alan@filters.test', 'Alan', 'Turing', 'Research', true],
      ['barbara@filters.test', 'Barbara', 'Liskov', 'Engineering', false],
    ] as const;
    ids = [];
    for (const [email, given, family, dept, active] of people) {
      const res = await scim.call('POST', 'Users', newUser(email, { name: { givenName: given, familyName: family }, active, externalId: `ext-${given}`, [ENTERPRISE]: { department: dept } }));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
  });

  const q = async (filter: string) => {
    const res = await scim.call('GET', `Users?filter=${encodeURIComponent(filter)}`);
    assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.body)}`);
    return res.body.Resources.map((r: any) => r.userName).sort();
  };

  test('the grammar: comparisons, presence, and/or/not, brackets, value paths, case-insensitive names', async () => {
    assert.deepEqual(await q('userName eq "ADA@filters.test"'), ['ada@filters.test']);
    assert.deepEqual(await q('USERNAME Eq "ada@filters.test"'), ['ada@filters.test']);
    assert.deepEqual(await q('userName sw "a" and userName ew "@filters.test"'), ['ada@filters.test', 'alan@filters.test']);
    assert.deepEqual(await q('userName co "arbar"'), ['barbara@filters.test']);
    assert.deepEqual(await q('name.familyName eq "turing" or name.givenName eq "Barbara"'), ['alan@filters.test', 'barbara@filters.test']);
    assert.deepEqual(await q('userName ew "@filters.test" and not (active eq true)'), ['barbara@filters.test']);
    assert.deepEqual(await q('userName ew "@filters.test" and active eq false'), ['barbara@filters.test']);
    assert.deepEqual(await q('externalId eq "ext-Ada"'), ['ada@filters.test']);
    assert.deepEqual(await q('externalId eq "ext-ada"'), [], 'externalId is case-exact');
    assert.deepEqual(await q(`${ENTERPRISE}:department eq "engineering"`), ['ada@filters.test', 'barbara@filters.test']);
    assert.deepEqual(await q('emails[type eq "work" and value co "alan"]'), ['alan@filters.test']);
    assert.deepEqual(await q('emails[type eq "work"].value eq "alan@filters.test"'), ['alan@filters.test']);
    assert.deepEqual(await q('emails.value eq "ada@filters.test"'), ['ada@filters.test']);
    assert.deepEqual(await q('emails[primary eq true and value sw "ADA"]'), ['ada@filters.test']);
    assert.deepEqual(await q('userName ew "@filters.test" and emails[primary eq false]'), []);
    assert.deepEqual(await q(`id eq "${ids[1]}"`), ['alan@filters.test']);
    assert.deepEqual(await q('userName ew "@filters.test" and title pr'), []);
    assert.deepEqual(await q('userName ew "@filters.test" and name.givenName pr and (userName lt "alb")'), ['ada@filters.test', 'alan@filters.test']);
    const later = (await q(`meta.created gt "${new Date(Date.now() - 3600_000).toISOString()}" and userName ew "@filters.test"`)).length;
    assert.equal(later, 3);
  });

  test('values travel as parameters: an injection attempt is just a string that matches nothing', async () => {
    assert.deepEqual(await q(`userName eq "x' OR '1'='1"`), []);
    assert.deepEqual(await q(`userName eq "\\" or userName pr or \\""`), []);
    assert.deepEqual(await q(`userName co "%"`), []);
    assert.deepEqual(await q(`userName co "_"`), []);
  });

  test('bad filters are 400 invalidFilter', async () => {
    for (const bad of ['userName zz "x"', 'userName eq', '(userName eq "x"', 'nickname2 eq "x"', 'userName eq x', 'active eq "maybe"', 'userName eq "x" userName', 'name eq "x"', 'meta.created gt "yesterday"', 'emails[type eq "work"', 'not userName eq "x"', '"x"', 'userName eq "x" and ' + 'a'.repeat(3000)]) {
      isScimError(await scim.call('GET', `Users?filter=${encodeURIComponent(bad)}`), 400, 'invalidFilter');
    }
  });

  test('paging: 1-based, stable order, totalResults, count capped; attributes and excludedAttributes', async () => {
    const all = (await scim.call('GET', 'Users?filter=userName+ew+%22%40filters.test%22&startIndex=1&count=10')).body;
    assert.equal(all.totalResults, 3);
    const page1 = (await scim.call('GET', 'Users?filter=userName+ew+%22%40filters.test%22&startIndex=1&count=2')).body;
    const page2 = (await scim.call('GET', 'Users?filter=userName+ew+%22%40filters.test%22&startIndex=3&count=2')).body;
    assert.deepEqual([page1.startIndex, page1.itemsPerPage, page1.totalResults], [1, 2, 3]);
    assert.deepEqual([page2.startIndex, page2.itemsPerPage], [3, 1]);
    assert.deepEqual([...page1.Resources, ...page2.Resources].map((r: any) => r.id), all.Resources.map((r: any) => r.id));
    const none = (await scim.call('GET', 'Users?count=0')).body;
    assert.equal(none.Resources.length, 0);
    assert.ok(none.totalResults >= 3);
    assert.ok((await scim.call('GET', 'Users?count=5000')).body.itemsPerPage <= 200);
    isScimError(await scim.call('GET', 'Users?startIndex=abc'), 400, 'invalidValue');
    const slim = (await scim.call('GET', `Users/${ids[0]}?attributes=userName,name.familyName`)).body;
    assert.deepEqual(Object.keys(slim).sort(), ['id', 'name', 'schemas', 'userName']);
    assert.deepEqual(slim.name, { familyName: 'Lovelace' });
    const lean = (await scim.call('GET', `Users/${ids[0]}?excludedAttributes=emails,name`)).body;
    assert.ok(!('emails' in lean) && !('name' in lean) && lean.userName === 'ada@filters.test');
    isScimError(await scim.call('GET', `Users/${ids[0]}?attributes=shoeSize`), 400, 'invalidValue');
  });
});

describe('PATCH', () => {
  test('is applied whole or not at all', async () => {
    const u = (await scim.call('POST', 'Users', newUser('atomic@corp.test', { displayName: 'Before' }))).body;
    const res = await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'displayName', value: 'After' }, { op: 'replace', path: 'shoeSize', value: '44' }));
    isScimError(res, 400, 'invalidPath');
    assert.match(res.body.detail, /Operation 2/);
    assert.equal((await scim.call('GET', `Users/${u.id}`)).body.displayName, 'Before');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'id', value: randomUUID() })), 400, 'mutability');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'remove' })), 400, 'noTarget');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'Frobnicate', path: 'displayName', value: 'x' })), 400, 'invalidSyntax');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, { Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] }), 400, 'invalidSyntax');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch(...Array.from({ length: 1001 }, () => ({ op: 'replace', path: 'displayName', value: 'x' })))), 400, 'tooMany');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'emails[type eq "work"', value: 'x' })), 400, 'invalidPath');
    assert.equal((await scim.call('GET', `Users/${u.id}`)).body.displayName, 'Before');
  });

  test('multi-valued: add, replace by filter, remove by filter; a new primary demotes the old one', async () => {
    const u = (await scim.call('POST', 'Users', newUser('phones@corp.test'))).body;
    let r = await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'add', path: 'phoneNumbers', value: [{ type: 'work', value: '1' }, { type: 'mobile', value: '2' }] }));
    assert.equal(r.status, 200);
    r = await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'phoneNumbers[type eq "mobile"].value', value: '3' }, { op: 'remove', path: 'phoneNumbers[type eq "work"]' }));
    assert.deepEqual(r.body.phoneNumbers, [{ type: 'mobile', value: '3' }]);
    r = await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'add', path: 'emails', value: [{ value: 'phones.new@corp.test', type: 'other', primary: true }] }));
    assert.equal(r.body.emails.filter((e: any) => e.primary).length, 1);
    const email = await t.db.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [u.id]);
    assert.equal(email[0]!.email, 'phones.new@corp.test', 'the primary email is the account email');
  });

  test('the same request twice changes nothing twice; concurrent member adds lose no member', async () => {
    const g = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `concurrency-${randomUUID()}` })).body;
    const users: string[] = [];
    for (let i = 0; i < 16; i++) users.push((await scim.call('POST', 'Users', newUser(`c${i}-${g.id.slice(0, 8)}@corp.test`))).body.id);
    const results = await Promise.all(users.map((id) => scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'Add', path: 'members', value: [{ value: id }] }))));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([204]));
    const members = (await scim.call('GET', `Groups/${g.id}`)).body.members.map((m: any) => m.value).sort();
    assert.deepEqual(members, [...users].sort());
    const events = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM identity_events WHERE group_id = $1 AND type = 'group.member_added'`, [g.id]))[0]!.n;
    assert.equal(await events(), 16);
    const again = await scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'Add', path: 'members', value: [{ value: users[0] }] }));
    assert.equal(again.status, 204);
    assert.equal(await events(), 16);
    // Two identical creates at once: one wins, the other is told why.
    const twice = await Promise.all([0, 1].map(() => scim.call('POST', 'Users', newUser(`twice-${g.id.slice(0, 8)}@corp.test`))));
    assert.deepEqual(twice.map((r) => r.status).sort(), [201, 409]);
    // An unknown member refuses the whole PATCH.
    const before = await counts();
    isScimError(await scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'remove', path: `members[value eq "${users[1]}"]` }, { op: 'add', path: 'members', value: [{ value: randomUUID() }] })), 400, 'invalidValue');
    assert.deepEqual(await counts(), before);
  });
});

describe('under load', () => {
  test('throttling answers 429 with Retry-After, in the SCIM error schema', async () => {
    const small = await startApp({ KEYDESK_SCIM_REQUESTS_PER_MINUTE: '3' });
    try {
      const st = await small.tenant();
      const c = await scimClient(small, st.tenant);
      // Someone without a token spends their own budget, not the tenant's, and cannot flood the log.
      // Both bursts inside one minute's window: a new window would give the budgets back.
      await freshWindow(60, 20);
      const bad: number[] = [];
      for (let i = 0; i < 32; i++) bad.push((await fetch(`${small.url}${c.base}/Users`, { headers: { authorization: 'Bearer kdscim_guess' } })).status);
      assert.deepEqual([bad[0], bad[29], bad[30], bad[31]], [401, 401, 429, 429]);
      await small.flushActivity();
      const logged = await small.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scim_activity WHERE tenant_id = $1', [st.tenant.id]);
      assert.equal(logged[0]!.n, 30);
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 5; i++) {
        last = await c.call('GET', 'Users?count=1');
        statuses.push(last.status);
      }
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
      isScimError(last!, 429);
      assert.ok(Number(last!.headers.get('retry-after')) >= 1);
    } finally {
      await small.close();
    }
  });
});

describe('activity log', () => {
  test('every request is recorded with its operation, result, duration and error', async () => {
    const marker = randomUUID();
    await scim.call('GET', `Users?filter=userName+eq+%22${marker}%22`);
    await scim.call('GET', `Users?filter=userName+zz+%22${marker}%22`);
    await t.flushActivity();
    const rows = await t.db.query<{ operation: string; status: number; error: string | null; credential_name: string; duration_ms: number }>(
      `SELECT operation, status, error, credential_name, duration_ms FROM scim_activity WHERE tenant_id = $1 AND path LIKE $2 ORDER BY id`,
      [tt.tenant.id, `%${marker}%`],
    );
    assert.deepEqual(rows.map((r) => [r.operation, r.status]), [['List Users', 200], ['List Users', 400]]);
    assert.match(rows[1]!.error!, /operator/);
    assert.equal(rows[0]!.credential_name, 'Entra');
    assert.ok(rows[0]!.duration_ms > 0);
  });
});

describe('hostile input', () => {
  test('NULs, lone surrogates, impossible dates and doubled parameters are 400s, and even they are logged', async () => {
    const before = await counts();
    isScimError(await scim.call('GET', `Users?filter=${encodeURIComponent('userName eq "a\\u0000"')}`), 400, 'invalidFilter');
    isScimError(await scim.call('GET', `Groups?filter=${encodeURIComponent('members[value eq "\\u0000"]')}`), 400, 'invalidFilter');
    for (const date of ['0000-01-01T00:00:00Z', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z']) {
      isScimError(await scim.call('GET', `Users?filter=${encodeURIComponent(`meta.created gt "${date}"`)}`), 400, 'invalidFilter');
    }
    isScimError(await scim.call('GET', 'Users?filter=userName+eq+%22nobody%22&filter=userName+pr'), 400, 'invalidFilter');
    isScimError(await scim.call('POST', 'Users', '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"nb\\u0000@corp.test"}'), 400, 'invalidValue');
    isScimError(await scim.call('POST', 'Users', newUser('surrogate@corp.test', { title: 'a\ud800b' })), 400, 'invalidValue');
    isScimError(await scim.call('POST', 'Groups', '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"x\\u0000"}'), 400, 'invalidValue');
    const u = (await scim.call('POST', 'Users', newUser(`hostile-${randomUUID()}@corp.test`))).body;
    isScimError(await scim.call('PATCH', `Users/${u.id}`, '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"a\\u0000"}]}'), 400, 'invalidValue');
    // One operation at a time under the cap, but past it together: refused whole.
    const phones = Array.from({ length: 150 }, (_, i) => ({ op: 'add', path: 'phoneNumbers', value: [{ value: String(i), type: `t${i}` }] }));
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch(...phones)), 400, 'invalidValue');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'name[givenName eq "x"]', value: 'y' })), 400, 'invalidPath');
    isScimError(await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'emails[type eq "home"]', value: 'home@corp.test' })), 400, 'invalidValue');
    assert.equal((await counts()).users, before.users + 1);
    const nul = await scim.call('GET', 'Users/%00');
    isScimError(nul, 404);
    await t.flushActivity();
    const logged = await t.db.query(`SELECT id FROM scim_activity WHERE tenant_id = $1 AND operation = 'Get User' AND status = 404 AND path LIKE '%\\%00'`, [tt.tenant.id]);
    assert.equal(logged.length, 1);
  });

  test('the token endpoint refuses NULs, JSON bodies and non-string parameters with RFC 6749 errors', async () => {
    const url = `${t.url}/t/${tt.tenant.slug}/oauth/token`;
    const send = (body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', headers, body });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const res of [
      await send('grant_type=client_credentials&client_id=%00&client_secret=x', form),
      await send('grant_type=client_credentials', { ...form, authorization: `Basic ${Buffer.from('%00:x').toString('base64')}` }),
      await send('{"grant_type":"client_credentials","scope":1}', { 'content-type': 'application/json' }),
      await send('{"grant_type":"client_credentials","client_id":["a"],"client_secret":{"b":1}}', { 'content-type': 'application/json' }),
    ]) {
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'invalid_request');
    }
  });
});

describe('races', () => {
  test('a member removal or addition racing the user\'s DELETE: no 5xx, no deadlock, no deleted member left behind', async () => {
    for (let round = 0; round < 8; round++) {
      const g = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `race-${randomUUID()}` })).body;
      const a = (await scim.call('POST', 'Users', newUser(`race-a-${randomUUID()}@corp.test`))).body;
      const b = (await scim.call('POST', 'Users', newUser(`race-b-${randomUUID()}@corp.test`))).body;
      await scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: a.id }] }));
      const [removal, deleteA, addition, deleteB] = await Promise.all([
        scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'remove', path: `members[value eq "${a.id}"]` })),
        scim.call('DELETE', `Users/${a.id}`),
        scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: b.id }] })),
        scim.call('DELETE', `Users/${b.id}`),
      ]);
      assert.equal(removal.status, 204, JSON.stringify(removal.body));
      assert.equal(deleteA.status, 204);
      assert.equal(deleteB.status, 204);
      assert.ok([204, 400].includes(addition.status), JSON.stringify(addition.body));
      const left = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scim_group_members WHERE group_id = $1', [g.id]);
      assert.equal(left[0]!.n, 0, 'a deleted user is nobody\'s member');
    }
  });

  test('a new rule for a group racing PATCHes of that group: no 5xx', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const ref = randomUUID();
    const g = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `rule-race-${ref}`, externalId: ref })).body;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await scim.call('POST', 'Users', newUser(`rr${i}-${ref}@corp.test`))).body.id);
    await scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }));
    const results = await Promise.all([
      admin.client.post('/api/v1/sso/role-rules', { groupRef: ref, role: 'agent' }),
      ...ids.slice(0, 6).map((id) => scim.call('PATCH', `Groups/${g.id}`, patch({ op: 'remove', path: `members[value eq "${id}"]` }))),
    ]);
    assert.equal(results[0]!.status, 201);
    for (const r of results.slice(1)) assert.equal(r.status, 204);
    const agents = await t.db.query<{ user_id: string }>(`SELECT user_id FROM role_grants WHERE tenant_id = $1 AND role = 'agent' AND origin = 'rule' AND user_id = ANY($2::uuid[]) ORDER BY user_id`, [tt.tenant.id, ids]);
    assert.deepEqual(agents.map((r) => r.user_id), ids.slice(6).sort());
  });
});
