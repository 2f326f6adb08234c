import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../db/db.js';
import { storableJson } from '../../db/storable.js';

export interface TraceStep {
  check: string;
  ok: boolean;
  detail?: string;
}

/**
 * The story of one sign-in, for the admin: each check passed or failed, what arrived and what it
 * mapped to. Signature values are elided before anything is kept.
 */
export class SigninTrace {
  readonly reference = `KD-${randomBytes(5).toString('hex').toUpperCase()}`;
  readonly steps: TraceStep[] = [];
  data: Record<string, unknown> = {};

  pass(check: string, detail?: string): void {
    this.steps.push({ check, ok: true, ...(detail ? { detail } : {}) });
  }

  fail(check: string, detail: string): void {
    this.steps.push({ check, ok: false, detail });
  }

  /** Forgets the steps of an attempt that is being made again. */
  restart(): void {
    this.steps.length = 0;
    this.data = {};
  }

  async save(
    q: Queryable,
    row: { tenantId: string; connectionId: string | null; test: boolean; outcome: 'success' | 'failure'; errorCode?: string; userId?: string | null },
  ): Promise<string> {
    await q.query(
      `INSERT INTO signin_traces (tenant_id, id, connection_id, test, outcome, error_code, user_id, trace) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [row.tenantId, this.reference, row.connectionId, row.test, row.outcome, row.errorCode ?? null, row.userId ?? null, storableJson({ steps: this.steps, ...this.data })],
    );
    return this.reference;
  }
}

/** Keeps the decoded XML readable for the admin, without signature values or certificates. */
export function redactXml(xml: string): string {
  return xml
    .replace(/(<(?:\w+:)?SignatureValue[^>]*>)[^<]*(<\/)/g, '$1…elided…$2')
    .replace(/(<(?:\w+:)?X509Certificate[^>]*>)[^<]*(<\/)/g, '$1…elided…$2')
    .replace(/(<(?:\w+:)?DigestValue[^>]*>)[^<]*(<\/)/g, '$1…elided…$2');
}

export interface TraceSummary {
  id: string;
  connectionSlug: string | null;
  test: boolean;
  outcome: 'success' | 'failure';
  errorCode: string | null;
  userEmail: string | null;
  createdAt: Date;
}

const SUMMARY = `s.id, c.slug AS "connectionSlug", s.test, s.outcome, s.error_code AS "errorCode", u.email AS "userEmail", s.created_at AS "createdAt"`;
const FROM = `FROM signin_traces s LEFT JOIN sso_connections c ON c.tenant_id = s.tenant_id AND c.id = s.connection_id
  LEFT JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id`;

export async function listTraces(
  q: Queryable,
  tenantId: string,
  f: { outcome?: 'success' | 'failure'; connection?: string; before?: string; limit: number },
): Promise<TraceSummary[]> {
  const params: unknown[] = [tenantId];
  const where = ['s.tenant_id = $1'];
  if (f.outcome) where.push(`s.outcome = $${params.push(f.outcome)}`);
  if (f.connection) where.push(`c.slug = $${params.push(f.connection)}`);
  if (f.before) where.push(`(s.created_at, s.id) < (SELECT created_at, id FROM signin_traces WHERE tenant_id = $1 AND id = $${params.push(f.before)})`);
  return q.query<TraceSummary>(`SELECT ${SUMMARY} ${FROM} WHERE ${where.join(' AND ')} ORDER BY s.created_at DESC, s.id DESC LIMIT $${params.push(f.limit)}`, params);
}

export async function getTrace(q: Queryable, tenantId: string, id: string): Promise<(TraceSummary & { trace: Record<string, unknown> }) | null> {
  const rows = await q.query<TraceSummary & { trace: Record<string, unknown> }>(`SELECT ${SUMMARY}, s.trace ${FROM} WHERE s.tenant_id = $1 AND s.id = $2`, [
    tenantId,
    id.toUpperCase(),
  ]);
  return rows[0] ?? null;
}
