import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { flushRateLimits } from '../src/http/rate-limit.js';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client, Res } from './helpers/client.js';
import { makeKeyPair } from './helpers/saml-forge.js';
import { GROUP_SCHEMA, newUser, patch, scimClient, type ScimClient } from './helpers/scim.js';

/**
 * Issue 8, "no answer that disagrees with what was stored": hostile text anywhere the API takes
 * text is refused with a 4xx that changed nothing, or accepted and stored as sent; never a 5xx.
 * The REST part is driven by the OpenAPI document, so a new route or field is covered unasked.
 */

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let anonymous: Client;
let scim: ScimClient;
let cert: string;
const ids: Record<string, string> = {};
let n = 0;

const MIXED = 'Tëst Дом 東京 مرحبا עברית 👩🏽‍💻';
const RTL = '\u202Etxt.exe\u200F';
const PUBLIC = new Set(['POST /api/v1/session', 'POST /api/v1/login/discover', 'GET /api/v1/tenants/{slug}', 'GET /api/v1/tenants/{slug}/sign-in-options']);
// Tables that record refusals on purpose (failed sign-ins, rate-limit windows, SCIM requests):
// only a request refused before any work (a 400 from validation) must leave them alone too.
const JOURNALS = new Set(['audit_events', 'rate_limit_counters', 'scim_activity', 'signin_traces']);

before(async () => {
  // No background worker: the sweep enables workflows and webhooks with accepted bodies, and their
  // effects (tickets raised later, deliveries) would move the row counts that show a refusal changed nothing.
  t = await startApp({ KEYDESK_WORKER: 'false' });
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'agent', 'change_manager', 'admin']);
  anonymous = t.client();
  scim = await scimClient(t, tt.tenant);
  cert = makeKeyPair('Hostile IdP').cert;
  const ok = async (res: Promise<Res>) => {
    const r = await res;
    assert.ok(r.status < 300, `setup: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  ids.ticket = (await ok(admin.client.post('/api/v1/tickets', { type: 'incident', title: 'target' }))).id;
  ids.change = (await ok(admin.client.post('/api/v1/tickets', { type: 'change', title: 'change target' }))).id;
  ids.team = (await ok(admin.client.post('/api/v1/teams', { name: 'Target team' }))).id;
  ids.user = (await t.user(tt.tenant, ['requester'])).id;
  ids.token = (await ok(admin.client.post('/api/v1/me/tokens', { name: 'target' }))).token.id;
  ids.connection = (await ok(admin.client.post('/api/v1/sso/connections', source({ slug: 'target' })))).id;
  ids.rule = (await ok(admin.client.post('/api/v1/sso/role-rules', { groupRef: 'target', role: 'agent' }))).id;
  ids.domain = (await ok(admin.client.post('/api/v1/sso/domains', { domain: 'target.hostile.test' }))).domain;
  ids.credential = (await ok(admin.client.get('/api/v1/provisioning'))).credentials[0].id;
});
after(() => t.close());

/** An identity provider given by hand, unique each time (connections are unique per tenant by slug). */
function source(extra: Record<string, unknown> = {}) {
  const i = ++n;
  return { slug: `c${i}`, entityId: `https://idp${i}.hostile.test/`, ssoUrl: `https://idp${i}.hostile.test/sso`, certificates: [cert], ...extra };
}

let tables: string[] | undefined;
/** Row counts of every table in the public schema, in one query. */
async function counts(): Promise<Record<string, number>> {
  // Rate-limit hits are written in batches, a second later: what earlier requests counted lands now, not during a refusal.
  await flushRateLimits(t.db);
  tables ??= (await t.db.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)).map((r) => r.name);
  const rows = await t.db.query<Record<string, number>>(`SELECT ${tables.map((name) => `(SELECT count(*)::int FROM "${name}") AS "${name}"`).join(', ')}`);
  return rows[0]!;
}

/** The tables whose counts moved, leaving journals out unless `strict`. */
function moved(before: Record<string, number>, now: Record<string, number>, strict: boolean): string[] {
  return Object.keys(now).filter((k) => now[k] !== before[k] && (strict || !JOURNALS.has(k))).map((k) => `${k} ${before[k]}→${now[k]}`);
}

