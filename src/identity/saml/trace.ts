import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../db/db.js';

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

  async save(
    q: Queryable,
    row: { tenantId: string; connectionId: string | null; test: boolean; outcome: 'success' | 'failure'; errorCode?: string; userId?: string | null },
  ): Promise<string> {
    await q.query(
      `INSERT INTO signin_traces (tenant_id, id, connection_id, test, outcome, error_code, user_id, trace) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [row.tenantId, this.reference, row.connectionId, row.test, row.outcome, row.errorCode ?? null, row.userId ?? null, JSON.stringify({ steps: this.steps, ...this.data })],
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
