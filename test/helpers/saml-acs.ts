import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { Tenant } from '../../src/context.js';
import type { TestApp } from './app.js';
import { Client } from './client.js';
import { b64, buildAssertion, sign, wrapInResponse, type KeyPair, type ResponseParts } from './saml-forge.js';

export const ENTRA = {
  objectidentifier: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  emailaddress: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  displayname: 'http://schemas.microsoft.com/identity/claims/displayname',
};

/**
 * A SAML connection whose identity provider is the test itself: Entra-shaped responses signed with
 * a key it holds, posted to the ACS as a browser would, each outcome read back from its trace.
 */
export async function forgedConnection(t: TestApp, tenant: Tenant, admin: Client, slug: string, keys: KeyPair, displayName = slug) {
  const issuer = `https://sts.windows.net/${randomUUID()}/`;
  const created = await admin.post('/api/v1/sso/connections', { slug, displayName, publish: true, entityId: issuer, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const base = `${t.url}/t/${tenant.slug}/saml/${slug}`;

  async function requestId(): Promise<string> {
    const res = await fetch(`${base}/login`, { redirect: 'manual' });
    const xml = inflateRawSync(Buffer.from(new URL(res.headers.get('location')!).searchParams.get('SAMLRequest')!, 'base64')).toString();
    return /ID="([^"]+)"/.exec(xml)![1]!;
  }

  /** An honest response (assertion signed, SP-initiated) for a person: Entra's object id and email. */
  async function response(person: { oid: string | null; email: string; name?: string }, over: Partial<ResponseParts> = {}): Promise<string> {
    const p: ResponseParts = {
      issuer,
      destination: `${base}/acs`,
      audience: `${base}/metadata`,
      recipient: `${base}/acs`,
      nameId: person.email,
      inResponseTo: await requestId(),
      attributes: { ...(person.oid !== null ? { [ENTRA.objectidentifier]: [person.oid] } : {}), [ENTRA.emailaddress]: [person.email], ...(person.name ? { [ENTRA.displayname]: [person.name] } : {}) },
      ...over,
    };
    return wrapInResponse(p, sign(buildAssertion(p), 'Assertion', keys));
  }

  /** Posts a response; returns the status, the session client and the stored trace (if any). */
  async function post(xml: string) {
    const client = new Client(t.url);
    const res = await client.request('POST', `/t/${tenant.slug}/saml/${slug}/acs`, new URLSearchParams({ SAMLResponse: b64(xml) }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    // A failure shows its reference; a success's trace is the newest (posts are sequential).
    const ref = /KD-[0-9A-F]{10}/.exec(typeof res.body === 'string' ? res.body : '')?.[0] ?? null;
    const trace = (
      await t.db.query<{ id: string; error_code: string | null; trace: any }>(
        `SELECT id, error_code, trace FROM signin_traces WHERE tenant_id = $1 AND ${ref ? 'id = $2' : 'outcome = $2'} ORDER BY created_at DESC LIMIT 1`,
        [tenant.id, ref ?? 'success'],
      )
    )[0];
    return { status: res.status, res, client, ref: trace?.id ?? null, code: trace?.error_code ?? null, trace: trace?.trace };
  }

  /** Signs a person in and returns their session (asserting it worked). */
  async function signIn(person: { oid: string; email: string; name?: string }) {
    const r = await post(await response(person));
    assert.equal(r.status, 303, typeof r.res.body === 'string' ? r.res.body.slice(0, 500) : JSON.stringify(r.res.body));
    const session = await r.client.get('/api/v1/session');
    assert.equal(session.status, 200);
    return { ...r, session: session.body };
  }

  return { slug, issuer, base, requestId, response, post, signIn };
}
