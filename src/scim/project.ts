import { invalidValue } from './errors.js';
import { resolveAttr, type ResolvedAttr, type ResourceKind } from './schema.js';
import type { Doc, Json } from './values.js';

/**
 * `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5) applied to a representation. `id` and
 * `schemas` are always returned.
 */
export interface Projection {
  only: ResolvedAttr[] | null;
  except: ResolvedAttr[];
}

export function readProjection(kind: ResourceKind, attributes: unknown, excluded: unknown): Projection {
  const list = (v: unknown): ResolvedAttr[] | null => {
    if (v === undefined || v === '') return null;
    if (typeof v !== 'string' || v.length > 2000) throw invalidValue('"attributes" and "excludedAttributes" are comma-separated attribute names.');
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((name) => resolveAttr(kind, name, invalidValue));
  };
  return { only: list(attributes), except: list(excluded) ?? [] };
}

export function excludes(p: Projection, attrName: string): boolean {
  if (p.only) return !p.only.some((r) => r.attr.name === attrName && !r.urn);
  return p.except.some((r) => r.attr.name === attrName && !r.urn && !r.sub);
}

export function project(p: Projection, resource: Doc): Doc {
  if (!p.only && !p.except.length) return resource;
  let out: Doc;
  if (p.only) {
    out = { schemas: resource.schemas ?? null, id: resource.id ?? null };
    for (const r of p.only) copy(resource, out, r);
  } else {
    out = structuredClone(resource);
  }
  for (const r of p.except) {
    if (r.attr.name === 'id' && !r.urn) continue;
    const holder = (r.urn ? out[r.urn] : out) as Doc | undefined;
    if (!holder || typeof holder !== 'object') continue;
    if (!r.sub) delete holder[r.attr.name];
    else strip(holder[r.attr.name], r.sub.name);
  }
  return out;
}

function copy(from: Doc, to: Doc, r: ResolvedAttr): void {
  const src = (r.urn ? from[r.urn] : from) as Doc | undefined;
  if (!src || typeof src !== 'object' || src[r.attr.name] === undefined) return;
  const dst = r.urn ? ((to[r.urn] ??= {}) as Doc) : to;
  const value = src[r.attr.name]!;
  if (!r.sub) {
    dst[r.attr.name] = value;
    return;
  }
  const pick = (e: Json): Json => (e && typeof e === 'object' && !Array.isArray(e) && e[r.sub!.name] !== undefined ? { ...((dst[r.attr.name] as Doc) ?? {}), [r.sub!.name]: e[r.sub!.name]! } : null);
  if (Array.isArray(value)) dst[r.attr.name] = value.map((e, i) => ({ ...(((dst[r.attr.name] as Json[]) ?? [])[i] as Doc), ...((pick(e) as Doc) ?? {}) }));
  else if (pick(value)) dst[r.attr.name] = pick(value)!;
}

function strip(value: Json | undefined, sub: string): void {
  if (Array.isArray(value)) for (const e of value) strip(e, sub);
  else if (value && typeof value === 'object') delete value[sub];
}
