import { useState } from 'react';
import { api, errorMessage } from '../api';
import { useApi } from '../hooks';
import type { TicketTask } from '../types';
import { ErrorNotice, RelativeTime } from './ui';

/**
 * A ticket's checklist (the tasks a workflow put on it) with boxes an agent ticks off. Nothing is
 * shown for a ticket without tasks. A box shows what the server holds: while a change is on its
 * way it shows the change, and after a refusal it goes back, with the reason beside it.
 */
export function TicketChecklist({ ticketId, canTick, onChanged }: { ticketId: string; canTick: boolean; onChanged?: () => void }) {
  const tasks = useApi<{ items: TicketTask[] }>(`/tickets/${encodeURIComponent(ticketId)}/tasks`);
  /** The state asked for, per task, while the request is out. */
  const [pending, setPending] = useState<Record<string, boolean>>({});
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const items = tasks.data?.items ?? [];

  if (tasks.error) return <ErrorNotice error={tasks.error} onRetry={tasks.reload} testId="checklist-error" />;
  if (items.length === 0) return null;

  const done = items.filter((t) => t.doneAt).length;
  const tick = async (task: TicketTask, want: boolean) => {
    setPending((p) => ({ ...p, [task.id]: want }));
    setErrors(({ [task.id]: _old, ...rest }) => rest);
    try {
      const next = await api.patch<TicketTask>(`/tickets/${encodeURIComponent(ticketId)}/tasks/${task.id}`, { done: want });
      tasks.setData((prev) => ({ items: (prev?.items ?? []).map((t) => (t.id === next.id ? next : t)) }));
      onChanged?.();
    } catch (err) {
      setErrors((e) => ({ ...e, [task.id]: err }));
      // Someone may have changed it meanwhile: show what the server holds now.
      tasks.reload();
    } finally {
      setPending(({ [task.id]: _done, ...rest }) => rest);
    }
  };

  return (
    <section className="card" aria-labelledby="checklist-h" data-testid="checklist">
      <div className="card-head">
        <h2 id="checklist-h" className="h3">
          Checklist
        </h2>
        <span className="muted small" data-testid="checklist-progress">
          {done} of {items.length} done
        </span>
      </div>
      <div className="checklist-bar" aria-hidden="true">
        <span style={{ width: `${Math.round((done / items.length) * 100)}%` }} />
      </div>
      <ul className="checklist">
        {items.map((t) => {
          const busy = t.id in pending;
          const checked = busy ? pending[t.id]! : t.doneAt !== null;
          const error = errors[t.id];
          const metaId = `task-${t.id}-meta`;
          return (
            <li key={t.id} className={checked ? 'task done' : 'task'} data-testid="task" data-task-id={t.id} data-done={t.doneAt !== null}>
              <label className="task-check">
                <input
                  type="checkbox"
                  checked={checked}
                  disabled={!canTick || busy}
                  aria-describedby={t.doneBy || error ? metaId : undefined}
                  onChange={(e) => void tick(t, e.target.checked)}
                  data-testid="task-checkbox"
                />
                <span className="task-title">{t.title}</span>
              </label>
              <span id={metaId} className="task-meta small">
                {t.doneAt && (
                  <span className="muted" data-testid="task-done-by">
                    Ticked by {t.doneBy?.displayName ?? 'someone'} · <RelativeTime date={t.doneAt} />
                  </span>
                )}
                {error !== undefined && (
                  <span className="error-text" role="alert" data-testid="task-error">
                    {errorMessage(error)}
                  </span>
                )}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
