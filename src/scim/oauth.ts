import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config.js';
import type { Db } from '../db/db.js';
import { TooManyRequests } from '../http/errors.js';
import { hit } from '../http/rate-limit.js';
import { findTenantBySlug } from '../tenancy/tenants.js';
import { recordActivity } from './activity.js';
import { ACCESS_TOKEN_SECONDS, issueAccessToken } from './credentials.js';

const MAX_FORM_BYTES = 8 * 1024;

/**
 * POST /t/{tenant}/oauth/token: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) that
 * Entra's gallery provisioning uses. Client authentication by HTTP Basic or form fields; errors in
 * RFC 6749 §5.2's JSON; tokens live an hour and open only this tenant's SCIM endpoint.
 */
export async function installOAuthRoutes(app: FastifyInstance, db: Db, _config: Config): Promise<void> {
  await app.register(async (scope) => {
    // Form-encoded only (RFC 6749 §4.4.2): JSON bodies get invalid_request, not a half-typed parse.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) => {
      const form = new URLSearchParams(body as string);
      const out: Record<string, string> = {};
      for (const [k, v] of form) {
        // A parameter sent twice is malformed (RFC 6749 §3.2); keep the marker to refuse it below.
        out[k] = k in out ? '\u0000duplicate' : v;
      }
      done(null, out);
    });
    scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
      if (err instanceof TooManyRequests) {
        reply.header('Retry-After', String(err.retryAfterSeconds));
        return oauthError(reply, 429, 'slow_down', err.message);
      }
      if (typeof err.statusCode === 'number' && err.statusCode < 500) return oauthError(reply, 400, 'invalid_request', 'Send grant_type=client_credentials as application/x-www-form-urlencoded.');
      request.log.error({ err }, 'unhandled OAuth error');
      return oauthError(reply, 500, 'server_error', 'Something went wrong on our side.');
    });

    scope.post<{ Params: { tenant: string } }>('/t/:tenant/oauth/token', async (request, reply) => {
      const started = performance.now();
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
      const tenant = await findTenantBySlug(db, request.params.tenant);
      if (!tenant) return oauthError(reply, 404, 'invalid_request', 'There is no such tenant.');
      await hit(db, { bucket: `oauth:${tenant.id}:${request.ip}`, max: 60, windowSeconds: 60 });

      const log = (status: number, error: string | null, client: string | null) =>
        recordActivity(db, tenant.id, {
          credentialName: client,
          method: 'POST',
          path: request.url,
          operation: 'Issue access token',
          resourceType: null,
          resourceId: null,
          status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          error,
        });

      const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, string>;
      if (Object.values(body).includes('\u0000duplicate')) {
        await log(400, 'A parameter was sent twice.', null);
        return oauthError(reply, 400, 'invalid_request', 'A parameter was sent twice.');
      }
      if (Object.values(body).some((v) => v.includes('\u0000') || v.length > 1000)) {
        await log(400, 'A parameter is too long or holds a NUL character.', null);
        return oauthError(reply, 400, 'invalid_request', 'A parameter is too long or holds a NUL character.');
      }
      const basic = readBasic(request.headers.authorization);
      if (basic === 'malformed' || (basic && (body.client_id !== undefined || body.client_secret !== undefined))) {
        await log(400, 'Malformed or doubled client authentication.', null);
        return oauthError(reply, 400, 'invalid_request', 'Authenticate the client once: with HTTP Basic or with client_id and client_secret, not both.');
      }
      if (body.grant_type !== 'client_credentials') {
        await log(400, `Unsupported grant_type ${JSON.stringify(body.grant_type ?? null)}.`, null);
        return oauthError(reply, 400, body.grant_type ? 'unsupported_grant_type' : 'invalid_request', 'Only grant_type=client_credentials is supported.');
      }
      if (body.scope !== undefined && body.scope.split(' ').some((s) => s !== '' && s !== 'scim')) {
        await log(400, `Unknown scope ${JSON.stringify(body.scope)}.`, null);
        return oauthError(reply, 400, 'invalid_scope', 'The only scope is "scim".');
      }
      const clientId = basic ? basic.id : body.client_id;
      const clientSecret = basic ? basic.secret : body.client_secret;
      const issued = clientId && clientSecret && clientId.length <= 200 && clientSecret.length <= 200 ? await issueAccessToken(db, tenant.id, clientId, clientSecret) : null;
      if (!issued) {
        await log(401, `Unknown client, wrong secret, or the client is inactive or expired (client_id ${JSON.stringify((clientId ?? '').slice(0, 60))}).`, null);
        reply.header('WWW-Authenticate', 'Basic realm="Keydesk"');
        return oauthError(reply, 401, 'invalid_client', 'The client is unknown, inactive or expired, or the secret is wrong.');
      }
      await log(200, null, issued.caller.name);
      return reply.code(200).type('application/json; charset=utf-8').send({ access_token: issued.token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: 'scim' });
    });
  });
}

/** RFC 6749 §2.3.1: Basic credentials are form-encoded before base64. */
function readBasic(header: string | undefined): { id: string; secret: string } | 'malformed' | null {
  if (header === undefined) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!m) return 'malformed';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    return id.includes('\u0000') || secret.includes('\u0000') ? 'malformed' : { id, secret };
  } catch {
    return 'malformed';
  }
}

function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error, error_description: description });
}
