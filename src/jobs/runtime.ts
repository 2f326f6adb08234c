import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Db } from '../db/db.js';
import { SecretBox } from '../identity/secrets.js';
import { deliverWebhook } from '../webhooks/deliver.js';
import { runWorkflow } from '../workflows/run.js';
import { auditJobs } from '../audit/jobs.js';
import { applyApprovedChange } from '../governance/changes.js';
import { governance } from '../governance/apply.js';
import { startWorker, type Handler } from './queue.js';

/** What job handlers may use: the process's configuration, database and log. */
export interface JobDeps {
  config: Config;
  db: Db;
  log: FastifyBaseLogger;
}

/**
 * Every kind of job Keydesk runs, by name. A kind not listed here is never claimed, so a node
 * running older code leaves a newer kind to the nodes that know it.
 */
export function jobHandlers(deps: JobDeps): Record<string, Handler> {
  return {
    'webhook.deliver': deliverWebhook(new SecretBox(deps.config.secret, 'webhook'), { allowPrivate: deps.config.webhookAllowPrivate }),
    'workflow.run': runWorkflow,
    ...auditJobs(deps),
    'governance.apply': applyApprovedChange(governance({ config: deps.config, oidcBox: new SecretBox(deps.config.secret, 'oidc') })),
  };
}

/** Starts this process's worker (unless KEYDESK_WORKER=false); stop it before closing the database. */
export function startJobs(deps: JobDeps): { stop: () => Promise<void> } | null {
  if (!deps.config.worker) return null;
  const handlers = jobHandlers(deps);
  if (!Object.keys(handlers).length) return null;
  return startWorker(deps.db, handlers, { pollMs: deps.config.workerPollMs, leaseSeconds: deps.config.jobLeaseSeconds, lanes: deps.config.workerConcurrency, onError: (err, job) => deps.log.warn({ err, job: job?.id, kind: job?.kind }, 'job failed') });
}
