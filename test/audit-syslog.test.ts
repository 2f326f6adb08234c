/**
 * Audit events to a SIEM over syslog (issue 11), against a real TLS collector started here: RFC 5424
 * messages with octet-counting framing (RFC 5425), the certificate verified, every event delivered in
 * order through the job queue, none lost when the collector is down for a while, and connection
 * problems explained in plain words.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { audit } from '../src/audit/audit.js';
import { entryObject } from '../src/audit/export.js';
import { auditJobs, SYSLOG_JOB } from '../src/audit/jobs.js';
import type { AuditEntry } from '../src/audit/query.js';
import { normaliseHost } from '../src/audit/settings.js';
import { connectSyslog, frame, MAX_MESSAGE_OCTETS, SD_ID, SyslogError, syslogMessage } from '../src/audit/syslog.js';
import type { Ctx } from '../src/context.js';
import { startWorker } from '../src/jobs/queue.js';

/* ---------- a test PKI: a trusted CA, another CA, a server certificate from each ---------- */

interface Pki {
  caPem: string;
  otherCaPem: string;
  server: { key: string; cert: string };
  untrusted: { key: string; cert: string };
}

function makePki(): Pki {
  const dir = mkdtempSync(path.join(tmpdir(), 'keydesk-siem-pki-'));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  try {
    const ca = (name: string, cn: string) =>
      ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`),
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
    const leaf = (name: string, caName: string) => {
      ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
      ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${caName}.crt`), '-CAkey', f(`${caName}.key`), '-CAcreateserial', '-days', '30', '-sha256', '-extfile', f('ext.cnf'), '-out', f(`${name}.crt`));
      return { key: readFileSync(f(`${name}.key`), 'utf8'), cert: readFileSync(f(`${name}.crt`), 'utf8') };
    };
    ca('ca', 'Keydesk Test SIEM CA');
    ca('other', 'Somebody Else CA');
    return { caPem: readFileSync(f('ca.crt'), 'utf8'), otherCaPem: readFileSync(f('other.crt'), 'utf8'), server: leaf('server', 'ca'), untrusted: leaf('untrusted', 'other') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/* ---------- a syslog collector: TLS, octet-counted frames (RFC 5425 §4.3) ---------- */

class Collector {
  frames: Buffer[] = [];
  errors: string[] = [];
  connections = 0;
  port = 0;
  private server: tls.Server | null = null;
  private sockets = new Set<Socket>();
  constructor(private readonly creds: { key: string; cert: string }) {}

  async listen(port = this.port): Promise<void> {
    this.server = tls.createServer({ ...this.creds, minVersion: 'TLSv1.2' }, (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          const sp = buf.indexOf(0x20);
          if (sp < 0) break;
          const len = buf.subarray(0, sp).toString('latin1');
          if (!/^[1-9][0-9]{0,5}$/.test(len)) {
            this.errors.push(`bad frame length ${JSON.stringify(len)}`);
            socket.destroy();
            return;
          }
          if (buf.length < sp + 1 + Number(len)) break;
          this.frames.push(buf.subarray(sp + 1, sp + 1 + Number(len)));
          buf = buf.subarray(sp + 1 + Number(len));
        }
      });
    });
    this.server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  messages(): Parsed[] {
    return this.frames.map(parseMessage);
  }
}

interface Parsed {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sdId: string;
  sd: Record<string, string>;
  bom: boolean;
  json: any;
}

