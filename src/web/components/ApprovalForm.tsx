import { useState, type FormEvent } from 'react';
import { api } from '../api';
import type { Ticket } from '../types';
import { Field, FormError, Icon, Spinner } from './ui';

/**
 * Approve or reject a change, or a request its requester's manager decides; a comment is required
 * either way (it goes into the record, and the requester sees it).
 */
export function ApprovalForm({ ticket, onDecided }: { ticket: Ticket; onDecided: (t: Ticket, decision: 'approved' | 'rejected') => void }) {
  const what = ticket.type === 'request' ? 'request' : 'change';
  const [decision, setDecision] = useState<'approved' | 'rejected' | null>(null);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!decision) return;
    if (!comment.trim()) return setError(decision === 'approved' ? `Say why the ${what} may go ahead.` : `Say why the ${what} is rejected.`);
    setBusy(true);
    setError(null);
    try {
      const t = await api.post<Ticket>(`/tickets/${ticket.id}/approvals`, { decision, comment: comment.trim() });
      onDecided(t, decision);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  if (!decision) {
    return (
      <div className="approval-buttons">
        <button type="button" className="btn success" onClick={() => setDecision('approved')} data-testid={`approve-${ticket.ref}`}>
          <Icon name="check" size={16} /> Approve
        </button>
        <button type="button" className="btn danger-outline" onClick={() => setDecision('rejected')} data-testid={`reject-${ticket.ref}`}>
          <Icon name="x" size={16} /> Reject
        </button>
      </div>
    );
  }
  return (
    <form className="approval-form stack" onSubmit={submit} noValidate>
      <Field label={decision === 'approved' ? 'Why approve? (required)' : 'Why reject? (required)'}>
        {(id) => <textarea id={id} rows={3} autoFocus value={comment} onChange={(e) => setComment(e.target.value)} maxLength={5000} data-testid="approval-comment" />}
      </Field>
      <FormError error={error} />
      <div className="form-actions">
        <button type="submit" className={decision === 'approved' ? 'btn success' : 'btn danger'} disabled={busy} data-testid="approval-submit">
          {busy && <Spinner small />} {decision === 'approved' ? `Approve ${what}` : `Reject ${what}`}
        </button>
        <button
          type="button"
          className="btn ghost"
          onClick={() => {
            setDecision(null);
            setError(null);
          }}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}
