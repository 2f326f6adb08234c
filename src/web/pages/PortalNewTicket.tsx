import { useNavigate, useSearchParams } from 'react-router';
import { PageHeader } from '../components/PageHeader';
import { TicketForm } from '../components/TicketForm';
import { useTitle } from '../hooks';
import { useSession } from '../session';
import type { TicketType } from '../types';

/** `/t/:tenant/portal/new`: raise an incident or a service request. */
export function PortalNewTicket() {
  const { session, path } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  useTitle('New ticket', session.tenant.name);
  const initial: TicketType = params.get('type') === 'request' ? 'request' : 'incident';
  return (
    <div className="page narrow-page">
      <PageHeader back={{ to: path('/portal'), label: 'My tickets' }} title="Raise a ticket" subtitle="Tell us what is going on. The service desk will pick it up and keep you posted." />
      <div className="card pad-lg">
        <TicketForm
          staff={false}
          initialType={initial}
          onCreated={(t) => navigate(path(`/portal/tickets/${t.ref}`), { state: { created: true } })}
          onCancel={() => navigate(path('/portal'))}
        />
      </div>
    </div>
  );
}