/** An RFC 5424 SYSLOG-MSG read back strictly: header, one SD element with escaped values, BOM and JSON. */
function parseMessage(buf: Buffer): Parsed {
  const text = buf.toString('utf8');
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) \[/.exec(text);
  assert.ok(m, `not an RFC 5424 header: ${text.slice(0, 120)}`);
  let i = m[0].length;
  let sdId = '';
  while (text[i] !== ' ' && text[i] !== ']') sdId += text[i++];
  const sd: Record<string, string> = {};
  while (text[i] === ' ') {
    i++;
    let name = '';
    while (text[i] !== '=') name += text[i++];
    assert.equal(text[i + 1], '"');
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i++];
      assert.ok(c !== undefined, 'unterminated PARAM-VALUE');
      if (c === '\\' && ['"', '\\', ']'].includes(text[i]!)) value += text[i++];
      else if (c === '"') break;
      else {
        assert.notEqual(c, ']', 'an unescaped ] inside a PARAM-VALUE');
        value += c;
      }
    }
    sd[name] = value;
  }
  assert.equal(text[i], ']');
  assert.equal(text[i + 1], ' ');
  const msg = buf.subarray(Buffer.byteLength(text.slice(0, i + 2), 'utf8'));
  const bom = msg[0] === 0xef && msg[1] === 0xbb && msg[2] === 0xbf;
  return { pri: Number(m[1]), version: m[2]!, timestamp: m[3]!, hostname: m[4]!, app: m[5]!, procid: m[6]!, msgid: m[7]!, sdId, sd, bom, json: JSON.parse(msg.subarray(bom ? 3 : 0).toString('utf8')) };
}

/* ---------- the app, a tenant, an admin ---------- */

let t: TestApp;
let pki: Pki;
let collector: Collector;

before(async () => {
  // The app's own worker is off: each test runs the stream's handler through a worker of its own.
  t = await startApp({ KEYDESK_WORKER: 'false' });
  pki = makePki();
  collector = new Collector(pki.server);
  await collector.listen();
});
after(async () => {
  await collector.close();
  await t.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function worker(opts: Parameters<typeof auditJobs>[1] = {}) {
  const handlers = auditJobs({ config: t.config, db: t.db, log: t.app.log }, { settleSeconds: 0, idlePollSeconds: 0.05, ...opts });
  return startWorker(t.db, handlers, { pollMs: 20 });
}

async function setup(): Promise<{ tt: TestTenant; admin: { id: string; email: string; client: Client }; ctx: Ctx }> {
  const tt = await t.tenant();
  const admin = await t.user(tt.tenant, ['admin']);
  return { tt, admin, ctx: { db: t.db, tenant: tt.tenant, actor: null, actorLabel: 'system' } };
}

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  id: 42,
  occurredAt: new Date('2024-05-01T08:09:10.123Z'),
  actorId: '0b3f6f5e-8a53-4c1b-9d6c-1f4f0f9f2a11',
  actorLabel: 'kim@acme.test',
  action: 'user.roles_changed',
  outcome: 'success',
  reason: null,
  targetType: 'user',
  targetId: '7d1e2f3a-0000-4000-8000-000000000001',
  targetLabel: 'Lee <lee@acme.test>',
  ip: '203.0.113.7',
  details: { before: ['requester'], after: ['agent'] },
  ...over,
});

