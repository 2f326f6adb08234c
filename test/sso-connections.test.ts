import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { cliDatabase, keydesk } from './helpers/cli.js';
import { makeKeyPair } from './helpers/saml-forge.js';
import { ensureSimpleSamlPhp, startSimpleSamlIdp, type RunningIdp } from './idp/simplesamlphp.js';

const entraXml = readFileSync(new URL('./fixtures/entra-common-federation-metadata.xml', import.meta.url), 'utf8');

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let idp: RunningIdp;
const forged = makeKeyPair();

before(async () => {
  await ensureSimpleSamlPhp();
  t = await startApp();
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'admin']);
  idp = await startSimpleSamlIdp({
    shape: 'okta',
    sp: { entityId: `${t.url}/t/${tt.tenant.slug}/saml/okta/metadata`, acsUrl: `${t.url}/t/${tt.tenant.slug}/saml/okta/acs` },
    users: [{ username: 'u', password: 'p', attributes: { email: ['u@x.test'] } }],
  });
});
after(async () => {
  await idp?.stop();
  await t?.close();
});

describe('SAML connections', () => {
  test('from Entra federation metadata: SP values to paste, every certificate described, audited', async () => {
    const res = await admin.client.post('/api/v1/sso/connections', { slug: 'entra', metadataXml: entraXml });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const c = res.body;
    const base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
    assert.deepEqual(c.sp, { identifier: `${base}/metadata`, replyUrl: `${base}/acs`, signOnUrl: `${base}/login`, logoutUrl: `${base}/slo`, metadataUrl: `${base}/metadata` });
    assert.equal(c.displayName, 'Microsoft');
    assert.equal(c.idp.entityId, 'https://sts.windows.net/{tenantid}/');
    assert.equal(c.idp.certificates.length, 3);
    assert.equal(c.allowIdpInitiated, true);
    assert.equal(c.allowSha1, false);
    assert.equal(c.clockSkewSeconds, 180);
    const audit = (await admin.client.get('/api/v1/audit?action=sso.connection_created')).body.items;
    assert.equal(audit[0].details.certificates.length, 3);
    assert.equal((await admin.client.post('/api/v1/sso/connections', { slug: 'entra', metadataXml: entraXml })).status, 409);
  });

  test('from a metadata URL (a running SimpleSAMLphp), keeping the document as the last good copy', async () => {
    const res = await admin.client.post('/api/v1/sso/connections', { slug: 'okta', metadataUrl: idp.metadataUrl });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.idp.entityId, idp.entityId);
    assert.equal(res.body.displayName, 'Okta');
    assert.equal(res.body.idp.metadataUrl, idp.metadataUrl);
    assert.ok(res.body.idp.metadataFetchedAt);
    assert.equal(res.body.idp.certificates[0].thumbprintSha256, idp.fingerprint256.replace(/:/g, '').toUpperCase());
  });

  test('a certificate exported from a .pfx with its "Bag Attributes" header is read', async () => {
    const bagged = `Bag Attributes\n    localKeyID: 01 00 00 00\nsubject=/CN=Test IdP\nissuer=/CN=Test IdP\n${forged.cert}\n`;
    const res = await admin.client.post('/api/v1/sso/connections', { slug: 'bagged', entityId: 'https://idp.example/bagged', ssoUrl: 'https://idp.example/sso', certificates: [bagged] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal((await admin.client.delete('/api/v1/sso/connections/bagged')).status, 204);
  });

  test('by hand: entity ID, sign-in URL and a certificate as PEM or bare base64', async () => {
    const b64 = idp.certificatePem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const res = await admin.client.post('/api/v1/sso/connections', {
      slug: 'manual', entityId: 'https://idp.example/entity', ssoUrl: 'https://idp.example/sso', certificates: [b64, idp.certificatePem],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.idp.certificates.length, 1, 'the same certificate twice is one');
    assert.equal(res.body.displayName, 'Single sign-on');
  });

  test('bad identity-provider input is refused with the reason, and nothing is created', async () => {
    const before = (await admin.client.get('/api/v1/sso/connections')).body.items.length;
    const cases: [unknown, RegExp][] = [
      [{ slug: 'x1', metadataXml: '<nope' }, /well-formed/],
      [{ slug: 'x2', metadataXml: entraXml.replace(/IDPSSODescriptor/g, 'SPSSODescriptor') }, /IDPSSODescriptor/],
      [{ slug: 'x3', metadataUrl: `${idp.baseUrl}/no-such-metadata.xml` }, /HTTP 404/],
      [{ slug: 'x4', metadataUrl: 'ftp://example/metadata' }, /http/],
      [{ slug: 'x5', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: ['garbage!'] }, /neither PEM/],
      [{ slug: 'x6', entityId: 'e', ssoUrl: 'not a url', certificates: [idp.certificatePem] }, /absolute URL/],
      [{ slug: 'x7', metadataXml: entraXml, metadataUrl: idp.metadataUrl }, /exactly one/],
      [{ slug: 'Bad Slug', metadataXml: entraXml }, /lowercase/],
      // What admins paste where a certificate belongs, each named, with what is wanted instead.
      [{ slug: 'x9', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [idp.fingerprint256] }, /This is a certificate thumbprint \(SHA-256\).*BEGIN CERTIFICATE/],
      [{ slug: 'x10', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [' 9A 3F 6C 2B 7D 11 0E 55 AA 01 23 45 67 89 AB CD EF 01 23 45 '] }, /thumbprint \(SHA-1\)/],
      [{ slug: 'x11', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [idp.metadataUrl] }, /This is a URL\. If it is the App Federation Metadata URL/],
      // A key without its PEM armour, a thumbprint as openssl prints it, and as certmgr copies it (with a hidden mark).
      [{ slug: 'x12', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [forged.key.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')] }, /This is a private key \(or a \.pfx holding one\)/],
      [{ slug: 'x13', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [`sha1 Fingerprint=${idp.fingerprint1}`] }, /thumbprint \(SHA-1\)/],
      [{ slug: 'x14', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: ['\u200e9a 3f 6c 2b 7d 11 0e 55 aa 01 23 45 67 89 ab cd ef 01 23 45'] }, /thumbprint \(SHA-1\)/],
    ];
    for (const [body, why] of cases) {
      const res = await admin.client.post('/api/v1/sso/connections', body);
      assert.equal(res.status, 422, `${JSON.stringify(body).slice(0, 80)} → ${res.status}`);
      assert.match(res.body.detail, why);
    }
    assert.equal((await admin.client.get('/api/v1/sso/connections')).body.items.length, before);
  });

  test('a metadata URL that is no metadata is explained: a web page, nothing listening', async () => {
    const html = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>Entra admin center</body></html>'));
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    try {
      const cases: [string, RegExp][] = [
        [`http://127.0.0.1:${(html.address() as AddressInfo).port}/`, /answered with a web page \(HTML\), not SAML metadata/],
        [`http://127.0.0.1:${closedPort}/metadata.xml`, /Nothing answers at 127\.0\.0\.1:\d+ \(connection refused\)/],
      ];
      for (const [metadataUrl, why] of cases) {
        const res = await admin.client.post('/api/v1/sso/connections', { slug: 'u1', metadataUrl });
        assert.equal(res.status, 422, metadataUrl);
        assert.match(res.body.detail, why);
      }
    } finally {
      html.close();
    }
  });

  test('a private key pasted into any field is refused as one, never echoed, never stored', async () => {
    const before = (await admin.client.get('/api/v1/sso/connections')).body.items.length;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    const cases: [string, Record<string, unknown>][] = [
      ['certificates.0', { slug: 'k1', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [forged.key] }],
      ['certificates.0', { slug: 'k2', entityId: 'e', ssoUrl: 'https://idp.example/sso', certificates: [`${idp.certificatePem}\n${forged.key}`] }],
      ['entityId', { slug: 'k3', entityId: ec, ssoUrl: 'https://idp.example/sso', certificates: [idp.certificatePem] }],
      ['ssoUrl', { slug: 'k4', entityId: 'e', ssoUrl: forged.key, certificates: [idp.certificatePem] }],
      ['metadataUrl', { slug: 'k5', metadataUrl: ec }],
    ];
    for (const [field, body] of cases) {
      const res = await admin.client.post('/api/v1/sso/connections', body);
      assert.equal(res.status, 400, `${field} → ${res.status}`);
      assert.equal(res.body.errors[0].field, field);
      assert.match(res.body.errors[0].message, /is a private key\. Never paste private keys/);
      assert.doesNotMatch(JSON.stringify(res.body), /PRIVATE KEY|MII/, 'the key is not echoed');
    }
    assert.equal((await admin.client.get('/api/v1/sso/connections')).body.items.length, before);
    const stored = await t.db.query(`SELECT 1 FROM sso_connections WHERE config::text LIKE '%PRIVATE KEY%' UNION ALL SELECT 1 FROM audit_events WHERE details::text LIKE '%PRIVATE KEY%'`);
    assert.equal(stored.length, 0);
  });

  test('only admins manage connections', async () => {
    const agent = await t.user(tt.tenant, ['agent']);
    assert.equal((await agent.client.get('/api/v1/sso/connections')).status, 403);
    assert.equal((await agent.client.post('/api/v1/sso/connections', { slug: 'z', metadataXml: entraXml })).status, 403);
  });

  test('the SP metadata URL serves the SP entity, ACS and SLO, and 404s for unknown connections', async () => {
    const res = await t.client().get(`/t/${tt.tenant.slug}/saml/entra/metadata`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /samlmetadata\+xml/);
    const base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
    assert.ok(res.body.includes(`entityID="${base}/metadata"`));
    assert.ok(res.body.includes(`Location="${base}/acs"`));
    assert.ok(res.body.includes(`Location="${base}/slo"`));
    assert.equal((await t.client().get(`/t/${tt.tenant.slug}/saml/nope/metadata`)).status, 404);
    assert.equal((await t.client().get(`/t/no-tenant/saml/entra/metadata`)).status, 404);
  });
});

test('keydesk saml connect prints the values to paste, from a metadata file or by hand', async (tc) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keydesk-saml-cli-'));
  const cdb = await cliDatabase();
  tc.after(cdb.drop);
  const run = (args: string[]) => keydesk(args, { ...cdb.env, PUBLIC_URL: 'https://desk.example.com' });
  await run(['tenant', 'create', 'acme', '--name', 'Acme', '--admin-email', 'it@acme.test']);
  const file = path.join(dir, 'entra.xml');
  writeFileSync(file, entraXml);
  const json = JSON.parse((await run(['saml', 'connect', 'acme', 'entra', '--metadata-file', file, '--json'])).stdout);
  assert.equal(json.sp.replyUrl, 'https://desk.example.com/t/acme/saml/entra/acs');
  assert.equal(json.live, false, 'a new connection waits for its test');
  const scripted = JSON.parse((await run(['saml', 'connect', 'acme', 'entra2', '--metadata-file', file, '--publish', '--json'])).stdout);
  assert.equal(scripted.live, true);
  assert.match(scripted.warnings[0], /Connection "entra" trusts the same identity provider/);
  assert.equal(json.sp.identifier, 'https://desk.example.com/t/acme/saml/entra/metadata');
  const certFile = path.join(dir, 'okta.pem');
  writeFileSync(certFile, idp.certificatePem);
  const text = (await run(['saml', 'connect', 'acme', 'okta', '--entity-id', idp.entityId, '--sso-url', idp.ssoUrl, '--cert', certFile])).stdout;
  assert.match(text, /Reply URL \(ACS URL\) +https:\/\/desk\.example\.com\/t\/acme\/saml\/okta\/acs/);
  assert.match(text, /The connection is being tested: run Test sign-in/);
  const bad = await run(['saml', 'connect', 'acme', 'x', '--metadata-file', certFile]).catch((e) => e);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not well-formed|IDPSSODescriptor/);
});
