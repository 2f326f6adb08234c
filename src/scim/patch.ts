import { invalidFilter, invalidPath, invalidSyntax, invalidValue, mutability, ScimError } from './errors.js';
import { parsePatchPath, type Filter } from './filter.js';
import { extensionByUrn, PATCH_SCHEMA, resolveAttr, type Attr, type ResolvedAttr, type ResourceKind } from './schema.js';
import { checkSizes, coerce, equalities, matches, type Doc, type Json } from './values.js';

/**
 * PATCH (RFC 7644 §3.5.2) applied in memory to a resource's representation, so a request is
 * applied whole or not at all: the caller stores the result in one statement, or nothing.
 *
 * Entra's two dialects are both spoken: capitalised ops (`Replace`), string booleans (`"False"`),
 * path-less values with dotted keys (`"name.givenName"`) or extension URNs, a replace on
 * `emails[type eq "work"].value` when no work email exists yet (it becomes an add), and member
 * removal either as `Remove members` with a value list or as `members[value eq "…"]`.
 */
export type MemberChange = { op: 'add'; ids: string[] } | { op: 'remove'; ids: string[] } | { op: 'replace'; ids: string[] };

export interface PatchResult {
  doc: Doc;
  /** Group membership changes, kept apart so they apply as row deltas (concurrent PATCHes lose no member). */
  members: MemberChange[];
}

export const MAX_OPERATIONS = 1000;

type Op = 'add' | 'replace' | 'remove';

export function applyPatch(kind: ResourceKind, resourceId: string, current: Doc, body: unknown): PatchResult {
  const ops = readOperations(body);
  const doc = structuredClone(current);
  const members: MemberChange[] = [];
  ops.forEach((o, i) => {
    try {
      if (o.path === undefined) applyPathless(kind, resourceId, doc, members, o.op, o.value);
      else applyAt(kind, doc, members, o.op, o.path, o.value);
    } catch (err) {
      if (err instanceof ScimError) throw new ScimError(err.status, `Operation ${i + 1} (${o.op}${o.path ? ` ${o.path}` : ''}): ${err.message}`, err.scimType);
      throw err;
    }
  });
  checkSizes(kind, doc);
  return { doc, members };
}

function readOperations(body: unknown): { op: Op; path?: string; value?: unknown }[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a PatchOp object.');
  const b = body as Record<string, unknown>;
  const schemas = b.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA)) throw invalidSyntax(`"schemas" must contain "${PATCH_SCHEMA}".`);
  const key = Object.keys(b).find((k) => k.toLowerCase() === 'operations');
  const list = key ? b[key] : undefined;
  if (!Array.isArray(list) || list.length === 0) throw invalidSyntax('"Operations" must be a non-empty list.');
  if (list.length > MAX_OPERATIONS) throw new ScimError(400, `At most ${MAX_OPERATIONS} operations per request.`, 'tooMany');
  return list.map((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalidSyntax(`Operation ${i + 1} must be an object.`);
    const entry = Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
    const op = typeof entry.op === 'string' ? entry.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw invalidSyntax(`Operation ${i + 1}: "op" must be add, replace or remove.`);
    if (entry.path !== undefined && (typeof entry.path !== 'string' || entry.path === '')) throw invalidPath(`Operation ${i + 1}: "path" must be a non-empty string.`);
    if (op !== 'remove' && entry.value === undefined) throw invalidValue(`Operation ${i + 1}: "${op}" needs a value.`);
    return { op, path: entry.path as string | undefined, value: entry.value };
  });
}

function applyPathless(kind: ResourceKind, resourceId: string, doc: Doc, members: MemberChange[], op: Op, value: unknown): void {
  if (op === 'remove') throw new ScimError(400, '"remove" needs a path.', 'noTarget');
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue('Without a path, the value must be an object of attributes.');
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    // Okta renames a group with {"id": <its own id>, "displayName": …}: the id is only a reminder.
    if (key.toLowerCase() === 'id' && v === resourceId) continue;
    if (key.toLowerCase() === 'schemas') continue;
    const ext = extensionByUrn(kind, key);
    if (ext) {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidValue(`"${key}" must be an object.`);
      for (const [sub, sv] of Object.entries(v as Record<string, unknown>)) applyAt(kind, doc, members, op, `${ext.id}:${sub}`, sv);
    } else {
      applyAt(kind, doc, members, op, key, v);
    }
  }
}

