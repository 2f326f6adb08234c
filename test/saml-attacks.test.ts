import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { verifySamlMessage } from '../src/identity/saml/verify-response.js';
import { SamlFailure } from '../src/identity/saml/failure.js';
import { SigninTrace } from '../src/identity/signin/trace.js';
import { ALG, b64, buildAssertion, makeKeyPair, sign, wrapInResponse, type KeyPair, type ResponseParts } from './helpers/saml-forge.js';

const TID = randomUUID();
const IDP = `https://sts.windows.net/${TID}/`;
// One person signs in throughout: a second subject with the victim's address would be refused as a conflict.
const VICTIM_OID = randomUUID();
let t: TestApp;
let tt: TestTenant;
let trusted: KeyPair;
let stranger: KeyPair;
let base: string;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  trusted = makeKeyPair('Microsoft Azure Federated SSO Certificate');
  stranger = makeKeyPair('Attacker');
  const admin = await t.user(tt.tenant, ['requester', 'admin']);
  const res = await admin.client.post('/api/v1/sso/connections', {
    publish: true,
    slug: 'entra', entityId: IDP, ssoUrl: `https://login.microsoftonline.com/${TID}/saml2`, certificates: [trusted.cert],
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
});
after(() => t.close());

async function requestId(conn = 'entra'): Promise<string> {
  const res = await fetch(`${t.url}/t/${tt.tenant.slug}/saml/${conn}/login`, { redirect: 'manual' });
  const xml = inflateRawSync(Buffer.from(new URL(res.headers.get('location')!).searchParams.get('SAMLRequest')!, 'base64')).toString();
  return /ID="([^"]+)"/.exec(xml)![1]!;
}

