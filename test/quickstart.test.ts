import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from './helpers/client.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// The quick start's first command ends in `keydesk serve --demo` on the embedded database.
test('serve --demo starts on the embedded database with a demo tenant, prints how to sign in, and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'keydesk-demo-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--demo'], {
    env: { ...process.env, PORT: String(port), KEYDESK_DATA_DIR: dir, DATABASE_URL: '', KEYDESK_SECRET: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner after 90 s:\n${out}`)), 90_000);
      child.stdout.on('data', () => out.includes('API reference') && (clearTimeout(timer), resolve()));
      void exited.then((code) => reject(new Error(`exited early (${code}):\n${out}`)));
    });
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
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `graceful exit code:\n${out}`);
});
