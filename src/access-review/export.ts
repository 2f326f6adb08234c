import type { Ctx } from '../context.js';
import { audit } from '../audit/audit.js';
import { csvRecord, exportContentType, type ExportFile, type ExportFormat } from '../audit/export.js';
import { allPeople, type GroupVia, type ReviewFilter, type ReviewGrant, type ReviewPerson } from './review.js';

/**
 * The access review as a file for an auditor: one row per (person, role grant), a person without
 * any grant as one row with the grant's columns empty. CSV per RFC 4180 with the audit export's
 * formatter (formula-injection protection included), or JSON Lines with the same keys.
 */

/** The columns, in order; also the keys of each JSON Lines record. */
export const REVIEW_COLUMNS = [
  'userId',
  'email',
  'displayName',
  'status',
  'source',
  'breakGlass',
  'createdAt',
  'lastSigninAt',
  'lastScimChangeAt',
  'role',
  'origin',
  'grantedAt',
  'grantedBy',
  'grantedByEmail',
  'ruleId',
  'groupRef',
  'ruleConnection',
  'groupSeenIn',
  'revocable',
  'provenance',
] as const;

type Row = Record<(typeof REVIEW_COLUMNS)[number], string | boolean | null | GroupVia[]>;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function rows(p: ReviewPerson): Row[] {
  const person = {
    userId: p.id,
    email: p.email,
    displayName: p.displayName,
    status: p.status,
    source: p.source,
    breakGlass: p.breakGlass,
    createdAt: iso(p.createdAt),
    lastSigninAt: iso(p.lastSigninAt),
    lastScimChangeAt: iso(p.lastScimChangeAt),
  };
  const grant = (g: ReviewGrant | null) => ({
    role: g?.role ?? null,
    origin: g?.origin ?? null,
    grantedAt: g?.grantedAt ?? null,
    grantedBy: g?.grantedBy?.displayName ?? null,
    grantedByEmail: g?.grantedBy?.email || null,
    ruleId: g?.rule?.id ?? null,
    groupRef: g?.rule?.groupRef ?? null,
    ruleConnection: g?.rule?.connection ?? null,
    groupSeenIn: g?.via ?? [],
    revocable: g?.revocable ?? false,
    provenance: g?.provenance ?? 'no role',
  });
  return (p.grants.length ? p.grants : [null]).map((g) => ({ ...person, ...grant(g) }));
}

/** `scim:IT-Agents; signin:entra`: where a rule's group was seen, in one CSV cell. */
function viaCell(via: GroupVia[]): string {
  return via.map((v) => (v.kind === 'scim' ? `scim:${v.displayName}` : `signin:${v.connection ?? ''}`)).join('; ');
}

function csvLine(r: Row): string {
  return csvRecord(
    REVIEW_COLUMNS.map((k) => {
      const v = r[k];
      if (Array.isArray(v)) return viaCell(v);
      if (typeof v === 'boolean') return v ? 'true' : 'false';
      return v;
    }),
  );
}

/**
 * Starts an export of the review of the people matching `filter` (every live account without one),
 * in email order. Recorded as `access_review.exported` (format and filters) before any row is read,
 * so an export that fails half-way is on record too. People are read MAX_PAGE at a time: memory stays
 * flat whatever the size of the tenant. Each person's row is consistent; the file as a whole is not
 * one snapshot (a change during a long export shows in the people read after it).
 */
export async function exportReview(ctx: Ctx, format: ExportFormat, filter: ReviewFilter): Promise<ExportFile> {
  const filters = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
  const at = new Date();
  await audit(ctx, ctx.db, { action: 'access_review.exported', details: { format, filters } });
  async function* chunks(): AsyncGenerator<string> {
    if (format === 'csv') yield csvRecord([...REVIEW_COLUMNS]);
    for await (const people of allPeople(ctx, filter)) {
      const out = people.flatMap(rows);
      yield out.map((r) => (format === 'csv' ? csvLine(r) : JSON.stringify(r) + '\n')).join('');
    }
  }
  return { filename: `access-review-${ctx.tenant.slug}-${at.toISOString().slice(0, 10)}.${format}`, contentType: exportContentType(format), chunks: chunks() };
}
