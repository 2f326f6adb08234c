import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { Field, FormError, Notice, Spinner } from './ui';

const MIN = 12;

/** Current password, new password twice. Used at first sign-in and on the account page. */
export function PasswordForm({ submitLabel = 'Change password', onDone }: { submitLabel?: string; onDone?: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    if (!current) return setError('Enter your current password.');
    if (next.length < MIN) return setError(`Use at least ${MIN} characters for the new password.`);
    if (next !== confirm) return setError('The two new passwords do not match.');
    setBusy(true);
    setError(null);
    try {
      await api.post('/me/password', { currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setConfirm('');
      setDone(true);
      onDone?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} noValidate>
      <Field label="Current password">
        {(id) => <input id={id} type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} data-testid="password-current" />}
      </Field>
      <Field label="New password" hint={`At least ${MIN} characters. A few unrelated words make a strong password.`}>
        {(id, d) => (
          <input id={id} type="password" autoComplete="new-password" aria-describedby={d} value={next} onChange={(e) => setNext(e.target.value)} data-testid="password-new" />
        )}
      </Field>
      <Field label="Repeat new password">
        {(id) => <input id={id} type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} data-testid="password-confirm" />}
      </Field>
      <FormError error={error} />
      {done && <Notice tone="success">Your password has been changed. Your other sessions were signed out.</Notice>}
      <div>
        <button type="submit" className="btn primary" disabled={busy} data-testid="password-submit">
          {busy && <Spinner small label="Saving" />}
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
