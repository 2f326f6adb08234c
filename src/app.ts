import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { apiV1 } from './api/index.js';
import { Problem } from './api/schemas.js';
import { installProblemHandler, problem, sendProblem } from './http/problem.js';
import { installObservability } from './http/observability.js';
import { installWeb } from './http/web.js';
import { installValidation } from './http/validation.js';
import { utf8JsonParser } from './http/text.js';
import { AppError } from './http/errors.js';
import { installSamlRoutes } from './identity/saml/routes.js';
import { pruneSamlState } from './identity/saml/authn-request.js';
import { noticeExpiringCertificates, refreshMetadata } from './identity/saml/upkeep.js';
import { SecretBox } from './identity/secrets.js';
import { dnsTxtLookup } from './tenancy/domains.js';
import { flushRateLimits, pruneCounters } from './http/rate-limit.js';
import { flushActivity } from './scim/activity.js';
import { installOidcRoutes } from './identity/oidc/routes.js';
import { pruneOidcState } from './identity/oidc/logout.js';
import { noticeExpiringSecrets } from './identity/oidc/upkeep.js';
import { pruneJobs } from './jobs/queue.js';
import { startJobs } from './jobs/runtime.js';
import { pruneAudit } from './audit/settings.js';
import { ensureAuditSealing } from './audit/jobs.js';
import { governance } from './governance/apply.js';
import { pruneLockouts } from './identity/local/password-signin.js';
import { pruneTraces } from './identity/signin/trace.js';
import { pruneSessions } from './identity/sessions/sessions.js';
import { installScimRoutes, SCIM_CONTENT_TYPE } from './scim/routes.js';
import { ScimError } from './scim/errors.js';
import { installOAuthRoutes } from './scim/oauth.js';
import { pruneAccessTokens } from './scim/credentials.js';
import { pruneActivity } from './scim/activity.js';

export interface AppOptions {
  config: Config;
  db: Db;
  /** Pino logger options; `false` silences it (tests). */
  logger?: boolean | object;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/**
 * A path the router cannot decode (`%ED%A0%80`, a lone surrogate; a cut UTF-8 sequence) gets the
 * same 400 as any other invalid input, in the format of the protocol it was meant for.
 */
function frameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = err.statusCode ?? 400;
  const detail = err.code === 'FST_ERR_BAD_URL' ? 'The path is not percent-encoded UTF-8.' : err.message;
  if (/^\/t\/[^/?]+\/scim\/v2(?:[/?]|$)/.test(request.url)) {
    return reply.code(status).type(SCIM_CONTENT_TYPE).send(new ScimError(status, detail, status === 400 ? 'invalidValue' : undefined).body());
  }
  const code = status === 400 ? 'invalid_request' : status >= 500 ? 'internal_error' : err.code.toLowerCase().replace(/^fst_err_/, '');
  return sendProblem(reply, problem(status, code, detail));
}

/** The composition root: one Fastify app from a config and a database. The caller owns listen(). */
/** A URL for the log: query values that are credentials replaced by `…`. */
export function redactQuery(url: string): string {
  return url.replace(/([?&](?:code|state|SAMLResponse|SAMLRequest|Signature|id_token|logout_token|token)=)[^&]*/gi, '$1…');
}

