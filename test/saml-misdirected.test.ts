import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { forgedConnection } from './helpers/saml-acs.js';
import { b64, makeKeyPair } from './helpers/saml-forge.js';

/** An identity provider whose Reply URL is another of the connection's URLs (a copy-paste slip). */
let t: TestApp;
let tt: TestTenant;
let admin: Client;
let entra: Awaited<ReturnType<typeof forgedConnection>>;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
  entra = await forgedConnection(t, tt.tenant, admin, 'entra', makeKeyPair());
});
after(() => t.close());

const counts = async () =>
  (await t.db.query<{ s: number; u: number; r: number }>(
    `SELECT (SELECT count(*)::int FROM sessions WHERE tenant_id = $1) AS s, (SELECT count(*)::int FROM users WHERE tenant_id = $1) AS u,
            (SELECT count(*)::int FROM saml_replay_cache WHERE tenant_id = $1) AS r`,
    [tt.tenant.id],
  ))[0];

const postTo = (endpoint: string, form: Record<string, string>) =>
  new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/entra/${endpoint}`, new URLSearchParams(form).toString(), { 'content-type': 'application/x-www-form-urlencoded' });

describe('a SAML response posted to the Sign-on, Logout or Identifier URL', () => {
  for (const [endpoint, name] of [['login', 'Sign-on URL'], ['slo', 'Logout URL'], ['metadata', 'Identifier (Entity ID)']] as const) {
    test(`${endpoint}: the readable failure page with a reference, a trace naming both URLs, and nothing signed in`, async () => {
      const before = await counts();
      const res = await postTo(endpoint, { SAMLResponse: b64(await entra.response({ oid: randomUUID(), email: `m-${endpoint}@example.test` })) });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.equal(res.headers.get('set-cookie'), null);
      const ref = /KD-[0-9A-F]{10}/.exec(res.body)?.[0];
      assert.ok(ref, res.body);
      const trace = (await admin.get(`/api/v1/sso/traces/${ref}`)).body;
      assert.equal(trace.errorCode, 'misdirected');
      const error = trace.trace.error;
      assert.equal(error.received, `${entra.base}/${endpoint}`);
      assert.equal(error.expected, `${entra.base}/acs`);
      assert.equal(error.fix.startsWith(`The Reply URL in the identity provider is ${entra.base}/${endpoint}; it must be ${entra.base}/acs.`), true, error.fix);
      assert.match(error.message, new RegExp(name.replace(/[()]/g, '\\$&')));
      assert.match(trace.trace.responseXml, /<samlp:Response/);
      assert.deepEqual(await counts(), before);
      const audit = (await admin.get('/api/v1/audit?action=signin.saml&outcome=failure')).body.items;
      assert.ok(audit.some((e: any) => e.reason === 'misdirected' && e.details.trace === ref));
    });
  }

  test('a test sign-in posted to the wrong URL lands on the admin’s trace page', async () => {
    const { url } = (await admin.post('/api/v1/sso/connections/entra/test', {})).body;
    const requestId = /ID="([^"]+)"/.exec(inflateRawSync(Buffer.from(new URL(url).searchParams.get('SAMLRequest')!, 'base64')).toString())![1]!;
    const res = await postTo('login', { SAMLResponse: b64(await entra.response({ oid: randomUUID(), email: 'tester@example.test' }, { inResponseTo: requestId })) });
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location') ?? '', new RegExp(`^/t/${tt.tenant.slug}/admin/sso/traces/KD-[0-9A-F]{10}$`));
  });

  test('a LogoutResponse posted to the Logout URL is the end of a sign-out, not a failed sign-in', async () => {
    const before = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM signin_traces WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
    const xml = `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
    const res = await postTo('slo', { SAMLResponse: b64(xml) });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/t/${tt.tenant.slug}/login?signedOut=1`);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM signin_traces WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n, before);
  });

  test('what anyone posts is kept only up to the size the ACS accepts', async () => {
    const res = await postTo('login', { SAMLResponse: b64(`<x>${'a'.repeat(590 * 1024)}</x>`) });
    assert.equal(res.status, 400);
    const ref = /KD-[0-9A-F]{10}/.exec(res.body)![0];
    const [row] = await t.db.query<{ size: number }>('SELECT length(trace::text) AS size FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]);
    assert.ok(row!.size < 10_000, String(row!.size));
  });

  test('what is not a SAML message is not kept at all, and a large genuine-looking one only up to 64 KiB', async () => {
    const sizeOf = async (body: string) => {
      const ref = /KD-[0-9A-F]{10}/.exec(body)![0];
      const [row] = await t.db.query<{ size: number; xml: boolean }>(
        `SELECT length(trace::text) AS size, trace ? 'responseXml' AS xml FROM signin_traces WHERE tenant_id = $1 AND id = $2`,
        [tt.tenant.id, ref],
      );
      return row!;
    };
    // Incompressible text that is no SAML: only the trace's own words are stored.
    const cjk = Array.from({ length: 60_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');
    const junk = await sizeOf((await postTo('metadata', { SAMLResponse: b64(`<x>${cjk}</x>`) })).body);
    assert.deepEqual([junk.xml, junk.size < 10_000], [false, true], JSON.stringify(junk));
    const samlish = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"><!--${'z'.repeat(100 * 1024)}--></samlp:Response>`;
    const kept = await sizeOf((await postTo('login', { SAMLResponse: b64(samlish) })).body);
    assert.equal(kept.xml, true);
    assert.ok(kept.size < 70 * 1024, String(kept.size));
  });

  test('a form post without a SAMLResponse is told there is nothing to do here; garbage is traced, not a 500', async () => {
    const empty = await postTo('login', { RelayState: 'x' });
    assert.equal(empty.status, 405);
    const junk = await postTo('login', { SAMLResponse: '%%%\u0000not base64' });
    assert.equal(junk.status, 400);
    assert.ok(/KD-[0-9A-F]{10}/.test(junk.body));
  });

  test('wrong-URL posts have their own rate budget: 20 a minute per address, and the real ACS keeps its own', async () => {
    // Fixed one-minute windows: within 45 posts the budget runs out, even if a window turns over once.
    let last;
    for (let i = 0; i < 45 && last?.status !== 429; i++) last = await postTo('slo', { SAMLResponse: b64('<x/>') });
    assert.equal(last!.status, 429);
    const acs = await postTo('acs', { SAMLResponse: b64('<x/>') });
    assert.equal(acs.status, 400, 'the ACS still answers (a failed sign-in, not 429)');
  });
});
