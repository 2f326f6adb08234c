import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../db/db.js';
import { storableJson } from '../../db/storable.js';
import { writeCtes, type Param } from '../../db/held-writes.js';
import { SigninFailure } from './failure.js';

/** A check run as a trace step (SigninTrace.step), as a protocol's verifier composes them. */
export type TraceCheck = <T>(name: string, fn: () => T | Promise<T>, ok?: (v: T) => string | undefined) => Promise<T>;

/**
 * The message checks of a protocol, as trace steps that fail closed: a check that throws anything
 * but a SigninFailure (a library's RangeError on input it cannot handle) refuses the message with
 * `refuse(reason)` and a failed step, rather than answering 500. Checks that talk to the database
 * stay plain `trace.step`s, so an outage is not mistaken for a bad message.
 * @param refuse the protocol's failure for a message it could not process; `reason` is at most 200 characters
 */
export function failClosedChecks(trace: SigninTrace, refuse: (reason: string) => SigninFailure): TraceCheck {
  return (name, fn, ok) =>
    trace.step(
      name,
      async () => {
        try {
          return await fn();
        } catch (err) {
          if (err instanceof SigninFailure) throw err;
          throw refuse(String((err as Error | null)?.message ?? err).slice(0, 200));
        }
      },
      ok,
    );
}

/** Where a trace is filed: its tenant, connection, outcome, and the person it signed in. */
export interface TraceRow {
  tenantId: string;
  connectionId: string | null;
  test: boolean;
  outcome: 'success' | 'failure';
  errorCode?: string;
  userId?: string | null;
}

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
  /** Set once the response is known to answer a test sign-in, whose effects are rolled back. */
  dryRun = false;

  pass(check: string, detail?: string): void {
    this.steps.push({ check, ok: true, ...(detail ? { detail } : {}) });
  }

  fail(check: string, detail: string): void {
    this.steps.push({ check, ok: false, detail });
  }

  /**
   * Runs one check as a trace step: passed (with `ok`'s detail) when it returns, failed with the
   * failure's message when it throws a SigninFailure, which is rethrown.
   */
  async step<T>(name: string, fn: () => T | Promise<T>, ok?: (v: T) => string | undefined): Promise<T> {
    try {
      const v = await fn();
      this.pass(name, ok?.(v));
      return v;
    } catch (err) {
      if (err instanceof SigninFailure) this.fail(name, err.message);
      throw err;
    }
  }

  /** A mark to come back to: the steps and data as they are now (an attempt about to be made again). */
  checkpoint(): () => void {
    const steps = this.steps.length;
    const data = { ...this.data };
    return () => {
      this.steps.length = steps;
      this.data = { ...data };
    };
  }

  async save(
    q: Queryable,
    row: TraceRow,
  ): Promise<string> {
    await writeCtes(q, (p) => this.insertCte(p, row));
    return this.reference;
  }

  /** The trace's INSERT as a CTE, to go in the statement that ends a sign-in's transaction (src/db/held-writes.ts). */
  insertCte(p: Param, row: TraceRow): string {
    return `trace_row AS (
       INSERT INTO signin_traces (tenant_id, id, connection_id, test, outcome, error_code, user_id, trace)
       VALUES (${p(row.tenantId)}::uuid, ${p(this.reference)}, ${p(row.connectionId)}::uuid, ${p(row.test)}::boolean, ${p(row.outcome)}, ${p(row.errorCode ?? null)}, ${p(row.userId ?? null)}::uuid, ${p(storableJson({ steps: this.steps, ...capped(this.data) }))}::jsonb))`;
  }
}

/** The most of a decoded message a trace keeps: Entra's largest genuine responses are about 16 KiB. */
export const MAX_TRACE_MESSAGE_CHARS = 64 * 1024;

/** Any message text kept in a trace, cut to MAX_TRACE_MESSAGE_CHARS: whoever posts decides its size. */
function capped(data: Record<string, unknown>): Record<string, unknown> {
  const out = { ...data };
  for (const key of ['responseXml', 'idToken'] as const) {
    const v = out[key];
    if (typeof v === 'string' && v.length > MAX_TRACE_MESSAGE_CHARS) out[key] = `${v.slice(0, MAX_TRACE_MESSAGE_CHARS)}\n… cut: ${v.length} characters in all`;
  }
  return out;
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

/** Forgets traces older than the retention (days); called from the periodic housekeeping job. */
export async function pruneTraces(q: Queryable, retentionDays: number): Promise<void> {
  await q.query(`DELETE FROM signin_traces WHERE created_at < now() - make_interval(days => $1)`, [retentionDays]);
}
