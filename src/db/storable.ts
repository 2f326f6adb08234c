/**
 * What PostgreSQL can store as text or jsonb: no NUL (U+0000) and no lone UTF-16 surrogate. The one
 * statement of that rule: request validation refuses such strings, and what Keydesk records about
 * untrusted input (sign-in traces, audit details) is made storable with `storableJson`.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export function storable(v: string): boolean {
  return !UNSTORABLE.test(v);
}

/** The string with every unstorable character replaced by U+FFFD. */
export function toStorable(v: string): string {
  return storable(v) ? v : v.replace(UNSTORABLE_ALL, '\ufffd');
}

/** Does every string in the value (keys too) pass `storable`? */
export function allStorable(v: unknown): boolean {
  if (typeof v === 'string') return storable(v);
  if (Array.isArray(v)) return v.every(allStorable);
  if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => storable(k) && allStorable(x));
  return true;
}

/** JSON text for a jsonb column, every string in it (keys too) made storable. */
export function storableJson(value: unknown): string {
  return JSON.stringify(clean(value));
}

function clean(v: unknown): unknown {
  if (typeof v === 'string') return toStorable(v);
  if (Array.isArray(v)) return v.map(clean);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [toStorable(k), clean(x)]));
  }
  return v;
}
