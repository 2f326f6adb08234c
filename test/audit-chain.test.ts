/**
 * Tamper evidence for the audit trail (issue 11), from the attacker's side: someone who can write to
 * the database but does not hold KEYDESK_SECRET alters, removes or inserts events and checkpoints,
 * and `keydesk audit verify` / `GET /api/v1/audit/verify` name the first broken event. Also: the
 * sealer under concurrent writers, the sealing job's tick, retention, the exports' chain columns and
 * the offline recipe in docs/audit.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { cliDatabase, keydeskExit } from './helpers/cli.js';
import type { Client } from './helpers/client.js';
import { audit } from '../src/audit/audit.js';
import { canonicalEvent, CheckpointKey, eventHash, GENESIS_HASH, insertCheckpoint, sealTenant, type ChainRow, CHAIN_COLUMNS } from '../src/audit/chain.js';
import { SEAL_JOB, sealTick } from '../src/audit/jobs.js';
import { pruneAudit } from '../src/audit/settings.js';
import { verifyAuditChain, type ChainVerification } from '../src/audit/verify.js';
import type { Ctx, Tenant } from '../src/context.js';
import type { Db } from '../src/db/db.js';
import { createTenant } from '../src/tenancy/tenants.js';

let t: TestApp;
let key: CheckpointKey;

before(async () => {
  // No background worker: each test decides when events are sealed.
  t = await startApp({ KEYDESK_WORKER: 'false' });
  key = new CheckpointKey(t.config.secret);
});
after(() => t.close());

const root = path.resolve(import.meta.dirname, '..');
const system = (tenant: Tenant, db: Db = t.db): Ctx => ({ db, tenant, actor: null, actorLabel: 'system', ip: '203.0.113.9' });

/** A tenant with an admin and `n` events of its own, all sealed, the head signed. */
async function sealedTenant(n = 6): Promise<{ tt: TestTenant; admin: { id: string; client: Client }; ctx: Ctx }> {
  const tt = await t.tenant();
  const admin = await t.user(tt.tenant, ['admin']);
  const ctx = system(tt.tenant);
  for (let i = 0; i < n; i++) await audit(ctx, t.db, { action: 'test.chained', details: { i, nested: { z: 1, a: [1.5, 'é', null] } } });
  await sealTenant(t.db, tt.tenant.id, { checkpoint: { key, when: 'always' } });
  return { tt, admin, ctx };
}

const verify = (ctx: Ctx) => verifyAuditChain(ctx, key);
const rows = async (tenantId: string) => t.db.query<ChainRow>(`SELECT ${CHAIN_COLUMNS} FROM audit_events a WHERE a.tenant_id = $1 ORDER BY a.chain_seq, a.id`, [tenantId]);
const broken = (v: ChainVerification) => [v.ok, v.firstBroken?.reason, v.firstBroken?.id, v.firstBroken?.chainSeq];

/** `keydesk audit verify <args>` as its own process. */
const cli = (args: string[], env: Record<string, string>) => keydeskExit(['audit', 'verify', ...args], env);

