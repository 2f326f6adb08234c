import { Logo } from '../components/Shell';
import { useSession } from '../session';
import { useTitle } from '../hooks';
import { PasswordForm } from '../components/PasswordForm';

/** Shown instead of every page while the account still has a one-time password. */
export function ForcedPasswordChange() {
  const { session, refresh, signOut } = useSession();
  useTitle('Choose a new password', session.tenant.name);
  return (
    <div className="auth-page">
      <div className="auth-card">
        <Logo className="auth-logo" />
        <h1 className="h1">Choose a new password</h1>
        <p className="muted">
          Welcome, {session.user.displayName}. Your account was set up with a one-time password; choose your own before you continue.
        </p>
        <PasswordForm submitLabel="Save and continue" onDone={() => void refresh()} />
        <p className="auth-alt muted">
          <button type="button" className="link-btn" onClick={() => void signOut()}>
            Sign out
          </button>
        </p>
      </div>
    </div>
  );
}
