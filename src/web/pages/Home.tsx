import { Navigate } from 'react-router';
import { useSession } from '../session';

/** `/t/:tenant/`: staff start in the workspace, everyone else in the portal. */
export function Home() {
  const { isStaff, path } = useSession();
  return <Navigate to={path(isStaff ? '/agent' : '/portal')} replace />;
}
