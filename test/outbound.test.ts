/**
 * Calls to tenant-chosen URLs (webhooks) from the attacker's side: nothing reaches the operator's
 * own network unless the operator allows it, however the address is written, and redirects are
 * not followed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPublicAddress, OutboundRefused, postOutbound } from '../src/http/outbound.js';

let server: Server;
let port: number;
const seen: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/drip') {
      // Headers at once, then a byte now and then: each chunk would restart a body timeout.
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 300);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (req.url === '/redirect') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

test('only public unicast addresses count as public, however they are written', () => {
  for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '::127.0.0.1', '::7f00:1', '::a9fe:a9fe', '[::7f00:1]', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::', 'fd00::1', 'fe80::1', '100.64.0.1', '224.0.0.1', '[::1]', 'not-an-ip']) {
    assert.equal(isPublicAddress(a), false, a);
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(a), true, a);
});

test('a loopback endpoint is refused unless the operator allows private addresses, and nothing is sent', async () => {
  const before = seen.length;
  for (const url of [`http://127.0.0.1:${port}/hook`, `http://localhost:${port}/hook`, `http://2130706433:${port}/hook`, `http://0x7f.1:${port}/hook`, `http://[::ffff:127.0.0.1]:${port}/hook`]) {
    const err = await postOutbound(url, '{}', {}, { allowPrivate: false }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err, `${url} was called`);
    const refused = err instanceof OutboundRefused || (err as { cause?: { code?: string } }).cause?.code === 'EOUTBOUNDREFUSED' || (err as { code?: string }).code === 'EOUTBOUNDREFUSED';
    assert.ok(refused, `${url}: ${(err as Error).message}`);
  }
  assert.equal(seen.length, before, 'the server heard nothing');
  assert.equal((await postOutbound(`http://127.0.0.1:${port}/hook`, '{}', {}, { allowPrivate: true })).status, 200);
});

test('other schemes and credentials in the URL are refused; a redirect is the answer, never followed', async () => {
  for (const url of ['file:///etc/passwd', 'ftp://example.test/', `http://user:pass@127.0.0.1:${port}/`]) {
    await assert.rejects(postOutbound(url, '{}', {}, { allowPrivate: true }), OutboundRefused, url);
  }
  const before = seen.length;
  const res = await postOutbound(`http://127.0.0.1:${port}/redirect`, '{}', {}, { allowPrivate: true });
  assert.equal(res.status, 302);
  assert.equal(seen.length, before + 1, 'one request: the redirect was not followed');
});

test('a receiver that drips its answer is cut off at the call\'s deadline', async () => {
  // The status came at once, so it is the answer; the body is read only until the deadline.
  const started = Date.now();
  const res = await postOutbound(`http://127.0.0.1:${port}/drip`, '{}', {}, { allowPrivate: true, timeoutMs: 1000 });
  assert.equal(res.status, 200);
  const took = Date.now() - started;
  assert.ok(took >= 5_000 && took < 10_000, `the call ended after ${took} ms, not at its 6 s deadline`);
});
