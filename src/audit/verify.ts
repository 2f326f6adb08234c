import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { CHAIN_COLUMNS, chainHead, eventHash, GENESIS_HASH, SEAL_SETTLE_SECONDS, sealTenant, type ChainRow, type CheckpointKey } from './chain.js';

/**
 * `keydesk audit verify` and `GET /api/v1/audit/verify`: re-computes a tenant's audit chain from
 * its first retained event and checks every signed checkpoint (see chain.ts for the chain itself).
 *
 * The walk, in chain order (position, then id), keeps the hash at the last good position:
 * 1. **Start.** Position 1 follows 64 zeros. A chain that starts later must follow a `prune`
 *    checkpoint: exactly at the position before (its hash is the first event's previous hash), or,
 *    when a pruning was interrupted, further on (the walk starts from the first event's stated
 *    previous hash and must meet that checkpoint's hash). No such checkpoint: the missing start was
 *    **removed**.
 * 2. **Each position** must hold one event whose hash is SHA-256(its previous hash || its content)
 *    (else **altered**: the content, or a hash, was changed) and whose previous hash is the hash at
 *    the position before (else **removed**: an event between was deleted and the positions renumbered,
 *    or the one before rewritten with a new hash). A position skipped is **removed**. A second event
 *    at a position, or one beyond the last position the sealer gave, was **inserted**.
 * 3. **Each checkpoint** at a position must carry a valid Ed25519 signature under the key from
 *    KEYDESK_SECRET (else **bad_signature**) and the hash the walk found there (else
 *    **checkpoint_mismatch**: events since the previous checkpoint were rewritten together with their
 *    hashes). A checkpoint beyond the last event, or a chain head beyond it, means the end was **removed**.
 * 4. **Unsealed events** dated at or before `sealed_through` were not written by Keydesk's writer:
 *    **inserted**. Younger ones are counted as `unsealed`, not broken.
 * The first problem in chain order is reported (then an inserted unsealed event, by id).
 *
 * Limits, by design: someone who can write to the database can add new events (as Keydesk would),
 * and can delete or rewrite events after the newest checkpoint (at most CHECKPOINT_EVERY_SECONDS or
 * CHECKPOINT_EVERY_EVENTS of them) together with the chain head; keep checkpoints elsewhere too
 * (the REST list) to pin them down.
 */

export type BreakReason = 'altered' | 'removed' | 'inserted' | 'checkpoint_mismatch' | 'bad_signature';

export interface ChainBreak {
  /** The event named: the one altered or inserted, the one after a broken link, the one at a mismatched checkpoint; null when the event is gone. */
  id: number | null;
  /** Its chain position (for a removed event, the first missing position); null for an inserted event that has none. */
  chainSeq: number | null;
  reason: BreakReason;
  /** The sentence the CLI and the page show. */
  message: string;
}

export interface ChainVerification {
  ok: boolean;
  tenant: string;
  tenantId: string;
  /** Events whose hash was re-computed and found right, in chain order (before the break, if any). */
  checked: number;
  /** The first and last chain positions checked. */
  firstPosition: number | null;
  lastPosition: number | null;
  /** Every event dated up to this instant is sealed (ISO 8601); null before the first sealing. */
  sealedThrough: string | null;
  /** Signed checkpoints checked (signature and hash). */
  checkpoints: number;
  lastCheckpoint: { chainSeq: number; kind: string; signedAt: string } | null;
  /** The chain starts after this position, where retention pruned (a `prune` checkpoint); null: it starts at 1. */
  prunedThrough: number | null;
  /** Events not sealed yet (newer than sealedThrough): not broken, sealed within seconds. */
  unsealed: number;
  firstBroken: ChainBreak | null;
  /** The checkpoint key, for checking signatures independently. */
  key: { algorithm: 'Ed25519'; keyId: string; publicKeyPem: string; publicKeyRaw: string };
}

