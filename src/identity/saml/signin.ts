import type { Config } from '../../config.js';
import type { Tenant } from '../../context.js';
import type { Db } from '../../db/db.js';
import { storable } from '../../db/storable.js';
import { safeLandingPath } from '../../http/redirects.js';
import { isCurrent, isLive, spUrls, StaleConnection, type SamlConnection } from '../connections.js';
import { mapClaims } from '../provisioning/claims.js';
import { recordFailure, runSignin, type SigninOutcome } from '../signin/complete.js';
import { AccountFailure } from '../signin/failure.js';
import { SigninTrace } from '../signin/trace.js';
import { startAuthnRequest } from './authn-request.js';
import { SamlFailure } from './failure.js';
import { MAX_RESPONSE_BYTES } from './checks/structure.js';
import { redactXml } from './xml.js';
import { verifySamlResponse } from './verify-response.js';

/**
 * SP-initiated sign-in: remember where the user wanted to go, send them to the identity provider.
 * `conn` may come from the sign-in cache (signin/target-cache.ts).
 * @throws AccountFailure when the connection is off or, outside a test, not live yet
 * @throws StaleConnection when `conn` is older than the stored connection: call again with that
 */
export async function beginSamlSignin(db: Db, config: Config, tenant: Tenant, conn: SamlConnection, wanted: string | null, opts: { test?: boolean; loginHint?: string } = {}) {
  const refusal = !conn.enabled
    ? new AccountFailure('connection_disabled', `The connection "${conn.slug}" is not an enabled SAML connection.`)
    : !opts.test && !isLive(conn)
      ? new AccountFailure('connection_unpublished', `The connection "${conn.slug}" is not live yet.`)
      : null;
  if (refusal) {
    // A copy from memory may be older than a change that turned the connection back on.
    if (!(await isCurrent(db, conn))) throw new StaleConnection();
    throw refusal;
  }
  const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);
  return startAuthnRequest(db, {
    tenantId: tenant.id,
    connectionId: conn.id,
    connectionVersion: conn.version,
    ssoUrl: conn.config.ssoUrl,
    spEntityId: sp.entityId,
    acsUrl: sp.acsUrl,
    relayState: safeLandingPath(wanted, tenant.slug),
    test: opts.test ?? false,
    loginHint: opts.loginHint,
  });
}

/**
 * The Assertion Consumer Service: verify strictly, then the sign-in every protocol shares (account,
 * group rules, session). A failure shows the person only a reference the admin can look up.
 * `conn` may come from the sign-in cache (signin/target-cache.ts).
 * @throws StaleConnection when `conn` is older than the stored connection: call again with that
 */
export async function completeSamlSignin(
  db: Db,
  config: Config,
  tenant: Tenant,
  conn: SamlConnection,
  input: { samlResponse: string; relayState: string | null; ip?: string; userAgent?: string },
): Promise<SigninOutcome> {
  const trace = new SigninTrace();
  const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);
  // Asked only when verification failed, to decide where the failure is shown: a failed test
  // sign-in goes to the admin's trace page. It grants nothing.
  const test = () => isTestRequest(db, tenant.id, conn.id, input.samlResponse);
  return runSignin({ db, config, tenant, conn, trace, test, connectionFromCache: true, ip: input.ip, userAgent: input.userAgent }, async (tx) => {
    const { facts, binding } = await verifySamlResponse(tx, { samlResponse: input.samlResponse, tenantId: tenant.id, conn, sp }, trace);
    return {
      claims: mapClaims(facts, conn.attributeMap),
      test: binding.test,
      landing: binding.initiatedBy === 'sp' ? binding.relayState : input.relayState,
      idpSession: { nameId: facts.nameId, nameIdFormat: facts.nameIdFormat, sessionIndex: facts.sessionIndex },
      details: { initiatedBy: binding.initiatedBy },
    };
  });
}

/**
 * A SAML response posted to one of the connection's other URLs (the Sign-on URL copied into the
 * Reply URL field is a common mistake): nothing is verified or granted, but the admin gets a trace
 * that names both URLs, and the person a reference.
 */
export async function recordMisdirectedResponse(
  db: Db,
  config: Config,
  tenant: Tenant,
  conn: SamlConnection,
  input: { samlResponse: string; postedTo: 'login' | 'metadata' | 'slo'; ip?: string },
): Promise<{ reference: string; test: boolean }> {
  const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);
  const posted = { login: sp.loginUrl, metadata: sp.entityId, slo: sp.sloUrl }[input.postedTo];
  const trace = new SigninTrace();
  const test = await isTestRequest(db, tenant.id, conn.id, input.samlResponse);
  const err = new SamlFailure(
    'misdirected',
    `The identity provider posted the SAML response to ${posted}, which is the ${input.postedTo === 'login' ? 'Sign-on URL' : input.postedTo === 'slo' ? 'Logout URL' : 'Identifier (Entity ID)'}, not the Reply URL.`,
    { expected: sp.acsUrl, received: posted },
    `The Reply URL in the identity provider is ${posted}; it must be ${sp.acsUrl}. In Entra: Single sign-on › Basic SAML Configuration › Reply URL (Assertion Consumer Service URL). In Okta: General › SAML Settings › Single sign-on URL.`,
  );
  trace.fail('Response is addressed to this Reply URL and comes from this identity provider', err.message);
  // Anyone can post here: the admin sees what arrived only when it is a SAML message of a size the
  // ACS itself accepts (and the trace keeps at most MAX_TRACE_MESSAGE_CHARS of it).
  const xml = input.samlResponse.length <= (MAX_RESPONSE_BYTES * 4) / 3 + 4 ? Buffer.from(input.samlResponse, 'base64').toString('utf8') : '';
  if (xml.trimStart().startsWith('<') && xml.includes('urn:oasis:names:tc:SAML:2.0:protocol')) trace.data.responseXml = redactXml(xml);
  await recordFailure({ db, tenant, actor: null, ip: input.ip }, conn, trace, test, err);
  return { reference: trace.reference, test };
}

/** Whether the (not yet verified) response answers one of our test sign-in requests. */
async function isTestRequest(db: Db, tenantId: string, connectionId: string, samlResponse: string): Promise<boolean> {
  const head = Buffer.from(samlResponse.slice(0, 4000).replace(/\s+/g, ''), 'base64').toString('utf8');
  const id = /InResponseTo="([^"]{1,200})"/.exec(head)?.[1];
  // Unverified text: one the database cannot even compare is no request of ours.
  if (!id || !storable(id)) return false;
  const rows = await db.query<{ test: boolean }>(
    'SELECT test FROM saml_requests WHERE tenant_id = $1 AND id = $2 AND connection_id = $3 AND consumed_at IS NULL AND expires_at > now()',
    [tenantId, id, connectionId],
  );
  return rows[0]?.test ?? false;
}
