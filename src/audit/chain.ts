import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import type { Db, Queryable } from '../db/db.js';

/**
 * Tamper evidence for the audit trail: each tenant's events form a hash chain, sealed after they
 * are written, with signed checkpoints.
 *
 * **Sealing, not locking.** `audit()` writes events as before (sign-ins stay one INSERT, with no
 * per-tenant lock). A sealer (`sealTenant`, run by the `audit.seal` job every few seconds, and
 * before every verification and pruning) takes the tenant's chain head (`audit_chain`, row-locked:
 * one sealer per tenant, writers never touch it), reads the committed events that have no chain
 * position yet, oldest first (`occurred_at`, then `id`), and gives each the next position
 * (`chain_seq` 1, 2, 3…), `prev_hash` (the previous position's hash; 64 zeros before position 1)
 * and `hash` = hex(SHA-256(prev_hash as 32 bytes || UTF-8 of `canonicalEvent(event)`)). Positions
 * follow sealing order, so an event whose transaction commits late is appended when it appears.
 *
 * **The settle window.** After a complete pass, `sealed_through` = (the pass's start) − SEAL_SETTLE_SECONDS:
 * every event that occurred by then, in a transaction shorter than the window, had committed and is
 * sealed. An unsealed event dated at or before `sealed_through` is therefore not one Keydesk's
 * writer produced in the usual way: the sealer never seals it and verification reports it as
 * inserted. Events dated after it are sealed whenever they appear.
 *
 * **Checkpoints** sign (tenant, kind, position, hash, time) with an Ed25519 key derived from
 * KEYDESK_SECRET (`CheckpointKey`): anyone can recompute SHA-256, so without them someone who can
 * write to the database could rewrite an event and every hash after it; with them, a rewrite up to
 * the newest checkpoint shows. The sealing job writes one when CHECKPOINT_EVERY_EVENTS events or
 * CHECKPOINT_EVERY_SECONDS have passed since the last; pruning writes a `prune` checkpoint at the
 * last position it deletes, which anchors what remains.
 */

/** The previous hash of chain position 1. */
export const GENESIS_HASH = '0'.repeat(64);
/** An event dated this many seconds before a sealing pass began had committed by then (or took longer than this). */
export const SEAL_SETTLE_SECONDS = 10;
/** A checkpoint after this many newly sealed events… */
export const CHECKPOINT_EVERY_EVENTS = 1000;
/** …or after this many seconds with new events, whichever comes first. */
export const CHECKPOINT_EVERY_SECONDS = 300;
/** Events sealed per transaction. */
const SEAL_BATCH = 1000;

/** What the hash covers: the event as stored (the target's label is looked up when read, so it is not). */
export interface ChainContent {
  id: number;
  tenantId: string;
  occurredAt: Date | string;
  actorId: string | null;
  actorLabel: string;
  action: string;
  outcome: string;
  reason: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: unknown;
}

/**
 * JSON with object keys sorted by UTF-16 code units and no whitespace; strings and numbers as
 * ECMAScript's JSON.stringify writes them (shortest round-trip numbers, non-finite as null): the
 * JSON Canonicalization Scheme, RFC 8785. A value parsed back from its output canonicalises to the
 * same text, so a verifier that reads the export's JSON gets the same bytes as one reading the
 * database (jsonb's own key order and number spelling never enter the hash).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'function' || typeof value === 'symbol') return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/**
 * An event's canonical serialisation (version 1): the canonical JSON (RFC 8785) of
 * `{action, actorId, actorLabel, details, id, ip, occurredAt, outcome, reason, targetId, targetType, tenantId}`,
 * where `id` is a number, `occurredAt` is ISO 8601 UTC with milliseconds (`2025-03-04T09:20:17.004Z`,
 * as the API and the exports show it), absent values are `null` and `details` is the JSON object.
 */