export async function buildApp({ config, db, logger }: AppOptions): Promise<FastifyInstance> {
  // HSTS is keyed on PUBLIC_URL, not on the request: behind a TLS-terminating proxy Keydesk itself
  // sees plain HTTP. Never over an http PUBLIC_URL, where browsers ignore it anyway (RFC 6797 §8.1).
  const headers = {
    ...SECURITY_HEADERS,
    ...(config.publicUrl.startsWith('https:') && config.hstsMaxAge > 0 ? { 'strict-transport-security': `max-age=${config.hstsMaxAge}; includeSubDomains` } : {}),
  };
  const app = Fastify({
    logger:
      logger === false
        ? false
        : {
            level: config.logLevel,
            redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]'],
            // One-use credentials travel in some query strings (an OIDC callback's code and state,
            // a SAML message): the log keeps the path and the names, not the values.
            serializers: { req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactQuery(req.url), remoteAddress: req.ip }) },
            ...(typeof logger === 'object' ? logger : {}),
          },
    bodyLimit: 256 * 1024,
    trustProxy: process.env.KEYDESK_TRUST_PROXY === 'true',
    routerOptions: { ignoreTrailingSlash: true },
    // Answered before routing, so no onSend hook adds the headers.
    frameworkErrors: (err, request, reply) => frameworkError(err, request, (reply as FastifyReply).headers(headers)),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('auth', null);
  installValidation(app);
  // JSON only: a cross-site HTML form can send text/plain without a preflight, so it gets 415.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, utf8JsonParser(app, () => new AppError(400, 'invalid_request', 'The body is not UTF-8 text.')));
  installProblemHandler(app);
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(headers);
  });
  await app.register(fastifyCookie);
  app.addSchema(Problem);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Keydesk REST API', version: '1.0.0', description: 'IT service desk API. Authenticate with a session cookie (and X-CSRF-Token on writes) or a personal API token as a Bearer token.' },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          apiToken: { type: 'http', scheme: 'bearer', description: 'Personal API token (kdp_…)' },
          session: { type: 'apiKey', in: 'cookie', name: 'keydesk_session' },
        },
      },
      security: [{ apiToken: [] }, { session: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // The document describes the REST API only: not the web app's pages, the docs' own assets, or
    // the SCIM and SAML endpoints, which follow their own standards (docs/scim.md, the SSO page).
    transform: ({ schema, url }) => ({ schema: url.startsWith('/api/v1/') ? schema : { ...schema, hide: true }, url }),
  });

  const oidcBox = new SecretBox(config.secret, 'oidc');
  const deps = {
    config,
    db,
    totpBox: new SecretBox(config.secret, 'totp'),
    oidcBox,
    webhookBox: new SecretBox(config.secret, 'webhook'),
    governance: governance({ config, oidcBox }),
    txtLookup: dnsTxtLookup(config.dnsServers),
  };
  await app.register(apiV1, { prefix: '/api/v1', deps });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  installObservability(app, db);
  await installSamlRoutes(app, db, config);
  await installOidcRoutes(app, db, config, deps.oidcBox);
  await installScimRoutes(app, db, config);
  await installOAuthRoutes(app, db, config);
  await installWeb(app, db, config.webDir);

  // Housekeeping: expired rate-limit windows and lockouts, long-dead sessions and access tokens, old SCIM activity and sign-in traces. Cheap, idempotent, any node.
  const timer = setInterval(() => {
    void Promise.all([pruneCounters(db), pruneLockouts(db), pruneSessions(db), pruneSamlState(db), pruneOidcState(db), pruneJobs(db), pruneAccessTokens(db), pruneActivity(db), pruneTraces(db, config.traceRetentionDays), pruneAudit(db), ensureAuditSealing(db)]).catch((err) => app.log.warn({ err }, 'housekeeping failed'));
  }, 10 * 60_000);
  timer.unref();
  // Identity-provider upkeep: certificate and client-secret expiry notices, daily metadata refresh.
  const upkeep = setInterval(() => {
    void Promise.all([noticeExpiringCertificates(db), noticeExpiringSecrets(db), refreshMetadata(db)]).catch((err) => app.log.warn({ err }, 'SSO upkeep failed'));
  }, 60 * 60_000);
  upkeep.unref();
  // Effects of changes (webhook calls, workflow tickets) run from the job queue on every node.
  const worker = startJobs({ config, db, log: app.log });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    clearInterval(upkeep);
    await worker?.stop();
    await flushRateLimits(db).catch((err: unknown) => app.log.warn({ err }, 'rate-limit counts not saved'));
    await flushActivity(db).catch((err: unknown) => app.log.warn({ err }, 'SCIM activity lines not saved'));
  });

  return app;
}
