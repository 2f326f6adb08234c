import { storable } from '../db/storable.js';
import { invalidFilter, invalidValue } from './errors.js';
import type { Filter } from './filter.js';
import type { Attr, ResourceKind } from './schema.js';

/**
 * Values as the schema wants them. Clients are loose in known ways (Entra sends `"False"` for a
 * boolean, the manager as a bare string or a one-element list); anything else that does not fit
 * the schema is an invalidValue error rather than something silently dropped.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Doc = Record<string, Json>;

export const MAX_STRING = 2048;
const MAX_VALUES = 100;

export function coerce(attr: Attr, value: unknown, where = attr.name): Json {
  if (value === null) return null;
  if (attr.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    const out = list.map((v) => coerceOne(attr, v, where));
    if (attr.type === 'complex' && out.filter((v) => v && typeof v === 'object' && (v as Doc).primary === true).length > 1) {
      throw invalidValue(`"${where}" has more than one value marked primary.`);
    }
    return out;
  }
  if (Array.isArray(value)) {
    // Microsoft's tutorial sends the manager as [{ "$ref": …, "value": … }].
    if (attr.type === 'complex' && value.length === 1) return coerceOne(attr, value[0], where);
    throw invalidValue(`"${where}" takes a single value, not a list.`);
  }
  return coerceOne(attr, value, where);
}

function coerceOne(attr: Attr, value: unknown, where: string): Json {
  switch (attr.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      throw invalidValue(`"${where}" must be true or false.`);
    case 'complex': {
      if (typeof value === 'string' && attr.subAttributes?.some((a) => a.name === 'value')) return { value: checkString(value, `${where}.value`) };
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue(`"${where}" must be an object.`);
      const out: Doc = {};
      for (const [k, v] of Object.entries(value)) {
        const sub = attr.subAttributes?.find((a) => a.name.toLowerCase() === k.toLowerCase());
        if (!sub) throw invalidValue(`"${where}" has no sub-attribute "${k}".`);
        if (v === null || v === undefined) continue;
        out[sub.name] = coerceOne(sub, v, `${where}.${sub.name}`);
      }
      return out;
    }
    default:
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      if (typeof value === 'string') return checkString(value, where);
      throw invalidValue(`"${where}" must be a string.`);
  }
}

function checkString(v: string, where: string): string {
  if (v.length > MAX_STRING) throw invalidValue(`"${where}" is longer than ${MAX_STRING} characters.`);
  if (!storable(v)) throw invalidValue(`"${where}" contains a NUL character or invalid UTF-16.`);
  return v;
}

/**
 * The cap on multi-valued attributes (members excepted: a group is bounded by the body size),
 * checked on the document a request would store, whether it arrived whole or by PATCH operations.
 */
export function checkSizes(kind: ResourceKind, doc: Doc): void {
  const check = (attrs: Attr[], part: Doc) => {
    for (const a of attrs) {
      const v = part[a.name];
      if (a.multiValued && a.name !== 'members' && Array.isArray(v) && v.length > MAX_VALUES) throw invalidValue(`"${a.name}" has more than ${MAX_VALUES} values.`);
    }
  };
  check(kind.core.attributes, doc);
  for (const ext of kind.extensions) if (doc[ext.id] && typeof doc[ext.id] === 'object') check(ext.attributes, doc[ext.id] as Doc);
}

/** Does one value of a multi-valued attribute match a `[…]` filter (paths are its sub-attributes)? */
export function matches(attr: Attr, element: Json, f: Filter): boolean {
  if (!element || typeof element !== 'object' || Array.isArray(element)) return false;
  switch (f.op) {
    case 'and':
      return matches(attr, element, f.left) && matches(attr, element, f.right);
    case 'or':
      return matches(attr, element, f.left) || matches(attr, element, f.right);
    case 'not':
      return !matches(attr, element, f.filter);
    case 'has':
      throw invalidFilter('A [filter] cannot be nested inside another.');
    default: {
      const sub = attr.subAttributes?.find((a) => a.name.toLowerCase() === f.path.toLowerCase());
      if (!sub) throw invalidFilter(`"${attr.name}" has no sub-attribute "${f.path}".`);
      const actual = (element as Doc)[sub.name];
      if (f.op === 'pr') return actual !== undefined && actual !== null && actual !== '';
      const expected = sub.type === 'boolean' && typeof f.value === 'string' ? f.value.toLowerCase() === 'true' : f.value;
      if (typeof actual === 'string' && typeof expected === 'string') {
        const a = sub.caseExact ? actual : actual.toLowerCase();
        const e = sub.caseExact ? expected : expected.toLowerCase();
        switch (f.op) {
          case 'eq':
            return a === e;
          case 'ne':
            return a !== e;
          case 'co':
            return a.includes(e);
          case 'sw':
            return a.startsWith(e);
          case 'ew':
            return a.endsWith(e);
          case 'gt':
            return a > e;
          case 'lt':
            return a < e;
          case 'ge':
            return a >= e;
          case 'le':
            return a <= e;
        }
      }
      if (f.op === 'eq') return (actual ?? null) === expected;
      if (f.op === 'ne') return (actual ?? null) !== expected;
      return false;
    }
  }
}

/** The `eq` conditions of a filter, as the sub-attributes of a new entry (`emails[type eq "work"]`). */
export function equalities(f: Filter): Doc | null {
  if (f.op === 'eq' && typeof f.value !== 'object') return { [f.path]: f.value };
  if (f.op === 'and') {
    const l = equalities(f.left);
    const r = equalities(f.right);
    return l && r ? { ...l, ...r } : null;
  }
  return null;
}
