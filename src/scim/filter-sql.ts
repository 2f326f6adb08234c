import { invalidFilter } from './errors.js';
import type { CompareOp, Filter, Literal } from './filter.js';
import { resolveAttr, type Attr, type AttrType, type ResolvedAttr, type ResourceKind } from './schema.js';

/**
 * Translates a parsed filter to a SQL condition. Values only ever travel as parameters; the SQL
 * text is built from our own column names and schema names, never from the request.
 */
export interface ScalarColumn {
  kind: 'scalar';
  sql: string;
  type: AttrType;
  caseExact: boolean;
}
/** A multi-valued attribute: a row source (`… AS e`) and how to read a sub-attribute of a row. */
export interface MultiColumn {
  kind: 'multi';
  attr: Attr;
  from: string;
  field(sub: Attr): ScalarColumn;
}
export type Column = ScalarColumn | MultiColumn;

export interface SqlTarget {
  kind: ResourceKind;
  column(r: ResolvedAttr): Column;
}

/** The JSON-stored attribute at a canonical path, for attributes that have no column of their own. */
export function jsonScalar(doc: string, path: string[], attr: Attr): ScalarColumn {
  return { kind: 'scalar', sql: `(${doc} #>> ${jsonPath(path)})`, type: attr.type, caseExact: attr.caseExact ?? false };
}

/** A text[] literal for `#>`: the names come from our schema, and are stripped of quoting characters anyway. */
export function jsonPath(path: string[]): string {
  return `'{${path.map((p) => `"${p.replace(/["'\\{},]/g, '')}"`).join(',')}}'`;
}

export function jsonMulti(arraySql: string, attr: Attr): MultiColumn {
  return {
    kind: 'multi',
    attr,
    from: `jsonb_array_elements(CASE WHEN jsonb_typeof(${arraySql}) = 'array' THEN ${arraySql} ELSE '[]'::jsonb END) AS e`,
    field: (sub) => ({ kind: 'scalar', sql: `(e.value ->> '${sub.name.replace(/'/g, '')}')`, type: sub.type, caseExact: sub.caseExact ?? false }),
  };
}

/** meta.created and meta.lastModified are columns, resourceType a constant; meta.location is not filterable. */
export function metaColumn(r: ResolvedAttr, alias: string, resourceType: string): Column {
  switch (r.sub?.name) {
    case 'created':
      return { kind: 'scalar', sql: `${alias}.created_at`, type: 'dateTime', caseExact: false };
    case 'lastModified':
      return { kind: 'scalar', sql: `${alias}.updated_at`, type: 'dateTime', caseExact: false };
    case 'resourceType':
      return { kind: 'scalar', sql: `'${resourceType}'::text`, type: 'string', caseExact: false };
    default:
      throw invalidFilter(`Filter on meta.created, meta.lastModified or meta.resourceType.`);
  }
}

export class FilterSql {
  constructor(
    private readonly target: SqlTarget,
    readonly params: unknown[],
  ) {}

  private param(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }

  build(f: Filter, within?: MultiColumn): string {
    switch (f.op) {
      case 'and':
      case 'or':
        return `(${this.build(f.left, within)} ${f.op.toUpperCase()} ${this.build(f.right, within)})`;
      case 'not':
        return `NOT coalesce(${this.build(f.filter, within)}, false)`;
      case 'has': {
        if (within) throw invalidFilter('A [filter] cannot be nested inside another.');
        const col = this.target.column(resolveAttr(this.target.kind, f.path, invalidFilter));
        if (col.kind !== 'multi') throw invalidFilter(`"${f.path}" is not multi-valued; "[…]" filters apply to multi-valued attributes.`);
        return `EXISTS (SELECT 1 FROM ${col.from} WHERE ${this.build(f.filter, col)})`;
      }
      default: {
        const value = f.op === 'pr' ? null : f.value;
        // Inside `emails[…]`, names are sub-attributes of the multi-valued attribute.
        if (within) return this.compare(within.field(subAttr(within.attr, f.path)), f.op, value, f.path);
        const resolved = resolveAttr(this.target.kind, f.path, invalidFilter);
        const col = this.target.column(resolved);
        if (col.kind === 'scalar') return this.compare(col, f.op, value, f.path);
        // `emails eq "x"` and `emails.value eq "x"` both mean "some email's value".
        const sub = resolved.sub ?? subAttr(col.attr, 'value');
        return `EXISTS (SELECT 1 FROM ${col.from} WHERE ${this.compare(col.field(sub), f.op, value, f.path)})`;
      }
    }
  }