export function canonicalEvent(e: ChainContent): string {
  return canonicalJson({
    action: e.action,
    actorId: e.actorId ?? null,
    actorLabel: e.actorLabel,
    details: e.details ?? {},
    id: Number(e.id),
    ip: e.ip ?? null,
    occurredAt: new Date(e.occurredAt).toISOString(),
    outcome: e.outcome,
    reason: e.reason ?? null,
    targetId: e.targetId ?? null,
    targetType: e.targetType ?? null,
    tenantId: e.tenantId,
  });
}

const HEX64 = /^[0-9a-f]{64}$/;

/** hex(SHA-256(prevHash as 32 bytes || UTF-8 of canonicalEvent(e))); null when prevHash is not 64 hex digits. */
export function eventHash(prevHash: string, e: ChainContent): string | null {
  if (!HEX64.test(prevHash)) return null;
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonicalEvent(e), 'utf8').digest('hex');
}

export type CheckpointKind = 'periodic' | 'prune';

export interface CheckpointClaim {
  tenantId: string;
  kind: string;
  chainSeq: number;
  hash: string;
  signedAt: Date | string;
}

/**
 * The bytes a checkpoint's signature covers, as UTF-8 text:
 * `keydesk-audit-checkpoint/v1\n<tenant id>\n<kind>\n<chain position>\n<hash>\n<signed at, ISO 8601 UTC with ms>`.
 */
export function checkpointMessage(c: CheckpointClaim): string {
  return ['keydesk-audit-checkpoint/v1', c.tenantId, c.kind, String(Number(c.chainSeq)), c.hash, new Date(c.signedAt).toISOString()].join('\n');
}

/** PKCS#8 DER for an Ed25519 private key is this fixed prefix and the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The checkpoint signing key: Ed25519, its seed HKDF-SHA256(KEYDESK_SECRET, salt `keydesk`, info
 * `audit-checkpoint`, 32 bytes). Every node sharing the secret has the same key; the public key is
 * published (REST, CLI) so an auditor can check checkpoints without it. Changing KEYDESK_SECRET
 * changes the key: earlier checkpoints then fail to verify (their key id says which key signed them).
 */
export class CheckpointKey {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo PEM. */
  readonly publicKeyPem: string;
  /** The raw 32-byte public key, base64url. */
  readonly publicKeyRaw: string;
  /** The first 16 hex digits of SHA-256 of the raw public key. */
  readonly keyId: string;

