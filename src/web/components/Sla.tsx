import { formatDateTime, relativeTime, shortDuration } from '../format';
import type { Ticket } from '../types';
import { Icon } from './ui';

type Clock = { label: string; due: string | null; met: string | null; breached: boolean };

/** Response and resolution clocks: due time, met or breached (red), paused while on hold. */
export function SlaClocks({ ticket }: { ticket: Ticket }) {
  const { sla } = ticket;
  const clocks: Clock[] = [
    { label: 'First response', due: sla.responseDueAt, met: sla.firstResponseAt, breached: sla.responseBreached },
    { label: 'Resolution', due: sla.resolutionDueAt, met: ticket.resolvedAt, breached: sla.resolutionBreached },
  ];
  return (
    <div className="sla" data-testid="sla">
      {sla.paused && (
        <p className="sla-paused-note" data-testid="sla-paused">
          <Icon name="pause" size={14} /> Clocks paused while the ticket is on hold
        </p>
      )}
      {clocks.map((c) => (
        <SlaRow key={c.label} clock={c} paused={sla.paused} />
      ))}
    </div>
  );
}

function SlaRow({ clock, paused }: { clock: Clock; paused: boolean }) {
  const { label, due, met, breached } = clock;
  let state: 'none' | 'met' | 'breached' | 'paused' | 'running' | 'soon' = 'running';
  let text = '';
  if (!due) {
    state = 'none';
    text = 'No target';
  } else if (breached) {
    state = 'breached';
    text = met ? `Breached · met ${shortDuration(new Date(met).getTime() - new Date(due).getTime())} late` : `Breached ${relativeTime(due)}`;
  } else if (met) {
    state = 'met';
    text = `Met ${relativeTime(met)}`;
  } else if (paused) {
    state = 'paused';
    text = 'Paused';
  } else {
    const left = new Date(due).getTime() - Date.now();
    state = left < 60 * 60 * 1000 ? 'soon' : 'running';
    text = `Due ${relativeTime(due)}`;
  }
  return (
    <div className={`sla-row sla-${state}`} data-testid={`sla-${label === 'Resolution' ? 'resolution' : 'response'}`} data-state={state}>
      <div className="sla-label">
        <span>{label}</span>
        {due && <span className="sla-due muted">{formatDateTime(due)}</span>}
      </div>
      <span className="sla-state">
        <Icon name={state === 'breached' ? 'flame' : state === 'met' ? 'check' : state === 'paused' ? 'pause' : 'clock'} size={14} />
        {text}
      </span>
    </div>
  );
}

/** One short line for lists. */
export function SlaSummary({ ticket }: { ticket: Ticket }) {
  const { sla } = ticket;
  if (sla.responseBreached || sla.resolutionBreached) {
    return (
      <span className="sla-chip breached" title={sla.responseBreached ? 'Response target breached' : 'Resolution target breached'}>
        <Icon name="flame" size={12} /> Breached
      </span>
    );
  }
  if (ticket.resolvedAt || ['closed', 'rejected'].includes(ticket.status)) return <span className="muted">—</span>;
  if (sla.paused) {
    return (
      <span className="sla-chip paused">
        <Icon name="pause" size={12} /> Paused
      </span>
    );
  }
  const due = !sla.firstResponseAt && sla.responseDueAt ? sla.responseDueAt : sla.resolutionDueAt;
  if (!due) return <span className="muted">—</span>;
  const soon = new Date(due).getTime() - Date.now() < 60 * 60 * 1000;
  return (
    <span className={soon ? 'sla-chip soon' : 'sla-chip'} title={`${!sla.firstResponseAt && sla.responseDueAt ? 'Response' : 'Resolution'} due ${formatDateTime(due)}`}>
      <Icon name="clock" size={12} /> {relativeTime(due)}
    </span>
  );
}
