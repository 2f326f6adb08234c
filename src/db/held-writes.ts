import type { Queryable } from './db.js';

/** Places a value as the next parameter of a statement being built and returns its `$n`. */
export type Param = (value: unknown) => string;

/**
 * Sends data-modifying CTEs as one statement (`WITH a AS (INSERT …), b AS (INSERT …) SELECT 1`):
 * PostgreSQL runs every one of them, in one round trip. A builder that has nothing to write
 * returns ''. Each builder names its own CTEs; the names must differ.
 */
export async function writeCtes(q: Queryable, ...builders: ((p: Param) => string)[]): Promise<void> {
  const params: unknown[] = [];
  const p: Param = (value) => `$${params.push(value)}`;
  const ctes = builders.map((build) => build(p)).filter(Boolean);
  if (ctes.length) await q.query(`WITH ${ctes.join(',\n')}\nSELECT 1`, params);
}

/**
 * Rows a transaction holds back to write together just before it commits (audit and identity
 * events of a sign-in: one statement instead of one each). Only the code that opened the
 * transaction holds writes, and it must write them (or drop them with the savepoint it rolls back
 * to) before COMMIT: a held row is in no table until then, so nothing in the transaction can read it.
 */
export class HeldWrites {
  private readonly rows = new Map<string, unknown[]>();
  private sealed = false;

  add(kind: string, row: unknown): void {
    // A write held after the holder's rows were sent would be lost without a word.
    if (this.sealed) throw new Error(`A ${kind} row was held after its transaction's held writes were sent`);
    const list = this.rows.get(kind);
    if (list) list.push(row);
    else this.rows.set(kind, [row]);
  }

  /** No more rows: the holder's writes are being sent. */
  seal(): void {
    this.sealed = true;
  }

  /** The rows of a kind, in the order they were added. */
  of<T>(kind: string): T[] {
    return (this.rows.get(kind) ?? []) as T[];
  }

  /** The rows of a kind, no longer held: the caller writes them now (writeHeldNow). */
  take<T>(kind: string): T[] {
    const list = this.of<T>(kind);
    this.rows.delete(kind);
    return list;
  }

  /** Where the holding stands now; calling the result drops what was added since (ROLLBACK TO SAVEPOINT). */
  mark(): () => void {
    const lengths = new Map([...this.rows].map(([kind, list]) => [kind, list.length]));
    return () => {
      for (const [kind, list] of this.rows) list.length = Math.min(list.length, lengths.get(kind) ?? 0);
    };
  }
}

const held = new WeakMap<Queryable, HeldWrites>();

/** `tx` as a Queryable whose audit and identity events are held (see HeldWrites), and the holder. */
export function holdWrites(tx: Queryable): { q: Queryable; writes: HeldWrites } {
  const q: Queryable = { query: (sql, params) => tx.query(sql, params) };
  const writes = new HeldWrites();
  held.set(q, writes);
  return { q, writes };
}

/** The holder of `q`, when the transaction behind it holds its writes. */
export function heldWritesOf(q: Queryable): HeldWrites | undefined {
  return held.get(q);
}
