import type { Role, TicketType } from './types';

const STATUS_LABELS: Record<string, string> = {
  new: 'New',
  in_progress: 'In progress',
  on_hold: 'On hold',
  resolved: 'Resolved',
  closed: 'Closed',
  submitted: 'Submitted',
  in_fulfilment: 'In fulfilment',
  fulfilled: 'Fulfilled',
  draft: 'Draft',
  assessment: 'Assessment',
  awaiting_approval: 'Awaiting approval',
  approved: 'Approved',
  rejected: 'Rejected',
  implementing: 'Implementing',
  review: 'Review',
};

export function humanize(s: string): string {
  const t = s.replace(/[_.]+/g, ' ').trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function statusLabel(status: string): string {
  return STATUS_LABELS[status] ?? humanize(status);
}

/** The colour family a status badge uses. */
export function statusTone(status: string): 'blue' | 'violet' | 'amber' | 'green' | 'gray' | 'red' | 'teal' {
  switch (status) {
    case 'new':
    case 'submitted':
    case 'assessment':
      return 'blue';
    case 'in_progress':
    case 'in_fulfilment':
    case 'implementing':
      return 'violet';
    case 'on_hold':
    case 'awaiting_approval':
      return 'amber';
    case 'resolved':
    case 'fulfilled':
    case 'approved':
      return 'green';
    case 'review':
      return 'teal';
    case 'rejected':
      return 'red';
    default:
      return 'gray';
  }
}

/** Open means: not resolved, fulfilled, closed or rejected (as the API's `open=true`). */
export function isOpenStatus(status: string): boolean {
  return !['resolved', 'fulfilled', 'closed', 'rejected'].includes(status);
}

export const TYPE_LABELS: Record<TicketType, string> = { incident: 'Incident', request: 'Service request', change: 'Change' };

export const PRIORITY_NAMES: Record<number, string> = { 1: 'Critical', 2: 'High', 3: 'Moderate', 4: 'Low', 5: 'Planning' };

export function priorityLabel(p: number): string {
  return `P${p} · ${PRIORITY_NAMES[p] ?? ''}`;
}

export const LEVELS: { value: number; label: string }[] = [
  { value: 1, label: 'High' },
  { value: 2, label: 'Medium' },
  { value: 3, label: 'Low' },
];

export const ROLE_LABELS: Record<Role, string> = {
  requester: 'Requester',
  agent: 'Agent',
  change_manager: 'Change manager',
  admin: 'Administrator',
};

export const ROLE_HINTS: Record<Role, string> = {
  requester: 'Raises and follows their own tickets in the portal',
  agent: 'Works every ticket in the workspace',
  change_manager: 'Approves or rejects changes',
  admin: 'Manages people, teams and settings; reads the audit log',
};

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return dateTime.format(new Date(iso));
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  return dateOnly.format(new Date(iso));
}

/** "5 minutes ago", "in 3 hours", "yesterday". */
export function relativeTime(iso: string, now = Date.now()): string {
  const diff = (new Date(iso).getTime() - now) / 1000;
  const abs = Math.abs(diff);
  if (abs < 45) return diff < 0 ? 'just now' : 'in a moment';
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['minute', 60],
    ['hour', 3600],
    ['day', 86400],
    ['week', 604800],
    ['month', 2629800],
    ['year', 31557600],
  ];
  let chosen: [Intl.RelativeTimeFormatUnit, number] = units[0]!;
  for (const u of units) if (abs >= u[1] * 0.9) chosen = u;
  return rtf.format(Math.round(diff / chosen[1]), chosen[0]);
}

/** "2 h 15 min", "3 d 4 h" for a duration in milliseconds. */
export function shortDuration(ms: number): string {
  const m = Math.round(Math.abs(ms) / 60000);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]![0], parts[parts.length - 1]![0]] : [parts[0]?.[0], parts[0]?.[1]];
  return letters.filter(Boolean).join('').toUpperCase() || '?';
}

/** A stable hue for a person's avatar. */
/**
 * A hue from a whole name (FNV-1a), on 24 steps 15° apart that tell apart at a glance: two people
 * with the same initials rarely share a colour (1 in 24).
 */
export function hueOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return ((h >>> 0) % 24) * 15;
}

/** "AB12CD34…" → "AB12 CD34 …": a thumbprint as people compare it with what their identity provider shows. */
export function groupHex(hex: string, size = 4): string {
  const clean = hex.replace(/[^0-9a-f]/gi, '').toUpperCase();
  return clean.match(new RegExp(`.{1,${size}}`, 'g'))?.join(' ') ?? clean;
}

/** How urgent a certificate's expiry is: null (fine), amber (≤ 30 days), red (≤ 7 days or expired). */
export function certificateUrgency(daysLeft: number): { tone: 'amber' | 'red'; label: string } | null {
  if (daysLeft < 0) return { tone: 'red', label: 'Expired' };
  if (daysLeft <= 7) return { tone: 'red', label: daysLeft === 0 ? 'Expires today' : `Expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'}` };
  if (daysLeft <= 30) return { tone: 'amber', label: `Expires in ${daysLeft} days` };
  return null;
}

/** The common name of an X.509 subject ("CN=Microsoft Azure Federated SSO Certificate" → that name). */
export function commonName(subject: string): string {
  const m = /(?:^|[,\n/])\s*CN\s*=\s*([^,\n/]+)/i.exec(subject);
  return (m?.[1] ?? subject).trim();
}
