import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from './helpers/client.js';
import { freePort, startKeydeskProcess } from './helpers/process.js';

// The quick start's first command ends in `keydesk serve --demo` on the embedded database.
test('serve --demo starts on the embedded database with a demo tenant, prints how to sign in, and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'keydesk-demo-'));
  // No LOG_LEVEL, as after `npm start`.
  const server = await startKeydeskProcess(['serve', '--demo'], { PORT: String(port), KEYDESK_DATA_DIR: dir, DATABASE_URL: '', KEYDESK_SECRET: '', LOG_LEVEL: '' });
  const out = server.output();
  let stopped = false;
  try {
    assert.match(out, new RegExp(`Demo workspace: http://localhost:${port}/t/demo/`));
    const password = /password (\S+)/.exec(out)?.[1];
    assert.ok(password, out);
    const c = new Client(`http://127.0.0.1:${port}`);
    const signin = await c.signIn('demo', 'alex.agent@demo.example', password!);
    assert.equal(signin.status, 200);
    assert.equal(signin.body.passwordChangeRequired, false);
    const tickets = await c.get('/api/v1/tickets?limit=100');
    const types = new Set(tickets.body.items.map((x: any) => x.type));
    assert.ok(tickets.body.items.length >= 25, 'a few dozen sample tickets');
    assert.deepEqual([...types].sort(), ['change', 'incident', 'request']);
    const admins = await c.get('/api/v1/users?role=change_manager');
    assert.equal(admins.body.items.length, 1);
    // Requests were made, and nothing was logged for them: the banner stays the last thing on screen.
    assert.doesNotMatch(server.output(), /incoming request|request completed/);
    assert.match(server.output().trimEnd(), /start with LOG_LEVEL=info to see them\.$/);
    stopped = true;
    assert.equal(await server.stop(), 0, `graceful exit code:\n${server.output()}`);
  } finally {
    if (!stopped) await server.stop();
  }
});
