import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/db.js';
import { findTenantBySlug } from '../tenancy/tenants.js';

const require = createRequire(import.meta.url);

/**
 * Serves the React app: hashed assets under /assets, and index.html for every page of a tenant
 * (`/t/{slug}/…`) and for `/login`. Protocol endpoints under /t/{slug}/ (saml, scim, oidc, oauth)
 * are separate routes and take precedence.
 */
export async function installWeb(app: FastifyInstance, db: Db, webDir: string): Promise<void> {
  const indexFile = path.join(webDir, 'index.html');
  const index = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : null;
  if (index) {
    await app.register(fastifyStatic, { root: path.join(webDir, 'assets'), prefix: '/assets/', decorateReply: false, maxAge: '365d', immutable: true });
  }
  const sendIndex = (reply: import('fastify').FastifyReply) =>
    index
      ? reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(index)
      : reply.code(503).type('text/plain').send('The web app is not built. Run `npm run build`.');

  app.get('/', async (_request, reply) => reply.redirect('/login'));
  app.get('/login', async (_request, reply) => sendIndex(reply));
  // `/t/{tenant}` and `/t/{tenant}/` are one route (the router ignores trailing slashes), so the
  // tenant's home is served, never redirected to itself.
  const tenantPage = async (request: import('fastify').FastifyRequest<{ Params: { tenant: string } }>, reply: import('fastify').FastifyReply) => {
    const tenant = await findTenantBySlug(db, request.params.tenant);
    if (!tenant) return reply.code(404).type('text/html; charset=utf-8').send(notFoundPage(request.params.tenant));
    return sendIndex(reply);
  };
  app.get<{ Params: { tenant: string } }>('/t/:tenant', tenantPage);
  app.get<{ Params: { tenant: string } }>('/t/:tenant/*', tenantPage);

  // API reference: Swagger UI, served from the package on our own origin (nothing loads from outside).
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  await app.register(fastifyStatic, { root: swaggerDir, prefix: '/docs/assets/', decorateReply: false });
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_PAGE));
  app.get('/docs/init.js', async (_request, reply) =>
    reply.type('text/javascript').send(`SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#swagger', deepLinking: true });`),
  );
}

function notFoundPage(slug: string): string {
  const safe = slug.replace(/[^a-z0-9-]/gi, '');
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>Workspace not found · Keydesk</title>
<body style="font-family:system-ui;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1>Workspace not found</h1>
<p>There is no Keydesk workspace called <strong>${safe}</strong>. Check the address, or <a href="/login">find your workspace</a>.</p></body></html>`;
}

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keydesk API</title><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;
