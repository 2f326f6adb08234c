import type { Config } from '../../config.js';
import type { Ctx, Tenant } from '../../context.js';
import { isUniqueViolation, type Db } from '../../db/db.js';
import { storable } from '../../db/storable.js';
import { Conflict } from '../../http/errors.js';
import { audit } from '../../audit/audit.js';
import { safeLandingPath } from '../../http/redirects.js';
import { auditPublished, getConnection, isLive, spUrls, type Connection } from '../connections.js';
import { admitIfGranted, resolveAccount } from '../provisioning/accounts.js';
import { mapClaims } from '../provisioning/claims.js';
import { recordSigninGroups, resyncRuleGrants } from '../provisioning/group-rules.js';
import { createSession } from '../sessions/sessions.js';
import { startAuthnRequest } from './authn-request.js';
import { SamlFailure } from './failure.js';
import { MAX_RESPONSE_BYTES } from './checks/structure.js';
import { redactXml, SigninTrace } from './trace.js';
import { verifySamlResponse } from './verify-response.js';

export type AcsOutcome =
  | { kind: 'signed_in'; cookieValue: string; expiresAt: Date; redirect: string }
  | { kind: 'waiting'; redirect: string }
  | { kind: 'tested'; reference: string; redirect: string }
  | { kind: 'failed'; reference: string; code: string; test: boolean };

/** SP-initiated sign-in: remember where the user wanted to go, send them to the identity provider. */
export async function beginSamlSignin(db: Db, config: Config, tenant: Tenant, connSlug: string, wanted: string | null, opts: { test?: boolean; loginHint?: string } = {}) {
  const conn = await getConnection(db, tenant.id, connSlug);
  if (conn.protocol !== 'saml' || !conn.enabled) throw new SamlFailure('connection_disabled', `The connection "${connSlug}" is not an enabled SAML connection.`);
  if (!opts.test && !isLive(conn)) throw new SamlFailure('connection_unpublished', `The connection "${connSlug}" is not live yet.`);
  const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);
  return startAuthnRequest(db, {
    tenantId: tenant.id,
    connectionId: conn.id,
    ssoUrl: conn.config.ssoUrl,
    spEntityId: sp.entityId,
    acsUrl: sp.acsUrl,
    relayState: safeLandingPath(wanted, tenant.slug),
    test: opts.test ?? false,
    loginHint: opts.loginHint,
  });
}

/**
 * The Assertion Consumer Service: verify strictly, find or create the account, apply group rules,
 * open a session. Every attempt leaves a trace and an audit event; a failure shows the person only
 * a reference the admin can look up.
 */
