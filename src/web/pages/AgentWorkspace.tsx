import { useEffect, useMemo, useRef } from 'react';
import { Link, useNavigate } from 'react-router';
import { qs } from '../api';
import { PageHeader } from '../components/PageHeader';
import { SlaSummary } from '../components/Sla';
import { Avatar, EmptyState, FilterSelect, Icon, PagedTable, PriorityBadge, RelativeTime, SearchBox, StatusBadge, type IconName } from '../components/ui';
import { statusLabel, TYPE_LABELS } from '../format';
import { useApi, useFilterParams, usePaged, useSlashKey, useTitle, useTypedSearch } from '../hooks';
import { useSession } from '../session';
import type { QueueId, Ticket, TicketType } from '../types';

/** How each queue looks; what it holds is defined once, by the server (`GET /tickets?queue=…`). */
interface Queue {
  id: QueueId;
  label: string;
  icon: IconName;
  empty: string;
}

const QUEUES: Queue[] = [
  { id: 'unassigned', label: 'Unassigned', icon: 'inbox', empty: 'Every open ticket has an owner.' },
  { id: 'mine', label: 'Mine', icon: 'user', empty: 'Nothing is assigned to you right now.' },
  { id: 'teams', label: 'My teams', icon: 'users', empty: 'No open tickets for your teams.' },
  { id: 'open', label: 'All open', icon: 'list', empty: 'No open tickets. Enjoy the calm.' },
  { id: 'breached', label: 'Breached', icon: 'flame', empty: 'No open ticket has missed its target.' },
  { id: 'all', label: 'Everything', icon: 'layers', empty: 'No tickets yet.' },
];

const TYPES: TicketType[] = ['incident', 'request', 'change'];