function isProblem(res: Res, status: number, code: string, label = '') {
  assert.equal(res.status, status, `${label} ${JSON.stringify(res.body)?.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, label);
  assert.equal(res.body.code, code, label);
  assert.equal(res.body.status, status, label);
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI-driven sweep

type Schema = Record<string, any>;
interface Hostile {
  name: string;
  value: (s: Schema) => string | null;
  /** What must be refused: a NUL or lone surrogate anywhere; blank where the schema says so; over-long. */
  refused: (s: Schema) => boolean;
  unstorable?: boolean;
}

const NOT_BLANK = '\\S';
const HOSTILE: Hostile[] = [
  { name: 'NUL', value: () => 'a\u0000b', refused: () => true, unstorable: true },
  { name: 'lone high surrogate', value: () => 'a\ud800b', refused: () => true, unstorable: true },
  { name: 'lone low surrogate', value: () => 'a\udc00b', refused: () => true, unstorable: true },
  { name: 'whitespace only', value: () => ' \t\n\u00a0\u3000 ', refused: (s) => s.pattern === NOT_BLANK },
  { name: 'maxLength + 1', value: (s) => (typeof s.maxLength === 'number' ? 'x'.repeat(s.maxLength + 1) : null), refused: () => true },
  { name: '100k characters', value: () => 'x'.repeat(100_000), refused: () => true },
  { name: 'mixed scripts', value: () => MIXED, refused: () => false },
  { name: 'RTL marks', value: () => RTL, refused: () => false },
];

/** Every string in a schema, nested ones too, with its path (array items at index 0). */
function stringFields(s: Schema, path: (string | number)[] = []): { path: (string | number)[]; schema: Schema }[] {
  if (s.anyOf) {
    const variants = (s.anyOf as Schema[]).flatMap((v) => stringFields(v, path));
    return variants.filter((v, i) => variants.findIndex((w) => w.path.join('.') === v.path.join('.')) === i);
  }
  if (s.type === 'string') return [{ path, schema: s }];
  if (s.type === 'object') return Object.entries<Schema>(s.properties ?? {}).flatMap(([k, v]) => stringFields(v, [...path, k]));
  if (s.type === 'array') return stringFields(s.items, [...path, 0]);
  return [];
}

/** A valid-looking value for a schema: required properties only, fresh where uniqueness matters. */
function sample(s: Schema, name = ''): unknown {
  if (s.anyOf) return sample((s.anyOf as Schema[]).find((v) => v.type !== 'null')!, name);
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case 'string': {
      if (s.format === 'uuid') return randomUUID();
      if (s.pattern === '^[0-9]{6}$') return '123456';
      const i = ++n;
      const v =
        // Sign-in spends 0.3 s hashing for any known workspace; the named tests below sign in there.
        name === 'tenant' ? 'no-such-workspace'
        : name === 'email' ? `h${i}@hostile.test`
        : name === 'slug' ? `c${i}`
        : name === 'domain' ? `d${i}.hostile.test`
        // Short of the policy: a password change stops there, before hashing.
        : /password/i.test(name) ? 'short'
        : `v${i}`;
      return v.padEnd(s.minLength ?? 0, 'x');
    }
    case 'integer':
    case 'number':
      return s.default ?? s.minimum ?? 1;
    case 'boolean':
      return s.default ?? false;
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => sample(s.items));
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k: string) => [k, sample(s.properties[k], k)]));
    default:
      return null;
  }
}

/** What an operation needs beside its required fields to get past the domain, where practical. */
const EXTRAS: Record<string, () => Record<string, unknown>> = {
  'POST /api/v1/sso/connections': () => source(),
};

function setAt(target: Record<string, any>, path: (string | number)[], value: unknown): void {
  let at: any = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) at[key] = value;
    else at = at[key] ??= typeof path[i + 1] === 'number' ? [] : {};
  });
}

/** Real ids of the right kind for path parameters. */
function fillPath(path: string, only?: { name: string; raw: string }): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (only?.name === name) return only.raw;
    if (name === 'slug') return tt.tenant.slug;
    if (name === 'domain') return ids.domain!;
    const kind: [RegExp, string][] = [
      [/^\/api\/v1\/tickets\/\{id\}\/approvals/, ids.change!],
      [/^\/api\/v1\/tickets\//, ids.ticket!],
      [/^\/api\/v1\/users\//, ids.user!],
      [/^\/api\/v1\/teams\//, ids.team!],
      [/^\/api\/v1\/me\/tokens\//, ids.token!],
      [/^\/api\/v1\/sso\/connections\//, ids.connection!],
      [/^\/api\/v1\/sso\/role-rules\//, ids.rule!],
      [/^\/api\/v1\/sso\/traces\//, 'KD-0000000000'],
      [/^\/api\/v1\/provisioning\/credentials\//, ids.credential!],
    ];
    return kind.find(([re]) => re.test(path))?.[1] ?? randomUUID();
  });
}

interface Operation {
  method: string;
  path: string;
  op: Schema;
}

async function operations(): Promise<Operation[]> {
  const doc = (await anonymous.get('/api/v1/openapi.json')).body;
  return Object.entries<Schema>(doc.paths)
    .filter(([path]) => path.startsWith('/api/v1/'))
    .flatMap(([path, ops]) => Object.entries<Schema>(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
}

/** `depth` arrays, one inside the next, around a string: deeper than the JSON bound (MAX_JSON_DEPTH, 64) at 65. */
function nestedArrays(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('every string of every JSON body, from the OpenAPI document', () => {
  test('is refused with a 4xx that changes nothing, or taken; never a 5xx', async () => {
    const ops = (await operations()).filter((o) => o.op.requestBody?.content?.['application/json']?.schema);
    const failures: string[] = [];
    let fields = 0;
    let snapshot = await counts();
    interface Case {
      client: Client;
      o: Operation;
      label: string;
      body: unknown;
      mustRefuse: boolean;
      unstorable: boolean;
    }
    const judge = (c: Case, res: Res) => {
      const label = `${c.label} → ${res.status} ${res.body?.code ?? ''}`;
      if (res.status >= 500) failures.push(label);
      else if (c.mustRefuse && res.status < 400) failures.push(`${label}, not refused`);
      else if (c.unstorable && (res.status !== 400 || res.body?.code !== 'invalid_request')) failures.push(`${label}, not the validation 400`);
      else if (res.status >= 400 && !/^application\/problem\+json/.test(res.headers.get('content-type') ?? '')) failures.push(`${label}, not a problem document`);
    };
    // Cases that must be refused go together, with one count after them all; a case that may be
    // taken is counted on its own. Journals may only move for refusals past validation.
    const refusals = async (cases: Case[]) => {
      const answers = await Promise.all(cases.map((c) => c.client.request(c.o.method, fillPath(c.o.path), c.body)));
      cases.forEach((c, i) => judge(c, answers[i]!));
      const now = await counts();
      const strict = answers.every((r) => r.body?.code === 'invalid_request');
      const changed = moved(snapshot, now, strict);
      if (changed.length && answers.every((r) => r.status >= 400)) failures.push(`${cases.map((c) => c.label).join(' | ')}: refused, but changed ${changed.join(', ')}`);
      snapshot = now;
    };
    for (const o of ops) {
      const schema = o.op.requestBody.content['application/json'].schema as Schema;
      const key = `${o.method} ${o.path}`;
      const base = () => ({ ...(sample(schema) as object), ...(EXTRAS[key]?.() ?? {}) });
      // Public routes are called as nobody; the others as an admin, and as nobody with a NUL,
      // which the text rule refuses before authentication.
      const who: [string, Client] = PUBLIC.has(key) ? ['anonymous', anonymous] : ['admin', admin.client];
      const must: Case[] = [
        { client: who[1], o, label: `${who[0]} ${key} NUL in a property name`, body: { ...base(), 'k\u0000': 'v' }, mustRefuse: true, unstorable: true },
        { client: who[1], o, label: `${who[0]} ${key} lone surrogate in a nested property name`, body: { ...base(), nested: { ['k\udfff']: ['v'] } }, mustRefuse: true, unstorable: true },
        { client: who[1], o, label: `${who[0]} ${key} nested 65 levels deep`, body: { ...base(), nested: nestedArrays(65) }, mustRefuse: true, unstorable: true },
      ];
      const may: Case[] = [];
      for (const f of stringFields(schema)) {
        fields++;
        for (const h of HOSTILE) {
          const value = h.value(f.schema);
          if (value === null) continue;
          const body = base();
          setAt(body, f.path, value);
          const c = { client: who[1], o, label: `${who[0]} ${key} ${f.path.join('.')}=${h.name}`, body, mustRefuse: h.refused(f.schema), unstorable: !!h.unstorable };
          (c.mustRefuse ? must : may).push(c);
          if (h.name === 'NUL' && !PUBLIC.has(key)) must.push({ ...c, client: anonymous, label: `anonymous ${key} ${f.path.join('.')}=NUL` });
        }
      }
      await refusals(must);
      for (const c of may) {
        const res = await c.client.request(o.method, fillPath(o.path), c.body);
        judge(c, res);
        const now = await counts();
        const changed = moved(snapshot, now, res.body?.code === 'invalid_request');
        if (res.status >= 400 && changed.length) failures.push(`${c.label} → ${res.status}: refused, but changed ${changed.join(', ')}`);
        snapshot = now;
      }
    }
    assert.ok(fields > 40, `only ${fields} string fields found`);
    assert.deepEqual(failures, []);
  });
});

describe('every query-string and path parameter of every GET, from the OpenAPI document', () => {
  // Raw, as they travel: a lone surrogate can only be sent as its (invalid) UTF-8 encoding.
  const RAW: { name: string; raw: string; unstorable?: boolean }[] = [
    { name: 'NUL', raw: 'a%00b', unstorable: true },
    { name: 'lone high surrogate', raw: 'a%ED%A0%80b', unstorable: true },
    { name: 'lone low surrogate', raw: 'a%ED%B0%80b', unstorable: true },
    { name: 'cut UTF-8 sequence', raw: 'a%E6%97', unstorable: true },
    { name: 'whitespace only', raw: '%20%09%20' },
    { name: 'long', raw: 'x'.repeat(5000) },
    { name: 'mixed scripts', raw: encodeURIComponent(MIXED) },
    { name: 'RTL marks', raw: encodeURIComponent(RTL) },
  ];

  test('never a 5xx; NUL and surrogates are the validation 400', async () => {
    const gets = (await operations()).filter((o) => o.method === 'GET');
    const failures: string[] = [];
    let params = 0;
    for (const o of gets) {
      const key = `GET ${o.path}`;
      for (const p of (o.op.parameters ?? []) as Schema[]) {
        params++;
        for (const h of RAW) {
          const url = p.in === 'path' ? fillPath(o.path, { name: p.name, raw: h.raw }) : `${fillPath(o.path)}?${p.name}=${h.raw}`;
          for (const [who, client] of [['admin', admin.client], ['anonymous', anonymous]] as const) {
            if (who === 'anonymous' && !PUBLIC.has(key) && !h.unstorable) continue;
            const res = await client.get(url);
            const label = `${who} ${key} ${p.in}:${p.name}=${h.name}`;
            if (res.status >= 500) failures.push(`${label} → ${res.status}`);
            else if (h.unstorable && (res.status !== 400 || res.body?.code !== 'invalid_request')) failures.push(`${label} → ${res.status} ${res.body?.code}`);
            else if (res.status >= 400 && !/^application\/problem\+json/.test(res.headers.get('content-type') ?? '')) failures.push(`${label} → ${res.status} not a problem document`);
          }
        }
      }
    }
    assert.ok(params > 20, `only ${params} parameters found`);
    assert.deepEqual(failures, []);
  });
});

// ---------------------------------------------------------------------------------------------
// The cases the issue lists, by name

describe('the cases the issue lists: 400 invalid_request, nothing changed', () => {
  async function refused(client: Client, method: string, path: string, body: unknown, field: string) {
    const before = await counts();
    const res = await client.request(method, path, body);
    isProblem(res, 400, 'invalid_request', `${method} ${path} ${JSON.stringify(body)}`);
    assert.equal(res.body.errors?.[0]?.field, field);
    assert.deepEqual(moved(before, await counts(), true), []);
  }

  test('sign-in with a NUL in the email, without a session', async () => {
    await refused(anonymous, 'POST', '/api/v1/session', { tenant: tt.tenant.slug, email: 'x\u0000@y.z', password: 'p' }, 'email');
    await refused(anonymous, 'POST', '/api/v1/session', { tenant: 'acme', email: 'x\u0000@y.z', password: 'p' }, 'email');
    await refused(anonymous, 'POST', '/api/v1/session', { tenant: tt.tenant.slug, email: tt.adminEmail, password: 'p\ud800' }, 'password');
    await refused(anonymous, 'POST', '/api/v1/session', { tenant: ' ', email: tt.adminEmail, password: 'p' }, 'tenant');
    await refused(anonymous, 'POST', '/api/v1/login/discover', { email: 'x@y\u0000.z' }, 'email');
    // Storable oddities reach the sign-in itself, and are just wrong credentials.
    for (const [email, password] of [[`${MIXED}@hostile.test`, 'x'], [tt.adminEmail, RTL]]) {
      isProblem(await anonymous.post('/api/v1/session', { tenant: tt.tenant.slug, email, password }), 401, 'invalid_credentials');
    }
  });

  test('ticket title, description and category', async () => {
    const ticket = (await admin.client.post('/api/v1/tickets', { type: 'incident', title: 'untouched', category: 'Network' })).body;
    for (const bad of ['a\u0000b', '\ud800', 'x\udc00']) {
      await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: bad }, 'title');
      await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: 'ok', description: bad }, 'description');
      await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: 'ok', category: bad }, 'category');
      await refused(admin.client, 'PATCH', `/api/v1/tickets/${ticket.id}`, { title: bad }, 'title');
      await refused(admin.client, 'PATCH', `/api/v1/tickets/${ticket.id}`, { description: bad }, 'description');
      await refused(admin.client, 'PATCH', `/api/v1/tickets/${ticket.id}`, { category: bad }, 'category');
    }
    await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: '   ' }, 'title');
    await refused(admin.client, 'PATCH', `/api/v1/tickets/${ticket.id}`, { title: ' \t ' }, 'title');
    await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: 'ok', category: '  ' }, 'category');
    await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: 'x'.repeat(201) }, 'title');
    // Nothing visible, or a control character: not text a person wrote.
    for (const bad of ['\u200b', '\u200b \ufeff', 'a\u0001b', 'bell\u0007']) {
      await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: bad }, 'title');
    }
    // A description may be empty or span lines, but holds no control characters either.
    await refused(admin.client, 'POST', '/api/v1/tickets', { type: 'incident', title: 'ok', description: 'bell\u0007' }, 'description');
    await refused(admin.client, 'PATCH', `/api/v1/tickets/${ticket.id}`, { description: 'esc\u001b[31m' }, 'description');
    const after = (await admin.client.get(`/api/v1/tickets/${ticket.id}`)).body;
    assert.deepEqual([after.title, after.description, after.category, after.updatedAt], [ticket.title, ticket.description, ticket.category, ticket.updatedAt]);
  });

  test('comment body', async () => {
    await refused(admin.client, 'POST', `/api/v1/tickets/${ids.ticket}/comments`, { body: 'a\u0000b' }, 'body');
    await refused(admin.client, 'POST', `/api/v1/tickets/${ids.ticket}/comments`, { body: '\ud800' }, 'body');
    await refused(admin.client, 'POST', `/api/v1/tickets/${ids.ticket}/comments`, { body: '   ' }, 'body');
  });

  test('user email and displayName', async () => {
    await refused(admin.client, 'POST', '/api/v1/users', { email: 'n\u0000@hostile.test', displayName: 'N' }, 'email');
    await refused(admin.client, 'POST', '/api/v1/users', { email: '   ', displayName: 'N' }, 'email');
    await refused(admin.client, 'POST', '/api/v1/users', { email: 'n@hostile.test', displayName: 'N\ud800' }, 'displayName');
    await refused(admin.client, 'POST', '/api/v1/users', { email: 'n@hostile.test', displayName: '   ' }, 'displayName');
    // One email rule everywhere: no invisible characters, no trailing dot, never the reserved .invalid.
    for (const email of ['\u200b@\u200b', 'kim\u200b@hostile.test', 'kim@hostile.test.', 'deleted-x@invalid']) {
      const before = await counts();
      isProblem(await admin.client.post('/api/v1/users', { email, displayName: 'N' }), 422, 'validation_failed', email);
      assert.deepEqual(moved(before, await counts(), true), []);
    }
    const victim = (await t.user(tt.tenant, ['requester'])).id;
    const before = (await admin.client.get(`/api/v1/users/${victim}`)).body;
    await refused(admin.client, 'PATCH', `/api/v1/users/${victim}`, { displayName: 'a\u0000' }, 'displayName');
    await refused(admin.client, 'PATCH', `/api/v1/users/${victim}`, { displayName: '  ' }, 'displayName');
    assert.deepEqual((await admin.client.get(`/api/v1/users/${victim}`)).body, before);
  });

  test('team name, on create and rename', async () => {
    const team = (await admin.client.post('/api/v1/teams', { name: `Untouched ${randomUUID()}` })).body;
    await refused(admin.client, 'POST', '/api/v1/teams', { name: '   ' }, 'name');
    await refused(admin.client, 'POST', '/api/v1/teams', { name: 'a\u0000' }, 'name');
    await refused(admin.client, 'PATCH', `/api/v1/teams/${team.id}`, { name: '   ' }, 'name');
    await refused(admin.client, 'PATCH', `/api/v1/teams/${team.id}`, { name: '\udc00' }, 'name');
    assert.equal((await admin.client.get(`/api/v1/teams/${team.id}`)).body.name, team.name);
  });

  test('role-rule groupRef', async () => {
    await refused(admin.client, 'POST', '/api/v1/sso/role-rules', { groupRef: ' ', role: 'agent' }, 'groupRef');
    await refused(admin.client, 'POST', '/api/v1/sso/role-rules', { groupRef: 'g\u0000', role: 'agent' }, 'groupRef');
  });

  test('API token name', async () => {
    await refused(admin.client, 'POST', '/api/v1/me/tokens', { name: ' ' }, 'name');
    await refused(admin.client, 'POST', '/api/v1/me/tokens', { name: 'a\u0000' }, 'name');
  });

  test('SCIM credential name', async () => {
    await refused(admin.client, 'POST', '/api/v1/provisioning/credentials', { kind: 'client', name: ' ' }, 'name');
    await refused(admin.client, 'POST', '/api/v1/provisioning/credentials', { kind: 'client', name: 'a\u0000' }, 'name');
  });

  test('SSO connection displayName, on create and change', async () => {
    const conn = (await admin.client.post('/api/v1/sso/connections', source({ displayName: 'Untouched' }))).body;
    for (const bad of ['a\u0000', '\ud800']) {
      await refused(admin.client, 'POST', '/api/v1/sso/connections', source({ displayName: bad }), 'displayName');
      await refused(admin.client, 'PATCH', `/api/v1/sso/connections/${conn.id}`, { displayName: bad }, 'displayName');
    }
    await refused(admin.client, 'POST', '/api/v1/sso/connections', source({ displayName: ' ' }), 'displayName');
    await refused(admin.client, 'PATCH', `/api/v1/sso/connections/${conn.id}`, { displayName: ' ' }, 'displayName');
    await refused(admin.client, 'PATCH', `/api/v1/sso/connections/${conn.id}`, { attributeMap: { email: 'mail\u0000' } }, 'attributeMap.email');
    await refused(admin.client, 'PATCH', `/api/v1/sso/connections/${conn.id}`, { attributeMap: { email: 'mail\u0007' } }, 'attributeMap.email');
    await refused(admin.client, 'PATCH', `/api/v1/sso/connections/${conn.id}`, { attributeMap: { groups: 'groups\n' } }, 'attributeMap.groups');
    assert.deepEqual((await admin.client.get(`/api/v1/sso/connections/${conn.id}`)).body, conn);
  });

  test('a NUL in a path parameter or the query string, and a path that is not UTF-8', async () => {
    await refused(admin.client, 'GET', '/api/v1/tickets/%00', undefined, 'id');
    await refused(admin.client, 'GET', '/api/v1/users?q=%00', undefined, 'q');
    await refused(anonymous, 'GET', '/api/v1/tenants/a%00', undefined, 'slug');
    const res = await admin.client.get('/api/v1/tickets/%ED%A0%80');
    isProblem(res, 400, 'invalid_request');
    // Any base64url decodes to something: "AA" is a NUL.
    isProblem(await admin.client.get('/api/v1/users?cursor=AA'), 400, 'bad_request');
  });

  test('made-up cursors and dates PostgreSQL cannot read', async () => {
    const cursor = (ts: string, id: string = randomUUID()) => Buffer.from(JSON.stringify([ts, id])).toString('base64url');
    isProblem(await admin.client.get(`/api/v1/tickets?cursor=${cursor('2024-01-01 00:00:00+00', '-'.repeat(36))}`), 400, 'bad_request', 'not a uuid');
    for (const ts of ['2020-01-01 00:00:00+00\u0000', '0000-01-01 00:00:00+00', '2021-02-29 00:00:00+00', '2020-01-01 00:00:00+23', '1 1', '+275760-09-13T00:00:00Z']) {
      isProblem(await admin.client.get(`/api/v1/tickets?cursor=${cursor(ts)}`), 400, 'bad_request', ts);
    }
    for (const since of ['0000-01-01T00:00:00Z', '2020-02-30T00:00:00Z']) {
      isProblem(await admin.client.get(`/api/v1/audit?since=${encodeURIComponent(since)}`), 400, 'invalid_request', since);
    }
    for (const since of ['1970-01-01T00:00:00+23:59', '2016-12-31T23:59:60Z']) {
      assert.equal((await admin.client.get(`/api/v1/audit?since=${encodeURIComponent(since)}`)).status, 200, since);
    }
  });

  test('a JSON body that is not UTF-8 is refused, as the same bytes in a query string are', async () => {
    const before = await counts();
    const raw = Buffer.concat([Buffer.from('{"type":"incident","title":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    isProblem(await admin.client.request('POST', '/api/v1/tickets', raw), 400, 'invalid_request');
    assert.deepEqual(moved(before, await counts(), true), []);
    isProblem(await admin.client.get('/api/v1/users?q=caf%E9'), 400, 'invalid_request');
  });

  test('what the API accepts is stored and answered as sent', async () => {
    for (const title of [MIXED, RTL, 'x'.repeat(200), '😀'.repeat(200)]) {
      const res = await admin.client.post('/api/v1/tickets', { type: 'incident', title });
      assert.equal(res.status, 201, title);
      assert.equal((await admin.client.get(`/api/v1/tickets/${res.body.id}`)).body.title, title);
    }
    // A domain that trims stores the trimmed text; the rule guarantees something is left.
    const name = `${MIXED} ${randomUUID()}`;
    const team = await admin.client.post('/api/v1/teams', { name: `  ${name}\u3000` });
    assert.equal(team.status, 201);
    assert.equal(team.body.name, name);
  });
});

// ---------------------------------------------------------------------------------------------
// SCIM query parameters

describe('SCIM query parameters', () => {
  const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
  const PARAMS = ['filter', 'attributes', 'excludedAttributes', 'startIndex', 'count'];
  const VALUES: { name: string; raw: string; unstorable?: boolean }[] = [
    { name: 'NUL', raw: '%00', unstorable: true },
    { name: 'lone high surrogate', raw: '%ED%A0%80', unstorable: true },
    { name: 'lone low surrogate', raw: 'x%ED%B0%80', unstorable: true },
    { name: 'bogus', raw: 'bogus' },
    { name: 'x.y.z', raw: 'x.y.z' },
  ];

  function isScimError(res: Res, label: string): string | null {
    if (res.status < 400 || res.status >= 500) return `${label} → ${res.status}`;
    if (!/^application\/scim\+json/.test(res.headers.get('content-type') ?? '')) return `${label} → ${res.status} not SCIM JSON`;
    if (!Array.isArray(res.body?.schemas) || !res.body.schemas.includes(ERROR)) return `${label} → ${res.status} not a SCIM error`;
    return null;
  }

  test('are refused in SCIM format, never a 5xx, and a refused write writes nothing', async () => {
    const user = (await scim.call('POST', 'Users', newUser(`scim-target-${randomUUID()}@corp.test`))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `Target ${randomUUID()}` })).body;
    assert.ok(user.id && group.id);
    const failures: string[] = [];
    const snapshot = async () => ({ counts: await counts(), user: (await scim.call('GET', `Users/${user.id}`)).body, group: (await scim.call('GET', `Groups/${group.id}`)).body });
    // A list reads every parameter; a single resource and a write read only the projection.
    const meaningful = (param: string, v: { unstorable?: boolean }, listing: boolean) => v.unstorable || listing || param === 'attributes' || param === 'excludedAttributes';
    for (const kind of ['Users', 'Groups'] as const) {
      const id = kind === 'Users' ? user.id : group.id;
      const writes: [string, string, () => unknown][] = [
        ['POST', kind, () => (kind === 'Users' ? newUser(`scim-${randomUUID()}@corp.test`) : { schemas: [GROUP_SCHEMA], displayName: `G ${randomUUID()}` })],
        ['PUT', `${kind}/${id}`, () => (kind === 'Users' ? newUser(user.userName, { title: `T ${randomUUID()}` }) : { schemas: [GROUP_SCHEMA], displayName: `Renamed ${randomUUID()}` })],
        ['PATCH', `${kind}/${id}`, () => (kind === 'Users' ? patch({ op: 'replace', path: 'title', value: `T ${randomUUID()}` }) : patch({ op: 'replace', path: 'displayName', value: `Renamed ${randomUUID()}` }))],
      ];
      const refusedWrites: [string, string, unknown][] = [];
      const otherWrites: [string, string, unknown][] = [];
      const reads: [string, boolean][] = [];
      for (const param of PARAMS) {
        for (const v of VALUES) {
          const q = `?${param}=${v.raw}`;
          reads.push([`${kind}${q}`, meaningful(param, v, true)], [`${kind}/${id}${q}`, meaningful(param, v, false)]);
          for (const [method, path, body] of writes) (meaningful(param, v, false) ? refusedWrites : otherWrites).push([method, `${path}${q}`, body()]);
        }
      }
      const judge = (label: string, res: Res, mustRefuse: boolean) => {
        if (res.status >= 500) failures.push(`${label} → ${res.status}`);
        else if (mustRefuse) {
          const problem = isScimError(res, label);
          if (problem) failures.push(problem);
        }
      };
      for (const [path, mustRefuse] of reads) judge(`GET ${path}`, await scim.call('GET', path), mustRefuse);
      // Every write that must be refused, then one look at what they could have changed.
      const before = await snapshot();
      const answers = await Promise.all(refusedWrites.map(([method, path, body]) => scim.call(method, path, body)));
      refusedWrites.forEach(([method, path], i) => judge(`${method} ${path}`, answers[i]!, true));
      const now = await snapshot();
      const changed = moved(before.counts, now.counts, false);
      if (changed.length) failures.push(`${kind}: refused writes changed ${changed.join(', ')}`);
      if (JSON.stringify(now.user) !== JSON.stringify(before.user) || JSON.stringify(now.group) !== JSON.stringify(before.group)) failures.push(`${kind}: refused writes changed the target`);
      for (const [method, path, body] of otherWrites) judge(`${method} ${path}`, await scim.call(method, path, body), false);
    }
    assert.deepEqual(failures, []);
  });

  test('a body nested thousands of levels deep is refused in SCIM format and writes nothing, wherever the nesting is', async () => {
    const target = (await scim.call('POST', 'Users', newUser(`deep-target-${randomUUID()}@corp.test`))).body;
    const deep = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    // Written by hand: JSON.stringify cannot write 20,000 levels, but a caller can send them.
    const withField = (doc: unknown, field: string, depth: number) => `${JSON.stringify(doc).slice(0, -1)},${JSON.stringify(field)}:${deep(depth)}}`;
    for (const depth of [65, 20_000]) {
      const before = await counts();
      const cases: [string, string, string][] = [
        ['POST', 'Users', withField(newUser(`deep-${randomUUID()}@corp.test`), 'urn:example:deep', depth)],
        ['POST', 'Users', JSON.stringify(newUser(`deep-${randomUUID()}@corp.test`)).replace('"givenName":"Given"', `"givenName":${deep(depth)}`)],
        ['PATCH', `Users/${target.id}`, JSON.stringify(patch({ op: 'replace', path: 'title', value: 'X' })).replace('"X"', deep(depth))],
        ['PATCH', `Users/${target.id}`, JSON.stringify(patch({ op: 'add', value: { title: 'X' } })).replace('"X"', deep(depth))],
      ];
      for (const [method, path, body] of cases) {
        const res = await scim.call(method, path, body);
        assert.equal(isScimError(res, `${method} ${path} at depth ${depth}`), null);
        assert.equal(res.status, 400, `${method} ${path} at depth ${depth}`);
      }
      assert.deepEqual(moved(before, await counts(), false), [], 'nothing written');
      assert.equal((await scim.call('GET', `Users/${target.id}`)).body.title, undefined);
    }
  });
});