export interface CheckpointView {
  id: number;
  kind: string;
  chainSeq: number;
  hash: string;
  signedAt: Date;
  keyId: string;
  /** Ed25519 over checkpointMessage (chain.ts), base64url. */
  signature: string;
}

/** A checkpoint as the chain walk reads it: with its tenant, which its signed message names. */
interface CheckpointRow extends CheckpointView {
  tenantId: string;
}

const VIEW_COLUMNS = `id, kind, chain_seq AS "chainSeq", hash, signed_at AS "signedAt", key_id AS "keyId", signature`;
const CP_COLUMNS = `tenant_id AS "tenantId", ${VIEW_COLUMNS}`;
const PAGE = 1000;

/** Reads rows page by page in (chain_seq, id) order; peek/next one at a time. */
class Pager<T extends { chainSeq: number | null; id: number }> {
  private rows: T[] = [];
  private i = 0;
  private after: [number, number] | null = null;
  private done = false;
  constructor(private readonly fetch: (after: [number, number] | null) => Promise<T[]>) {}
  async peek(): Promise<T | undefined> {
    if (this.i >= this.rows.length && !this.done) {
      this.rows = await this.fetch(this.after);
      this.i = 0;
      if (this.rows.length < PAGE) this.done = true;
      const last = this.rows[this.rows.length - 1];
      if (last) this.after = [Number(last.chainSeq), Number(last.id)];
    }
    return this.rows[this.i];
  }
  async next(): Promise<T | undefined> {
    const r = await this.peek();
    this.i++;
    return r;
  }
}

const iso = (d: Date | string) => new Date(d).toISOString();
const num = (n: unknown) => Number(n);

/**
 * Verifies the tenant's audit chain (the algorithm is in the module comment). With `seal` (the
 * default), first seals the events waiting for it and signs a checkpoint if one is due, as the
 * sealing job would (the same function, under the same lock: it only appends), so an event written
 * a moment ago is checked rather than reported as unsealed; an unsealed event older than the settle
 * window is never sealed by it.
 * Reads the chain a page at a time: memory stays flat, time grows with the log (about four
 * seconds per hundred thousand events on PostgreSQL).
 * @param key the checkpoint key from KEYDESK_SECRET
 */
