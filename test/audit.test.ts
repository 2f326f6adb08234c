/**
 * The audit trail for auditors (issue 11): search and filters on the list, the export as CSV and
 * JSON Lines over REST and from the CLI (one formatter, streamed, itself audited), the retention
 * setting and its pruning (which keeps what a SIEM has not received yet).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { cliDatabase, keydeskExit } from './helpers/cli.js';
import type { Client } from './helpers/client.js';
import { audit } from '../src/audit/audit.js';
import { csvField, csvHeader, csvLine, jsonLine, parseInstant } from '../src/audit/export.js';
import { queryAudit, type AuditEntry } from '../src/audit/query.js';
import { pruneAudit } from '../src/audit/settings.js';
import type { Ctx, Tenant } from '../src/context.js';
import type { Db } from '../src/db/db.js';
import { createTenant } from '../src/tenancy/tenants.js';

let t: TestApp;

before(async () => {
  // The stream's jobs are not what this file is about.
  t = await startApp({ KEYDESK_WORKER: 'false' });
});
after(() => t.close());

const system = (tenant: Tenant, db: Db = t.db): Ctx => ({ db, tenant, actor: null, actorLabel: 'system', ip: '203.0.113.9' });

/** RFC 4180 reader, strict: quoted fields, doubled quotes, CRLF record ends only. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
      continue;
    }
    if (c === '"' && field === '' && !wasQuoted) {
      quoted = wasQuoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
      wasQuoted = false;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      wasQuoted = false;
      i++;
    } else if (c === '\n' || c === '\r' || c === '"') {
      throw new Error(`unquoted ${JSON.stringify(c)} at ${i}`);
    } else field += c;
  }
  assert.ok(!quoted && field === '' && row.length === 0, 'the last record ends with CRLF');
  return rows;
}

function isProblem(res: { status: number; headers: Headers; body: any }, status: number, code?: string) {
  assert.equal(res.status, status, JSON.stringify(res.body)?.slice(0, 300));
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  if (code) assert.equal(res.body.code, code);
}

describe('search and filters', () => {
  let tt: TestTenant;
  let admin: { id: string; client: Client };
  let kimId: string;

  before(async () => {
    tt = await t.tenant();
    admin = await t.user(tt.tenant, ['admin']);
    const kim = await t.user(tt.tenant, ['requester'], `kim@${tt.tenant.slug}.test`);
    kimId = kim.id;
    await t.db.query(`UPDATE users SET display_name = 'Kimberly Quartz' WHERE id = $1`, [kimId]);
    const ctx = system(tt.tenant);
    await audit(ctx, t.db, { action: 'signin.password', outcome: 'failure', reason: 'bad_password', actorLabel: 'eve@outside.test', actorId: null });
    await audit(ctx, t.db, { action: 'signin.password', outcome: 'failure', reason: 'locked', actorLabel: 'eve@outside.test', actorId: null });
    await audit(ctx, t.db, { action: 'signin.saml', outcome: 'failure', reason: 'bad_password_like', actorLabel: 'x@y.test', actorId: null });
    await audit(ctx, t.db, { action: 'user.roles_changed', targetType: 'user', targetId: kimId, details: { after: ['agent'] } });
    await audit(ctx, t.db, { action: 'user.updated', targetType: 'user', targetId: kimId });
    await audit(ctx, t.db, { action: 'team.created', targetType: 'team', targetId: kimId, details: { name: 'Not a person' } });
    await audit(ctx, t.db, { action: 'api_token.created', actorLabel: '100% sure_user' });
    await audit(ctx, t.db, { action: 'api_token.created', actorLabel: '1000 surely' });
  });

  const list = async (query: string) => {
    const res = await admin.client.get(`/api/v1/audit?${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items as AuditEntry[];
  };

  test('reason is exact; target type and id together find what happened to one person', async () => {
    const bad = await list('reason=bad_password');
    assert.deepEqual(bad.map((e) => [e.action, e.reason]), [['signin.password', 'bad_password']]);
    assert.deepEqual((await list('reason=locked&outcome=failure')).map((e) => e.reason), ['locked']);
    assert.deepEqual(await list('reason=bad'), []);
    const kim = await list(`targetType=user&targetId=${kimId}`);
    assert.deepEqual(kim.map((e) => e.action), ['user.updated', 'user.roles_changed', 'user.created']);
    assert.ok(kim.every((e) => e.targetLabel === `Kimberly Quartz <kim@${tt.tenant.slug}.test>`));
    assert.deepEqual((await list(`targetId=${kimId}`)).map((e) => e.action), ['team.created', 'user.updated', 'user.roles_changed', 'user.created']);
    assert.deepEqual((await list('targetType=team')).map((e) => e.action), ['team.created']);
  });

  test('free text finds the actor, the action, the target’s name and the reason, in any case', async () => {
    assert.deepEqual((await list('q=EVE@OUTSIDE')).map((e) => e.reason), ['locked', 'bad_password']);
    assert.deepEqual((await list('q=roles_CHANGED')).map((e) => e.action), ['user.roles_changed']);
    // The target's name is looked up: the person's name as it is now.
    assert.deepEqual((await list('q=kimberly quartz')).map((e) => e.action), ['user.updated', 'user.roles_changed', 'user.created']);
    assert.deepEqual((await list('q=not a person')).map((e) => e.action), ['team.created']);
    assert.deepEqual((await list('q=password_like')).map((e) => e.action), ['signin.saml']);
    // LIKE's wildcards are literal text here.
    assert.deepEqual((await list(`q=${encodeURIComponent('100%')}`)).map((e) => e.actorLabel), ['100% sure_user']);
    assert.deepEqual((await list(`q=${encodeURIComponent('e_u')}`)).map((e) => e.actorLabel), ['100% sure_user']);
    assert.deepEqual(await list(`q=${encodeURIComponent('%')}&action=signin`), []);
    // Filters combine.
    assert.deepEqual((await list('q=eve&reason=locked')).map((e) => e.reason), ['locked']);
    assert.deepEqual(await list('q=eve&outcome=success'), []);
  });

  test('bad filters are 400 problem documents; only admins read the log', async () => {
    for (const query of [
      'q=',
      `q=${'x'.repeat(201)}`,
      'q=%20%20',
      'q=a%07b',
      'reason=',
      'reason=a%0Ab',
      `reason=${'r'.repeat(201)}`,
      'targetType=User',
      'targetType=user%20x',
      'targetId=',
      'since=yesterday',
      'until=2020-02-30T00:00:00Z',
      'colour=blue',
    ]) {
      isProblem(await admin.client.get(`/api/v1/audit?${query}`), 400, 'invalid_request');
    }
    const agent = await t.user(tt.tenant, ['agent']);
    isProblem(await agent.client.get('/api/v1/audit?q=eve'), 403);
    isProblem(await t.client().get('/api/v1/audit?q=eve'), 401);
  });
});

describe('export', () => {
  let tt: TestTenant;
  let admin: { id: string; client: Client };
  const HOSTILE = ['=HYPERLINK("http://evil.test","x")', '+1+2', '-2+3', '@SUM(A1)', '\tTAB', '\rCR', 'comma, "quoted"\nline'];

  let token: string;
  /** GET as the admin's API token, the body as text (JSON Lines is not one JSON document). */
  const download = async (query: string, bearer = token) => {
    const res = await fetch(`${t.url}/api/v1/audit/export?${query}`, { headers: { authorization: `Bearer ${bearer}` } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: /problem\+json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text };
  };

  before(async () => {
    tt = await t.tenant();
    admin = await t.user(tt.tenant, ['admin']);
    token = (await admin.client.post('/api/v1/me/tokens', { name: 'export' })).body.secret;
    const ctx = system(tt.tenant);
    for (const label of HOSTILE) await audit(ctx, t.db, { action: 'signin.password', outcome: 'failure', reason: 'bad_password', actorLabel: label, actorId: null, details: { note: label } });
    await audit(ctx, t.db, { action: 'user.created', targetType: 'user', targetId: admin.id, details: { email: 'ünïcødé@example.test' } });
  });

  /** The list API's entries for a query, oldest first. */
  const listed = async (query = '') => {
    const out: AuditEntry[] = [];
    let cursor = '';
    for (;;) {
      const res = await admin.client.get(`/api/v1/audit?limit=200${query}${cursor ? `&cursor=${cursor}` : ''}`);
      out.push(...res.body.items);
      if (!res.body.nextCursor) return out.reverse();
      cursor = res.body.nextCursor;
    }
  };

  test('CSV: RFC 4180 with a header, CRLF, quoting, formula cells defused; the same events as the list', async () => {
    const before = await listed();
    const res = await download('format=csv');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    const day = new Date().toISOString().slice(0, 10);
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="audit-${tt.tenant.slug}-${day}.csv"`);
    const text = res.text;
    assert.ok(text.startsWith('id,occurredAt,actorId,actorLabel,action,outcome,reason,targetType,targetId,targetLabel,ip,details,chainSeq,prevHash,hash\r\n'), text.slice(0, 200));
    const rows = parseCsv(text);
    const [header, ...records] = rows;
    assert.equal(header!.length, 15);
    assert.ok(records.every((r) => r.length === 15));
    assert.deepEqual(records.map((r) => Number(r[0])), before.map((e) => e.id), 'every event, oldest first');
    for (const [i, e] of before.entries()) {
      const r = records[i]!;
      assert.equal(r[1], new Date(e.occurredAt).toISOString());
      assert.match(r[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(r[2], e.actorId ?? '');
      assert.equal(r[4], e.action);
      assert.equal(r[6], e.reason ?? '');
      assert.equal(r[9], e.targetLabel ?? '');
      assert.equal(r[10], e.ip ?? '');
      assert.deepEqual(JSON.parse(r[11]!), e.details);
    }
    // Every cell a spreadsheet would run as a formula starts with ', and nothing else changed.
    const labels = records.filter((r) => r[4] === 'signin.password').map((r) => r[3]);
    assert.deepEqual(labels, ["'=HYPERLINK(\"http://evil.test\",\"x\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tTAB", "'\rCR", 'comma, "quoted"\nline']);
    assert.ok(text.includes('ünïcødé@example.test'));
  });

  test('the formatter on its own: quoting, the OWASP characters, nulls', () => {
    assert.equal(csvField(null), '');
    assert.equal(csvField(42), '42');
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('a;=HYPERLINK("x")'), '"a;=HYPERLINK(""x"")"', 'a semicolon is quoted: European Excel splits on it');
    assert.equal(csvField('=1+1'), "'=1+1");
    assert.equal(csvField('-1'), "'-1");
    assert.equal(csvField('\r=x'), `"'\r=x"`);
    assert.equal(csvField(' =x'), ' =x', 'only the first character counts');
    assert.equal(csvHeader(), 'id,occurredAt,actorId,actorLabel,action,outcome,reason,targetType,targetId,targetLabel,ip,details,chainSeq,prevHash,hash\r\n');
  });

  test('JSON Lines: one list-API object per line, filters applied, newest events after the export not included', async () => {
    const expected = (await listed('&outcome=failure')).map((e) => ({ ...e, occurredAt: new Date(e.occurredAt).toISOString() }));
    const res = await download('format=jsonl&outcome=failure');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="audit-[a-z0-9]+-\d{4}-\d\d-\d\d\.jsonl"$/);
    const text = res.text;
    assert.ok(text.endsWith('\n'));
    const lines = text.split('\n').slice(0, -1);
    assert.equal(lines.length, HOSTILE.length);
    assert.deepEqual(lines.map((l) => JSON.parse(l)), expected);
    const none = await download(`format=jsonl&since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`);
    assert.equal(none.status, 200);
    assert.equal(none.text, '');
  });

  test('the export is audited with its format and filters, and does not contain itself', async () => {
    const res = await download('format=csv&action=signin&q=quoted');
    assert.equal(parseCsv(res.text).length, 2, 'the header and one event');
    const [event] = (await admin.client.get('/api/v1/audit?action=audit.exported&limit=1')).body.items;
    assert.equal(event.actorId, admin.id);
    assert.equal(event.outcome, 'success');
    assert.deepEqual(event.details.filters, { action: 'signin', q: 'quoted' });
    assert.equal(event.details.format, 'csv');
    const all = parseCsv((await download('format=csv')).text);
    const ids = all.slice(1).map((r) => Number(r[0]));
    assert.ok(ids.includes(event.id), 'the earlier export is in a later one');
    const newest = (await admin.client.get('/api/v1/audit?limit=1')).body.items[0];
    assert.equal(newest.action, 'audit.exported');
    assert.ok(!ids.includes(newest.id), 'an export does not contain its own record');
  });

  test('a long log streams in pages, oldest first, none missed or repeated', async () => {
    const big = await t.tenant();
    const bigAdmin = await t.user(big.tenant, ['admin']);
    const bigToken = (await bigAdmin.client.post('/api/v1/me/tokens', { name: 'export' })).body.secret;
    await t.db.query(
      `INSERT INTO audit_events (tenant_id, actor_label, action, outcome, details) SELECT $1, 'bulk', 'bulk.event', 'success', jsonb_build_object('n', g) FROM generate_series(1, 1234) g`,
      [big.tenant.id],
    );
    const res = await download('format=jsonl&action=bulk.event', bigToken);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), null, 'streamed, not sent as one block');
    const events = res.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.details.n), Array.from({ length: 1234 }, (_, i) => i + 1));
    assert.ok(events.every((e, i) => i === 0 || e.id > events[i - 1].id));
  });

  test('bad requests are 400 problem documents and export nothing; only admins export', async () => {
    const count = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'audit.exported'`, [tt.tenant.id]))[0]!.n;
    const before = await count();
    for (const query of ['', 'format=xml', 'format=CSV', 'format=csv&since=2024-13-01T00:00:00Z', 'format=csv&since=0000-01-01T00:00:00Z', 'format=jsonl&q=', 'format=csv&targetType=Bad', 'format=csv&extra=1']) {
      isProblem(await download(query), 400, 'invalid_request');
    }
    const agent = await t.user(tt.tenant, ['agent', 'change_manager']);
    isProblem(await agent.client.get('/api/v1/audit/export?format=csv'), 403);
    isProblem(await t.client().get('/api/v1/audit/export?format=csv'), 401);
    assert.equal(await count(), before);
  });
});