describe('the message', () => {
  test('RFC 5424: PRI from facility 13 and the outcome, version 1, UTC time, keydesk, MSGID the action, SD with the essentials, BOM and the event as JSON', () => {
    const e = entry();
    const msg = syslogMessage(e, { tenant: 'acme', hostname: 'desk.acme.test' });
    const p = parseMessage(msg);
    assert.equal(p.pri, 13 * 8 + 5, 'log audit, notice');
    assert.equal(p.version, '1');
    assert.equal(p.timestamp, '2024-05-01T08:09:10.123Z');
    assert.equal(p.hostname, 'desk.acme.test');
    assert.equal(p.app, 'keydesk');
    assert.equal(p.procid, '-');
    assert.equal(p.msgid, 'user.roles_changed');
    assert.equal(p.sdId, SD_ID);
    assert.equal(SD_ID, 'keydesk@32473');
    assert.deepEqual(p.sd, {
      tenant: 'acme',
      eventId: '42',
      action: 'user.roles_changed',
      actor: 'kim@acme.test',
      actorId: e.actorId!,
      outcome: 'success',
      targetType: 'user',
      targetId: e.targetId!,
      targetLabel: 'Lee <lee@acme.test>',
      ip: '203.0.113.7',
    });
    assert.ok(p.bom, 'MSG starts with the UTF-8 BOM (RFC 5424 §6.4)');
    assert.deepEqual(p.json, { ...entryObject(e), tenant: 'acme' });
    // Octet counting: the length in bytes, a space, the message.
    const framed = frame(msg);
    assert.equal(framed.toString('latin1', 0, framed.indexOf(0x20)), String(msg.length));
    assert.deepEqual(framed.subarray(framed.indexOf(0x20) + 1), msg);
  });

  test('a failure is a warning; ", \\ and ] are escaped in SD values; non-ASCII stays UTF-8; long actions are cut in MSGID only', () => {
    const hostile = 'x"] [evil@1 a="b"] \\ ü';
    const e = entry({ outcome: 'failure', reason: 'bad]reason', actorLabel: hostile, action: 'a.very_long_action_name_that_goes_past_32', targetLabel: null, actorId: null });
    const msg = syslogMessage(e, { tenant: 'acme', hostname: 'desk.acme.test' });
    assert.ok(msg.toString('utf8').includes('actor="x\\"\\] [evil@1 a=\\"b\\"\\] \\\\ ü"'), msg.toString('utf8'));
    const p = parseMessage(msg);
    assert.equal(p.pri, 13 * 8 + 4, 'log audit, warning');
    assert.equal(p.sd.actor, hostile);
    assert.equal(p.sd.reason, 'bad]reason');
    assert.equal(p.sd.outcome, 'failure');
    assert.equal('targetLabel' in p.sd || 'actorId' in p.sd, false, 'unset values are left out');
    assert.equal(p.msgid, 'a.very_long_action_name_that_goe');
    assert.equal(p.sd.action, e.action);
    assert.equal(p.json.actorLabel, hostile);
  });

  test('an event too long for a collector loses its details, and says so', () => {
    const msg = syslogMessage(entry({ details: { blob: 'x'.repeat(20_000) } }), { tenant: 'acme', hostname: 'h' });
    assert.ok(msg.length <= MAX_MESSAGE_OCTETS);
    const p = parseMessage(msg);
    assert.deepEqual([p.json.details, p.json.detailsTruncated, p.json.id], [{}, true, 42]);
  });
});