export async function completeSamlSignin(
  db: Db,
  config: Config,
  tenant: Tenant,
  conn: Connection,
  input: { samlResponse: string; relayState: string | null; ip?: string; userAgent?: string },
): Promise<AcsOutcome> {
  const trace = new SigninTrace();
  const ctx: Ctx = { db, tenant, actor: null, ip: input.ip };
  const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);
  // Known before verification only to decide where a failure is shown: a failed test sign-in goes
  // to the admin's trace page. It grants nothing.
  let test = await isTestRequest(db, tenant.id, conn.id, input.samlResponse);
  try {
    if (!conn.enabled) throw new SamlFailure('connection_disabled', `The connection "${conn.slug}" is disabled.`);
    const signIn = () => db.transaction(async (tx) => {
      const { facts, binding } = await verifySamlResponse(tx, { samlResponse: input.samlResponse, tenantId: tenant.id, conn, sp }, trace);
      test = binding.test;
      if (!test && !isLive(conn)) throw new SamlFailure('connection_unpublished', `The connection "${conn.slug}" is still being tested; only a test sign-in may use it.`);
      const claims = mapClaims(facts, conn.attributeMap);
      trace.data.mapped = claims;
      if (claims.groupsOverage) {
        trace.fail('Groups claim present', 'Entra sent a groups overage link instead of the groups (user in more than 150 groups): roles from group rules were not changed.');
      }
      const account = await resolveAccount(ctx, tx, conn, claims, trace).catch((err: unknown) => {
        if (err instanceof SamlFailure) trace.fail('Account', err.message);
        throw err;
      });
      if (claims.groups !== null) {
        await recordSigninGroups(tx, tenant.id, account.userId, claims.groups);
        const change = await resyncRuleGrants(ctx, tx, account.userId);
        trace.pass('Group rules applied', `added ${change.added.map((a) => a.role).join(', ') || 'nothing'}; removed ${change.removed.map((r) => r.role).join(', ') || 'nothing'}`);
      }
      const status = await admitIfGranted(tx, tenant.id, account.userId);
      const roles = (await tx.query<{ role: string }>('SELECT DISTINCT role FROM role_grants WHERE tenant_id = $1 AND user_id = $2 ORDER BY role', [tenant.id, account.userId])).map((r) => r.role);
      trace.data.roles = roles;
      trace.data.user = { id: account.userId, email: account.email, status };
      const landing = binding.initiatedBy === 'sp' ? binding.relayState : input.relayState;
      if (binding.test) {
        // A test sign-in shows what would happen and changes nothing: roll back, then record only
        // that the request was used, the assertion seen, and the connection tested.
        trace.data.wouldCreate = account.how === 'created';
        throw new TestRun(account.userId, binding.requestId, facts.id, new Date(facts.notOnOrAfter.getTime() + conn.config.clockSkewSeconds * 1000));
      }
      // The trace is written in the sign-in's own transaction: nothing commits ahead of an answer.
      const saveTrace = () => trace.save(tx, { tenantId: tenant.id, connectionId: conn.id, test: false, outcome: 'success', userId: account.userId });
      if (status !== 'active') {
        await audit(ctx, tx, { action: 'signin.saml', outcome: 'failure', reason: 'waiting_room', actorId: account.userId, actorLabel: account.email, details: { connection: conn.slug, trace: trace.reference } });
        await saveTrace();
        return { kind: 'waiting' as const };
      }
      const session = await createSession(tx, config.session, {
        tenantId: tenant.id,
        userId: account.userId,
        method: `saml:${conn.slug}`,
        ip: input.ip,
        userAgent: input.userAgent,
        idp: { connectionId: conn.id, nameId: facts.nameId, nameIdFormat: facts.nameIdFormat, sessionIndex: facts.sessionIndex },
      });
      await audit(ctx, tx, {
        action: 'signin.saml',
        actorId: account.userId,
        actorLabel: account.email,
        details: { connection: conn.slug, initiatedBy: binding.initiatedBy, trace: trace.reference },
      });
      await saveTrace();
      return { kind: 'signed_in' as const, session, landing: safeLandingPath(landing, tenant.slug) };
    });
    // Two first sign-ins of one person at once (two tabs) race to create the account; the loser
    // finds it on a second try instead of answering 500.
    const result = await signIn().catch((err: unknown) => {
      if (!lostCreationRace(err)) throw err;
      trace.restart();
      return signIn();
    });
    if (result.kind === 'waiting') return { kind: 'waiting', redirect: `/t/${tenant.slug}/waiting` };
    return { kind: 'signed_in', cookieValue: result.session.cookieValue, expiresAt: result.session.expiresAt, redirect: result.landing };
  } catch (err) {
    if (err instanceof TestRun) {
      await db.transaction(async (tx) => {
        if (err.requestId) await tx.query('UPDATE saml_requests SET consumed_at = now() WHERE tenant_id = $1 AND id = $2', [tenant.id, err.requestId]);
        await tx.query('INSERT INTO saml_replay_cache (tenant_id, connection_id, assertion_id, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          tenant.id,
          conn.id,
          err.assertionId,
          err.acceptableUntil,
        ]);
        // A passed test is what makes a connection live, unless the admin published it already.
        const [{ newlyPublished }] = (await tx.query<{ newlyPublished: boolean }>(
          `UPDATE sso_connections SET test_passed_at = now(), published_at = coalesce(published_at, now()) WHERE tenant_id = $1 AND id = $2
           RETURNING published_at = now() AS "newlyPublished"`,
          [tenant.id, conn.id],
        )) as [{ newlyPublished: boolean }];
        if (newlyPublished) await auditPublished(ctx, tx, conn.id, { slug: conn.slug, tested: true, via: 'test' });
        trace.data.published = newlyPublished;
        await audit(ctx, tx, { action: 'sso.connection_tested', actorId: null, actorLabel: `saml:${conn.slug}`, targetType: 'connection', targetId: conn.id, details: { trace: trace.reference } });
        await trace.save(tx, { tenantId: tenant.id, connectionId: conn.id, test: true, outcome: 'success' });
      });
      return { kind: 'tested', reference: trace.reference, redirect: `/t/${tenant.slug}/admin/sso/traces/${trace.reference}` };
    }
    if (!(err instanceof SamlFailure)) throw err;
    // The transaction rolled back; the trace and the audit event are written on their own.
    await recordFailure(ctx, conn, trace, test, err);
    return { kind: 'failed', reference: trace.reference, code: err.code, test };
  }
}