  constructor(secret: string) {
    const seed = Buffer.from(hkdfSync('sha256', secret, 'keydesk', 'audit-checkpoint', 32));
    this.privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    this.publicKey = createPublicKey(this.privateKey);
    this.publicKeyPem = this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const raw = (this.publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(-32);
    this.publicKeyRaw = raw.toString('base64url');
    this.keyId = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  }

  /** The signature of checkpointMessage(c), base64url. */
  sign(c: CheckpointClaim): string {
    return sign(null, Buffer.from(checkpointMessage(c), 'utf8'), this.privateKey).toString('base64url');
  }

  /** Does `signature` (base64url) sign checkpointMessage(c) under this key? Never throws. */
  verify(c: CheckpointClaim, signature: string): boolean {
    try {
      const sig = Buffer.from(signature, 'base64url');
      return sig.length === 64 && verify(null, Buffer.from(checkpointMessage(c), 'utf8'), this.publicKey, sig);
    } catch {
      return false;
    }
  }
}

/**
 * The key the composition root uses for a database, for callers that are handed only the database
 * (`pruneAudit(db)` from housekeeping or a test). Registered by the audit routes and jobs.
 */
const registered = new WeakMap<Db, CheckpointKey>();
export function registerCheckpointKey(db: Db, key: CheckpointKey): void {
  registered.set(db, key);
}
export function registeredCheckpointKey(db: Db): CheckpointKey | undefined {
  return registered.get(db);
}

/** The columns the hash covers, as ChainContent, and the chain's own. */
export const CHAIN_COLUMNS = `a.id, a.tenant_id AS "tenantId", a.occurred_at AS "occurredAt", a.actor_id AS "actorId", a.actor_label AS "actorLabel",
  a.action, a.outcome, a.reason, a.target_type AS "targetType", a.target_id AS "targetId", a.ip, a.details,
  a.chain_seq AS "chainSeq", a.prev_hash AS "prevHash", a.hash`;

export interface ChainRow extends ChainContent {
  chainSeq: number | null;
  prevHash: string | null;
  hash: string | null;
}

export interface ChainHead {
  seq: number;
  hash: string;
  sealedThrough: Date | null;
  checkpointSeq: number;
  checkpointAt: Date | null;
}

async function lockHead(tx: Queryable, tenantId: string, settleSeconds: number): Promise<ChainHead & { horizon: Date; now: Date }> {
  await tx.query('INSERT INTO audit_chain (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING', [tenantId]);
  const [head] = await tx.query<ChainHead & { horizon: Date; now: Date }>(
    `SELECT seq, hash, sealed_through AS "sealedThrough", checkpoint_seq AS "checkpointSeq", checkpoint_at AS "checkpointAt",
            now() - make_interval(secs => $2) AS horizon, now() AS now
     FROM audit_chain WHERE tenant_id = $1 FOR UPDATE`,
    [tenantId, settleSeconds],
  );
  return head!;
}

/** The tenant's chain head, or a fresh one (nothing sealed yet). */
export async function chainHead(q: Queryable, tenantId: string): Promise<ChainHead> {
  const [head] = await q.query<ChainHead>(
    `SELECT seq, hash, sealed_through AS "sealedThrough", checkpoint_seq AS "checkpointSeq", checkpoint_at AS "checkpointAt" FROM audit_chain WHERE tenant_id = $1`,
    [tenantId],
  );
  return head ?? { seq: 0, hash: GENESIS_HASH, sealedThrough: null, checkpointSeq: 0, checkpointAt: null };
}

export interface SealOptions {
  /** How far `sealed_through` trails the pass (seconds, default SEAL_SETTLE_SECONDS). */
  settleSeconds?: number;
  batchSize?: number;
  /**
   * Writes a periodic checkpoint afterwards with this key: `'due'` when CHECKPOINT_EVERY_EVENTS or
   * CHECKPOINT_EVERY_SECONDS have passed (the job), `'always'` when anything was sealed since the
   * last one. Without a key, none.
   */
  checkpoint?: { key: CheckpointKey; when: 'due' | 'always' };
  /** Stop after about this many milliseconds (whole batches); the rest waits for the next call. */
  budgetMs?: number;
}

export interface SealResult {
  /** Events given a chain position by this call. */
  sealed: number;
  /** The last chain position. */
  seq: number;
  /** False when the budget ran out with events still waiting. */
  complete: boolean;
  /** The checkpoint written, if any. */
  checkpoint: { chainSeq: number; signedAt: Date } | null;
}

/**
 * Seals a tenant's pending events (see the module comment): every committed event without a chain
 * position that is dated after `sealed_through`, oldest first, SEAL_BATCH per transaction under the
 * chain head's row lock; `sealed_through` moves on once a pass finds nothing more. Events dated at
 * or before `sealed_through` are left out (verification reports them as inserted). Safe to run from
 * any number of nodes at once, and again at any time: it only appends.
 * @throws when the database fails (nothing of the failed batch is kept)
 */
export async function sealTenant(db: Db, tenantId: string, opts: SealOptions = {}): Promise<SealResult> {
  const settle = opts.settleSeconds ?? SEAL_SETTLE_SECONDS;
  const batch = opts.batchSize ?? SEAL_BATCH;
  const started = Date.now();
  let sealed = 0;
  let seq = 0;
  let complete = false;
  for (;;) {
    const step = await db.transaction(async (tx) => {
      const head = await lockHead(tx, tenantId, settle);
      const rows = await tx.query<ChainRow>(
        `SELECT ${CHAIN_COLUMNS} FROM audit_events a
         WHERE a.tenant_id = $1 AND a.chain_seq IS NULL AND ($2::timestamptz IS NULL OR a.occurred_at > $2)
         ORDER BY a.occurred_at, a.id LIMIT $3`,
        [tenantId, head.sealedThrough, batch],
      );
      let prev = head.hash;
      let at = Number(head.seq);
      const updates: { id: number; seq: number; prev: string; hash: string }[] = [];
      for (const row of rows) {
        at += 1;
        const hash = eventHash(prev, row);
        // The head's hash is only ever written by this function; if it is not a hash, stop rather than extend garbage.
        if (hash === null) throw new Error(`The audit chain head of tenant ${tenantId} holds no valid hash; the chain cannot be extended.`);
        updates.push({ id: Number(row.id), seq: at, prev, hash });
        prev = hash;
      }
      if (updates.length) {
        const done = await tx.query(
          `UPDATE audit_events a SET chain_seq = u.seq, prev_hash = u.prev, hash = u.hash
           FROM jsonb_to_recordset($2::jsonb) AS u(id bigint, seq bigint, prev text, hash text)
           WHERE a.tenant_id = $1 AND a.id = u.id AND a.chain_seq IS NULL RETURNING a.id`,
          [tenantId, JSON.stringify(updates)],
        );
        if (done.length !== updates.length) throw new Error('Audit events changed while they were being sealed; try again.');
      }
      const complete = rows.length < batch;
      await tx.query(
        `UPDATE audit_chain SET seq = $2, hash = $3, sealed_through = CASE WHEN $4 THEN greatest(sealed_through, $5::timestamptz) ELSE sealed_through END, updated_at = now()
         WHERE tenant_id = $1`,
        [tenantId, at, prev, complete, head.horizon],
      );
      return { n: rows.length, complete, seq: at };
    });
    sealed += step.n;
    seq = step.seq;
    complete = step.complete;
    if (complete || (opts.budgetMs !== undefined && Date.now() - started > opts.budgetMs)) break;
  }
  const checkpoint = opts.checkpoint ? await checkpointIfDue(db, tenantId, opts.checkpoint.key, opts.checkpoint.when) : null;
  return { sealed, seq, complete, checkpoint };
}

/**
 * Signs the tenant's chain head as a periodic checkpoint when it is due (or, with `'always'`,
 * whenever it moved since the last checkpoint), under the head's lock.
 * @returns the checkpoint written, or null
 */
export async function checkpointIfDue(db: Db, tenantId: string, key: CheckpointKey, when: 'due' | 'always' = 'due'): Promise<{ chainSeq: number; signedAt: Date } | null> {
  return db.transaction(async (tx) => {
    const head = await lockHead(tx, tenantId, 0);
    const seq = Number(head.seq);
    const checkpointed = Number(head.checkpointSeq);
    if (seq <= checkpointed) return null;
    const due =
      when === 'always' ||
      seq - checkpointed >= CHECKPOINT_EVERY_EVENTS ||
      head.checkpointAt === null ||
      new Date(head.now).getTime() - new Date(head.checkpointAt).getTime() >= CHECKPOINT_EVERY_SECONDS * 1000;
    if (!due) return null;
    const signedAt = new Date(head.now);
    await insertCheckpoint(tx, key, { tenantId, kind: 'periodic', chainSeq: seq, hash: head.hash, signedAt });
    await tx.query('UPDATE audit_chain SET checkpoint_seq = $2, checkpoint_at = $3 WHERE tenant_id = $1', [tenantId, seq, signedAt]);
    return { chainSeq: seq, signedAt };
  });
}

/** Stores a signed checkpoint (unsigned, with an empty signature, when there is no key: verification then refuses it). */
export async function insertCheckpoint(q: Queryable, key: CheckpointKey | undefined, c: CheckpointClaim & { kind: CheckpointKind }): Promise<void> {
  await q.query(
    `INSERT INTO audit_checkpoints (tenant_id, kind, chain_seq, hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [c.tenantId, c.kind, c.chainSeq, c.hash, new Date(c.signedAt), key?.keyId ?? 'none', key ? key.sign(c) : ''],
  );
}