describe('settings and the test message', () => {
  test('validated strictly, audited without the certificate text; only admins', async () => {
    const { admin, tt } = await setup();
    const patch = (body: unknown) => admin.client.patch('/api/v1/audit/settings', body);
    for (const body of [
      { syslog: { enabled: true } },
      { syslog: { host: 'siem example.test' } },
      { syslog: { host: '-bad-.test' } },
      { syslog: { host: 'siem.test', port: 0 } },
      { syslog: { host: 'siem.test', port: 70000 } },
      { syslog: { host: 'siem.test', caCertificate: 'not a certificate' } },
      { syslog: { host: 'siem.test', caCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' } },
      { syslog: { host: 'siem.test', servername: '10.0.0.1' } },
      { syslog: { host: 'siem.test', rejectUnauthorized: false } },
    ]) {
      const res = await patch(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'invalid_request');
    }
    const key = await patch({ syslog: { host: 'siem.test', caCertificate: pki.server.key } });
    assert.equal(key.status, 400, 'a private key is never taken');
    assert.equal((await admin.client.get('/api/v1/audit/settings')).body.syslog.host, null, 'nothing stored');

    const ok = await patch({ syslog: { host: 'SIEM.Example.Test.', caCertificate: `# our CA\n${pki.caPem}`, servername: 'Localhost' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.syslog.host, 'siem.example.test');
    assert.equal(ok.body.syslog.port, 6514, 'the syslog-over-TLS port unless told');
    assert.equal(ok.body.syslog.servername, 'localhost');
    assert.equal(ok.body.syslog.enabled, false);
    assert.equal(ok.body.syslog.caCertificate, pki.caPem.trim() + '\n', 'the certificate, without what was around it');
    assert.match(ok.body.syslog.caCertificates[0].subject, /Keydesk Test SIEM CA/);
    const [event] = (await admin.client.get('/api/v1/audit?action=audit.streaming_changed')).body.items;
    assert.equal(event.details.after.host, 'siem.example.test');
    assert.match(event.details.after.caCertificates[0], /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    assert.ok(!JSON.stringify(event.details).includes('BEGIN CERTIFICATE'));

    const agent = await t.user(tt.tenant, ['agent']);
    assert.equal((await agent.client.patch('/api/v1/audit/settings', { syslog: { enabled: false } })).status, 403);
    assert.equal((await agent.client.post('/api/v1/audit/settings/syslog/test')).status, 403);
    assert.equal((await agent.client.get('/api/v1/audit/settings')).status, 403);
  });

  test('Send test message: one message over verified TLS; failures in plain words, each audited', async () => {
    const { admin } = await setup();
    const sendTest = () => admin.client.post('/api/v1/audit/settings/syslog/test');
    const none = await sendTest();
    assert.equal(none.status, 409);
    assert.equal(none.body.code, 'not_configured');

    await admin.client.patch('/api/v1/audit/settings', { syslog: { host: '127.0.0.1', port: collector.port, caCertificate: pki.caPem } });
    const before = collector.frames.length;
    const ok = await sendTest();
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true, ok.body.message);
    assert.match(ok.body.message, /over TLSv1\.[23]/);
    await until('the test message', () => collector.frames.length > before);
    const msg = parseMessage(collector.frames[before]!);
    assert.equal(msg.msgid, 'audit.streaming_test');
    assert.equal(msg.sd.actor, admin.email);
    assert.equal(msg.json.details.test, true);

    const expectFailure = async (change: Record<string, unknown>, code: string, words: RegExp) => {
      await admin.client.patch('/api/v1/audit/settings', { syslog: change });
      const res = await sendTest();
      assert.equal(res.status, 200);
      assert.equal(res.body.ok, false, JSON.stringify(res.body));
      assert.equal(res.body.code, code, res.body.message);
      assert.match(res.body.message, words);
    };
    // The usual public roots do not include a private CA; nor does another CA.
    await expectFailure({ caCertificate: null }, 'untrusted_certificate', /not trusted/);
    await expectFailure({ caCertificate: pki.otherCaPem }, 'untrusted_certificate', /not trusted.*CA certificate given here/);
    await expectFailure({ caCertificate: pki.caPem, servername: 'siem.wrong.test' }, 'name_mismatch', /not for siem\.wrong\.test: it names DNS:localhost/);
    // A server whose certificate comes from another CA.
    const stranger = new Collector(pki.untrusted);
    await stranger.listen();
    try {
      await expectFailure({ servername: null, port: stranger.port }, 'untrusted_certificate', /not trusted/);
      assert.equal(stranger.frames.length, 0, 'nothing sent to a server that was not trusted');
    } finally {
      await stranger.close();
    }
    await expectFailure({ port: stranger.port }, 'connection_refused', /refused: nothing listens on that port/);
    // Not a TLS port: a plain-text service answers the handshake with text.
    const plain: TcpServer = createTcpServer((s) => s.end('220 plain text service\r\n'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      await expectFailure({ port: (plain.address() as { port: number }).port }, 'not_tls', /does not speak TLS/);
    } finally {
      plain.close();
    }
    const tested = (await admin.client.get('/api/v1/audit?action=audit.streaming_tested&limit=10')).body.items as AuditEntry[];
    assert.deepEqual(tested.map((e) => e.reason).reverse(), [null, 'untrusted_certificate', 'untrusted_certificate', 'name_mismatch', 'untrusted_certificate', 'connection_refused', 'not_tls']);
    assert.deepEqual(tested.map((e) => e.outcome).reverse(), ['success', ...Array(6).fill('failure')]);
  });

  test('the webhooks’ address rule: private and loopback collectors are refused unless the operator allows them', async () => {
    const heard = collector.connections;
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      await assert.rejects(
        connectSyslog({ host, port: collector.port, caPem: pki.caPem, servername: null }, { allowPrivate: false }),
        (err: unknown) => err instanceof SyslogError && err.code === 'address_refused' && /not a public address/.test(err.message),
        host,
      );
    }
    assert.equal(collector.connections, heard, 'no connection was made');
    for (const host of ['10.1.2.3', '169.254.169.254', '[fd00::1]']) {
      assert.throws(() => normaliseHost(host, 'syslog.host', false), /not a public address/);
    }
    assert.equal(normaliseHost('10.1.2.3', 'syslog.host', true), '10.1.2.3');
    const conn = await connectSyslog({ host: '127.0.0.1', port: collector.port, caPem: pki.caPem, servername: 'localhost' }, { allowPrivate: true });
    await conn.close();
  });
});

describe('streaming', () => {
  /** The events the collector received for a tenant, by event id, in arrival order. */
  const received = (slug: string) =>
    collector
      .messages()
      .filter((m) => m.sd.tenant === slug && m.sd.eventId)
      .map((m) => Number(m.sd.eventId));
  const eventIds = async (tenantId: string, after: number) =>
    (await t.db.query<{ id: number }>('SELECT id FROM audit_events WHERE tenant_id = $1 AND id > $2 ORDER BY id', [tenantId, after])).map((r) => r.id);
  const settings = async (admin: { client: Client }) => (await admin.client.get('/api/v1/audit/settings')).body.syslog;
  const pendingJobs = async (tenantId: string) =>
    (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1 AND kind = $2 AND status IN ('pending', 'running')`, [tenantId, SYSLOG_JOB]))[0]!.n;

  test('every event in order through the job queue; the collector down for a while loses nothing; a stranger’s certificate is refused', async () => {
    const { tt, admin, ctx } = await setup();
    const on = await admin.client.patch('/api/v1/audit/settings', { syslog: { enabled: true, host: '127.0.0.1', port: collector.port, caCertificate: pki.caPem } });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    const start = on.body.syslog.lastDeliveredId as number;
    assert.equal(typeof start, 'number');
    assert.equal(await pendingJobs(tt.tenant.id), 1, 'turning it on started one stream');

    const w = worker();
    try {
      for (let i = 0; i < 30; i++) await audit(ctx, t.db, { action: 'test.streamed', details: { i } });
      let expected = await eventIds(tt.tenant.id, start);
      await until('30 events at the collector', () => received(tt.tenant.slug).length >= expected.length);
      assert.deepEqual(received(tt.tenant.slug), expected, 'each event once, in order, the switch-on itself included');
      const first = collector.messages().find((m) => m.sd.tenant === tt.tenant.slug && m.msgid === 'test.streamed')!;
      assert.equal(first.hostname, '127.0.0.1', "the host of Keydesk's public URL");
      assert.deepEqual(first.json.details, { i: 0 });
      const s = await until('the cursor', async () => {
        const v = await settings(admin);
        return v.lastDeliveredId === expected[expected.length - 1] && v;
      });
      assert.equal(s.pending, 0);
      assert.ok(s.lastDeliveredAt);

      // The collector goes down: the stream records why and keeps trying.
      await collector.close();
      for (let i = 0; i < 20; i++) await audit(ctx, t.db, { action: 'test.while_down', details: { i } });
      const down = await until('the error', async () => {
        const v = await settings(admin);
        return v.lastError && v;
      });
      assert.match(down.lastError, /refused/);
      assert.ok(down.pending >= 20);
      // A step hands over to the next in its own transaction and is marked done just after: count once that settles.
      await until('one stream, waiting to try again', async () => (await pendingJobs(tt.tenant.id)) === 1);
      const [due] = await t.db.query<{ wait: number }>(`SELECT extract(epoch FROM run_at - now())::float AS wait FROM jobs WHERE tenant_id = $1 AND kind = $2 AND status = 'pending'`, [tt.tenant.id, SYSLOG_JOB]);
      assert.ok(due!.wait > 1, `backing off, due in ${due!.wait} s`);

      // Back up on the same port; the next try (brought forward here) delivers what waited, in order.
      await collector.listen();
      await t.db.query(`UPDATE jobs SET run_at = now() WHERE tenant_id = $1 AND kind = $2 AND status = 'pending'`, [tt.tenant.id, SYSLOG_JOB]);
      expected = await eventIds(tt.tenant.id, start);
      await until('the events held back', () => received(tt.tenant.slug).length >= expected.length);
      assert.deepEqual(received(tt.tenant.slug), expected, 'none lost, none out of order, none twice');
      assert.deepEqual(collector.errors, []);

      // A collector whose certificate the configured CA did not issue gets nothing.
      const stranger = new Collector(pki.untrusted);
      await stranger.listen();
      try {
        await admin.client.patch('/api/v1/audit/settings', { syslog: { port: stranger.port } });
        await audit(ctx, t.db, { action: 'test.for_stranger' });
        const refused = await until('the refusal', async () => {
          const v = await settings(admin);
          return v.lastError && /not trusted/.test(v.lastError) && v;
        });
        assert.ok(new Date(refused.lastErrorAt).getTime() > new Date(down.lastErrorAt).getTime());
        assert.equal(stranger.frames.length, 0);
      } finally {
        await stranger.close();
      }
      await admin.client.patch('/api/v1/audit/settings', { syslog: { port: collector.port } });
      expected = await eventIds(tt.tenant.id, start);
      await until('the event the stranger did not get', () => received(tt.tenant.slug).length >= expected.length);
      assert.deepEqual(received(tt.tenant.slug), expected);
    } finally {
      await w.stop();
    }
  });

  test('several workers: each event once; a run that died mid-batch leaves its lease, then the batch is sent again', async () => {
    const { tt, admin, ctx } = await setup();
    const on = await admin.client.patch('/api/v1/audit/settings', { syslog: { enabled: true, host: '127.0.0.1', port: collector.port, caCertificate: pki.caPem } });
    const start = on.body.syslog.lastDeliveredId as number;
    // Four writers commit in any order: a settle window of a second keeps a late commit from being passed.
    const workers = [1, 2, 3].map(() => worker({ batchSize: 7, settleSeconds: 1 }));
    try {
      await Promise.all(
        [0, 1, 2, 3].map(async (k) => {
          for (let i = 0; i < 15; i++) await t.db.transaction((tx) => audit(ctx, tx, { action: 'test.parallel', details: { k, i } }));
        }),
      );
      let expected = await eventIds(tt.tenant.id, start);
      await until('60 events', () => received(tt.tenant.slug).length >= expected.length);
      assert.deepEqual(received(tt.tenant.slug), expected);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }

    // A node killed while sending: it holds the stream's lease, and the cursor is where it started.
    const [{ cursor }] = (await t.db.query<{ cursor: number }>('SELECT syslog_cursor AS cursor FROM audit_settings WHERE tenant_id = $1', [tt.tenant.id])) as [{ cursor: number }];
    const resendFrom = (await eventIds(tt.tenant.id, start))[40]!;
    await t.db.query(`UPDATE audit_settings SET syslog_cursor = $2, syslog_lease_holder = 'dead-node#1', syslog_lease_until = now() + interval '3 seconds' WHERE tenant_id = $1`, [tt.tenant.id, resendFrom]);
    await audit(ctx, t.db, { action: 'test.after_crash' });
    const before = received(tt.tenant.slug).length;
    const w = worker();
    try {
      await sleep(500);
      assert.equal(received(tt.tenant.slug).length, before, 'nothing sent while the dead run’s lease lasts');
      const expected = await eventIds(tt.tenant.id, resendFrom);
      await until('the resent batch', () => received(tt.tenant.slug).length >= before + expected.length);
      assert.deepEqual(received(tt.tenant.slug).slice(before), expected, 'from the cursor on, in order: the unacknowledged part again');
      assert.ok(expected.some((id) => id <= cursor), 'some were sent before (at least once)');
    } finally {
      await w.stop();
    }
    assert.equal(await pendingJobs(tt.tenant.id), 1, 'still one stream');
  });

  test('an event is streamed only once settled: a younger one holds back the ones after it, so a late commit is not skipped', async () => {
    const { tt, admin, ctx } = await setup();
    const on = await admin.client.patch('/api/v1/audit/settings', { syslog: { enabled: true, host: '127.0.0.1', port: collector.port, caCertificate: pki.caPem } });
    const start = on.body.syslog.lastDeliveredId as number;
    // Id n is young; id n+1 began long ago (a transaction that took its id later): n+1 waits for n.
    await audit(ctx, t.db, { action: 'test.young' });
    await audit(ctx, t.db, { action: 'test.old_but_later' });
    await t.db.query(`UPDATE audit_events SET occurred_at = now() - interval '1 hour' WHERE tenant_id = $1 AND action = 'test.old_but_later'`, [tt.tenant.id]);
    await t.db.query(`UPDATE audit_events SET occurred_at = now() - interval '1 hour' WHERE tenant_id = $1 AND id <= (SELECT max(id) FROM audit_events WHERE tenant_id = $1 AND action = 'audit.streaming_changed')`, [tt.tenant.id]);
    const w = worker({ settleSeconds: 5 });
    try {
      const held = await eventIds(tt.tenant.id, start);
      const young = held[held.length - 2]!;
      await until('what came before', () => received(tt.tenant.slug).length >= held.length - 2);
      await sleep(300);
      assert.deepEqual(received(tt.tenant.slug), held.filter((id) => id < young), 'nothing from the young event on');
      await until('the rest, once settled', () => received(tt.tenant.slug).length >= held.length, 20_000);
      assert.deepEqual(received(tt.tenant.slug), held);
    } finally {
      await w.stop();
    }
  });

  test('turning it off ends the stream; on again, it resumes at its cursor', async () => {
    const { tt, admin, ctx } = await setup();
    const on = await admin.client.patch('/api/v1/audit/settings', { syslog: { enabled: true, host: '127.0.0.1', port: collector.port, caCertificate: pki.caPem } });
    const start = on.body.syslog.lastDeliveredId as number;
    const w = worker();
    try {
      await audit(ctx, t.db, { action: 'test.before_off' });
      let expected = await eventIds(tt.tenant.id, start);
      await until('the first events', () => received(tt.tenant.slug).length >= expected.length);
      const off = await admin.client.patch('/api/v1/audit/settings', { syslog: { enabled: false } });
      assert.equal(off.body.syslog.enabled, false);
      await until('the stream to end', async () => (await pendingJobs(tt.tenant.id)) === 0);
      await audit(ctx, t.db, { action: 'test.while_off' });
      await sleep(200);
      assert.ok(!received(tt.tenant.slug).includes((await eventIds(tt.tenant.id, start)).at(-1)!), 'nothing sent while off');

      const again = await admin.client.patch('/api/v1/audit/settings', { syslog: { enabled: true } });
      assert.equal(again.body.syslog.lastDeliveredId, expected[expected.length - 1], 'the cursor was kept');
      expected = await eventIds(tt.tenant.id, start);
      await until('what happened while off', () => received(tt.tenant.slug).length >= expected.length);
      assert.deepEqual(received(tt.tenant.slug), expected);
      await until('one stream job', async () => (await pendingJobs(tt.tenant.id)) === 1);
    } finally {
      await w.stop();
    }
  });
});
