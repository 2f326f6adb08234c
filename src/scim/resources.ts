import type { Ctx } from '../context.js';
import { invalidSyntax, invalidValue } from './errors.js';
import { extensionByUrn, resolveAttr, type ResourceKind } from './schema.js';
import { checkSizes, coerce, type Doc } from './values.js';

/** What SCIM domain functions receive: a Ctx acting as the credential, and the Tenant URL. */
export interface ScimCtx extends Ctx {
  /** The fixed Tenant URL, e.g. https://desk.example.com/t/acme/scim/v2 */
  base: string;
}

const READ_ONLY = new Set(['id', 'meta', 'groups', 'schemas']);
const MAX_KEYS = 100;

/**
 * A POST or PUT body as a canonical document: attribute names as the schema spells them, values
 * coerced to their types, read-only attributes ignored (RFC 7644 §3.5.1: Okta sends back what it
 * read), the password discarded, and anything the schema does not know refused.
 */
export function readResourceBody(kind: ResourceKind, body: unknown): Doc {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax(`The body must be a ${kind.name} object.`);
  const b = body as Record<string, unknown>;
  const schemas = b.schemas;
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === kind.core.id.toLowerCase())) {
    throw invalidSyntax(`"schemas" must contain "${kind.core.id}".`);
  }
  // Other entries of `schemas` are not checked: Entra adds its own (ADSCIM/2.0/Group) and the
  // enterprise URN without an extension object. What matters is that every attribute is known.
  if (Object.keys(b).length > MAX_KEYS) throw invalidValue('Too many attributes.');
  const doc: Doc = {};
  for (const [key, value] of Object.entries(b)) {
    if (READ_ONLY.has(key.toLowerCase()) || value === undefined) continue;
    const ext = extensionByUrn(kind, key);
    if (ext) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue(`"${key}" must be an object.`);
      const part: Doc = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const r = resolveAttr(kind, `${ext.id}:${k}`, invalidValue);
        if (r.attr.mutability === 'readOnly' || v === null || v === undefined) continue;
        part[r.attr.name] = coerce(r.attr, v);
      }
      if (Object.keys(part).length) doc[ext.id] = part;
      continue;
    }
    const r = resolveAttr(kind, key, invalidValue);
    if (r.attr.mutability === 'writeOnly' || r.attr.mutability === 'readOnly' || value === null) continue;
    if (r.urn) ((doc[r.urn] ??= {}) as Doc)[r.attr.name] = coerce(r.attr, value);
    else doc[r.attr.name] = coerce(r.attr, value);
  }
  checkSizes(kind, doc);
  return doc;
}

/**
 * One page of a filtered list in creation order, and the total a ListResponse reports. `select`
 * ends in `FROM <table> <alias>`; `where` and `params` already hold the tenant and the filter.
 */
export async function listPage<R>(
  ctx: ScimCtx,
  q: { select: string; table: string; alias: string; where: string; params: unknown[]; startIndex: number; count: number },
): Promise<{ total: number; rows: R[] }> {
  const total = (await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${q.table} ${q.alias} WHERE ${q.where}`, q.params))[0]!.n;
  if (q.count === 0 || total < q.startIndex) return { total, rows: [] };
  const rows = await ctx.db.query<R>(`${q.select} WHERE ${q.where} ORDER BY ${q.alias}.created_at, ${q.alias}.id OFFSET ${q.startIndex - 1} LIMIT ${q.count}`, q.params);
  return { total, rows };
}

/** Paging from the query string (RFC 7644 §3.4.2.4): 1-based startIndex, count capped. */
export const MAX_PAGE = 200;

export function paging(query: Record<string, unknown>): { startIndex: number; count: number } {
  const num = (name: string, fallback: number): number => {
    const raw = query[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw invalidValue(`"${name}" must be an integer.`);
    return n;
  };
  // The RFC says values below 1 are read as 1 and a negative count as 0.
  return { startIndex: Math.max(1, num('startIndex', 1)), count: Math.min(MAX_PAGE, Math.max(0, num('count', 100))) };
}