export async function verifyAuditChain(ctx: Ctx, key: CheckpointKey, opts: { seal?: boolean; settleSeconds?: number } = {}): Promise<ChainVerification> {
  const tenantId = ctx.tenant.id;
  const db = ctx.db;
  if (opts.seal !== false) {
    // A head that cannot be extended (its hash tampered with) is not a reason not to verify what is sealed.
    await sealTenant(db, tenantId, { settleSeconds: opts.settleSeconds ?? SEAL_SETTLE_SECONDS, checkpoint: { key, when: 'due' } }).catch(() => undefined);
  }
  const head = await chainHead(db, tenantId);
  const headSeq = num(head.seq);

  const events = new Pager<ChainRow>((after) =>
    db.query<ChainRow>(
      `SELECT ${CHAIN_COLUMNS} FROM audit_events a WHERE a.tenant_id = $1 AND a.chain_seq IS NOT NULL
         AND ($2::bigint IS NULL OR (a.chain_seq, a.id) > ($2, $3)) ORDER BY a.chain_seq, a.id LIMIT ${PAGE}`,
      [tenantId, after?.[0] ?? null, after?.[1] ?? null],
    ),
  );

  let checked = 0;
  let checkpoints = 0;
  let lastCheckpoint: ChainVerification['lastCheckpoint'] = null;
  let firstPosition: number | null = null;
  let prunedThrough: number | null = null;
  let broken: ChainBreak | null = null;

  // 1. Where the retained chain starts, and what it follows.
  const first = await events.peek();
  const start = first ? num(first.chainSeq) : null;
  let pos = 0; // the last position whose hash is known
  let prev = GENESIS_HASH; // its hash
  let provisional: CheckpointRow | null = null; // an interrupted pruning's checkpoint the walk must meet
  const prune = (sql: string, params: unknown[]) => db.query<CheckpointRow>(`SELECT ${CP_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 AND kind = 'prune' AND ${sql}`, [tenantId, ...params]);
  const checkSignature = (cp: CheckpointRow): ChainBreak | null => {
    if (key.verify({ tenantId, kind: cp.kind, chainSeq: num(cp.chainSeq), hash: cp.hash, signedAt: cp.signedAt }, cp.signature)) return null;
    const other = cp.keyId !== key.keyId ? ` (or it was signed with another key: key id ${cp.keyId}, not ${key.keyId}, after KEYDESK_SECRET changed)` : '';
    return {
      id: null,
      chainSeq: num(cp.chainSeq),
      reason: 'bad_signature',
      message: `The ${cp.kind} checkpoint for chain position ${cp.chainSeq}, dated ${iso(cp.signedAt)}, has a bad signature: it was forged or altered${other}.`,
    };
  };
  const counted = (cp: CheckpointRow) => {
    checkpoints++;
    if (!lastCheckpoint || num(cp.chainSeq) >= lastCheckpoint.chainSeq) lastCheckpoint = { chainSeq: num(cp.chainSeq), kind: cp.kind, signedAt: iso(cp.signedAt) };
  };

  if (start === null ? headSeq > 0 : start > 1) {
    const from = start === null ? 0 : start - 1;
    const [anchor] = start === null ? await prune('true ORDER BY chain_seq DESC, id LIMIT 1', []) : await prune('chain_seq >= $2 ORDER BY chain_seq, id LIMIT 1', [from]);
    if (!anchor) {
      const [below] = await prune('chain_seq < $2 ORDER BY chain_seq DESC LIMIT 1', [from]);
      const missing = below ? num(below.chainSeq) + 1 : 1;
      broken = {
        id: null,
        chainSeq: missing,
        reason: 'removed',
        message:
          start === null
            ? `Every event was removed: the chain had reached position ${headSeq}, and no pruning accounts for it.`
            : `The events at chain positions ${missing}–${start - 1} were removed: the log starts at position ${start} (event ${first!.id}) and no pruning accounts for what came before.`,
      };
    } else {
      broken = checkSignature(anchor);
      if (!broken) {
        prunedThrough = num(anchor.chainSeq);
        if (start === null || num(anchor.chainSeq) === start - 1) {
          // Checked and counted with the other checkpoints at this position, below.
          pos = num(anchor.chainSeq);
          prev = anchor.hash;
        } else {
          // A pruning stopped half-way: the walk trusts the first event's previous hash until it meets the checkpoint.
          pos = start - 1;
          prev = first!.prevHash ?? '';
          provisional = anchor;
        }
      }
    }
  }

  const checkpointsFrom = provisional ? pos + 1 : pos;
  const cps = new Pager<CheckpointRow>((after) =>
    db.query<CheckpointRow>(
      `SELECT ${CP_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 AND chain_seq >= $2 AND ($3::bigint IS NULL OR (chain_seq, id) > ($3, $4))
       ORDER BY chain_seq, id LIMIT ${PAGE}`,
      [tenantId, checkpointsFrom, after?.[0] ?? null, after?.[1] ?? null],
    ),
  );
  /** Checks the checkpoints at position `pos` (whose hash is `prev`). */
  const checkCheckpoints = async (eventId: number | null): Promise<ChainBreak | null> => {
    for (let cp = await cps.peek(); cp && num(cp.chainSeq) <= pos; cp = await cps.peek()) {
      await cps.next();
      if (provisional && cp.id === provisional.id) provisional = null;
      if (num(cp.chainSeq) < pos) continue; // below the retained chain: about pruned events
      const bad = checkSignature(cp);
      if (bad) return { ...bad, id: eventId };
      if (cp.hash !== prev) {
        const [before] = await db.query<{ seq: number }>(
          `SELECT chain_seq AS seq FROM audit_checkpoints WHERE tenant_id = $1 AND chain_seq < $2 ORDER BY chain_seq DESC LIMIT 1`,
          [tenantId, pos],
        );
        const since = before ? `after chain position ${before.seq} (the previous checkpoint)` : 'since the start of the chain';
        return {
          id: eventId,
          chainSeq: pos,
          reason: 'checkpoint_mismatch',
          message: `The chain at position ${pos}${eventId !== null ? ` (event ${eventId})` : ''} does not match the checkpoint signed for it at ${iso(cp.signedAt)}: events ${since} up to position ${pos} were rewritten together with their hashes.`,
        };
      }
      counted(cp);
    }
    return null;
  };

  // Checkpoints at the exact start (position 0, or the pruning checkpoint's position).
  if (!broken && !provisional) broken = await checkCheckpoints(null);

  // 2 and 3. The walk.
  while (!broken) {
    const lead = await events.next();
    if (!lead) break;
    const p = num(lead.chainSeq);
    const group = [lead];
    for (let r = await events.peek(); r && num(r.chainSeq) === p; r = await events.peek()) group.push((await events.next())!);
    if (firstPosition === null) {
      firstPosition = p;
      if (provisional) prev = lead.prevHash ?? '';
    }
    if (p > headSeq) {
      broken = {
        id: num(lead.id),
        chainSeq: p,
        reason: 'inserted',
        message: `Event ${lead.id} claims chain position ${p}, beyond the last position Keydesk sealed (${headSeq}): it was inserted.`,
      };
      break;
    }
    if (p > pos + 1) {
      broken = {
        id: null,
        chainSeq: pos + 1,
        reason: 'removed',
        message: `The event at chain position ${pos + 1}${p > pos + 2 ? ` (and up to ${p - 1})` : ''} was removed: the chain goes from position ${pos} to ${p} (event ${lead.id}).`,
      };
      break;
    }
    const judged = group.map((r) => {
      const computed = r.prevHash ? eventHash(r.prevHash, r) : null;
      return { r, ok: computed !== null && computed === r.hash, linked: r.prevHash === prev };
    });
    const good = judged.find((j) => j.ok && j.linked);
    if (good && group.length > 1) {
      const intruder = judged.find((j) => j !== good)!.r;
      broken = {
        id: num(intruder.id),
        chainSeq: p,
        reason: 'inserted',
        message: `Event ${intruder.id} claims chain position ${p}, which belongs to event ${good.r.id}: it was inserted.`,
      };
      break;
    }
    if (!good) {
      const j = judged[0]!;
      broken = !j.ok
        ? { id: num(j.r.id), chainSeq: p, reason: 'altered', message: `Event ${j.r.id} (chain position ${p}) was altered: its content no longer matches its hash.` }
        : {
            id: num(j.r.id),
            chainSeq: p,
            reason: 'removed',
            message: `Event ${j.r.id} (chain position ${p}) does not follow the event before it: its previous hash is not that event's hash, so an event before it was removed (and the positions renumbered) or the one before was rewritten.`,
          };
      break;
    }
    checked++;
    pos = p;
    prev = good.r.hash!;
    broken = await checkCheckpoints(num(good.r.id));
  }

  // The end: nothing the chain head or a checkpoint vouches for may be missing.
  if (!broken) {
    const beyond = await cps.peek();
    if (beyond) broken = checkSignature(beyond);
    if (!broken && (beyond || headSeq > pos || provisional)) {
      const upTo = Math.max(headSeq, beyond ? num(beyond.chainSeq) : 0, provisional ? num(provisional.chainSeq) : 0);
      broken = {
        id: null,
        chainSeq: pos + 1,
        reason: 'removed',
        message: `The events after chain position ${pos} (up to ${upTo}) were removed: ${beyond ? `a checkpoint signed at ${iso(beyond.signedAt)} covers position ${beyond.chainSeq}` : `the chain had reached position ${upTo}`}, but the last event is at position ${pos}.`,
      };
    }
  }

  // 4. Unsealed events older than what the sealer has passed.
  if (!broken && head.sealedThrough) {
    const [stray] = await db.query<{ id: number; occurredAt: Date }>(
      `SELECT id, occurred_at AS "occurredAt" FROM audit_events WHERE tenant_id = $1 AND chain_seq IS NULL AND occurred_at <= $2 ORDER BY id LIMIT 1`,
      [tenantId, head.sealedThrough],
    );
    if (stray) {
      broken = {
        id: num(stray.id),
        chainSeq: null,
        reason: 'inserted',
        message: `Event ${stray.id} is not in the chain although it is dated ${iso(stray.occurredAt)}, before ${iso(head.sealedThrough)}, through which every event was sealed: it was inserted (or its transaction took more than ${SEAL_SETTLE_SECONDS} seconds to commit).`,
      };
    }
  }

  const unsealed = await countUnsealed(db, tenantId, head.sealedThrough);
  return {
    ok: broken === null,
    tenant: ctx.tenant.slug,
    tenantId,
    checked,
    firstPosition,
    lastPosition: checked ? pos : null,
    sealedThrough: head.sealedThrough ? iso(head.sealedThrough) : null,
    checkpoints,
    lastCheckpoint,
    prunedThrough,
    unsealed,
    firstBroken: broken,
    key: { algorithm: 'Ed25519', keyId: key.keyId, publicKeyPem: key.publicKeyPem, publicKeyRaw: key.publicKeyRaw },
  };
}

