import type { Config } from '../../config.js';
import type { Ctx, Tenant } from '../../context.js';
import { isUniqueViolation, type Db, type Queryable } from '../../db/db.js';
import { Conflict } from '../../http/errors.js';
import { audit } from '../../audit/audit.js';
import { recordedTransaction } from '../../audit/recorded-transaction.js';
import type { HeldWrites } from '../../db/held-writes.js';
import { emitFirstSignin } from '../events.js';
import { safeLandingPath } from '../../http/redirects.js';
import { auditPublished, isCurrent, isLive, StaleConnection, type Connection } from '../connections.js';
import { admitAtSignin, resolveAccount } from '../provisioning/accounts.js';
import type { MappedClaims } from '../provisioning/claims.js';
import { resyncAfterSignin } from '../provisioning/group-rules.js';
import { newSession, type SessionIdp } from '../sessions/sessions.js';
import { AccountFailure, SigninFailure } from './failure.js';
import type { SigninTrace } from './trace.js';

export type SigninOutcome =
  | { kind: 'signed_in'; cookieValue: string; expiresAt: Date; redirect: string }
  | { kind: 'waiting'; redirect: string }
  | { kind: 'tested'; reference: string; redirect: string }
  | { kind: 'failed'; reference: string; code: string; test: boolean };

/** What a protocol's verification hands over once every one of its checks has passed. */
export interface VerifiedIdentity {
  claims: MappedClaims;
  /** Answers the admin's Test sign-in: shown, then rolled back. */
  test: boolean;
  /** The page asked for (unchecked; only a path inside the tenant is followed). */
  landing: string | null;
  /** What single logout needs later (SAML NameID and SessionIndex; OIDC sub, sid, ID token). */
  idpSession: Omit<SessionIdp, 'connectionId'>;
  /** More for the `signin.<protocol>` audit event (who started the sign-in, …). */
  details?: Record<string, unknown>;
}

export interface SigninAttempt {
  db: Db;
  config: Config;
  tenant: Tenant;
  conn: Connection;
  trace: SigninTrace;
  /**
   * Where a failure is shown before verification says: a test's goes to the admin's trace page.
   * A function is asked only when a failure needs the answer (a successful sign-in learns it from
   * the verification, and saves the statement).
   */
  test: boolean | (() => Promise<boolean>);
  /** `conn` may be a copy kept in memory: a refusal is first checked against the stored version (StaleConnection). */
  connectionFromCache?: boolean;
  ip?: string;
  userAgent?: string;
}

/**
 * The half of every sign-in that does not depend on the protocol, in one transaction: the verified
 * identity is found or given an account by the one account rule, its groups applied, a session
 * opened, and the trace and audit event written with it. A test sign-in runs all of it and rolls
 * back to a savepoint after verification, so what verification used up (the request, the
 * assertion, the state) stays used in the same commit. Every failure leaves a trace and a
 * `signin.<protocol>` audit event.
 *
 * @param verify the protocol's checks, run inside the transaction (again, if two first sign-ins of one
 *   person raced); throws SigninFailure. Checks that talk to the provider belong before, not here.
 */
