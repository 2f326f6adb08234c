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

/**
 * How deep JSON Keydesk takes from outside may nest (request bodies, ID tokens' claims). Real ones
 * need fewer than 10 levels; the bound keeps every walk below, and PostgreSQL's jsonb parser, far
 * from their stack limits.
 */
export const MAX_JSON_DEPTH = 64;

/** Does every string in the value (keys too) pass `storable`, and does it nest at most MAX_JSON_DEPTH deep? */
export function allStorable(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return storable(v);
  if (v === null || typeof v !== 'object') return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(v)) return v.every((x) => allStorable(x, depth + 1));
  return Object.entries(v).every(([k, x]) => storable(k) && allStorable(x, depth + 1));
}

/**
 * JSON text for a jsonb column, every string in it (keys too) made storable, and anything nested
 * deeper than MAX_JSON_DEPTH replaced by a note saying so (what Keydesk records about untrusted
 * input; requests that nest deeper are refused before this).
 */
export function storableJson(value: unknown): string {
  return JSON.stringify(clean(value, 0));
}

function clean(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return toStorable(v);
  if (v === null || typeof v !== 'object' || v instanceof Date) return v;
  if (depth >= MAX_JSON_DEPTH) return `… nested more than ${MAX_JSON_DEPTH} levels deep: not kept`;
  if (Array.isArray(v)) return v.map((x) => clean(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [toStorable(k), clean(x, depth + 1)]));
}
