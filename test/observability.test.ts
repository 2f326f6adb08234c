import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from './helpers/app.js';
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

test('health, readiness and metrics answer', async () => {
  const c = t.client();
  assert.equal((await c.get('/healthz')).status, 200);
  assert.deepEqual((await c.get('/readyz')).body, { status: 'ready' });
  const m = await c.get('/metrics');
  assert.match(m.body, /keydesk_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
});

test('migrations are idempotent', async () => {
  const { migrate } = await import('../src/db/migrate.js');
  assert.deepEqual(await migrate(t.db), []);
});

test('the OpenAPI 3.1 document describes the API and the docs page serves it', async () => {
  const c = t.client();
  const doc = (await c.get('/api/v1/openapi.json')).body;
  assert.equal(doc.openapi, '3.1.0');
  for (const p of ['/api/v1/tickets', '/api/v1/tickets/{id}', '/api/v1/tickets/{id}/approvals', '/api/v1/users', '/api/v1/teams', '/api/v1/audit', '/api/v1/session']) {
    assert.ok(doc.paths[p], `documents ${p}`);
  }
  assert.ok(doc.components.schemas.Ticket || JSON.stringify(doc).includes('"ref"'));
  // Only the REST API: no web pages, docs assets, SCIM wildcards or SAML endpoints, and every
  // operation has a tag and a summary (no "default" group of undescribed routes).
  const stray = Object.keys(doc.paths).filter((p) => !p.startsWith('/api/v1/'));
  assert.deepEqual(stray, []);
  for (const [p, ops] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      assert.ok(op.tags?.length && op.summary, `${method.toUpperCase()} ${p} has a tag and a summary`);
    }
  }
  const page = await c.get('/docs');
  assert.equal(page.status, 200);
  assert.match(page.body, /swagger-ui/);
  assert.equal((await c.get('/docs/assets/swagger-ui-bundle.js')).status, 200);
});

test('responses carry security headers', async () => {
  const res = await t.client().get('/healthz');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.match(res.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
});

test('Strict-Transport-Security on every response when PUBLIC_URL is https, configurable, never over http', async () => {
  const hsts = async (env: Record<string, string>) => {
    const config = loadConfig({ PORT: '0', KEYDESK_SECRET: t.config.secret, KEYDESK_DATA_DIR: '/tmp/keydesk-test-unused', ...env });
    const app = await buildApp({ config, db: t.db, logger: false });
    try {
      // A page, an API problem, a path the router cannot decode, SCIM without a token.
      const urls = ['/healthz', '/api/v1/tickets', '/api/v1/tickets/%ED%A0%80', '/t/nobody/scim/v2/Users'];
      return await Promise.all(urls.map(async (url) => (await app.inject({ url })).headers['strict-transport-security']));
    } finally {
      await app.close();
    }
  };
  assert.deepEqual(await hsts({ PUBLIC_URL: 'https://desk.example.test' }), Array(4).fill('max-age=31536000; includeSubDomains'));
  assert.deepEqual(await hsts({ PUBLIC_URL: 'https://desk.example.test', KEYDESK_HSTS_MAX_AGE: '600' }), Array(4).fill('max-age=600; includeSubDomains'));
  assert.deepEqual(await hsts({ PUBLIC_URL: 'https://desk.example.test', KEYDESK_HSTS_MAX_AGE: '0' }), Array(4).fill(undefined));
  assert.deepEqual(await hsts({ PUBLIC_URL: 'http://desk.example.test' }), Array(4).fill(undefined));
  assert.equal((await t.client().get('/healthz')).headers.get('strict-transport-security'), null);
  assert.throws(() => loadConfig({ KEYDESK_SECRET: t.config.secret, KEYDESK_HSTS_MAX_AGE: '-1' }), ConfigError);
});

test('a tenant home with or without the trailing slash is served, not redirected in a loop', async () => {
  const tt = await t.tenant();
  for (const p of [`/t/${tt.tenant.slug}`, `/t/${tt.tenant.slug}/`]) {
    const res = await fetch(`${t.url}${p}`, { redirect: 'manual' });
    assert.ok(res.status === 200 || res.status === 503, `${p} → ${res.status} ${res.headers.get('location')}`);
  }
  assert.equal((await fetch(`${t.url}/t/no-such-tenant/`, { redirect: 'manual' })).status, 404);
});
