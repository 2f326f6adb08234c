import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../db/db.js';
import type { Config } from '../../config.js';
import type { Tenant } from '../../context.js';
import { hit } from '../../http/rate-limit.js';
import { TooManyRequests } from '../../http/errors.js';
import { spUrls, StaleConnection, type SamlConnection } from '../connections.js';
import { findSigninTarget } from '../signin/target-cache.js';
import { spMetadataXml } from './metadata.js';
import { beginSamlSignin, completeSamlSignin, recordMisdirectedResponse } from './signin.js';
import { SigninFailure } from '../signin/failure.js';
import { answerSignin, failedSignin, signinPage } from '../signin/respond.js';
import { SamlFailure } from './failure.js';
import { MAX_RESPONSE_BYTES } from './checks/structure.js';
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

    const load = async (p: Params, opts: { fresh?: boolean } = {}): Promise<{ tenant: Tenant; conn: SamlConnection } | null> => {
      const found = await findSigninTarget(db, p.tenant, p.conn, opts);
      return found && found.conn.protocol === 'saml' ? { tenant: found.tenant, conn: found.conn } : null;
    };

    scope.get<{ Params: Params }>('/t/:tenant/saml/:conn/metadata', async (request, reply) => {
      const found = await load(request.params);
      if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such SAML connection.');
      return reply
        .type('application/samlmetadata+xml; charset=utf-8')
        .header('Content-Disposition', `inline; filename="keydesk-${found.tenant.slug}-${found.conn.slug}-metadata.xml"`)
        .send(spMetadataXml(spUrls(config.publicUrl, found.tenant.slug, found.conn.slug)));
    });

    scope.get<{ Params: Params; Querystring: { RelayState?: string; login_hint?: string } }>('/t/:tenant/saml/:conn/login', async (request, reply) => {
      let found = await load(request.params);
      if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      // As at the ACS: the copy in memory holds only while the stored connection has not moved on.
      for (let attempt = 1; ; attempt++) {
        try {
          const { url } = await beginSamlSignin(db, config, found.tenant, found.conn, request.query.RelayState ?? null, {
            loginHint: request.query.login_hint?.slice(0, 320),
          });
          return reply.header('Cache-Control', 'no-store').redirect(url);
        } catch (err) {
          if (err instanceof SigninFailure) return signinPage(reply, 400, 'Single sign-on is unavailable', err.message);
          if (!(err instanceof StaleConnection)) throw err;
          if (attempt === 3) return signinPage(reply, 503, 'Sign-in is being set up', 'The single sign-on connection is being changed right now. Try again in a moment.');
          found = await load(request.params, { fresh: true });
          if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
        }
      }
    });

    scope.get<{ Params: Params; Querystring: Record<string, string> }>('/t/:tenant/saml/:conn/slo', async (request, reply) => {
      // The stored connection, not the memory: a logout is checked against its certificates outside
      // any version-checked statement, and a key removed on another node must stop working at once.
      const found = await load(request.params, { fresh: true });
      if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      const { tenant, conn } = found;
      reply.header('Cache-Control', 'no-store');
      const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      if (typeof request.query.SAMLResponse === 'string') {
        // The identity provider finished the logout we started; the Keydesk session is already gone.
        return reply.redirect(`/t/${tenant.slug}/login?signedOut=1`, 303);
      }
      if (typeof request.query.SAMLRequest !== 'string') return signinPage(reply, 400, 'Sign-out failed', 'No logout message was received.');
      const ctx = { db, tenant, actor: null, ip: request.ip };
      try {
        const result = await db.transaction((tx) => handleIdpLogoutRequest(ctx, tx, conn, spUrls(config.publicUrl, tenant.slug, conn.slug), rawQuery));
        if (result.redirect) return reply.redirect(result.redirect, 303);
        return signinPage(reply, 200, 'Signed out', 'You have been signed out of Keydesk.');
      } catch (err) {
        if (!(err instanceof SamlFailure)) throw err;
        await audit(ctx, db, { action: 'signout.saml_idp', outcome: 'failure', reason: err.code, actorId: null, actorLabel: `saml:${conn.slug}`, details: { message: err.message } });
        return signinPage(reply, 400, 'Sign-out failed', err.message);
      }
    });

    /**
     * The rate limit every posted response passes; false when the answer (429) was sent. Posts to
     * the wrong URL have their own, smaller budget, so they cannot use up the real ACS's.
     */
    const admitted = async (request: FastifyRequest, reply: FastifyReply, bucket: 'acs' | 'misdirected' = 'acs'): Promise<boolean> => {
      try {
        await hit(db, bucket === 'acs' ? { bucket: `acs:ip:${request.ip}`, max: 120, windowSeconds: 60 } : { bucket: `misdirected:ip:${request.ip}`, max: 20, windowSeconds: 60 });
        return true;
      } catch (err) {
        if (!(err instanceof TooManyRequests)) throw err;
        reply.header('Retry-After', String(err.retryAfterSeconds));
        signinPage(reply, 429, 'Too many sign-in attempts', 'Wait a minute and try again.');
        return false;
      }
    };
    const postedResponse = (body: unknown): string => {
      const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
      return typeof b.SAMLResponse === 'string' ? b.SAMLResponse : '';
    };
    // An identity provider set up with another of the connection's URLs as its Reply URL posts
    // there: the person gets the failure page, the admin a trace naming the URL to correct.
    for (const endpoint of ['login', 'metadata', 'slo'] as const) {
      scope.post<{ Params: Params }>(`/t/:tenant/saml/:conn/${endpoint}`, async (request, reply) => {
        const found = await load(request.params);
        if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
        const samlResponse = postedResponse(request.body);
        if (!samlResponse) return signinPage(reply, 405, 'Nothing to do here', 'This address takes no form posts. Start signing in from Keydesk or from your identity provider.');
        // The identity provider finishing a logout over HTTP-POST: the Keydesk session is already gone.
        if (endpoint === 'slo' && isLogoutResponse(samlResponse)) return reply.redirect(`/t/${found.tenant.slug}/login?signedOut=1`, 303);
        if (!(await admitted(request, reply, 'misdirected'))) return reply;
        const outcome = await recordMisdirectedResponse(db, config, found.tenant, found.conn, { samlResponse, postedTo: endpoint, ip: request.ip });
        reply.header('Cache-Control', 'no-store');
        return failedSignin(reply, found.tenant, found.conn, { ...outcome, code: 'misdirected' });
      });
    }

    scope.post<{ Params: Params; Body: Record<string, string> }>('/t/:tenant/saml/:conn/acs', async (request, reply) => {
      let found = await load(request.params);
      if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
      if (!(await admitted(request, reply))) return reply;
      const body = request.body && typeof request.body === 'object' ? request.body : {};
      const samlResponse = postedResponse(body);
      if (!samlResponse) return signinPage(reply, 400, 'Sign-in failed', 'No SAMLResponse was posted. Start signing in from Keydesk or from your identity provider.');
      const input = { samlResponse, relayState: typeof body.RelayState === 'string' ? body.RelayState : null, ip: request.ip, userAgent: request.headers['user-agent'] };
      // The copy of the connection in memory was verified against; if the stored one has moved on
      // since, nothing was changed and the sign-in runs again with the stored one.
      for (let attempt = 1; ; attempt++) {
        try {
          const outcome = await completeSamlSignin(db, config, found.tenant, found.conn, input);
          return answerSignin(reply, config, found.tenant, found.conn, outcome);
        } catch (err) {
          if (!(err instanceof StaleConnection)) throw err;
          if (attempt === 3) return signinPage(reply, 503, 'Sign-in is being set up', 'The single sign-on connection is being changed right now. Try again in a moment.');
          found = await load(request.params, { fresh: true });
          if (!found) return signinPage(reply, 404, 'Unknown connection', 'There is no such single sign-on connection.');
        }
      }
    });
  });
}

function isLogoutResponse(samlResponse: string): boolean {
  const head = Buffer.from(samlResponse.slice(0, 400), 'base64').toString('utf8');
  return /^\s*(?:<\?xml[^>]*\?>\s*)?<(?:[\w-]+:)?LogoutResponse[\s>]/.test(head);
}