function parts(over: Partial<ResponseParts> = {}): ResponseParts {
  return {
    issuer: IDP,
    destination: `${base}/acs`,
    audience: `${base}/metadata`,
    recipient: `${base}/acs`,
    nameId: 'victim@corp.test',
    attributes: { 'http://schemas.microsoft.com/identity/claims/objectidentifier': [VICTIM_OID], 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': ['victim@corp.test'] },
    ...over,
  };
}

/** An honest Entra-style response: only the assertion signed, RSA-SHA256. */
async function honest(over: Partial<ResponseParts> = {}, keys = trusted): Promise<{ p: ResponseParts; xml: string }> {
  const p = parts({ inResponseTo: await requestId(), ...over });
  return { p, xml: wrapInResponse(p, sign(buildAssertion(p), 'Assertion', keys)) };
}

async function post(xmlOrB64: string, opts: { conn?: string; raw?: boolean } = {}) {
  const samlResponse = opts.raw ? xmlOrB64 : b64(xmlOrB64);
  const res = await new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/${opts.conn ?? 'entra'}/acs`, new URLSearchParams({ SAMLResponse: samlResponse }).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
  });
  const ref = /KD-[0-9A-F]{10}/.exec(typeof res.body === 'string' ? res.body : '')?.[0];
  const trace = ref ? (await t.db.query<{ error_code: string; trace: any }>('SELECT error_code, trace FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]))[0] : undefined;
  return { status: res.status, code: trace?.error_code, error: trace?.trace.error, res };
}

async function refused(xml: string, code: string, opts: { conn?: string; raw?: boolean } = {}) {
  const sessionsBefore = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
  const r = await post(xml, opts);
  assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
  assert.equal(r.code, code, JSON.stringify(r.error));
  assert.equal(r.res.headers.get('set-cookie'), null);
  const after = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
  assert.equal(after, sessionsBefore, 'no session was opened');
  return r;
}

describe('a well-formed honest response', () => {
  test('is accepted (so every refusal below is for its stated reason)', async () => {
    const { xml } = await honest();
    const r = await post(xml);
    assert.equal(r.status, 303, r.res.body);
  });
});

describe('SAML attacks, each refused with its reason', () => {
  test('DOCTYPE (entity expansion, XXE)', async () => {
    const { xml } = await honest();
    await refused(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "victim">]>${xml}`, 'doctype');
  });

  test('a second, unsigned assertion beside the signed one', async () => {
    const { p, xml } = await honest();
    const evil = buildAssertion({ ...p, nameId: 'admin@corp.test' });
    await refused(xml.replace('</samlp:Response>', `${evil}</samlp:Response>`), 'assertion_count');
  });

  test('wrapping: the signed assertion hidden in Extensions, an evil one in its place', async () => {
    const p = parts({ inResponseTo: await requestId() });
    const signed = sign(buildAssertion(p), 'Assertion', trusted);
    const evil = buildAssertion({ ...p, nameId: 'admin@corp.test' });
    const xml = wrapInResponse(p, `<samlp:Extensions>${signed}</samlp:Extensions>${evil}`);
    await refused(xml, 'assertion_count');
  });

  test('wrapping: the signed assertion nested in the evil assertion\'s Advice', async () => {
    const p = parts({ inResponseTo: await requestId() });
    const signed = sign(buildAssertion(p), 'Assertion', trusted);
    const evil = buildAssertion({ ...p, nameId: 'admin@corp.test' }).replace('<saml:AuthnStatement', `<saml:Advice>${signed}</saml:Advice><saml:AuthnStatement`);
    await refused(wrapInResponse(p, evil), 'assertion_count');
  });

  test('wrapping: the genuine signature moved onto an evil assertion (it references another ID)', async () => {
    const p = parts({ inResponseTo: await requestId() });
    const signed = sign(buildAssertion(p), 'Assertion', trusted);
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0];
    const evil = buildAssertion({ ...p, nameId: 'admin@corp.test' }).replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
    await refused(wrapInResponse(p, evil), 'signature_scope');
  });

  test('an ID in another namespace (wsu:Id) on a decoy carrying the signed assertion’s ID: two elements answer to the reference', async () => {
    const p = parts({ inResponseTo: await requestId() });
    const signed = sign(buildAssertion(p), 'Assertion', trusted);
    const id = /<saml:Assertion[^>]* ID="([^"]+)"/.exec(signed)![1]!;
    for (const decoy of [
      `<d:Decoy xmlns:d="urn:decoy" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="${id}"/>`,
      `<d:Decoy xmlns:d="urn:decoy" xmlns:f="urn:f" f:ID="${id}"/>`,
    ]) {
      const r = await refused(wrapInResponse(p, `<samlp:Extensions>${decoy}</samlp:Extensions>${signed}`), 'signature_scope');
      assert.match(r.error.message, /2 elements carry the ID/);
    }
  });

  test('elements nested thousands deep are refused with a trace, inside or outside the signed part (never a 500)', async () => {
    const deep = '<x>'.repeat(5000) + '</x>'.repeat(5000);
    const { xml } = await honest();
    for (const crafted of [xml.replace('<saml:AuthnStatement', `${deep}<saml:AuthnStatement`), xml.replace('<saml:Assertion', `<samlp:Extensions>${deep}</samlp:Extensions><saml:Assertion`)]) {
      const r = await refused(crafted, 'malformed');
      assert.equal(r.status, 400);
      assert.match(r.error.message, /nests elements more than 64 deep/);
    }
  });

  test('a namespace declared once and used by thousands of siblings (canonical form of hundreds of MB) is refused before any c14n, with a trace', async () => {
    // Exclusive c14n declares p: again on every <p:e/>: 40,000 characters × 15,000 elements. No
    // signature is needed, since the digest is computed before any key is used (the test's own
    // signer could not even canonicalise it).
    const { p } = await honest();
    const bombs = [
      `<saml:Advice xmlns:p="urn:${'x'.repeat(40_000)}">${'<p:e/>'.repeat(15_000)}</saml:Advice>`,
      // The default namespace the same way, below an element that declares it for its children only.
      `<saml:Advice><q:r xmlns:q="urn:q" xmlns="urn:${'y'.repeat(40_000)}">${'<e/>'.repeat(15_000)}</q:r></saml:Advice>`,
    ];
    for (const bomb of bombs) {
      const r = await refused(wrapInResponse(p, buildAssertion(p).replace('</saml:Assertion>', `${bomb}</saml:Assertion>`)), 'too_large');
      assert.equal(r.status, 400);
      assert.match(r.error.message, /namespace declarations when canonicalised/);
    }
  });

  test('a check that meets an error of its own (here a stored certificate node cannot read) refuses the message with a trace: it fails closed', async () => {
    const { xml } = await honest();
    const trace = new SigninTrace();
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    const e = { certificates: [broken], idpEntityId: IDP, spEntityId: `${base}/metadata`, acsUrl: `${base}/acs`, allowSha1: false, skewMs: 180_000, now: Date.now() };
    await assert.rejects(verifySamlMessage(b64(xml), e, trace), (err: unknown) => err instanceof SamlFailure && err.code === 'malformed' && /could not process the response/.test(err.message));
    const last = trace.steps.at(-1)!;
    assert.equal(last.ok, false);
    assert.match(last.check, /Signature verifies/);
  });

  test('attributes named __proto__, constructor or toString are read as attributes (no 500), and only as attributes', async () => {
    const odd = JSON.parse('{"__proto__": ["a"], "constructor": ["b"], "toString": ["c"]}') as Record<string, string[]>;
    const { xml } = await honest({ attributes: { ...parts().attributes, ...odd } });
    assert.match(xml, /Name="__proto__"/);
    const r = await post(xml);
    assert.equal(r.status, 303, JSON.stringify(r.error));
  });

  test('a Response signature that points at the assertion rather than at the Response', async () => {
    const p = parts({ inResponseTo: await requestId(), assertionId: '_a1' + randomUUID().replace(/-/g, '') });
    const response = wrapInResponse(p, buildAssertion(p));
    const signedAssertion = sign(response, 'Assertion', trusted);
    // Move the assertion's signature up under the Response.
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signedAssertion)![0];
    const moved = signedAssertion.replace(signature, '').replace('</saml:Issuer><samlp:Status>', `</saml:Issuer>${signature}<samlp:Status>`);
    await refused(moved, 'signature_scope');
  });

  test('an assertion altered after signing', async () => {
    const { xml } = await honest();
    await refused(xml.replace('<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">victim@corp.test', '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">admin@corp.test'), 'bad_signature');
  });

  test('a signature by an untrusted key names both thumbprints', async () => {
    const { xml } = await honest({}, stranger);
    const r = await refused(xml, 'untrusted_certificate');
    assert.match(r.error.received.thumbprint, /^[0-9A-F]{40}$/);
    assert.equal(r.error.trusted.length, 1);
    assert.notEqual(r.error.received.thumbprint, r.error.trusted[0].thumbprint);
  });

  test('unsigned', async () => {
    const p = parts({ inResponseTo: await requestId() });
    await refused(wrapInResponse(p, buildAssertion(p)), 'unsigned');
  });

  test('SHA-1 is refused until the connection opts in', async () => {
    const p = parts({ inResponseTo: await requestId() });
    const sha1 = wrapInResponse(p, sign(buildAssertion(p), 'Assertion', trusted, { signature: ALG.rsaSha1, digest: ALG.sha1 }));
    await refused(sha1, 'weak_algorithm');
    await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{allowSha1}', 'true') WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    try {
      const p2 = parts({ inResponseTo: await requestId() });
      const ok = await post(wrapInResponse(p2, sign(buildAssertion(p2), 'Assertion', trusted, { signature: ALG.rsaSha1, digest: ALG.sha1 })));
      assert.equal(ok.status, 303, ok.res.body);
    } finally {
      await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{allowSha1}', 'false') WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    }
  });

  test('wrong Audience, Recipient, assertion Issuer, Response Destination — each signed by the trusted key', async () => {
    const a = await refused((await honest({ audience: 'https://other-app.example/' })).xml, 'audience_mismatch');
    assert.equal(a.error.expected, `${base}/metadata`);
    const r = await refused((await honest({ recipient: 'https://evil.example/acs' })).xml, 'recipient_mismatch');
    assert.deepEqual(r.error.received, ['https://evil.example/acs']);
    const p = parts({ inResponseTo: await requestId() });
    const wrongIssuer = wrapInResponse(p, sign(buildAssertion({ ...p, issuer: 'https://sts.windows.net/another-tenant/' }), 'Assertion', trusted));
    await refused(wrongIssuer, 'issuer_mismatch');
    const d = await refused((await honest({ destination: 'https://evil.example/acs' })).xml, 'destination_mismatch');
    assert.equal(d.error.received, 'https://evil.example/acs');
  });

  test('a non-success Status beside a validly signed assertion, with the AADSTS code surfaced', async () => {
    const r = await refused(
      (await honest({ status: 'urn:oasis:names:tc:SAML:2.0:status:Responder', statusMessage: 'AADSTS50105: The signed in user is not assigned to a role for the application.' })).xml,
      'status',
    );
    assert.equal(r.error.aadsts, 'AADSTS50105');
  });

  test('expired and not-yet-valid beyond the clock skew, with the gap measured; inside the skew is fine', async () => {
    const late = await refused((await honest({ notOnOrAfter: new Date(Date.now() - 10 * 60_000), notBefore: new Date(Date.now() - 70 * 60_000) })).xml, 'expired');
    assert.ok(Math.abs(late.error.lateBySeconds - 600) < 30, String(late.error.lateBySeconds));
    assert.equal(late.error.skewSeconds, 180);
    const early = await refused((await honest({ notBefore: new Date(Date.now() + 10 * 60_000) })).xml, 'not_yet_valid');
    assert.ok(Math.abs(early.error.aheadBySeconds - 600) < 30);
    const withinSkew = await post((await honest({ notBefore: new Date(Date.now() + 2 * 60_000) })).xml);
    assert.equal(withinSkew.status, 303, withinSkew.res.body);
  });

  test('an InResponseTo we never sent, or sent for another connection, is refused', async () => {
    await refused((await honest({ inResponseTo: '_made_up_request_id' })).xml, 'unknown_request');
    const admin = await t.user(tt.tenant, ['admin']);
    await admin.client.post('/api/v1/sso/connections', { slug: 'second', publish: true, entityId: IDP, ssoUrl: `https://login.microsoftonline.com/${TID}/saml2`, certificates: [trusted.cert] });
    await refused((await honest({ inResponseTo: await requestId('second') })).xml, 'unknown_request');
  });

  test('the Response and its assertion naming different requests', async () => {
    const p = parts({ inResponseTo: await requestId() });
    const other = await requestId();
    const xml = wrapInResponse({ ...p, inResponseTo: other }, sign(buildAssertion(p), 'Assertion', trusted));
    await refused(xml, 'in_response_to_mismatch');
  });

  test('a replayed IdP-initiated assertion (no request id to consume)', async () => {
    const p = parts({ inResponseTo: null });
    const xml = wrapInResponse(p, sign(buildAssertion(p), 'Assertion', trusted));
    assert.equal((await post(xml)).status, 303);
    await refused(xml, 'replayed');
  });

  test('a signature by a trusted certificate that has expired', async () => {
    const old = makeKeyPair('Expired signing cert', { from: new Date(Date.now() - 800 * 86_400_000), to: new Date(Date.now() - 35 * 86_400_000) });
    const admin = await t.user(tt.tenant, ['admin']);
    assert.equal((await admin.client.post('/api/v1/sso/connections', { slug: 'old', publish: true, entityId: IDP, ssoUrl: `https://login.microsoftonline.com/${TID}/saml2`, certificates: [old.cert] })).status, 201);
    const oldBase = `${t.url}/t/${tt.tenant.slug}/saml/old`;
    const p = parts({ inResponseTo: await requestId('old'), destination: `${oldBase}/acs`, recipient: `${oldBase}/acs`, audience: `${oldBase}/metadata` });
    const r = await refused(wrapInResponse(p, sign(buildAssertion(p), 'Assertion', old)), 'expired_certificate', { conn: 'old' });
    assert.ok(Date.parse(r.error.certificate.notAfter) < Date.now());
  });

  test('oversized, not base64, not a Response', async () => {
    const { xml } = await honest({ attributes: { padding: ['x'.repeat(210 * 1024)] } });
    await refused(xml, 'too_large');
    await refused('%%%not-base64%%%', 'not_base64', { raw: true });
    await refused('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>', 'not_a_response');
  });

  test('a form post without a SAMLResponse, or far too large, changes nothing', async () => {
    const empty = await new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/entra/acs`, 'RelayState=x', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(empty.status, 400);
    const huge = await new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/entra/acs`, 'SAMLResponse=' + 'A'.repeat(1024 * 1024), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(huge.status, 413);
  });
});