describe('keydesk audit export', () => {
  const run = (args: string[], env: Record<string, string>) => keydeskExit(['audit', 'export', ...args], env);

  test('prints the REST export’s format on standard output, filtered by --since, audited as the cli; usage errors exit 2', async () => {
    const secret = 'cli-secret-cli-secret-cli-secret-0123456';
    const cdb = await cliDatabase();
    const env = { ...cdb.env, KEYDESK_SECRET: secret };
    let db = await cdb.open();
    try {
      const { tenant } = await createTenant(db, { slug: 'clicorp', name: 'CLI Corp', adminEmail: 'it@clicorp.test', adminPassword: 'a-long-password-1' });
      await audit(system(tenant, db), db, { action: 'signin.password', outcome: 'failure', reason: 'bad_password', actorLabel: '=cmd|" /C calc"!A0', actorId: null });
      await db.query(`UPDATE audit_events SET occurred_at = '2020-01-01T00:00:00Z' WHERE tenant_id = $1 AND action = 'tenant.created'`, [tenant.id]);
      await cdb.release(db);

      const csv = await run(['clicorp', '--format', 'csv'], env);
      assert.equal(csv.code, 0, csv.stderr);
      const jsonl = await run(['clicorp', '--format', 'jsonl', '--since', '2021-01-01'], env);
      assert.equal(jsonl.code, 0, jsonl.stderr);

      db = await cdb.open();
      const ctx = system(tenant, db);
      const exports = await queryAudit(ctx, { action: 'audit.exported', order: 'asc', limit: 10 });
      assert.equal(exports.length, 2);
      assert.deepEqual(exports.map((e) => [e.actorLabel, e.actorId, e.details.format]), [['cli', null, 'csv'], ['cli', null, 'jsonl']]);
      assert.deepEqual(exports[1]!.details.filters, { since: '2021-01-01T00:00:00.000Z' });
      const upTo = exports[0]!.details.upToId as number;
      const rows = await queryAudit(ctx, { order: 'asc', limit: 1000, upTo });
      assert.ok(rows.length >= 2);
      assert.equal(csv.stdout, csvHeader() + rows.map(csvLine).join(''), 'the same bytes as the shared formatter gives');
      assert.ok(csv.stdout.includes(`'=cmd|"" /C calc""!A0`));
      const recent = await queryAudit(ctx, { order: 'asc', limit: 1000, upTo: exports[1]!.details.upToId as number, since: '2021-01-01T00:00:00.000Z' });
      assert.ok(!recent.some((e) => e.action === 'tenant.created'), 'the back-dated event is before --since');
      assert.equal(jsonl.stdout, recent.map(jsonLine).join(''));
      await cdb.release(db);

      for (const [args, message] of [
        [['clicorp', '--format', 'xml'], /--format is csv or jsonl/],
        [['clicorp'], /needs --format/],
        [['clicorp', '--format', 'csv', '--since', '2024-02-30'], /--since must be a date/],
        [['clicorp', '--format', 'csv', '--until', 'tomorrow'], /--until must be a date/],
        [['--format', 'csv'], /needs <tenant>/],
        [['nosuch', '--format', 'csv'], /No tenant "nosuch"/],
      ] as const) {
        const r = await run([...args], env);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '');
      }
    } finally {
      await cdb.drop();
    }
  });

  test('dates: RFC 3339 date-times and plain dates, in UTC; impossible ones refused', () => {
    assert.equal(parseInstant('2024-05-01T10:00:00+02:00'), '2024-05-01T08:00:00.000Z');
    assert.equal(parseInstant('2024-05-01', { dateOnly: true }), '2024-05-01T00:00:00.000Z');
    assert.equal(parseInstant('2024-05-01'), null);
    assert.equal(parseInstant('2024-02-29T00:00:00Z'), '2024-02-29T00:00:00.000Z');
    assert.equal(parseInstant('2016-12-31T23:59:60Z'), '2016-12-31T23:59:59.000Z');
    for (const bad of ['2023-02-29T00:00:00Z', '2024-04-31', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00', '0000-01-01T00:00:00Z', 'yesterday', '2024-01-01T00:00:00+24:00']) {
      assert.equal(parseInstant(bad, { dateOnly: true }), null, bad);
    }
  });
});