export async function runSignin(a: SigninAttempt, verify: (tx: Queryable) => Promise<VerifiedIdentity>): Promise<SigninOutcome> {
  const { db, config, tenant, conn, trace } = a;
  const ctx: Ctx = { db, tenant, actor: null, ip: a.ip };
  const method = `${conn.protocol}:${conn.slug}`;
  let test: boolean | undefined = typeof a.test === 'boolean' ? a.test : undefined;
  try {
    if (!conn.enabled) throw new AccountFailure('connection_disabled', `The connection "${conn.slug}" is disabled.`);
    const backToStart = trace.checkpoint();
    // Everything after the protocol's checks, in the sign-in's transaction; events go to `writes`.
    const admit = async (tx: Queryable, writes: HeldWrites) => {
      const v = await verify(tx);
      test = v.test;
      trace.dryRun = test;
      if (!test && !isLive(conn)) throw new AccountFailure('connection_unpublished', `The connection "${conn.slug}" is still being tested; only a test sign-in may use it.`);
      const { claims } = v;
      trace.data.mapped = claims;
      let dropHeldSinceSavepoint = () => {};
      if (test) {
        await tx.query('SAVEPOINT test_signin');
        dropHeldSinceSavepoint = writes.mark();
      }
      if (claims.groupsOverage) {
        trace.fail('Groups claim present', 'The identity provider sent a groups overage link instead of the groups (Entra does for people in too many groups for one token): roles from group rules were not changed.');
      }
      const account = await resolveAccount(ctx, tx, conn, claims, trace).catch((err: unknown) => {
        if (err instanceof SigninFailure) trace.fail('Account', err.message);
        throw err;
      });
      if (claims.groups !== null) {
        const change = await resyncAfterSignin(ctx, tx, account.userId, { groups: claims.groups, connectionId: conn.id });
        trace.pass('Group rules applied', `added ${change.added.map((x) => x.role).join(', ') || 'nothing'}; removed ${change.removed.map((r) => r.role).join(', ') || 'nothing'}`);
      }
      const { status, roles, first } = await admitAtSignin(tx, tenant.id, account.userId);
      trace.data.roles = roles;
      trace.data.user = { id: account.userId, email: account.email, status };
      if (test) {
        trace.data.wouldCreate = account.how === 'created';
        await tx.query('ROLLBACK TO SAVEPOINT test_signin');
        dropHeldSinceSavepoint();
        await finishTest(ctx, tx, conn, trace);
        return { kind: 'tested' as const, userId: null };
      }
      const details = { connection: conn.slug, ...v.details, trace: trace.reference };
      if (status !== 'active') {
        await audit(ctx, tx, { action: `signin.${conn.protocol}`, outcome: 'failure', reason: 'waiting_room', actorId: account.userId, actorLabel: account.email, details });
        return { kind: 'waiting' as const, userId: account.userId };
      }
      const session = newSession(config.session, {
        tenantId: tenant.id,
        userId: account.userId,
        method,
        ip: a.ip,
        userAgent: a.userAgent,
        idp: { connectionId: conn.id, ...v.idpSession },
      });
      await audit(ctx, tx, { action: `signin.${conn.protocol}`, actorId: account.userId, actorLabel: account.email, details });
      if (first) await emitFirstSignin(ctx, tx, account.userId, { method: conn.protocol, connection: conn.slug });
      return { kind: 'signed_in' as const, userId: account.userId, session, landing: safeLandingPath(v.landing, tenant.slug) };
    };
    // The sign-in's session, audit and identity events are written with its trace in one
    // statement before COMMIT: nothing commits ahead of an answer.
    const signIn = () =>
      recordedTransaction(ctx, db, admit, (result) => [
        (p) => (result.kind === 'signed_in' ? result.session.insertCte(p) : ''),
        (p) => trace.insertCte(p, { tenantId: tenant.id, connectionId: conn.id, test: result.kind === 'tested', outcome: 'success', userId: result.userId }),
      ]);
    // Two first sign-ins of one person at once (two tabs) race to create the account; the loser
    // finds it on a second try instead of answering 500.
    const result = await signIn().catch((err: unknown) => {
      if (!lostCreationRace(err)) throw err;
      backToStart();
      return signIn();
    });
    if (result.kind === 'tested') return { kind: 'tested', reference: trace.reference, redirect: `/t/${tenant.slug}/admin/sso/traces/${trace.reference}` };
    if (result.kind === 'waiting') return { kind: 'waiting', redirect: `/t/${tenant.slug}/waiting` };
    return { kind: 'signed_in', cookieValue: result.session.cookieValue, expiresAt: result.session.expiresAt, redirect: result.landing };
  } catch (err) {
    if (!(err instanceof SigninFailure)) throw err;
    // The connection may be a copy kept in memory (signin/target-cache.ts): a refusal decided with
    // an outdated copy (a certificate since added, SHA-1 since allowed) is no refusal; start again.
    if (a.connectionFromCache && !(await isCurrent(db, conn))) throw new StaleConnection();
    test ??= typeof a.test === 'boolean' ? a.test : await a.test();
    // The transaction rolled back; the trace and the audit event are written on their own.
    await recordFailure(ctx, conn, trace, test, err);
    return { kind: 'failed', reference: trace.reference, code: err.code, test };
  }
}

/** A passed test: the connection marked tested (and live, unless it was); the caller keeps the trace. */
async function finishTest(ctx: Ctx, tx: Queryable, conn: Connection, trace: SigninTrace): Promise<void> {
  // A passed test is what makes a connection live, unless the admin published it already, or the
  // workspace governs its identity configuration (publishing is then a change to approve).
  const [{ newlyPublished }] = (await tx.query<{ newlyPublished: boolean }>(
    `UPDATE sso_connections SET test_passed_at = now(),
       published_at = CASE WHEN (SELECT governed_identity FROM tenants WHERE id = $1) THEN published_at ELSE coalesce(published_at, now()) END
     WHERE tenant_id = $1 AND id = $2
     RETURNING published_at = now() AS "newlyPublished"`,
    [ctx.tenant.id, conn.id],
  )) as [{ newlyPublished: boolean }];
  if (newlyPublished) await auditPublished(ctx, tx, conn.id, { slug: conn.slug, tested: true, via: 'test' });
  trace.data.published = newlyPublished;
  await audit(ctx, tx, {
    action: 'sso.connection_tested',
    actorId: null,
    actorLabel: `${conn.protocol}:${conn.slug}`,
    targetType: 'connection',
    targetId: conn.id,
    details: { trace: trace.reference },
  });
}

/** A sign-in that failed before `runSignin`: its trace and audit event recorded, the outcome to answer. */
export async function failedSignin(ctx: Ctx, conn: Connection, trace: SigninTrace, test: boolean, err: SigninFailure): Promise<SigninOutcome> {
  await recordFailure(ctx, conn, trace, test, err);
  return { kind: 'failed', reference: trace.reference, code: err.code, test };
}

/** A failed sign-in's trace (with the error and its fix) and its `signin.<protocol>` audit event, together. */
export async function recordFailure(ctx: Ctx, conn: Connection, trace: SigninTrace, test: boolean, err: SigninFailure): Promise<void> {
  trace.data.error = { code: err.code, message: err.message, fix: err.fix, ...err.data };
  await ctx.db.transaction(async (tx) => {
    await trace.save(tx, { tenantId: ctx.tenant.id, connectionId: conn.id, test, outcome: 'failure', errorCode: err.code });
    await audit(ctx, tx, {
      action: `signin.${conn.protocol}`,
      outcome: 'failure',
      reason: err.code,
      actorId: null,
      actorLabel: `${conn.protocol}:${conn.slug}`,
      details: { connection: conn.slug, trace: trace.reference },
    });
  });
}

function lostCreationRace(err: unknown): boolean {
  return isUniqueViolation(err) || (err instanceof Conflict && err.code === 'user_exists');
}
