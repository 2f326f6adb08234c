import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../db/db.js';
import type { Config } from '../../config.js';
import type { Tenant } from '../../context.js';
import { setSessionCookie } from '../../http/auth.js';
import { hit } from '../../http/rate-limit.js';
import { TooManyRequests } from '../../http/errors.js';
import { findTenantBySlug } from '../../tenancy/tenants.js';
import { findConnection, spUrls, type Connection } from '../connections.js';
import { spMetadataXml } from './metadata.js';
import { beginSamlSignin, completeSamlSignin, recordMisdirectedResponse } from './signin.js';
import { failureStatus, SamlFailure } from './failure.js';
import { MAX_RESPONSE_BYTES } from './checks/structure.js';
import { escapeXml } from './xml.js';
import { handleIdpLogoutRequest } from './logout.js';
import { audit } from '../../audit/audit.js';

type Params = { tenant: string; conn: string };

/**
 * Public SAML endpoints per connection, /t/{tenant}/saml/{conn}/…: metadata (its URL is the SP
 * entity ID), login (SP-initiated), acs (HTTP-POST). Errors here are readable HTML pages, since a
 * person's browser is on the other end.
 */
export async function installSamlRoutes(app: FastifyInstance, db: Db, config: Config): Promise<void> {
  await app.register(async (scope) => {
    // Form posts from identity providers arrive here only; the API stays JSON-only. The body cap
    // leaves room above MAX_RESPONSE_BYTES so an oversized response still gets a trace that says so.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4 * MAX_RESPONSE_BYTES }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    const load = async (p: Params): Promise<{ tenant: Tenant; conn: Connection } | null> => {
      const tenant = await findTenantBySlug(db, p.tenant);
      const conn = tenant ? await findConnection(db, tenant.id, p.conn) : null;
      return tenant && conn && conn.protocol === 'saml' ? { tenant, conn } : null;
    };

    scope.get<{ Params: Params }>('/t/:tenant/saml/:conn/metadata', async (request, reply) => {
      const found = await load(request.params);
      if (!found) return page(reply, 404, 'Unknown connection', 'There is no such SAML connection.');
      return reply
        .type('application/samlmetadata+xml; charset=utf-8')
        .header('Content-Disposition', `inline; filename="keydesk-${found.tenant.slug}-${found.conn.slug}-metadata.xml"`)
        .send(spMetadataXml(spUrls(config.publicUrl, found.tenant.slug, found.conn.slug)));
    });

    scope.get<{ Params: Params; Querystring: { RelayState?: string; login_hint?: string } }>('/t/:tenant/saml/:conn/login', async (request, reply) => {
      const found = await load(request.params);
      if (!found) return page(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      try {
        const { url } = await beginSamlSignin(db, config, found.tenant, found.conn.slug, request.query.RelayState ?? null, {
          loginHint: request.query.login_hint?.slice(0, 320),
        });
        return reply.header('Cache-Control', 'no-store').redirect(url);
      } catch (err) {
        if (err instanceof SamlFailure) return page(reply, 400, 'Single sign-on is unavailable', err.message);
        throw err;
      }
    });

    scope.get<{ Params: Params; Querystring: Record<string, string> }>('/t/:tenant/saml/:conn/slo', async (request, reply) => {
      const found = await load(request.params);
      if (!found) return page(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      const { tenant, conn } = found;
      reply.header('Cache-Control', 'no-store');
      const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      if (typeof request.query.SAMLResponse === 'string') {
        // The identity provider finished the logout we started; the Keydesk session is already gone.
        return reply.redirect(`/t/${tenant.slug}/login?signedOut=1`, 303);
      }
      if (typeof request.query.SAMLRequest !== 'string') return page(reply, 400, 'Sign-out failed', 'No logout message was received.');
      const ctx = { db, tenant, actor: null, ip: request.ip };
      try {
        const result = await db.transaction((tx) => handleIdpLogoutRequest(ctx, tx, conn, spUrls(config.publicUrl, tenant.slug, conn.slug), rawQuery));
        if (result.redirect) return reply.redirect(result.redirect, 303);
        return page(reply, 200, 'Signed out', 'You have been signed out of Keydesk.');
      } catch (err) {
        if (!(err instanceof SamlFailure)) throw err;
        await audit(ctx, db, { action: 'signout.saml_idp', outcome: 'failure', reason: err.code, actorId: null, actorLabel: `saml:${conn.slug}`, details: { message: err.message } });
        return page(reply, 400, 'Sign-out failed', err.message);
      }
    });

    /** The rate limit every posted response passes; false when the answer (429) was sent. */
    const admitted = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
      try {
        await hit(db, { bucket: `acs:ip:${request.ip}`, max: 120, windowSeconds: 60 });
        return true;
      } catch (err) {
        if (!(err instanceof TooManyRequests)) throw err;
        reply.header('Retry-After', String(err.retryAfterSeconds));
        page(reply, 429, 'Too many sign-in attempts', 'Wait a minute and try again.');
        return false;
      }
    };
    const postedResponse = (body: unknown): string => {
      const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
      return typeof b.SAMLResponse === 'string' ? b.SAMLResponse : '';
    };
    const failed = (reply: FastifyReply, found: { tenant: Tenant; conn: Connection }, outcome: { reference: string; test: boolean; code: string }) => {
      if (outcome.test) return reply.redirect(`/t/${found.tenant.slug}/admin/sso/traces/${outcome.reference}`, 303);
      return page(
        reply,
        failureStatus(outcome.code),
        'We could not sign you in',
        `Your sign-in through ${found.conn.displayName} did not succeed. If this keeps happening, give your administrator this reference:`,
        outcome.reference,
      );
    };

    // An identity provider set up with another of the connection's URLs as its Reply URL posts
    // there: the person gets the failure page, the admin a trace naming the URL to correct.
    for (const endpoint of ['login', 'metadata', 'slo'] as const) {
      scope.post<{ Params: Params }>(`/t/:tenant/saml/:conn/${endpoint}`, async (request, reply) => {
        const found = await load(request.params);
        if (!found) return page(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
        const samlResponse = postedResponse(request.body);
        if (!samlResponse) return page(reply, 405, 'Nothing to do here', 'This address takes no form posts. Start signing in from Keydesk or from your identity provider.');
        // The identity provider finishing a logout over HTTP-POST: the Keydesk session is already gone.
        if (endpoint === 'slo' && isLogoutResponse(samlResponse)) return reply.redirect(`/t/${found.tenant.slug}/login?signedOut=1`, 303);
        if (!(await admitted(request, reply))) return reply;
        const outcome = await recordMisdirectedResponse(db, config, found.tenant, found.conn, { samlResponse, postedTo: endpoint, ip: request.ip });
        reply.header('Cache-Control', 'no-store');
        return failed(reply, found, { ...outcome, code: 'misdirected' });
      });
    }

    scope.post<{ Params: Params; Body: Record<string, string> }>('/t/:tenant/saml/:conn/acs', async (request, reply) => {
      const found = await load(request.params);
      if (!found) return page(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      if (!(await admitted(request, reply))) return reply;
      const body = request.body && typeof request.body === 'object' ? request.body : {};
      const samlResponse = postedResponse(body);
      if (!samlResponse) return page(reply, 400, 'Sign-in failed', 'No SAMLResponse was posted. Start signing in from Keydesk or from your identity provider.');
      const outcome = await completeSamlSignin(db, config, found.tenant, found.conn, {
        samlResponse,
        relayState: typeof body.RelayState === 'string' ? body.RelayState : null,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      reply.header('Cache-Control', 'no-store');
      switch (outcome.kind) {
        case 'signed_in':
          setSessionCookie(reply, config, outcome.cookieValue, outcome.expiresAt);
          return reply.redirect(outcome.redirect, 303);
        case 'waiting':
        case 'tested':
          return reply.redirect(outcome.redirect, 303);
        case 'failed':
          return failed(reply, found, outcome);
      }
    });
  });
}

function isLogoutResponse(samlResponse: string): boolean {
  const head = Buffer.from(samlResponse.slice(0, 400), 'base64').toString('utf8');
  return /^\s*(?:<\?xml[^>]*\?>\s*)?<(?:[\w-]+:)?LogoutResponse[\s>]/.test(head);
}

function page(reply: FastifyReply, status: number, title: string, message: string, reference?: string) {
  const ref = reference ? `<p class="ref"><code>${escapeXml(reference)}</code></p>` : '';
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeXml(title)} · Keydesk</title>` +
        `<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1f2937;display:grid;place-items:center;min-height:100vh;margin:0}` +
        `main{background:#fff;max-width:30rem;padding:2rem;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.1)}h1{font-size:1.3rem}.ref code{font-size:1.2rem;background:#eef;padding:.3rem .6rem;border-radius:6px}</style></head>` +
        `<body><main><h1>${escapeXml(title)}</h1><p>${escapeXml(message)}</p>${ref}<p><a href="/login">Back to sign-in</a></p></main></body></html>`,
    );
}
