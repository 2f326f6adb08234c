import { useNavigate, useSearchParams } from 'react-router';
import { PageHeader } from '../components/PageHeader';
import { TicketForm } from '../components/TicketForm';
import { useTitle } from '../hooks';
import { useSession } from '../session';
import type { TicketType } from '../types';

/** `/t/:tenant/agent/new`: staff raise incidents, requests and changes, for themselves or someone else. */
export function AgentNewTicket() {
  const { session, path } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  useTitle('New ticket', session.tenant.name);
  const t = params.get('type');
  const initial: TicketType = t === 'request' || t === 'change' ? t : 'incident';
  return (
    <div className="page narrow-page">
      <PageHeader back={{ to: path('/agent'), label: 'Workspace' }} title="New ticket" subtitle="Log a call, a request on someone's behalf, or a planned change." />
      <div className="card pad-lg">
        <TicketForm
          staff
          initialType={initial}
          onCreated={(tk) => navigate(path(`/agent/tickets/${tk.ref}`), { state: { created: true } })}
          onCancel={() => navigate(path('/agent'))}
        />
      </div>
    </div>
  );
}