describe('keydesk audit verify', () => {
  test('a whole chain: exit 0 and how many events it checked; one altered row: exit 1 naming it; usage errors exit 2', async () => {
    const secret = 'cli-secret-cli-secret-cli-secret-0123456';
    const cdb = await cliDatabase();
    const env = { ...cdb.env, KEYDESK_SECRET: secret };
    const { open, release } = cdb;
    try {
      let db = await open();
      const { tenant } = await createTenant(db, { slug: 'verifyco', name: 'Verify Co', adminEmail: 'it@verifyco.test', adminPassword: 'a-long-password-1' });
      for (let i = 0; i < 5; i++) await audit(system(tenant, db), db, { action: 'test.cli', details: { i } });
      const [{ n }] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1', [tenant.id])) as [{ n: number }];
      assert.ok(n >= 6);
      await release(db);

      // Freshly written events are sealed by verify itself, then checked.
      const whole = await cli(['verifyco'], env);
      assert.equal(whole.code, 0, whole.stderr + whole.stdout);
      assert.match(whole.stdout, new RegExp(`The audit chain of verifyco is whole: ${n} events checked \\(chain positions 1–${n}\\)`));
      assert.match(whole.stdout, /Checkpoint key \(Ed25519, key id [0-9a-f]{16}\):\n-----BEGIN PUBLIC KEY-----/);
      const json = await cli(['verifyco', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const v = JSON.parse(json.stdout) as ChainVerification;
      assert.deepEqual([v.ok, v.checked, v.unsealed, v.firstBroken, v.firstPosition, v.lastPosition], [true, n, 0, null, 1, n]);
      assert.equal(typeof v.sealedThrough, 'string');
      assert.equal(v.key.keyId, new CheckpointKey(secret).keyId, 'the key from KEYDESK_SECRET');
      assert.deepEqual([v.checkpoints, v.lastCheckpoint?.chainSeq], [1, n], 'the first verification signed the head, as the job would have');

      db = await open();
      const [victim] = await db.query<{ id: number; seq: number }>(`SELECT id, chain_seq AS seq FROM audit_events WHERE tenant_id = $1 AND action = 'test.cli' AND details->>'i' = '2'`, [tenant.id]);
      assert.ok(victim && victim.seq > 1);
      await db.query(`UPDATE audit_events SET details = '{"i": 2, "innocent": true}' WHERE tenant_id = $1 AND id = $2`, [tenant.id, victim.id]);
      await release(db);

      const bad = await cli(['verifyco'], env);
      assert.equal(bad.code, 1, bad.stderr + bad.stdout);
      assert.match(bad.stdout, /is BROKEN/);
      assert.ok(bad.stdout.includes(`Event ${victim.id} (chain position ${victim.seq}) was altered: its content no longer matches its hash.`), bad.stdout);
      const badJson = await cli(['verifyco', '--json'], env);
      assert.equal(badJson.code, 1);
      const b = JSON.parse(badJson.stdout) as ChainVerification;
      assert.deepEqual([b.ok, b.firstBroken?.id, b.firstBroken?.chainSeq, b.firstBroken?.reason, b.checked], [false, victim.id, victim.seq, 'altered', victim.seq - 1]);

      for (const [args, message] of [
        [[], /audit verify needs <tenant>/],
        [['nosuch'], /No tenant "nosuch"/],
        [['verifyco', 'extra'], /Unknown command/],
      ] as const) {
        const r = await cli([...args], env);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
    } finally {
      await cdb.drop();
    }
  });
});

describe('an attacker with the database but not the secret', () => {
  test('any stored column changed, or a hash: altered, naming the event; put back, whole again', async () => {
    const { tt, ctx } = await sealedTenant();
    assert.deepEqual(broken(await verify(ctx)), [true, undefined, undefined, undefined]);
    const [, , victim] = await rows(tt.tenant.id);
    const changes: [string, string][] = [
      ['details', `details = jsonb_set(details, '{i}', '42')`],
      // The same content rebuilt (jsonb keeps its own key order and number spelling): not a change.
      ['details rebuilt', `details = (SELECT jsonb_object_agg(k, v) FROM jsonb_each(details) AS e(k, v))`],
      ['actor_label', `actor_label = 'someone-else@example.test'`],
      ['actor_id', `actor_id = '00000000-0000-4000-8000-000000000000'`],
      ['action', `action = 'test.innocent'`],
      ['outcome', `outcome = 'failure'`],
      ['reason', `reason = 'made_up'`],
      ['target', `target_type = 'user', target_id = 'x'`],
      ['ip', `ip = '198.51.100.1'`],
      ['occurred_at', `occurred_at = occurred_at - interval '1 second'`],
      ['hash', `hash = repeat('a', 64)`],
      ['prev_hash', `prev_hash = repeat('b', 64)`],
    ];
    for (const [name, set] of changes) {
      const [before] = await t.db.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, victim!.id]);
      await t.db.query(`UPDATE audit_events SET ${set} WHERE tenant_id = $1 AND id = $2`, [tt.tenant.id, victim!.id]);
      const v = await verify(ctx);
      if (name === 'details rebuilt') assert.equal(v.ok, true, name);
      else {
        assert.deepEqual(broken(v), [false, 'altered', victim!.id, victim!.chainSeq], name);
        assert.equal(v.checked, victim!.chainSeq! - 1, name);
      }
      await t.db.query(
        `UPDATE audit_events SET details = $3, actor_label = $4, actor_id = $5, action = $6, outcome = $7, reason = $8, target_type = $9, target_id = $10, ip = $11, occurred_at = $12, hash = $13, prev_hash = $14
         WHERE tenant_id = $1 AND id = $2`,
        [tt.tenant.id, victim!.id, JSON.stringify(before!.details), before!.actor_label, before!.actor_id, before!.action, before!.outcome, before!.reason, before!.target_type, before!.target_id, before!.ip, before!.occurred_at, before!.hash, before!.prev_hash],
      );
      assert.equal((await verify(ctx)).ok, true, `${name}: put back`);
    }
  });

  test('a sealed row deleted: removed, naming its position; renumbered to hide the gap, or the first one: still removed', async () => {
    const gap = await sealedTenant();
    const chain = await rows(gap.tt.tenant.id);
    const victim = chain[3]!;
    await t.db.query('DELETE FROM audit_events WHERE tenant_id = $1 AND id = $2', [gap.tt.tenant.id, victim.id]);
    const v = await verify(gap.ctx);
    assert.deepEqual(broken(v), [false, 'removed', null, victim.chainSeq]);
    assert.match(v.firstBroken!.message, new RegExp(`The event at chain position ${victim.chainSeq} was removed: the chain goes from position ${victim.chainSeq! - 1} to ${victim.chainSeq! + 1} \\(event ${chain[4]!.id}\\)`));

    // The positions after it moved down one: the link from the event before is broken.
    await t.db.query('UPDATE audit_events SET chain_seq = chain_seq - 1 WHERE tenant_id = $1 AND chain_seq > $2', [gap.tt.tenant.id, victim.chainSeq]);
    await t.db.query('UPDATE audit_chain SET seq = seq - 1 WHERE tenant_id = $1', [gap.tt.tenant.id]);
    const renumbered = await verify(gap.ctx);
    assert.deepEqual(broken(renumbered), [false, 'removed', chain[4]!.id, victim.chainSeq]);
    assert.match(renumbered.firstBroken!.message, /does not follow the event before it/);

    const start = await sealedTenant();
    const [first] = await rows(start.tt.tenant.id);
    await t.db.query('DELETE FROM audit_events WHERE tenant_id = $1 AND id = $2', [start.tt.tenant.id, first!.id]);
    assert.deepEqual(broken(await verify(start.ctx)), [false, 'removed', null, 1]);

    // The newest events, which a checkpoint covers, deleted together with the chain head's record of them.
    const tail = await sealedTenant();
    const all = await rows(tail.tt.tenant.id);
    const cut = all[all.length - 3]!.chainSeq!;
    await t.db.query('DELETE FROM audit_events WHERE tenant_id = $1 AND chain_seq > $2', [tail.tt.tenant.id, cut]);
    await t.db.query('UPDATE audit_chain SET seq = $2, hash = $3 WHERE tenant_id = $1', [tail.tt.tenant.id, cut, all[all.length - 3]!.hash]);
    const v2 = await verify(tail.ctx);
    assert.deepEqual(broken(v2), [false, 'removed', null, cut + 1]);
    assert.match(v2.firstBroken!.message, /a checkpoint signed at .* covers position/);
  });

  test('a forged row: at a taken position, beyond the chain, or with no position among sealed events: inserted', async () => {
    const { tt, ctx } = await sealedTenant();
    const chain = await rows(tt.tenant.id);
    const insert = async (values: { seq: number | null; prev: string | null; hash: string | null; at?: string; id?: number }) => {
      const [row] = await t.db.query<{ id: number }>(
        `INSERT INTO audit_events (${values.id !== undefined ? 'id, ' : ''}tenant_id, occurred_at, actor_label, action, outcome, details, chain_seq, prev_hash, hash)
         ${values.id !== undefined ? 'OVERRIDING SYSTEM VALUE ' : ''}VALUES (${values.id !== undefined ? `${values.id}, ` : ''}$1, coalesce($2::timestamptz, now()), 'admin@forged.test', 'user.roles_changed', 'success', '{"after": ["admin"]}', $3, $4, $5)
         RETURNING id`,
        [tt.tenant.id, values.at ?? null, values.seq, values.prev, values.hash],
      );
      return row!.id;
    };
    // A second event at position 3, its hash made up.
    const dup = await insert({ seq: 3, prev: chain[1]!.hash, hash: 'f'.repeat(64), at: new Date(chain[2]!.occurredAt).toISOString() });
    assert.deepEqual(broken(await verify(ctx)), [false, 'inserted', dup, 3]);
    await t.db.query('DELETE FROM audit_events WHERE id = $1', [dup]);

    // One beyond the end, its hash computed correctly: anyone can compute SHA-256, but Keydesk did not seal it.
    const last = chain[chain.length - 1]!;
    const [{ id: nextId }] = (await t.db.query<{ id: number }>("SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))::bigint AS id")) as [{ id: number }];
    const forged = { ...last, id: nextId, action: 'user.roles_changed', chainSeq: last.chainSeq! + 1 };
    const forgedHash = eventHash(last.hash!, forged)!;
    await t.db.query(
      `INSERT INTO audit_events (id, tenant_id, occurred_at, actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details, chain_seq, prev_hash, hash)
       OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [nextId, tt.tenant.id, forged.occurredAt, forged.actorId, forged.actorLabel, forged.action, forged.outcome, forged.reason, forged.targetType, forged.targetId, forged.ip, JSON.stringify(forged.details), forged.chainSeq, last.hash, forgedHash],
    );
    const beyond = await verify(ctx);
    assert.deepEqual(broken(beyond), [false, 'inserted', nextId, last.chainSeq! + 1]);
    assert.match(beyond.firstBroken!.message, /beyond the last position Keydesk sealed/);
    await t.db.query('DELETE FROM audit_events WHERE id = $1', [nextId]);

    // No position, dated among sealed events, with an id below the frontier: never sealed, reported.
    const stray = await insert({ id: 0, seq: null, prev: null, hash: null, at: new Date(Date.now() - 3600_000).toISOString() });
    const v = await verify(ctx);
    assert.deepEqual(broken(v), [false, 'inserted', stray, null]);
    assert.match(v.firstBroken!.message, /is not in the chain although it is dated/);
    assert.equal((await t.db.query('SELECT chain_seq FROM audit_events WHERE tenant_id = $1 AND id = 0', [tt.tenant.id]))[0]!.chain_seq, null, 'verify does not seal it');
    await t.db.query('DELETE FROM audit_events WHERE tenant_id = $1 AND id = 0', [tt.tenant.id]);
    assert.equal((await verify(ctx)).ok, true);

    // Dated now, it is a new event like any other: sealed and chained (the chain guards what was written, not who writes next).
    const fresh = await insert({ seq: null, prev: null, hash: null });
    const after = await verify(ctx);
    assert.equal(after.ok, true);
    assert.equal(after.checked, chain.length + 1);
    assert.equal((await t.db.query<{ chain_seq: number }>('SELECT chain_seq FROM audit_events WHERE id = $1', [fresh]))[0]!.chain_seq, chain.length + 1);
  });

  test('checkpoints: a changed hash or signature, another key, a rewrite with recomputed hashes', async () => {
    const { tt, ctx, admin } = await sealedTenant();
    for (let i = 0; i < 3; i++) await audit(ctx, t.db, { action: 'test.after_checkpoint', details: { i } });
    await sealTenant(t.db, tt.tenant.id, { checkpoint: { key, when: 'always' } });
    const cps = await t.db.query<{ id: number; chain_seq: number; hash: string; signature: string }>('SELECT id, chain_seq, hash, signature FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY chain_seq', [tt.tenant.id]);
    assert.equal(cps.length, 2);
    const whole = await verify(ctx);
    assert.deepEqual([whole.ok, whole.checkpoints, whole.lastCheckpoint?.chainSeq], [true, 2, cps[1]!.chain_seq]);
    const [first] = cps;
    const chain = await rows(tt.tenant.id);
    const atFirst = chain.find((r) => r.chainSeq === first!.chain_seq)!;

    // The hash of the first checkpoint changed to another position's (the signature covers it).
    await t.db.query('UPDATE audit_checkpoints SET hash = $2 WHERE id = $1', [first!.id, chain[0]!.hash]);
    const v1 = await verify(ctx);
    assert.deepEqual(broken(v1), [false, 'bad_signature', atFirst.id, first!.chain_seq]);
    await t.db.query('UPDATE audit_checkpoints SET hash = $2 WHERE id = $1', [first!.id, first!.hash]);

    // Another checkpoint's signature.
    await t.db.query('UPDATE audit_checkpoints SET signature = $2 WHERE id = $1', [first!.id, cps[1]!.signature]);
    assert.deepEqual(broken(await verify(ctx)), [false, 'bad_signature', atFirst.id, first!.chain_seq]);
    await t.db.query('UPDATE audit_checkpoints SET signature = $2 WHERE id = $1', [first!.id, first!.signature]);
    assert.equal((await verify(ctx)).ok, true);

    // The attacker rewrites event 2 and every hash after it, and the chain head, then signs new
    // checkpoints with a key of their own: the old checkpoint no longer matches; theirs do not verify.
    const victim = chain[1]!;
    let prev = chain[0]!.hash!;
    for (const r of chain.slice(1)) {
      const content = r.id === victim.id ? { ...r, details: { ...(r.details as object), i: 'rewritten' } } : r;
      const hash = eventHash(prev, content)!;
      await t.db.query('UPDATE audit_events SET details = $3, prev_hash = $4, hash = $5 WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, r.id, JSON.stringify(content.details), prev, hash]);
      prev = hash;
    }
    await t.db.query('UPDATE audit_chain SET hash = $2 WHERE tenant_id = $1', [tt.tenant.id, prev]);
    const rewritten = await verify(ctx);
    assert.deepEqual(broken(rewritten), [false, 'checkpoint_mismatch', atFirst.id, first!.chain_seq]);
    assert.match(rewritten.firstBroken!.message, /were rewritten together with their hashes/);
    assert.equal(rewritten.checked, first!.chain_seq, 'every event re-computes; only the signed checkpoint shows the rewrite');

    const theirs = new CheckpointKey('an-attackers-own-secret-0123456789abcdef');
    await t.db.query('DELETE FROM audit_checkpoints WHERE tenant_id = $1', [tt.tenant.id]);
    await insertCheckpoint(t.db, theirs, { tenantId: tt.tenant.id, kind: 'periodic', chainSeq: chain.length, hash: prev, signedAt: new Date() });
    const forged = await verify(ctx);
    assert.deepEqual(broken(forged), [false, 'bad_signature', chain[chain.length - 1]!.id, chain.length]);
    assert.match(forged.firstBroken!.message, new RegExp(`signed with another key: key id ${theirs.keyId}, not ${key.keyId}`));

    // The REST answer is the same, and the page's list offers the checkpoints with the public key.
    const rest = await admin.client.get('/api/v1/audit/verify');
    assert.equal(rest.status, 200);
    assert.deepEqual([rest.body.ok, rest.body.firstBroken.reason, rest.body.firstBroken.chainSeq], [false, 'bad_signature', chain.length]);
    const list = await admin.client.get('/api/v1/audit/checkpoints');
    assert.equal(list.status, 200);
    assert.equal(list.body.key.keyId, key.keyId);
    assert.equal(list.body.key.publicKeyPem, key.publicKeyPem);
    assert.deepEqual(list.body.items.map((c: { keyId: string }) => c.keyId), [theirs.keyId]);
  });
});

describe('sealing', () => {
  test('concurrent writers while the sealer runs: every event sealed exactly once, at consecutive positions', async () => {
    const tt = await t.tenant();
    const ctx = system(tt.tenant);
    let writing = true;
    const sealer = (async () => {
      let passes = 0;
      while (writing) {
        await sealTenant(t.db, tt.tenant.id);
        passes++;
        await new Promise((r) => setTimeout(r, 5));
      }
      return passes;
    })();
    // A second sealer at the same time (another node): the chain head's lock serialises them.
    const other = (async () => {
      while (writing) {
        await sealTenant(t.db, tt.tenant.id, { batchSize: 3 });
        await new Promise((r) => setTimeout(r, 7));
      }
    })();
    await Promise.all(
      [0, 1, 2, 3, 4].map(async (k) => {
        for (let i = 0; i < 12; i++) {
          await t.db.transaction(async (tx) => {
            await audit(ctx, tx, { action: 'test.parallel', details: { k, i, n: 1 } });
            await audit(ctx, tx, { action: 'test.parallel', details: { k, i, n: 2 } });
          });
        }
      }),
    );
    writing = false;
    assert.ok((await sealer) > 0);
    await other;
    await sealTenant(t.db, tt.tenant.id);
    const all = await t.db.query<{ id: number; chain_seq: number | null }>('SELECT id, chain_seq FROM audit_events WHERE tenant_id = $1 ORDER BY chain_seq', [tt.tenant.id]);
    assert.ok(all.length >= 120);
    assert.deepEqual(all.map((r) => Number(r.chain_seq)), Array.from({ length: all.length }, (_, i) => i + 1), 'positions 1…N, each once, none missing');
    const v = await verify(ctx);
    assert.deepEqual([v.ok, v.checked, v.unsealed], [true, all.length, 0]);
  });

  test('the job: a tick seals every tenant waiting and signs its head, then schedules the next tick; a second tick has nothing to do', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    await audit(system(a.tenant), t.db, { action: 'test.tick' });
    await audit(system(b.tenant), t.db, { action: 'test.tick' });
    const sealed = await sealTick(t.db, key);
    assert.ok(sealed >= 4, `sealed ${sealed}`);
    for (const tt of [a, b]) {
      const [head] = await t.db.query<{ seq: number; checkpoint_seq: number }>('SELECT seq, checkpoint_seq FROM audit_chain WHERE tenant_id = $1', [tt.tenant.id]);
      assert.ok(head!.seq >= 2);
      assert.equal(head!.checkpoint_seq, head!.seq, 'a first checkpoint at once');
      assert.equal((await verify(system(tt.tenant))).lastCheckpoint?.chainSeq, head!.seq);
    }
    const next = await t.db.query<{ run_at: Date; idempotency_key: string }>(`SELECT run_at, idempotency_key FROM jobs WHERE kind = $1 AND status = 'pending' ORDER BY run_at DESC LIMIT 1`, [SEAL_JOB]);
    assert.ok(next[0] && new Date(next[0].run_at).getTime() > Date.now() - 1000, 'the next tick is scheduled');
    assert.match(next[0]!.idempotency_key, /^audit\.seal:\d+$/);
    const cps = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_checkpoints WHERE tenant_id = $1', [a.tenant.id]))[0]!.n;
    const before = await cps();
    await sealTick(t.db, key);
    assert.equal(await cps(), before, 'a checkpoint only when one is due');
  });

  test('a long backlog is sealed in parts: sealed_through moves only when nothing is left', async () => {
    const tt = await t.tenant();
    for (let i = 0; i < 5; i++) await audit(system(tt.tenant), t.db, { action: 'test.backlog', details: { i } });
    const part = await sealTenant(t.db, tt.tenant.id, { batchSize: 2, budgetMs: 0 });
    assert.deepEqual([part.sealed, part.complete], [2, false]);
    const head = async () => (await t.db.query<{ seq: number; sealed_through: Date | null }>('SELECT seq, sealed_through FROM audit_chain WHERE tenant_id = $1', [tt.tenant.id]))[0]!;
    assert.deepEqual([(await head()).seq, (await head()).sealed_through], [2, null], 'not yet: the rest is still waiting');
    const rest = await sealTenant(t.db, tt.tenant.id, { batchSize: 2 });
    assert.equal(rest.complete, true);
    assert.equal(rest.seq, 2 + rest.sealed);
    assert.ok((await head()).sealed_through);
    assert.equal((await verify(system(tt.tenant))).checked, rest.seq);
  });

  test('an export carries chainSeq, prevHash and hash; the offline recipe in docs/audit.md re-computes the chain and checks the checkpoints', async () => {
    const { tt, admin, ctx } = await sealedTenant(4);
    await audit(ctx, t.db, { action: 'test.exported', details: { big: 12345678901234567890, float: 0.1, neg: -0, u: '\u2028é' } });
    await sealTenant(t.db, tt.tenant.id, { checkpoint: { key, when: 'always' } });
    const token = (await admin.client.post('/api/v1/me/tokens', { name: 'auditor' })).body.secret;
    const get = async (p: string) => (await fetch(`${t.url}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } })).text();
    const csv = await get('/audit/export?format=csv');
    assert.ok(csv.startsWith('id,occurredAt,actorId,actorLabel,action,outcome,reason,targetType,targetId,targetLabel,ip,details,chainSeq,prevHash,hash\r\n'));
    const jsonl = await get('/audit/export?format=jsonl');
    const lines = jsonl.trimEnd().split('\n').map((l) => JSON.parse(l));
    const sealed = lines.filter((l) => l.chainSeq !== null);
    assert.ok(sealed.length >= 5);
    for (const l of sealed) assert.equal(eventHash(l.prevHash, { ...l, tenantId: tt.tenant.id }), l.hash, `event ${l.id} re-computes from its exported fields`);
    assert.equal(sealed[0].prevHash, GENESIS_HASH);
    const checkpoints = await get('/audit/checkpoints');

    // The recipe, as the documentation gives it, run as its own program on the two downloads.
    const doc = readFileSync(path.join(root, 'docs/audit.md'), 'utf8');
    const recipe = /```js verify-audit\.mjs\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(recipe, 'docs/audit.md has the verify-audit.mjs recipe');
    const dir = mkdtempSync(path.join(tmpdir(), 'keydesk-offline-'));
    try {
      writeFileSync(path.join(dir, 'verify-audit.mjs'), recipe!);
      writeFileSync(path.join(dir, 'audit.jsonl'), jsonl);
      writeFileSync(path.join(dir, 'checkpoints.json'), checkpoints);
      const run = (args: string[]) =>
        new Promise<{ code: number; out: string }>((resolve) =>
          execFile(process.execPath, [path.join(dir, 'verify-audit.mjs'), ...args], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })),
        );
      const ok = await run([tt.tenant.id, path.join(dir, 'audit.jsonl'), path.join(dir, 'checkpoints.json')]);
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, new RegExp(`${sealed.length} events chained, 2 checkpoints verified`));
      // One byte of one event changed in the file: the recipe names it.
      const victim = sealed[2];
      writeFileSync(path.join(dir, 'audit.jsonl'), jsonl.replace(JSON.stringify(victim.details), JSON.stringify({ ...victim.details, i: 99 })));
      const bad = await run([tt.tenant.id, path.join(dir, 'audit.jsonl'), path.join(dir, 'checkpoints.json')]);
      assert.equal(bad.code, 1, bad.out);
      assert.match(bad.out, new RegExp(`event ${victim.id} \\(chain position ${victim.chainSeq}\\)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(canonicalEvent({ ...sealed[0], tenantId: tt.tenant.id }).startsWith('{"action":'));
  });
});

