import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from './helpers/app.js';

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
