import { BadRequest } from '../http/errors.js';

/** Opaque keyset cursor: the sort key of the last row seen. */
export interface Cursor {
  ts: string;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.id])).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && v[0].length < 64 && /^[0-9a-f-]{36}$/.test(v[1]) && !Number.isNaN(Date.parse(v[0]))) {
      return { ts: v[0], id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new BadRequest('The cursor is invalid. Start again from the first page.');
}
