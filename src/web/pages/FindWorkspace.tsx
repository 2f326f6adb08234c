import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { Logo } from '../components/Shell';
import { Field, FormError, Icon } from '../components/ui';
import { useTitle } from '../hooks';

/** `/login`: the tenant is part of every address, so we first ask which workspace. */
export function FindWorkspace() {
  useTitle('Find your workspace');
  const navigate = useNavigate();
  const [slug, setSlug] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const s = slug.trim().toLowerCase().replace(/^\/+|\/+$/g, '');
    if (!s) return setError('Enter the name of your workspace.');
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(s)) return setError('A workspace name has only letters, digits and dashes.');
    navigate(`/t/${s}/login`);
  };

  return (
    <div className="auth-page">
      <div className="auth-card">
        <Logo className="auth-logo" />
        <h1 className="h1">Find your workspace</h1>
        <p className="muted">Enter your organisation's Keydesk workspace name. You'll find it in the address your IT team shared, after <span className="mono">/t/</span>.</p>
        <form onSubmit={submit} noValidate className="stack">
          <Field label="Workspace">
            {(id) => (
              <div className="input-prefix">
                <span className="prefix" aria-hidden="true">
                  /t/
                </span>
                <input
                  id={id}
                  name="workspace"
                  autoFocus
                  autoCapitalize="none"
                  autoCorrect="off"
                  spellCheck={false}
                  placeholder="acme"
                  value={slug}
                  onChange={(e) => {
                    setSlug(e.target.value);
                    setError(null);
                  }}
                  data-testid="workspace-input"
                />
              </div>
            )}
          </Field>
          <FormError error={error} />
          <button type="submit" className="btn primary block" data-testid="workspace-submit">
            Continue
            <Icon name="arrow-left" className="flip" size={16} />
          </button>
        </form>
      </div>
      <p className="auth-footer muted">Keydesk · IT service desk</p>
    </div>
  );
}
