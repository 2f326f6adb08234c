import { BadRequest } from '../http/errors.js';
import { isUuid } from '../identity/users.js';

/** Opaque keyset cursor: the sort key of the last row seen. */
export interface Cursor {
  ts: string;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.id])).toString('base64url');
}

/**
 * The sort key goes back to PostgreSQL as text (microseconds matter), so a cursor someone made up
 * must still be a timestamp PostgreSQL reads: the shape `created_at::text` has, a real calendar day
 * from year 1, an offset within ±15:59. Date.parse is laxer ("1 1", year 0, a trailing NUL).
 */
const PG_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?[+-](?:0\d|1[0-5])(?::[0-5]\d)?$/;

function readableTimestamp(ts: string): boolean {
  const m = PG_TIMESTAMP.exec(ts);
  if (!m) return false;
  const [y, month, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const day = new Date(0);
  day.setUTCFullYear(y, month, d);
  return y >= 1 && day.getUTCFullYear() === y && day.getUTCMonth() === month && day.getUTCDate() === d;
}

export function decodeCursor(s: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && isUuid(v[1]) && readableTimestamp(v[0])) {
      return { ts: v[0], id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new BadRequest('The cursor is invalid. Start again from the first page.');
}
