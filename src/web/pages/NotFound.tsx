import { Link } from 'react-router';
import { EmptyState } from '../components/ui';
import { useTitle } from '../hooks';

export function NotFound({ home = '/login', title = 'Page not found', children }: { home?: string; title?: string; children?: string }) {
  useTitle(title);
  return (
    <div className="page narrow-page">
      <EmptyState title={title} icon="alert" action={<Link className="btn" to={home}>Go to the start page</Link>}>
        {children ?? 'The address may be mistyped, or the page has moved.'}
      </EmptyState>
    </div>
  );
}
