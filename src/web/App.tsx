import type { ReactNode } from 'react';
import { BrowserRouter, Route, Routes } from 'react-router';
import { TenantGate } from './components/TenantGate';
import { useSession } from './session';
import type { Role } from './types';
import { Account } from './pages/Account';
import { AdminAccessReview } from './pages/AdminAccessReview';
import { AdminAudit } from './pages/AdminAudit';
import { AdminCategories } from './pages/AdminCategories';
import { AdminJobs } from './pages/AdminJobs';
import { AdminProvisioning } from './pages/AdminProvisioning';
import { AdminSso } from './pages/AdminSso';
import { AdminSsoTrace } from './pages/AdminSsoTrace';
import { AdminSsoTraces } from './pages/AdminSsoTraces';
import { AdminTeams } from './pages/AdminTeams';
import { AdminUsers } from './pages/AdminUsers';
import { AdminWebhooks } from './pages/AdminWebhooks';
import { AdminWorkflows } from './pages/AdminWorkflows';
import { AgentNewTicket } from './pages/AgentNewTicket';
import { AgentTicket } from './pages/AgentTicket';
import { AgentWorkspace } from './pages/AgentWorkspace';
import { Approvals } from './pages/Approvals';
import { FindWorkspace } from './pages/FindWorkspace';
import { Home } from './pages/Home';
import { Login } from './pages/Login';
import { NotFound } from './pages/NotFound';
import { PortalList } from './pages/PortalList';
import { PortalNewTicket } from './pages/PortalNewTicket';
import { PortalTicket } from './pages/PortalTicket';
import { WaitingRoom } from './pages/WaitingRoom';

/** Shows a page only to people with one of the roles (the API enforces it; this keeps the UI honest). */
function RequireRole({ roles, children }: { roles: Role[] | 'staff'; children: ReactNode }) {
  const { has, isStaff, path } = useSession();
  const ok = roles === 'staff' ? isStaff : roles.some(has);
  if (!ok) return <NotFound home={path('/')} title="Not available to you">This page needs a role your account does not have. Ask an administrator if you need access.</NotFound>;
  return <>{children}</>;
}

function TenantNotFound() {
  const { path } = useSession();
  return <NotFound home={path('/')} />;
}

export function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/login" element={<FindWorkspace />} />
        <Route path="/t/:tenant/login" element={<Login />} />
        <Route path="/t/:tenant/waiting" element={<WaitingRoom />} />
        <Route path="/t/:tenant" element={<TenantGate />}>
          <Route index element={<Home />} />
          <Route path="portal" element={<PortalList />} />
          <Route path="portal/new" element={<PortalNewTicket />} />
          <Route path="portal/tickets/:ref" element={<PortalTicket />} />
          <Route path="agent" element={<RequireRole roles="staff"><AgentWorkspace /></RequireRole>} />
          <Route path="agent/new" element={<RequireRole roles="staff"><AgentNewTicket /></RequireRole>} />
          <Route path="agent/tickets/:ref" element={<RequireRole roles="staff"><AgentTicket /></RequireRole>} />
          {/* Change managers decide changes; anyone may be a manager asked to approve a request. */}
          <Route path="approvals" element={<Approvals />} />
          <Route path="admin/users" element={<RequireRole roles={['admin']}><AdminUsers /></RequireRole>} />
          <Route path="admin/teams" element={<RequireRole roles={['admin']}><AdminTeams /></RequireRole>} />
          <Route path="admin/categories" element={<RequireRole roles={['admin']}><AdminCategories /></RequireRole>} />
          <Route path="admin/sso" element={<RequireRole roles={['admin']}><AdminSso /></RequireRole>} />
          <Route path="admin/sso/traces" element={<RequireRole roles={['admin']}><AdminSsoTraces /></RequireRole>} />
          <Route path="admin/sso/traces/:ref" element={<RequireRole roles={['admin']}><AdminSsoTrace /></RequireRole>} />
          <Route path="admin/provisioning" element={<RequireRole roles={['admin']}><AdminProvisioning /></RequireRole>} />
          <Route path="admin/audit" element={<RequireRole roles={['admin']}><AdminAudit /></RequireRole>} />
          {/* Change managers review access too where the tenant lets them (the API decides). */}
          <Route path="admin/access-review" element={<RequireRole roles={['admin', 'change_manager']}><AdminAccessReview /></RequireRole>} />
          <Route path="admin/webhooks" element={<RequireRole roles={['admin']}><AdminWebhooks /></RequireRole>} />
          <Route path="admin/workflows" element={<RequireRole roles={['admin']}><AdminWorkflows /></RequireRole>} />
          <Route path="admin/jobs" element={<RequireRole roles={['admin']}><AdminJobs /></RequireRole>} />
          <Route path="account" element={<Account />} />
          <Route path="*" element={<TenantNotFound />} />
        </Route>
        <Route path="*" element={<NotFound />} />
      </Routes>
    </BrowserRouter>
  );
}