describe('retention', () => {
  test('a setting from 30 days or forever, audited; pruning keeps what is younger and what the SIEM has not had', async () => {
    const tt = await t.tenant();
    const admin = await t.user(tt.tenant, ['admin']);
    const settings = await admin.client.get('/api/v1/audit/settings');
    assert.equal(settings.status, 200);
    assert.equal(settings.body.retentionDays, null, 'kept forever unless set');
    for (const bad of [29, 0, -1, 36501, 30.5, '30']) {
      isProblem(await admin.client.patch('/api/v1/audit/settings', { retentionDays: bad }), 400, 'invalid_request');
    }
    assert.equal((await admin.client.get('/api/v1/audit/settings')).body.retentionDays, null);
    const set = await admin.client.patch('/api/v1/audit/settings', { retentionDays: 90 });
    assert.equal(set.status, 200);
    assert.equal(set.body.retentionDays, 90);
    const [changed] = (await admin.client.get('/api/v1/audit?action=audit.retention_changed')).body.items;
    assert.deepEqual([changed.details.before, changed.details.after, changed.actorId], [null, 90, admin.id]);
    // The same value again changes nothing and records nothing.
    await admin.client.patch('/api/v1/audit/settings', { retentionDays: 90 });
    assert.equal((await admin.client.get('/api/v1/audit?action=audit.retention_changed')).body.items.length, 1);
    const agent = await t.user(tt.tenant, ['agent']);
    isProblem(await agent.client.patch('/api/v1/audit/settings', { retentionDays: 30 }), 403);

    const ctx = system(tt.tenant);
    const ages = [400, 200, 100, 91, 89, 10];
    for (const days of ages) await audit(ctx, t.db, { action: 'test.aged', details: { days } });
    await t.db.query(`UPDATE audit_events SET occurred_at = now() - make_interval(days => (details->>'days')::int) WHERE tenant_id = $1 AND action = 'test.aged'`, [tt.tenant.id]);
    const other = await t.tenant();
    await audit(system(other.tenant), t.db, { action: 'test.aged', details: { days: 400 } });
    await t.db.query(`UPDATE audit_events SET occurred_at = now() - interval '400 days' WHERE tenant_id = $1`, [other.tenant.id]);

    const left = async (tenantId = tt.tenant.id) =>
      (await t.db.query<{ days: number }>(`SELECT (details->>'days')::int AS days FROM audit_events WHERE tenant_id = $1 AND action = 'test.aged' ORDER BY id`, [tenantId])).map((r) => r.days);

    // A SIEM that has received events only up to the 200-day-old one: the older are prunable, the rest wait for it.
    const [held] = await t.db.query<{ id: number }>(`SELECT id FROM audit_events WHERE tenant_id = $1 AND action = 'test.aged' AND details->>'days' = '200'`, [tt.tenant.id]);
    await t.db.query(`UPDATE audit_settings SET syslog_enabled = true, syslog_host = 'siem.example.test', syslog_cursor = $2 WHERE tenant_id = $1`, [tt.tenant.id, held!.id]);
    assert.ok((await pruneAudit(t.db)) >= 2);
    assert.deepEqual(await left(), [100, 91, 89, 10]);
    assert.deepEqual(await left(other.tenant.id), [400], 'a tenant without retention keeps everything');

    // Streaming off: retention alone decides.
    await t.db.query(`UPDATE audit_settings SET syslog_enabled = false WHERE tenant_id = $1`, [tt.tenant.id]);
    await pruneAudit(t.db, { batch: 1 });
    assert.deepEqual(await left(), [89, 10]);
    const pruned = (await admin.client.get('/api/v1/audit?action=audit.pruned')).body.items;
    assert.equal(pruned.length, 2);
    assert.deepEqual(pruned.map((e: AuditEntry) => [e.actorLabel, e.details.deleted, e.details.retentionDays]), [['system', 2, 90], ['system', 2, 90]]);
    assert.equal(await pruneAudit(t.db), 0, 'nothing left to prune');

    await admin.client.patch('/api/v1/audit/settings', { retentionDays: null });
    assert.equal((await admin.client.get('/api/v1/audit/settings')).body.retentionDays, null);
  });
});
