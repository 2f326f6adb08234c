import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import type { Tenant } from '../../context.js';
import type { Db } from '../../db/db.js';
import { TooManyRequests } from '../../http/errors.js';
import { hit } from '../../http/rate-limit.js';
import { findTenantBySlug } from '../../tenancy/tenants.js';
import { findConnection, type OidcConnection } from '../connections.js';
import type { SecretBox } from '../secrets.js';
import { SigninFailure } from '../signin/failure.js';
import { answerSignin, signinPage } from '../signin/respond.js';
import { beginOidcSignin, completeOidcSignin } from './signin.js';
import { handleBackchannelLogout } from './logout.js';
import { audit } from '../../audit/audit.js';

type Params = { tenant: string; conn: string };

/** The cookie that binds a started sign-in to its browser (hashed in `oidc_requests`). */
export const BROWSER_COOKIE = 'keydesk_oidc';

/**
 * Sets the browser-binding cookie for a tenant's OIDC paths. SameSite=Lax reaches the callback of
 * the default (query) response mode; a `form_post` callback is a cross-site POST, which carries the
 * cookie only as SameSite=None, and browsers allow that only over https.
 */
export function setBrowserCookie(reply: FastifyReply, config: Config, tenantSlug: string, value: string): void {
  const secure = config.publicUrl.startsWith('https://');
  reply.header(
    'Set-Cookie',
    `${BROWSER_COOKIE}=${value}; Path=/t/${tenantSlug}/oidc/; Max-Age=600; HttpOnly; ${secure ? 'Secure; SameSite=None' : 'SameSite=Lax'}`,
  );
}

/**
 * Public OpenID Connect endpoints per connection, /t/{tenant}/oidc/{conn}/…: login (starts the
 * authorization code flow), callback (the redirect URI, query or form_post). Errors are readable
 * pages, since a person's browser is on the other end.
 */
export async function installOidcRoutes(app: FastifyInstance, db: Db, config: Config, box: SecretBox): Promise<void> {
  await app.register(async (scope) => {
    // form_post callbacks: small forms only (a code, a state, an error description).
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string));
    });

    const load = async (p: Params): Promise<{ tenant: Tenant; conn: OidcConnection } | null> => {
      const tenant = await findTenantBySlug(db, p.tenant);
      const conn = tenant ? await findConnection(db, tenant.id, p.conn) : null;
      return tenant && conn && conn.protocol === 'oidc' ? { tenant, conn } : null;
    };

    scope.get<{ Params: Params; Querystring: { RelayState?: string; login_hint?: string } }>('/t/:tenant/oidc/:conn/login', async (request, reply) => {
      const found = await load(request.params);
      if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      try {
        const started = await beginOidcSignin(db, config, found.tenant, found.conn, {
          wanted: typeof request.query.RelayState === 'string' ? request.query.RelayState : null,
          browser: request.cookies[BROWSER_COOKIE],
          loginHint: typeof request.query.login_hint === 'string' ? request.query.login_hint.slice(0, 320) : undefined,
        });
        setBrowserCookie(reply, config, found.tenant.slug, started.browser);
        return reply.header('Cache-Control', 'no-store').redirect(started.url, 303);
      } catch (err) {
        if (err instanceof SigninFailure) return signinPage(reply, 400, 'Single sign-on is unavailable', err.message);
        throw err;
      }
    });

    const callback = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, params: URLSearchParams) => {
      const found = await load(request.params);
      if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      try {
        await hit(db, { bucket: `oidc:ip:${request.ip}`, max: 120, windowSeconds: 60 });
      } catch (err) {
        if (!(err instanceof TooManyRequests)) throw err;
        reply.header('Retry-After', String(err.retryAfterSeconds));
        return signinPage(reply, 429, 'Too many sign-in attempts', 'Wait a minute and try again.');
      }
      const outcome = await completeOidcSignin(db, config, box, found.tenant, found.conn, {
        params,
        browser: request.cookies[BROWSER_COOKIE],
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      return answerSignin(reply, config, found.tenant, found.conn, outcome);
    };

    scope.get<{ Params: Params }>('/t/:tenant/oidc/:conn/callback', (request, reply) => {
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      return callback(request, reply, new URLSearchParams(query));
    });
    scope.post<{ Params: Params }>('/t/:tenant/oidc/:conn/callback', (request, reply) =>
      callback(request, reply, request.body instanceof URLSearchParams ? request.body : new URLSearchParams()),
    );

    // Back-channel logout: the provider, not a browser, posts here; answers are JSON (§2.8).
    scope.post<{ Params: Params }>('/t/:tenant/oidc/:conn/backchannel-logout', async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      const found = await load(request.params);
      if (!found) return reply.code(404).send({ error: 'invalid_request', error_description: 'No such OpenID Connect connection.' });
      try {
        await hit(db, { bucket: `oidc-logout:ip:${request.ip}`, max: 120, windowSeconds: 60 });
      } catch (err) {
        if (!(err instanceof TooManyRequests)) throw err;
        return reply.code(429).header('Retry-After', String(err.retryAfterSeconds)).send({ error: 'temporarily_unavailable', error_description: 'Too many logout requests.' });
      }
      const token = request.body instanceof URLSearchParams ? request.body.get('logout_token') : null;
      if (!token || token.length > 16 * 1024) return reply.code(400).send({ error: 'invalid_request', error_description: 'A logout_token form parameter is required.' });
      const ctx = { db, tenant: found.tenant, actor: null, ip: request.ip };
      try {
        await db.transaction((tx) => handleBackchannelLogout(ctx, tx, found.conn, token));
        return reply.code(200).send();
      } catch (err) {
        if (!(err instanceof SigninFailure)) throw err;
        await audit(ctx, db, { action: 'signout.oidc_backchannel', outcome: 'failure', reason: err.code, actorId: null, actorLabel: `oidc:${found.conn.slug}`, details: { message: err.message.slice(0, 500) } });
        // The caller is anonymous until the token is verified: the reason goes to the audit log only.
        return reply.code(400).send({ error: 'invalid_request', error_description: 'The logout token was refused.' });
      }
    });
  });
}
