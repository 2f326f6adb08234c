import { useId, useState, type FormEvent, type KeyboardEvent } from 'react';
import { api } from '../api';
import type { Comment } from '../types';
import { FormError, Icon, Spinner } from './ui';

/**
 * Reply box. Staff choose between a public reply (the requester sees it) and a work note (staff
 * only, amber so that nobody mistakes one for the other).
 */
export function Composer({ ticketId, staff, disabled, onPosted }: { ticketId: string; staff: boolean; disabled?: string | null; onPosted: (c: Comment) => void }) {
  const [mode, setMode] = useState<'public' | 'internal'>('public');
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    if (busy) return;
    if (!body.trim()) return setError(mode === 'internal' ? 'Write the work note first.' : 'Write a message first.');
    setBusy(true);
    setError(null);
    try {
      const c = await api.post<Comment>(`/tickets/${encodeURIComponent(ticketId)}/comments`, { body, visibility: staff ? mode : 'public' });
      setBody('');
      onPosted(c);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit();
  };

  if (disabled) return <p className="composer-closed muted">{disabled}</p>;

  const internal = staff && mode === 'internal';
  return (
    <form className={internal ? 'composer internal' : 'composer'} onSubmit={submit} data-testid="composer" data-mode={staff ? mode : 'public'}>
      {staff && (
        <div className="segmented" role="group" aria-label="Reply type">
          <button type="button" aria-pressed={mode === 'public'} className={mode === 'public' ? 'seg active' : 'seg'} onClick={() => setMode('public')} data-testid="composer-mode-public">
            <Icon name="message" size={14} /> Public reply
          </button>
          <button type="button" aria-pressed={mode === 'internal'} className={mode === 'internal' ? 'seg active amber' : 'seg'} onClick={() => setMode('internal')} data-testid="composer-mode-internal">
            <Icon name="lock" size={14} /> Work note
          </button>
        </div>
      )}
      <label htmlFor={id} className="sr-only">
        {internal ? 'Work note' : staff ? 'Public reply' : 'Your message'}
      </label>
      <textarea
        id={id}
        rows={4}
        value={body}
        onChange={(e) => setBody(e.target.value)}
        onKeyDown={onKeyDown}
        placeholder={internal ? 'Add a work note for the team. The requester will not see it.' : staff ? 'Reply to the requester…' : 'Add a message for the service desk…'}
        data-testid="composer-body"
      />
      <FormError error={error} testId="composer-error" />
      <div className="composer-footer">
        <span className="muted small">{internal ? 'Visible to staff only' : staff ? 'The requester will see this reply' : 'Ctrl + Enter to send'}</span>
        <button type="submit" className={internal ? 'btn amber' : 'btn primary'} disabled={busy} data-testid="composer-submit">
          {busy && <Spinner small label="Sending" />}
          {internal ? 'Add work note' : staff ? 'Send reply' : 'Send'}
        </button>
      </div>
    </form>
  );
}
