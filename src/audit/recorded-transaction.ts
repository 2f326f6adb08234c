import type { Ctx } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import { heldWritesOf, holdWrites, writeCtes, type HeldWrites, type Param } from '../db/held-writes.js';
import { identityEventCtes } from '../identity/events.js';
import { auditCtes } from './audit.js';

/**
 * Runs `fn` in one transaction whose audit lines and identity events are held
 * (src/db/held-writes.ts) and written just before COMMIT, together with `more(result)` (a sign-in's
 * session and trace, a SCIM request's activity line), in one statement: a change's records cost
 * one round trip, and none is sent ahead of the answer. `fn` must not read what it held. An
 * identity event's webhook payload joins its person and group as they are when it is written, at
 * the end: a change that deletes a row its events name writes them first (writeHeldNow).
 *
 * @param more CTE builders for the rows that depend on `fn`'s result; '' from a builder writes nothing
 */
export function recordedTransaction<T>(
  ctx: Ctx,
  db: Db,
  fn: (tx: Queryable, writes: HeldWrites) => Promise<T>,
  more: (result: T) => ((p: Param) => string)[] = () => [],
): Promise<T> {
  return db.transaction(async (direct) => {
    const { q, writes } = holdWrites(direct);
    const result = await fn(q, writes);
    writes.seal();
    await writeCtes(direct, (p) => auditCtes(ctx, writes.of('audit'), p), (p) => identityEventCtes(ctx, writes.of('identity'), p), ...more(result));
    return result;
  });
}

/**
 * Writes what `tx` holds so far, in one statement, and goes on holding: for a change about to
 * delete a row that held events name. An identity event's webhook payload joins its person and
 * group when the event is written, so a group's member_removed events written after the group's
 * DELETE would no longer name it. Does nothing in a transaction that does not hold its writes.
 */
export async function writeHeldNow(ctx: Ctx, tx: Queryable): Promise<void> {
  const held = heldWritesOf(tx);
  if (!held) return;
  await writeCtes(tx, (p) => auditCtes(ctx, held.take('audit'), p), (p) => identityEventCtes(ctx, held.take('identity'), p));
}
