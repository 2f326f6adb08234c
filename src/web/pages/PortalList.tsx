import { Link, useSearchParams } from 'react-router';
import { qs } from '../api';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, Icon, RelativeTime, StatusBadge, TypeTag, PagedCards } from '../components/ui';
import { usePaged, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Ticket } from '../types';

/** `/t/:tenant/portal`: the requester's own tickets. */
export function PortalList() {
  const { session, path } = useSession();
  const [params, setParams] = useSearchParams();
  const view = params.get('view') === 'all' ? 'all' : 'open';
  useTitle('My tickets', session.tenant.name);
  const list = usePaged<Ticket>(`/tickets${qs({ requester: 'me', open: view === 'open' ? true : undefined, limit: 20 })}`);
  const firstName = session.user.displayName.split(/\s+/)[0];

  return (
    <div className="page">
      <section className="portal-hero">
        <div>
          <h1 className="h1">Hi {firstName}, how can we help?</h1>
          <p className="muted">Report a problem or ask for something. We will keep you posted here.</p>
        </div>
        <div className="hero-actions">
          <Link to={`${path('/portal/new')}?type=incident`} className="hero-card" data-testid="portal-new-incident">
            <span className="kind-icon kind-incident" aria-hidden="true">
              <Icon name="wrench" size={20} />
            </span>
            <span>
              <strong>Something is broken</strong>
              <span className="muted">Report an incident</span>
            </span>
          </Link>
          <Link to={`${path('/portal/new')}?type=request`} className="hero-card" data-testid="portal-new-request">
            <span className="kind-icon kind-request" aria-hidden="true">
              <Icon name="box" size={20} />
            </span>
            <span>
              <strong>I need something</strong>
              <span className="muted">Make a service request</span>
            </span>
          </Link>
        </div>
      </section>

      <PageHeader
        title={<span className="h2">My tickets</span>}
        actions={
          <Link to={path('/portal/new')} className="btn primary" data-testid="portal-new-ticket">
            <Icon name="plus" size={16} /> New ticket
          </Link>
        }
      />
      <div className="tabs" role="tablist" aria-label="Which tickets">
        <button type="button" role="tab" aria-selected={view === 'open'} className={view === 'open' ? 'tab active' : 'tab'} onClick={() => setParams({})}>
          Open
        </button>
        <button type="button" role="tab" aria-selected={view === 'all'} className={view === 'all' ? 'tab active' : 'tab'} onClick={() => setParams({ view: 'all' })}>
          All tickets
        </button>
      </div>

      <PagedCards
        list={list}
        rows={4}
        className="ticket-cards"
        testId="ticket-list"
        emptyWhenFailed={false}
        empty={
          <EmptyState
            title={view === 'open' ? 'No open tickets' : 'No tickets yet'}
            action={
              <Link to={path('/portal/new')} className="btn primary">
                <Icon name="plus" size={16} /> Raise a ticket
              </Link>
            }
          >
            {view === 'open' ? 'Everything you raised has been dealt with. ' : ''}When something breaks or you need something, raise a ticket and follow it here.
          </EmptyState>
        }
      >
        {(t) => (
          <li key={t.id}>
            <Link to={path(`/portal/tickets/${t.ref}`)} className="ticket-card" data-testid="ticket-row" data-ref={t.ref}>
              <div className="ticket-card-main">
                <div className="ticket-card-meta">
                  <span className="mono ref">{t.ref}</span>
                  <TypeTag type={t.type} />
                </div>
                <span className="ticket-card-title">{t.title}</span>
                <span className="muted small">
                  Raised <RelativeTime date={t.createdAt} /> · updated <RelativeTime date={t.updatedAt} />
                  {t.assignee ? ` · with ${t.assignee.displayName}` : ''}
                </span>
              </div>
              <StatusBadge status={t.status} />
            </Link>
          </li>
        )}
      </PagedCards>
    </div>
  );
}
