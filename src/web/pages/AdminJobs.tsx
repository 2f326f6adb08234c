import { useState } from 'react';
import { api, errorMessage, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { DataTable, RefreshButton, Section, SectionEmpty, useActions } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { ErrorNotice, Icon, RelativeTime, SkeletonRows, Spinner } from '../components/ui';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Job, JobList, JobState } from '../types';

/** The states, as the page names and colours them. */
const STATES: Record<JobState, { label: string; tone: string; hint: string }> = {
  pending: { label: 'Pending', tone: 'blue', hint: 'waiting for its turn' },
  running: { label: 'Running', tone: 'violet', hint: 'taken by a worker now' },
  failed: { label: 'Failed', tone: 'amber', hint: 'failed at least once; tried again later' },
  dead: { label: 'Dead', tone: 'red', hint: 'out of attempts; retry it by hand' },
  done: { label: 'Done', tone: 'green', hint: 'finished (kept for a week)' },
};
/** The filters, in order; '' is everything not done. */
const FILTERS: ('' | JobState)[] = ['', 'pending', 'running', 'failed', 'dead', 'done'];

const KINDS: Record<string, string> = { 'webhook.deliver': 'Webhook delivery', 'workflow.run': 'Workflow run' };

/** `/t/:tenant/admin/jobs`: the background work (webhook deliveries, workflow runs), and retrying what died. */
export function AdminJobs() {
  const { session } = useSession();
  useTitle('Background jobs', session.tenant.name);
  const [state, setState] = useState<'' | JobState>('');
  const jobs = useApi<JobList>(`/jobs${qs({ state: state || undefined, limit: 100 })}`);
  const counts = jobs.data?.counts;
  const notDone = counts ? counts.pending + counts.running + counts.failed + counts.dead : undefined;

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <div className="subhead">
        <h2 className="h2">Background jobs</h2>
        <p className="muted">
          Webhook deliveries and workflow runs wait here until a worker does them. A job that fails is tried again with growing pauses (10 seconds, doubling up to an hour); after its last attempt it is dead and stays here until you retry it.
        </p>
      </div>
      <Section id="jobs" title="Jobs" testId="jobs-section" actions={<RefreshButton onClick={jobs.reload} loading={jobs.loading} testId="jobs-refresh" />}>
        <div className="job-filters" role="group" aria-label="Show jobs in state">
          {FILTERS.map((s) => {
            const n = s === '' ? notDone : counts?.[s];
            return (
              <button
                key={s || 'all'}
                type="button"
                className={state === s ? 'job-filter active' : 'job-filter'}
                aria-pressed={state === s}
                onClick={() => setState(s)}
                data-testid={`job-filter-${s || 'all'}`}
              >
                <span className="job-filter-count" data-testid="job-count">
                  {n ?? '–'}
                </span>
                <span className="job-filter-label">{s ? STATES[s].label : 'Not done'}</span>
                <span className="muted small">{s ? STATES[s].hint : 'everything still to do or to look at'}</span>
              </button>
            );
          })}
        </div>
        <div className="card">
          <ErrorNotice error={jobs.error} onRetry={jobs.reload} testId="jobs-error" />
          {!jobs.data ? (
            jobs.loading && <SkeletonRows rows={3} />
          ) : jobs.data.items.length === 0 ? (
            <SectionEmpty title={state ? `No ${STATES[state].label.toLowerCase()} jobs` : 'Nothing waiting'} icon="check-circle">
              {state === 'dead' ? 'No job has run out of attempts.' : 'Every delivery and workflow run has been done.'}
            </SectionEmpty>
          ) : (
            <DataTable headers={['Job', 'State', 'Attempts', 'Last error', 'Next or last run', <span className="sr-only">Actions</span>]} caption="Background jobs" className="activity-table jobs-table" testId="jobs-table">
              {jobs.data.items.map((j) => (
                <JobRow key={j.id} job={j} onRetried={jobs.reload} />
              ))}
            </DataTable>
          )}
        </div>
      </Section>
    </div>
  );
}

function JobRow({ job: j, onRetried }: { job: Job; onRetried: () => void }) {
  const actions = useActions();
  const s = STATES[j.state];
  const waiting = j.state === 'pending' || j.state === 'failed';
  return (
    <tr className={j.state === 'dead' ? 'failed' : undefined} data-testid="job-row" data-id={j.id} data-state={j.state} data-kind={j.kind}>
      <td className="cell-operation">
        <strong>{KINDS[j.kind] ?? j.kind}</strong>
        <span className="mono muted small activity-path wrap" data-testid="job-summary">
          {j.summary}
        </span>
        <span className="muted small block-line">
          queued <RelativeTime date={j.createdAt} />
        </span>
      </td>
      <td data-label="State">
        <span className={`badge tone-${s.tone}`} data-testid="job-state">
          <span className="badge-dot" aria-hidden="true" />
          {s.label}
        </span>
      </td>
      <td data-label="Attempts" className="small nowrap" data-testid="job-attempts">
        <span className="mobile-label">Attempts </span>
        {j.attempts} of {j.maxAttempts}
      </td>
      <td data-label="Error" className="small cell-error">
        {j.lastError ? <span className="error-text" data-testid="job-error">{j.lastError}</span> : <span className="muted">—</span>}
      </td>
      <td data-label="When" className="small nowrap">
        {waiting ? (
          <>
            next <RelativeTime date={j.runAt} />
          </>
        ) : j.finishedAt ? (
          <>
            ended <RelativeTime date={j.finishedAt} />
          </>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td className="cell-actions">
        {j.state === 'dead' && (
          <>
            <button
              type="button"
              className="btn small"
              disabled={actions.busy !== null}
              onClick={() =>
                void actions.run('retry', async () => {
                  await api.post(`/jobs/${j.id}/retry`, {});
                  onRetried();
                })
              }
              aria-label={`Retry ${KINDS[j.kind] ?? j.kind}: ${j.summary}`}
              data-testid="job-retry"
            >
              {actions.busy === 'retry' ? <Spinner small /> : <Icon name="play" size={13} />} Retry
            </button>
            {actions.errorOf('retry') !== undefined && (
              <span className="error-text small block-line" role="alert" data-testid="job-retry-error">
                {errorMessage(actions.errorOf('retry'))}
              </span>
            )}
          </>
        )}
      </td>
    </tr>
  );
}
