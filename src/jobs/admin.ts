import type { Ctx } from '../context.js';
import { NotFound } from '../http/errors.js';
import { audit } from '../audit/audit.js';
import { isUuid } from '../identity/users.js';
import { REDACTED_URL_SQL } from '../webhooks/redact.js';
import { retryJob } from './queue.js';

/** How a job looks to an admin: `failed` is a pending job that has failed at least once and waits to retry. */
export type JobState = 'pending' | 'running' | 'failed' | 'dead' | 'done';

export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  lastError: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  /** What the job is about, in words (the webhook's site and event, the workflow and event). */
  summary: string;
}

const STATE = `CASE WHEN j.status = 'pending' AND j.attempts > 0 THEN 'failed' ELSE j.status END`;
const SUMMARY = `CASE j.kind
  WHEN 'webhook.deliver' THEN coalesce(j.payload ->> 'type', '') || ' → ' || coalesce((SELECT ${REDACTED_URL_SQL('w.url')} FROM webhook_endpoints w WHERE w.tenant_id = j.tenant_id AND w.id::text = j.payload ->> 'endpointId'), 'a removed endpoint')
  WHEN 'workflow.run' THEN coalesce((SELECT r.name FROM workflow_rules r WHERE r.tenant_id = j.tenant_id AND r.id::text = j.payload ->> 'ruleId'), 'a removed workflow') || ' for event ' || coalesce(j.payload ->> 'eventId', '')
  ELSE j.kind END`;

/** The tenant's jobs in one state (or every state but done), newest first; and how many are in each. */
export async function listJobs(ctx: Ctx, f: { state?: JobState; limit: number }): Promise<{ items: JobView[]; counts: Record<JobState, number> }> {
  const items = await ctx.db.query<JobView>(
    `SELECT j.id, j.kind, ${STATE} AS state, j.attempts, j.max_attempts AS "maxAttempts", j.run_at AS "runAt", j.last_error AS "lastError",
            j.created_at AS "createdAt", j.finished_at AS "finishedAt", ${SUMMARY} AS summary
     FROM jobs j WHERE j.tenant_id = $1 AND ($2::text IS NULL AND j.status <> 'done' OR ${STATE} = $2)
     ORDER BY j.created_at DESC LIMIT $3`,
    [ctx.tenant.id, f.state ?? null, f.limit],
  );
  const counts = { pending: 0, running: 0, failed: 0, dead: 0, done: 0 };
  const rows = await ctx.db.query<{ state: JobState; n: number }>(`SELECT ${STATE} AS state, count(*)::int AS n FROM jobs j WHERE j.tenant_id = $1 GROUP BY 1`, [ctx.tenant.id]);
  for (const r of rows) counts[r.state] = r.n;
  return { items, counts };
}

/**
 * An admin's retry of a dead job: back in line now with its attempts counted afresh. Audited.
 * @throws NotFound when the tenant has no dead job with that id
 */
export async function retryDeadJob(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    if (!isUuid(id) || !(await retryJob(tx, ctx.tenant.id, id))) throw new NotFound('Dead job');
    await audit(ctx, tx, { action: 'job.retried', targetType: 'job', targetId: id });
  });
}