describe('retention', () => {
  test('pruning removes the chain’s start behind a signed checkpoint and the rest verifies; removing the start without it does not', async () => {
    const tt = await t.tenant();
    const admin = await t.user(tt.tenant, ['admin']);
    const ctx = system(tt.tenant);
    for (const days of [200, 150, 120, 40, 10]) await audit(ctx, t.db, { action: 'test.aged', details: { days } });
    // Dated in the past before they are sealed (as if written then).
    await t.db.query(`UPDATE audit_events SET occurred_at = now() - make_interval(days => (details->>'days')::int) WHERE tenant_id = $1 AND action = 'test.aged'`, [tt.tenant.id]);
    await t.db.query(`UPDATE audit_events SET occurred_at = now() - interval '300 days' WHERE tenant_id = $1 AND action <> 'test.aged'`, [tt.tenant.id]);
    assert.equal((await admin.client.patch('/api/v1/audit/settings', { retentionDays: 100 })).status, 200);
    const before = await verify(ctx);
    assert.equal(before.ok, true);
    const total = before.checked;

    // An interrupted pruning: its checkpoint written, only part of what it covers deleted.
    const chain = await rows(tt.tenant.id);
    const old = chain.filter((r) => new Date(r.occurredAt).getTime() < Date.now() - 100 * 86400_000);
    const through = old[old.length - 1]!;
    await insertCheckpoint(t.db, key, { tenantId: tt.tenant.id, kind: 'prune', chainSeq: through.chainSeq!, hash: through.hash!, signedAt: new Date() });
    await t.db.query('DELETE FROM audit_events WHERE tenant_id = $1 AND chain_seq <= 1', [tt.tenant.id]);
    const half = await verify(ctx);
    assert.deepEqual([half.ok, half.prunedThrough, half.firstPosition], [true, through.chainSeq, 2], JSON.stringify(half.firstBroken));

    assert.ok((await pruneAudit(t.db)) >= old.length - 1);
    const after = await verify(ctx);
    assert.deepEqual([after.ok, after.prunedThrough, after.firstPosition], [true, through.chainSeq, through.chainSeq! + 1], JSON.stringify(after.firstBroken));
    assert.ok(after.checked >= total - old.length, 'what remains, and the audit.pruned record');
    const left = await t.db.query<{ days: number }>(`SELECT (details->>'days')::int AS days FROM audit_events WHERE tenant_id = $1 AND action = 'test.aged' ORDER BY chain_seq`, [tt.tenant.id]);
    assert.deepEqual(left.map((r) => r.days), [40, 10]);
    const [pruned] = (await admin.client.get('/api/v1/audit?action=audit.pruned')).body.items;
    assert.deepEqual(pruned.details.chain, { prunedThrough: through.chainSeq, hash: through.hash });
    const kinds = (await admin.client.get('/api/v1/audit/checkpoints')).body.items.map((c: { kind: string }) => c.kind);
    assert.ok(kinds.includes('prune'));

    // Someone deletes the next event too: nothing accounts for it.
    const [next] = await rows(tt.tenant.id);
    await t.db.query('DELETE FROM audit_events WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, next!.id]);
    const v = await verify(ctx);
    assert.deepEqual(broken(v), [false, 'removed', null, through.chainSeq! + 1]);
    assert.match(v.firstBroken!.message, /no pruning accounts for what came before/);
  });
});

describe('GET /api/v1/audit/verify', () => {
  test('admins only; a bad query is a 400 problem document', async () => {
    const { tt, admin } = await sealedTenant(2);
    const ok = await admin.client.get('/api/v1/audit/verify');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true);
    assert.equal(ok.body.tenant, tt.tenant.slug);
    assert.equal(ok.body.key.algorithm, 'Ed25519');
    const agent = await t.user(tt.tenant, ['agent', 'change_manager']);
    assert.equal((await agent.client.get('/api/v1/audit/verify')).status, 403);
    assert.equal((await t.client().get('/api/v1/audit/verify')).status, 401);
    const bad = await admin.client.get('/api/v1/audit/verify?full=1');
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal((await admin.client.get('/api/v1/audit/checkpoints?limit=0')).status, 400);
  });
});