  private compare(col: ScalarColumn, op: CompareOp | 'pr', value: Literal, path: string): string {
    const e = col.sql;
    if (op === 'pr') return col.type === 'string' || col.type === 'reference' ? `(${e} IS NOT NULL AND ${e} <> '')` : `(${e} IS NOT NULL)`;
    if (col.type === 'complex') throw invalidFilter(`"${path}" is complex; filter on one of its sub-attributes.`);
    if (value === null) {
      if (op === 'eq') return `(${e} IS NULL)`;
      if (op === 'ne') return `(${e} IS NOT NULL)`;
      throw invalidFilter(`"${op}" cannot compare with null.`);
    }
    if (col.type === 'boolean') {
      const b = typeof value === 'boolean' ? value : typeof value === 'string' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : undefined;
      if (b === undefined) throw invalidFilter(`"${path}" is a boolean; compare it with true or false.`);
      if (op !== 'eq' && op !== 'ne') throw invalidFilter(`"${path}" is a boolean; use eq or ne.`);
      return `(((${e})::boolean IS TRUE) ${op === 'eq' ? '=' : '<>'} ${this.param(b)}::boolean)`;
    }
    if (col.type === 'dateTime') {
      const d = typeof value === 'string' ? new Date(value) : null;
      if (!d || Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) throw invalidFilter(`"${path}" is a date-time; compare it with an ISO 8601 string.`);
      if (['co', 'sw', 'ew'].includes(op)) throw invalidFilter(`"${op}" does not apply to the date-time "${path}".`);
      return `(${e})::timestamptz ${SQL_OP[op as 'eq']} ${this.param(d.toISOString())}::timestamptz`;
    }
    if (typeof value !== 'string') throw invalidFilter(`"${path}" is a string; compare it with a "quoted string".`);
    // Both sides lower-cased by PostgreSQL, as the indexes are: JavaScript lower-cases some letters (İ) differently.
    const lhs = col.caseExact ? e : `lower(${e})`;
    const rhs = (v: string) => (col.caseExact ? this.param(v) : `lower(${this.param(v)})`);
    switch (op) {
      case 'co':
        return `${lhs} LIKE ${rhs(`%${escapeLike(value)}%`)}`;
      case 'sw':
        return `${lhs} LIKE ${rhs(`${escapeLike(value)}%`)}`;
      case 'ew':
        return `${lhs} LIKE ${rhs(`%${escapeLike(value)}`)}`;
      case 'ne':
        return `(${e} IS NULL OR ${lhs} <> ${rhs(value)})`;
      default:
        return `${lhs} ${SQL_OP[op]} ${rhs(value)}`;
    }
  }
}

const SQL_OP: Record<'eq' | 'gt' | 'lt' | 'ge' | 'le' | 'ne', string> = { eq: '=', ne: '<>', gt: '>', lt: '<', ge: '>=', le: '<=' };

function escapeLike(v: string): string {
  return v.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function subAttr(attr: Attr, name: string): Attr {
  const found = attr.subAttributes?.find((a) => a.name.toLowerCase() === name.toLowerCase());
  if (!found) throw invalidFilter(`"${attr.name}" has no sub-attribute "${name}".`);
  return found;
}
