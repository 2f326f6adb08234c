import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../db/db.js';
import { writeCtes, type Param } from '../../db/held-writes.js';
import { hashToken, randomToken } from '../secrets.js';

export interface SessionPolicy {
  idleMinutes: number;
  absoluteHours: number;
}

export interface Session {
  id: string;
  tenantId: string;
  userId: string;
  csrfToken: string;
  method: string;
}

/**
 * The cookie carries `<tenant id>.<secret>`: the tenant part routes the lookup (every tenant-owned
 * key starts with tenant_id); only the secret's SHA-256 is stored.
 */
export function parseSessionCookie(value: string | undefined): { tenantId: string; token: string } | null {
  if (!value || value.length > 200) return null;
  const m = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(value);
  return m ? { tenantId: m[1]!, token: m[2]! } : null;
}

/** Where an SSO session came from, so the identity provider can end it (single logout). */
export interface SessionIdp {
  connectionId: string;
  nameId: string | null;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  /** OpenID Connect: the ID token, sealed, for RP-initiated logout's id_token_hint. */
  idTokenSealed?: string | null;
}

export interface NewSession {
  tenantId: string;
  userId: string;
  method: string;
  ip?: string;
  userAgent?: string;
  idp?: SessionIdp;
}

/**
 * A new session, not yet written: its cookie value, its expiry (policy.absoluteHours from now) and
 * its row's INSERT as a CTE, for a transaction that writes it with more in one statement
 * (src/db/held-writes.ts). The row's expiry is the database's clock, as every session check is; the
 * cookie's is this node's, and a node's clock that is off only changes when the browser drops it.
 */
export function newSession(policy: SessionPolicy, input: NewSession): { cookieValue: string; session: Session; expiresAt: Date; insertCte: (p: Param) => string } {
  const token = randomToken();
  const session: Session = { id: randomUUID(), tenantId: input.tenantId, userId: input.userId, csrfToken: randomToken(), method: input.method };
  const expiresAt = new Date(Date.now() + policy.absoluteHours * 3_600_000);
  const idp = input.idp;
  const insertCte = (p: Param) => `session_row AS (
       INSERT INTO sessions (tenant_id, id, token_hash, user_id, csrf_token, method, ip, user_agent, expires_at,
                             connection_id, idp_name_id, idp_name_id_format, idp_session_index, idp_id_token)
       VALUES (${p(input.tenantId)}, ${p(session.id)}, ${p(hashToken(token))}, ${p(input.userId)}, ${p(session.csrfToken)}, ${p(input.method)},
               ${p(input.ip ?? null)}, ${p(input.userAgent?.slice(0, 300) ?? null)}, now() + make_interval(hours => ${p(policy.absoluteHours)}),
               ${p(idp?.connectionId ?? null)}, ${p(idp?.nameId ?? null)}, ${p(idp?.nameIdFormat ?? null)}, ${p(idp?.sessionIndex ?? null)}, ${p(idp?.idTokenSealed ?? null)}))`;
  return { cookieValue: `${input.tenantId}.${token}`, session, expiresAt, insertCte };
}

/** Opens a session for the person in `tx` (one statement); the cookie value is answered once, only its hash is kept. */
export async function createSession(tx: Queryable, policy: SessionPolicy, input: NewSession): Promise<{ cookieValue: string; session: Session; expiresAt: Date }> {
  const { insertCte, ...created } = newSession(policy, input);
  await writeCtes(tx, insertCte);
  return created;
}

/**
 * Finds a live session: not revoked, within its absolute lifetime and its idle timeout. Touches
 * last_seen_at at most once a minute, so reads do not turn every request into a write.
 */
export async function findSession(q: Queryable, policy: SessionPolicy, tenantId: string, token: string): Promise<Session | null> {
  const rows = await q.query<Session & { stale: boolean }>(
    `SELECT id, tenant_id AS "tenantId", user_id AS "userId", csrf_token AS "csrfToken", method,
            last_seen_at < now() - interval '1 minute' AS stale
     FROM sessions
     WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL AND expires_at > now()
       AND last_seen_at > now() - make_interval(mins => $3)`,
    [tenantId, hashToken(token), policy.idleMinutes],
  );
  const s = rows[0];
  if (!s) return null;
  if (s.stale) await q.query('UPDATE sessions SET last_seen_at = now() WHERE tenant_id = $1 AND id = $2', [tenantId, s.id]);
  const { stale: _stale, ...session } = s;
  return session;
}

export async function revokeSession(q: Queryable, tenantId: string, sessionId: string): Promise<void> {
  await q.query('UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL', [tenantId, sessionId]);
}

/** Ends a person's sessions opened through single sign-on: on one connection, or on any. */
export async function revokeIdpSessions(q: Queryable, tenantId: string, userId: string, connectionId?: string): Promise<void> {
  await q.query(
    `UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL
       AND connection_id IS NOT NULL AND ($3::uuid IS NULL OR connection_id = $3)`,
    [tenantId, userId, connectionId ?? null],
  );
}

/** Ends every session and API token of a user: used when they are disabled or deprovisioned. */
export async function revokeUserSessions(q: Queryable, tenantId: string, userId: string): Promise<void> {
  await revokeSessionsOf(q, tenantId, [userId]);
}

/** revokeUserSessions for many people at once (a group's members leaving it): two statements. */
export async function revokeSessionsOf(q: Queryable, tenantId: string, userIds: readonly string[]): Promise<void> {
  if (!userIds.length) return;
  await q.query('UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND revoked_at IS NULL', [tenantId, [...userIds]]);
  await q.query('UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND revoked_at IS NULL', [tenantId, [...userIds]]);
}

/** Ends a user's sessions but `keep` (the one changing the password); API tokens stay. */
export async function revokeOtherSessions(q: Queryable, tenantId: string, userId: string, keep: string | undefined): Promise<void> {
  await q.query(
    'UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND user_id = $2 AND id IS DISTINCT FROM $3 AND revoked_at IS NULL',
    [tenantId, userId, keep ?? null],
  );
}

/**
 * Ends the password sessions of everyone single sign-on now binds (all but break-glass accounts, or
 * one person): with SSO enforced a password no longer signs them in, so it no longer keeps them in.
 * Returns how many ended.
 */
export async function revokePasswordSessions(q: Queryable, tenantId: string, userId?: string): Promise<number> {
  const rows = await q.query(
    `UPDATE sessions s SET revoked_at = now() FROM users u
     WHERE s.tenant_id = $1 AND u.tenant_id = s.tenant_id AND u.id = s.user_id AND s.revoked_at IS NULL
       AND s.method LIKE 'password%' AND NOT u.break_glass AND ($2::uuid IS NULL OR u.id = $2)
     RETURNING s.id`,
    [tenantId, userId ?? null],
  );
  return rows.length;
}

export async function pruneSessions(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM sessions WHERE expires_at < now() - interval '7 days' OR revoked_at < now() - interval '7 days'`);
}