async function countUnsealed(q: Queryable, tenantId: string, sealedThrough: Date | null): Promise<number> {
  const [row] = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND chain_seq IS NULL AND ($2::timestamptz IS NULL OR occurred_at > $2)`,
    [tenantId, sealedThrough],
  );
  return row?.n ?? 0;
}

/** The CLI's and the page's words for a verification. */
export function verificationText(v: ChainVerification): string {
  if (!v.ok && v.firstBroken) {
    return [
      `The audit chain of ${v.tenant} is BROKEN.`,
      v.firstBroken.message,
      `${v.checked} event${v.checked === 1 ? '' : 's'} checked before it${v.checkpoints ? `, with ${v.checkpoints} signed checkpoint${v.checkpoints === 1 ? '' : 's'}` : ''}.`,
    ].join('\n');
  }
  const span = v.checked ? ` (chain positions ${v.firstPosition}–${v.lastPosition})` : '';
  const cp = v.lastCheckpoint
    ? `${v.checkpoints} signed checkpoint${v.checkpoints === 1 ? '' : 's'}, the last at position ${v.lastCheckpoint.chainSeq} signed ${v.lastCheckpoint.signedAt}`
    : 'no signed checkpoint yet';
  return [
    `The audit chain of ${v.tenant} is whole: ${v.checked} event${v.checked === 1 ? '' : 's'} checked${span}; ${cp}.`,
    v.prunedThrough !== null ? `Retention pruned the events up to chain position ${v.prunedThrough}; the chain starts after it.` : '',
    `${v.unsealed} newer event${v.unsealed === 1 ? ' is' : 's are'} not sealed yet${v.sealedThrough ? `; every event up to ${v.sealedThrough} is sealed` : ''}.`,
    `Checkpoint key (Ed25519, key id ${v.key.keyId}):`,
    v.key.publicKeyPem.trimEnd(),
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * The tenant's signed checkpoints, newest first (`before`: the id of the last one seen), for an
 * auditor to keep outside Keydesk and to check offline with the public key.
 */
export async function listCheckpoints(ctx: Ctx, f: { limit: number; before?: number }): Promise<CheckpointView[]> {
  return ctx.db.query<CheckpointView>(
    `SELECT ${VIEW_COLUMNS} FROM audit_checkpoints
     WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [ctx.tenant.id, f.before ?? null, f.limit],
  );
}