function lostCreationRace(err: unknown): boolean {
  return isUniqueViolation(err) || (err instanceof Conflict && err.code === 'user_exists');
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
  conn: Connection,
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
  // Kept for the admin only within the size the ACS itself accepts: anyone can post here.
  const xml = input.samlResponse.length <= (MAX_RESPONSE_BYTES * 4) / 3 + 4 ? Buffer.from(input.samlResponse, 'base64').toString('utf8') : '';
  if (xml.trimStart().startsWith('<')) trace.data.responseXml = redactXml(xml);
  await recordFailure({ db, tenant, actor: null, ip: input.ip }, conn, trace, test, err);
  return { reference: trace.reference, test };
}

/** A failed sign-in's trace (with the error and its fix) and its `signin.saml` audit event, together. */
async function recordFailure(ctx: Ctx, conn: Connection, trace: SigninTrace, test: boolean, err: SamlFailure): Promise<void> {
  trace.data.error = { code: err.code, message: err.message, fix: err.fix, ...err.data };
  await ctx.db.transaction(async (tx) => {
    await trace.save(tx, { tenantId: ctx.tenant.id, connectionId: conn.id, test, outcome: 'failure', errorCode: err.code });
    await audit(ctx, tx, { action: 'signin.saml', outcome: 'failure', reason: err.code, actorId: null, actorLabel: `saml:${conn.slug}`, details: { connection: conn.slug, trace: trace.reference } });
  });
}

/** Carries a successful test sign-in out of the transaction that must roll back. */
class TestRun extends Error {
  constructor(
    readonly userId: string,
    readonly requestId: string | null,
    readonly assertionId: string,
    readonly acceptableUntil: Date,
  ) {
    super('test sign-in');
  }
}

/** Whether the (not yet verified) response answers one of our test sign-in requests. */
async function isTestRequest(db: Db, tenantId: string, connectionId: string, samlResponse: string): Promise<boolean> {
  const head = Buffer.from(samlResponse.slice(0, 4000).replace(/\s+/g, ''), 'base64').toString('utf8');
  const id = /InResponseTo="([^"]{1,200})"/.exec(head)?.[1];
  // Unverified text: one the database cannot even compare is no request of ours.
  if (!id || !storable(id)) return false;
  const rows = await db.query<{ test: boolean }>('SELECT test FROM saml_requests WHERE tenant_id = $1 AND id = $2 AND connection_id = $3', [tenantId, id, connectionId]);
  return rows[0]?.test ?? false;
}
