import type { Ctx } from '../context.js';
import { audit } from './audit.js';
import { queryAudit, type AuditEntry, type AuditFilter } from './query.js';

/**
 * The audit log as a file, for auditors and for tools: CSV (RFC 4180) or JSON Lines. One formatter
 * serves the REST export (`GET /api/v1/audit/export`) and the CLI (`keydesk audit export`), so the
 * two give the same bytes for the same events.
 */

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * The CSV columns, in order: the list API's fields (`details` as JSON text), then the event's place
 * in the tenant's hash chain (`chainSeq`, `prevHash`, `hash`; empty until sealed), so an auditor
 * can re-compute the chain offline (docs/audit.md).
 */
export const CSV_COLUMNS = ['id', 'occurredAt', 'actorId', 'actorLabel', 'action', 'outcome', 'reason', 'targetType', 'targetId', 'targetLabel', 'ip', 'details', 'chainSeq', 'prevHash', 'hash'] as const;

/** Rows read per query while exporting: memory stays flat whatever the size of the log. */
export const EXPORT_PAGE_SIZE = 500;

/**
 * A cell whose text starts with one of these is read as a formula by spreadsheet programs (Excel,
 * LibreOffice, Google Sheets): OWASP's "CSV injection" list. Such a cell gets a leading `'`, which
 * the programs show as text and which a reader of the raw file can see and strip.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field per RFC 4180 §2: quoted (with `"` doubled) when it holds a comma, a semicolon, a
 * quote, CR or LF; a null is an empty field. Text starting with = + - @ TAB or CR is prefixed with
 * `'` first (formula injection, OWASP). The semicolon is quoted because Excel in many European
 * locales splits on it: `a;=HYPERLINK(…)` would otherwise open as two cells, the second a formula.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let s = String(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",;\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One record with its CRLF line end (RFC 4180 §2.1). */
export function csvRecord(fields: (string | number | null)[]): string {
  return fields.map(csvField).join(',') + '\r\n';
}

/** The header record: the column names. */
export function csvHeader(): string {
  return csvRecord([...CSV_COLUMNS]);
}

/** An entry as a CSV record: times in ISO 8601 UTC with milliseconds, details as compact JSON. */
export function csvLine(e: AuditEntry): string {
  return csvRecord([
    e.id,
    new Date(e.occurredAt).toISOString(),
    e.actorId,
    e.actorLabel,
    e.action,
    e.outcome,
    e.reason,
    e.targetType,
    e.targetId,
    e.targetLabel,
    e.ip,
    JSON.stringify(e.details ?? {}),
    e.chainSeq ?? null,
    e.prevHash ?? null,
    e.hash ?? null,
  ]);
}

/** An entry as the list API shows it, with its time as ISO 8601 UTC text: the JSON Lines record and the syslog MSG. */
export function entryObject(e: AuditEntry): Record<string, unknown> {
  return {
    id: e.id,
    occurredAt: new Date(e.occurredAt).toISOString(),
    actorId: e.actorId,
    actorLabel: e.actorLabel,
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    targetType: e.targetType,
    targetId: e.targetId,
    targetLabel: e.targetLabel,
    ip: e.ip,
    details: e.details ?? {},
  };
}

/**
 * An entry as one JSON Lines record (`\n`-terminated; JSON escapes any line break inside): the list
 * API's object, with the chain fields (`chainSeq`, `prevHash`, `hash`; null until sealed).
 */
export function jsonLine(e: AuditEntry): string {
  return JSON.stringify({ ...entryObject(e), chainSeq: e.chainSeq ?? null, prevHash: e.prevHash ?? null, hash: e.hash ?? null }) + '\n';
}

export function exportContentType(format: ExportFormat): string {
  return format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson';
}

/** `audit-<tenant>-<YYYY-MM-DD>.csv` (or `.jsonl`), the date in UTC. */
export function exportFilename(tenantSlug: string, format: ExportFormat, at = new Date()): string {
  return `audit-${tenantSlug}-${at.toISOString().slice(0, 10)}.${format}`;
}

/** An export as the API sends it (src/api/export-file.ts): the audit log's, the access review's. */
export interface ExportFile {
  filename: string;
  contentType: string;
  /** The file, a page of rows at a time (the CSV header first): iterate once. */
  chunks: AsyncGenerator<string>;
}

/**
 * Starts an export of the tenant's audit log matching `filter`, oldest first. The export covers the
 * events that exist when it is asked for (ids up to the newest one then), and is itself recorded
 * as `audit.exported` (with the format and filters) before any row is read, so an export that fails
 * half-way is on record too. Rows are read with keyset pagination on the id, EXPORT_PAGE_SIZE at a time.
 * @param filter the list API's filters; `since`/`until` already normalised to ISO 8601 UTC
 */
export async function exportAudit(ctx: Ctx, format: ExportFormat, filter: AuditFilter): Promise<ExportFile> {
  const [newest] = await ctx.db.query<{ id: number | null }>('SELECT max(id) AS id FROM audit_events WHERE tenant_id = $1', [ctx.tenant.id]);
  const upTo = newest?.id ?? 0;
  const filters = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
  await audit(ctx, ctx.db, { action: 'audit.exported', details: { format, filters, upToId: upTo } });
  const line = format === 'csv' ? csvLine : jsonLine;
  async function* chunks(): AsyncGenerator<string> {
    if (format === 'csv') yield csvHeader();
    let after = 0;
    for (;;) {
      const rows = await queryAudit(ctx, { ...filter, order: 'asc', after, upTo, limit: EXPORT_PAGE_SIZE });
      if (!rows.length) return;
      yield rows.map(line).join('');
      after = rows[rows.length - 1]!.id;
      if (rows.length < EXPORT_PAGE_SIZE) return;
    }
  }
  return { filename: exportFilename(ctx.tenant.slug, format), contentType: exportContentType(format), chunks: chunks() };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * An RFC 3339 date-time (`2024-05-01T08:00:00Z`, `…+02:00`, fractions allowed), or with `dateOnly`
 * also a full date (`2024-05-01`, midnight UTC), as an ISO 8601 instant in UTC; null when it is not
 * one or falls outside the years 1 to 9999 (which PostgreSQL and JavaScript share without surprises).
 * A leap second (`:60`) is read as the second before it: a filter loses nothing by it.
 */
export function parseInstant(text: string, opts: { dateOnly?: boolean } = {}): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2})))?$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, , , , oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return null;
  if (h === undefined) {
    if (!opts.dateOnly) return null;
  } else if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 60 || (oh !== undefined && (Number(oh) > 23 || Number(om) > 59))) {
    return null;
  }
  return toInstant(h === undefined ? `${text}T00:00:00Z` : text);
}

/**
 * A date-time the validator already accepted (RFC 3339) as an ISO 8601 instant in UTC, or null
 * outside the years 1 to 9999 (RFC 3339 allows year 0000 and offsets PostgreSQL refuses).
 */
export function toInstant(value: string): string | null {
  // JavaScript has no leap second; a second earlier makes no difference to a filter.
  const d = new Date(value.replace(/:60(?=(\.\d+)?([zZ]|[+-]|$))/, ':59'));
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 1 || year > 9999) return null;
  return d.toISOString();
}