/** `/t/:tenant/agent`: queues, filters, and the ticket list for the service desk. */
export function AgentWorkspace() {
  const { session, path } = useSession();
  const [params, set] = useFilterParams();
  const navigate = useNavigate();
  const queue = QUEUES.find((q) => q.id === params.get('queue')) ?? QUEUES[0]!;
  const type = (TYPES as string[]).includes(params.get('type') ?? '') ? (params.get('type') as TicketType) : '';
  const status = params.get('status') ?? '';
  const priority = params.get('priority') ?? '';
  const q = params.get('q') ?? '';
  // Search as you type, a moment after the last key.
  const [search, setSearch] = useTypedSearch(q, (text) => set({ q: text }));
  const searchRef = useRef<HTMLInputElement>(null);
  useTitle(queue.label, session.tenant.name);
  const queueCounts = useApi<{ items: { id: QueueId; count: number }[] }>('/tickets/queues');
  const counts = new Map(queueCounts.data?.items.map((q) => [q.id, q.count]) ?? []);
  // Counted again when the agent moves to another queue, so the numbers stay fresh.
  const { reload: recount } = queueCounts;
  const counted = useRef(false);
  useEffect(() => {
    if (counted.current) recount();
    counted.current = true;
  }, [queue.id, recount]);
  useSlashKey(() => searchRef.current?.focus());

  useEffect(() => setSearch(q), [q]);

  const statuses = useMemo(() => {
    const lc = session.lifecycle;
    const list = type ? (lc[type]?.statuses ?? []) : [...new Set(Object.values(lc).flatMap((l) => l.statuses))];
    return list;
  }, [session.lifecycle, type]);

  const apiPath = `/tickets${qs({ queue: queue.id, type: type || undefined, status: status || undefined, priority: priority || undefined, q: q || undefined, limit: 25 })}`;
  const list = usePaged<Ticket>(apiPath);
  const filtered = Boolean(type || status || priority || q);

  return (
    <div className="workspace">
      <aside className="queues" aria-label="Queues">
        <div className="queues-head">
          <span className="label">Queues</span>
        </div>
        <nav className="queue-list">
          {QUEUES.map((qu) => (
            <Link
              key={qu.id}
              to={`${path('/agent')}?${new URLSearchParams({ ...Object.fromEntries(params), queue: qu.id }).toString()}`}
              className={qu.id === queue.id ? 'queue active' : 'queue'}
              aria-current={qu.id === queue.id ? 'page' : undefined}
              data-testid={`queue-${qu.id}`}
            >
              <Icon name={qu.icon} size={16} />
              <span>{qu.label}</span>
              {counts.has(qu.id) && (
                <span className="queue-count" data-testid={`queue-count-${qu.id}`}>
                  {counts.get(qu.id)}
                </span>
              )}
            </Link>
          ))}
        </nav>
        <Link to={path('/agent/new')} className="btn primary block queue-new" data-testid="agent-new-ticket">
          <Icon name="plus" size={16} /> New ticket
        </Link>
      </aside>

      <section className="workspace-main" aria-labelledby="queue-title">
        <PageHeader
          title={<span id="queue-title">{queue.label}</span>}
          actions={
            <Link to={path('/agent/new')} className="btn primary mobile-only">
              <Icon name="plus" size={16} /> New ticket
            </Link>
          }
        />
        <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); set({ q: search.trim() }); }}>
          <SearchBox
            id="ticket-search"
            label="Search tickets"
            slashKey
            ref={searchRef}
            placeholder="Search tickets or INC number"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                setSearch('');
                set({ q: '' });
              }
            }}
            data-testid="ticket-search"
          />
          <FilterSelect id="filter-type" label="Type" value={type} onChange={(e) => set({ type: e.target.value, status: '' })} empty="All types" options={TYPES.map((t) => [t, TYPE_LABELS[t]])} data-testid="filter-type" />
          <FilterSelect id="filter-status" label="Status" value={status} onChange={(e) => set({ status: e.target.value })} empty="Any status" options={statuses.map((s) => [s, statusLabel(s)])} data-testid="filter-status" />
          <FilterSelect id="filter-priority" label="Priority" value={priority} onChange={(e) => set({ priority: e.target.value })} empty="Any priority" options={[1, 2, 3, 4, 5].map((p) => [p, `P${p}`])} data-testid="filter-priority" />
          {filtered && (
            <button type="button" className="btn ghost small" onClick={() => { setSearch(''); set({ type: '', status: '', priority: '', q: '' }); }}>
              Clear filters
            </button>
          )}
        </form>

        <PagedTable
          list={list}
          empty={
            <EmptyState title={filtered ? 'No tickets match' : 'Nothing here'} icon={filtered ? 'search' : 'inbox'}>
              {filtered ? 'Try other filters, or clear them.' : queue.empty}
            </EmptyState>
          }
          className="tickets-table"
          testId="ticket-table"
          headers={['Ticket', 'Status', 'Priority', 'Assignee', 'SLA', 'Updated']}
        >
          {(t) => (
            <tr
              key={t.id}
              className="clickable"
              data-testid="ticket-row"
              data-ref={t.ref}
              onClick={(e) => {
                if ((e.target as HTMLElement).closest('a')) return;
                navigate(path(`/agent/tickets/${t.ref}`));
              }}
            >
              <td className="cell-ticket">
                <Link to={path(`/agent/tickets/${t.ref}`)} className="row-link" data-testid="ticket-link">
                  <span className="mono ref">{t.ref}</span>
                  <span className="row-title">{t.title}</span>
                </Link>
                <span className="muted small">
                  {TYPE_LABELS[t.type]} · {t.requester.displayName}
                  {t.team ? ` · ${t.team.name}` : ''}
                </span>
              </td>
              <td data-label="Status">
                <StatusBadge status={t.status} />
              </td>
              <td data-label="Priority">
                <PriorityBadge priority={t.priority} compact />
              </td>
              <td data-label="Assignee">
                {t.assignee ? (
                  <span className="person">
                    <Avatar name={t.assignee.displayName} size={22} />
                    {t.assignee.id === session.user.id ? 'Me' : t.assignee.displayName}
                  </span>
                ) : (
                  <span className="muted">Unassigned</span>
                )}
              </td>
              <td data-label="SLA">
                <SlaSummary ticket={t} />
              </td>
              <td data-label="Updated" className="muted">
                <RelativeTime date={t.updatedAt} />
              </td>
            </tr>
          )}
        </PagedTable>
        <p className="hint muted small">
          Press <kbd className="kbd">/</kbd> to search.
        </p>
      </section>
    </div>
  );
}