function applyAt(kind: ResourceKind, doc: Doc, members: MemberChange[], op: Op, rawPath: string, value: unknown): void {
  const path = parsePatchPath(rawPath);
  const r = resolveAttr(kind, path.attr);
  if (path.filter && path.sub === null && r.sub) throw invalidPath(`"${rawPath}" is not a valid path.`);
  const target = r.sub ?? (path.sub !== null ? subOf(r.attr, path.sub, rawPath) : null);
  if (r.attr.mutability === 'readOnly' || r.attr.name === 'id') throw mutability(`"${r.attr.name}" is read-only.`);
  if (kind.name === 'Group' && r.attr.name === 'members') return memberOp(members, op, r, path.filter, value, rawPath);

  const holder = holderOf(doc, r);
  const name = r.attr.name;

  if (!r.attr.multiValued) {
    if (path.filter) throw invalidPath(`"${rawPath}": a [filter] applies to multi-valued attributes only.`);
    if (target) {
      const obj = (holder[name] && typeof holder[name] === 'object' && !Array.isArray(holder[name]) ? holder[name] : {}) as Doc;
      if (op === 'remove') delete obj[target.name];
      else obj[target.name] = coerce(target, value, `${name}.${target.name}`);
      holder[name] = obj;
      if (Object.keys(obj).length === 0) delete holder[name];
      return;
    }
    if (op === 'remove' || value === null) {
      delete holder[name];
      return;
    }
    const v = coerce(r.attr, value);
    // Adding or replacing a complex attribute merges its sub-attributes (RFC 7644 §3.5.2.1, .3).
    if (r.attr.type === 'complex' && v && typeof v === 'object' && holder[name] && typeof holder[name] === 'object') holder[name] = { ...(holder[name] as Doc), ...(v as Doc) };
    else holder[name] = v;
    return;
  }

  const list = (Array.isArray(holder[name]) ? holder[name] : []) as Json[];
  if (path.filter) {
    const hit = list.filter((e) => matches(r.attr, e, path.filter!));
    if (op === 'remove') {
      holder[name] = target ? list.map((e) => (hit.includes(e) ? withoutKey(e as Doc, target.name) : e)) : list.filter((e) => !hit.includes(e));
    } else if (hit.length === 0) {
      // Entra replaces `emails[type eq "work"].value` before any work email exists: add the entry.
      const seed = equalities(path.filter);
      if (!seed) throw new ScimError(400, `No value of "${name}" matches the filter, and it does not say what to add.`, 'noTarget');
      if (!target && (!value || typeof value !== 'object' || Array.isArray(value))) throw invalidValue(`"${rawPath}" needs an object value (or a sub-attribute in the path).`);
      const entry = target ? { ...seed, [target.name]: value as Json } : { ...seed, ...(value as Doc) };
      holder[name] = [...list, ...(coerce(r.attr, [entry], name) as Json[])];
    } else {
      holder[name] = list.map((e) => {
        if (!hit.includes(e)) return e;
        if (target) return { ...(e as Doc), [target.name]: coerce(target, value, `${name}.${target.name}`) };
        return { ...(e as Doc), ...(coerce(r.attr, [value], name) as Doc[])[0]! };
      });
    }
    holder[name] = normalisePrimary(holder[name] as Json[]);
    if ((holder[name] as Json[]).length === 0) delete holder[name];
    return;
  }
  if (target) {
    // `emails.value`: every entry's sub-attribute.
    holder[name] = list.map((e) => (op === 'remove' ? withoutKey(e as Doc, target.name) : { ...(e as Doc), [target.name]: coerce(target, value) }));
    return;
  }
  if (op === 'remove') {
    if (value === undefined) delete holder[name];
    else {
      const drop = coerce(r.attr, value) as Json[];
      holder[name] = list.filter((e) => !drop.some((d) => sameValue(d, e)));
    }
    return;
  }
  const incoming = coerce(r.attr, value) as Json[];
  if (op === 'replace') holder[name] = incoming;
  else holder[name] = [...list.filter((e) => !incoming.some((n) => sameValue(n, e))), ...incoming];
  holder[name] = normalisePrimary(holder[name] as Json[]);
}

function memberOp(members: MemberChange[], op: Op, r: ResolvedAttr, filter: Filter | null, value: unknown, rawPath: string): void {
  if (r.sub) throw invalidPath(`"${rawPath}": change members as a whole ("members" or "members[value eq …]").`);
  if (filter) {
    if (op !== 'remove') throw invalidPath(`"${rawPath}": a member filter is only for remove.`);
    members.push({ op: 'remove', ids: memberIdsOf(filter) });
    return;
  }
  if (op === 'remove' && value === undefined) {
    members.push({ op: 'replace', ids: [] });
    return;
  }
  const list = coerce(r.attr, value ?? [], 'members') as Doc[];
  const ids = list.map((m) => {
    if (typeof m.value !== 'string') throw invalidValue('Each member needs a "value": the user\'s id.');
    return m.value;
  });
  members.push({ op, ids });
}

/** `members[value eq "a"]` or `members[value eq "a" or value eq "b"]`: the ids named. */
function memberIdsOf(f: Filter): string[] {
  if (f.op === 'or') return [...memberIdsOf(f.left), ...memberIdsOf(f.right)];
  if (f.op === 'eq' && f.path.toLowerCase() === 'value' && typeof f.value === 'string') return [f.value];
  throw invalidFilter('Members can be selected by `value eq "<id>"` (joined with "or").');
}

function holderOf(doc: Doc, r: ResolvedAttr): Doc {
  if (!r.urn) return doc;
  if (!doc[r.urn] || typeof doc[r.urn] !== 'object') doc[r.urn] = {};
  return doc[r.urn] as Doc;
}

function subOf(attr: Attr, sub: string, rawPath: string): Attr {
  const found = attr.subAttributes?.find((a) => a.name.toLowerCase() === sub.toLowerCase());
  if (!found) throw invalidPath(`"${rawPath}": "${attr.name}" has no sub-attribute "${sub}".`);
  return found;
}

function withoutKey(e: Doc, key: string): Doc {
  const { [key]: _gone, ...rest } = e;
  return rest;
}

function sameValue(a: Json, b: Json): boolean {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    if ('value' in a && 'value' in b) return a.value === b.value && (a.type ?? null) === (b.type ?? null);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The last entry marked primary wins: a new primary demotes the old one (RFC 7643 §2.4). */
function normalisePrimary(list: Json[]): Json[] {
  const last = list.map((e) => e && typeof e === 'object' && !Array.isArray(e) && e.primary === true).lastIndexOf(true);
  if (last < 0) return list;
  return list.map((e, i) => (i !== last && e && typeof e === 'object' && !Array.isArray(e) && e.primary === true ? { ...e, primary: false } : e));
}
