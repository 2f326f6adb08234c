import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { ActorCtx } from '../context.js';
import { loadActor } from '../identity/actor.js';
import type { Db } from '../db/db.js';
import { findApiToken, parseApiToken } from '../identity/tokens/api-tokens.js';
import { findSession, parseSessionCookie } from '../identity/sessions/sessions.js';
import type { Role } from '../identity/roles.js';
import { safeEqual } from '../identity/secrets.js';
import { findTenantById } from '../tenancy/tenants.js';
import { AppError, Forbidden, Unauthenticated } from './errors.js';

export const SESSION_COOKIE = 'keydesk_session';

export interface Auth {
  ctx: ActorCtx;
  via: 'session' | 'token';
  sessionId?: string;
  csrfToken?: string;
  passwordChangeRequired: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: Auth | null;
  }
  interface FastifyContextConfig {
    /** Route works without a credential (it may still read one). */
    public?: boolean;
    /** Route stays open while the user must change their one-time password. */
    allowPasswordChange?: boolean;
    /**
     * Route exercises no authority of the current session (sign-in), so it needs no session CSRF
     * token; the Origin check and JSON-only bodies still apply.
     */
    csrfExempt?: boolean;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Reads the bearer token or the session cookie. A credential that is present but bad is an error, not anonymity. */
export async function authenticate(db: Db, config: Config, request: FastifyRequest): Promise<Auth | null> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const parsed = m ? parseApiToken(m[1]!) : null;
    const found = parsed ? await findApiToken(db, parsed.tenantId, parsed.secret) : null;
    const tenant = found && parsed ? await findTenantById(db, parsed.tenantId) : null;
    const actor = found && tenant ? await loadActor(db, tenant, found.userId) : null;
    if (!actor) throw new Unauthenticated('The API token is invalid, expired or revoked.', 'invalid_token');
    return { ctx: { ...actor.ctx, ip: request.ip }, via: 'token', passwordChangeRequired: false };
  }
  const cookie = parseSessionCookie(request.cookies[SESSION_COOKIE]);
  if (!cookie) return null;
  const session = await findSession(db, config.session, cookie.tenantId, cookie.token);
  const tenant = session ? await findTenantById(db, session.tenantId) : null;
  const actor = session && tenant ? await loadActor(db, tenant, session.userId) : null;
  if (!session || !actor) return null;
  return {
    ctx: { ...actor.ctx, ip: request.ip },
    via: 'session',
    sessionId: session.id,
    csrfToken: session.csrfToken,
    passwordChangeRequired: actor.passwordChangeRequired,
  };
}

/**
 * Cookie-authenticated writes must echo the session's CSRF token in `X-CSRF-Token`, and a browser's
 * Origin, when sent, must be ours. Bearer-token calls carry no ambient authority and need neither.
 */
export function checkCsrf(config: Config, request: FastifyRequest, auth: Auth | null): void {
  if (SAFE_METHODS.has(request.method)) return;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== config.publicUrl) throw new Forbidden('Cross-origin requests are not accepted.');
  if (auth?.via !== 'session' || request.routeOptions.config.csrfExempt) return;
  const sent = request.headers['x-csrf-token'];
  if (typeof sent !== 'string' || !auth.csrfToken || !safeEqual(sent, auth.csrfToken)) {
    throw new AppError(403, 'csrf_failed', 'The CSRF token is missing or wrong. Reload the page and try again.');
  }
}

export function requireAuth(request: FastifyRequest): Auth {
  if (!request.auth) throw new Unauthenticated();
  return request.auth;
}

export function requireRole(ctx: ActorCtx, ...roles: Role[]): void {
  if (!roles.some((r) => ctx.actor.roles.has(r))) throw new Forbidden(`This needs the ${roles.join(' or ')} role.`);
}

export function setSessionCookie(reply: FastifyReply, config: Config, value: string, expires: Date): void {
  reply.setCookie(SESSION_COOKIE, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.publicUrl.startsWith('https:'),
    expires,
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: config.publicUrl.startsWith('https:') });
}
