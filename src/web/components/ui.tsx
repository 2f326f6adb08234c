import { useEffect, useId, useRef, useState, type ComponentProps, type ReactNode } from 'react';
import { errorMessage } from '../api';
import { formatDateTime, hueOf, initials, priorityLabel, relativeTime, statusLabel, statusTone, TYPE_LABELS } from '../format';
import type { Paged } from '../hooks';
import type { Ticket, TicketType } from '../types';

export function Spinner({ label = 'Loading', small = false }: { label?: string; small?: boolean }) {
  return <span className={small ? 'spinner small' : 'spinner'} role="status" aria-label={label} />;
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" data-testid="loading">
      <Spinner label={label} />
      <span>{label}</span>
    </div>
  );
}

export function FullPageLoading() {
  return (
    <div className="center-page">
      <Loading />
    </div>
  );
}

/** Placeholder rows while a list loads. */
export function SkeletonRows({ rows = 5 }: { rows?: number }) {
  return (
    <div className="skeleton-list" aria-hidden="true">
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton-row">
          <span className="skeleton" style={{ width: '5rem' }} />
          <span className="skeleton" style={{ width: `${40 + ((i * 17) % 35)}%` }} />
          <span className="skeleton" style={{ width: '4.5rem', marginLeft: 'auto' }} />
        </div>
      ))}
    </div>
  );
}

/** An empty list or page; `heading` is h4 inside a section that has its own heading. */
export function EmptyState({ title, children, action, icon = 'inbox', heading: Heading = 'h2' }: { title: string; children?: ReactNode; action?: ReactNode; icon?: IconName; heading?: 'h2' | 'h4' }) {
  return (
    <div className="empty" data-testid="empty-state">
      <div className="empty-icon" aria-hidden="true">
        <Icon name={icon} size={28} />
      </div>
      <Heading className="h3">{title}</Heading>
      {children && <p className="muted">{children}</p>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}

/** A load or action error, announced to screen readers. */
export function ErrorNotice({ error, onRetry, testId = 'error' }: { error: unknown; onRetry?: () => void; testId?: string }) {
  if (!error) return null;
  return (
    <div className="notice error" role="alert" data-testid={testId}>
      <Icon name="alert" size={18} />
      <span className="notice-text">{errorMessage(error)}</span>
      {onRetry && (
        <button type="button" className="btn small ghost" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A polite live region for form errors: always present so that changes are announced. */
export function FormError({ error, testId = 'form-error' }: { error: unknown; testId?: string }) {
  return (
    <div aria-live="assertive" className="form-error-region">
      {error ? (
        <div className="notice error" role="alert" data-testid={testId}>
          <Icon name="alert" size={18} />
          <span className="notice-text">{typeof error === 'string' ? error : errorMessage(error)}</span>
        </div>
      ) : null}
    </div>
  );
}

export function Notice({ tone = 'info', children, testId }: { tone?: 'info' | 'success' | 'warning'; children: ReactNode; testId?: string }) {
  return (
    <div className={`notice ${tone}`} role="status" data-testid={testId}>
      <Icon name={tone === 'success' ? 'check' : tone === 'warning' ? 'alert' : 'info'} size={18} />
      <span className="notice-text">{children}</span>
    </div>
  );
}

export function StatusBadge({ status, testId = 'status-badge' }: { status: string; testId?: string }) {
  return (
    <span className={`badge tone-${statusTone(status)}`} data-testid={testId} data-status={status}>
      <span className="badge-dot" aria-hidden="true" />
      {statusLabel(status)}
    </span>
  );
}

export function PriorityBadge({ priority, compact = false }: { priority: number; compact?: boolean }) {
  return (
    <span className={`priority p${priority}`} title={priorityLabel(priority)} data-testid="priority-badge">
      {compact ? `P${priority}` : priorityLabel(priority)}
    </span>
  );
}

export function TypeTag({ type }: { type: TicketType }) {
  return <span className={`type-tag type-${type}`}>{TYPE_LABELS[type]}</span>;
}

/** Under a ticket page's title: its reference, type and status, and its priority where the reader works with it. */
export function TicketMeta({ ticket: t, priority = false }: { ticket: Pick<Ticket, 'ref' | 'type' | 'status' | 'priority'>; priority?: boolean }) {
  return (
    <span className="header-meta">
      <span className="mono ref" data-testid="ticket-ref">
        {t.ref}
      </span>
      <TypeTag type={t.type} />
      <StatusBadge status={t.status} testId="ticket-status" />
      {priority && <PriorityBadge priority={t.priority} />}
    </span>
  );
}

export function Avatar({ name, size = 28 }: { name: string; size?: number }) {
  const hue = hueOf(name);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ width: size, height: size, fontSize: size * 0.4, background: `hsl(${hue} 55% 92%)`, color: `hsl(${hue} 45% 32%)` }}
    >
      {initials(name)}
    </span>
  );
}

export function RelativeTime({ date }: { date: string | null | undefined }) {
  if (!date) return <span className="muted">—</span>;
  return (
    <time dateTime={date} title={formatDateTime(date)}>
      {relativeTime(date)}
    </time>
  );
}

/** A labelled form control; the child receives the id through a render function. */
export function Field({ label, hint, children, error }: { label: ReactNode; hint?: ReactNode; error?: string; children: (id: string, describedBy?: string) => ReactNode }) {
  const id = useId();
  const hintId = hint || error ? `${id}-hint` : undefined;
  return (
    <div className={error ? 'field has-error' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children(id, hintId)}
      {(hint || error) && (
        <p id={hintId} className={error ? 'field-hint error-text' : 'field-hint'}>
          {error ?? hint}
        </p>
      )}
    </div>
  );
}

/** A labelled field for a 6-digit code from an authenticator app: it keeps the digits only, six at the most. */
export function OtpField({ label, value, onChange, ...input }: { label: string; value: string; onChange: (code: string) => void } & Omit<ComponentProps<'input'>, 'value' | 'onChange'>) {
  return (
    <Field label={label}>
      {(id) => (
        <input
          id={id}
          className="otp-input"
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={6}
          value={value}
          onChange={(e) => onChange(e.target.value.replace(/\D/g, '').slice(0, 6))}
          {...input}
        />
      )}
    </Field>
  );
}

/** A modal dialog on the native <dialog> element (focus trapping and Escape come with it). */
export function Dialog({ open, onClose, title, children, wide = false, testId }: { open: boolean; onClose: () => void; title: string; children: ReactNode; wide?: boolean; testId?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={wide ? 'dialog wide' : 'dialog'}
      aria-labelledby={titleId}
      onClose={onClose}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onClick={(e) => {
        if (e.target === ref.current) onClose();
      }}
      data-testid={testId}
    >
      {open && (
        <div className="dialog-body">
          <header className="dialog-header">
            <h2 id={titleId} className="h3">
              {title}
            </h2>
            <button type="button" className="icon-btn" onClick={onClose} aria-label="Close">
              <Icon name="x" size={18} />
            </button>
          </header>
          {children}
        </div>
      )}
    </dialog>
  );
}

export type IconName =
  | 'inbox'
  | 'alert'
  | 'info'
  | 'check'
  | 'x'
  | 'user'
  | 'users'
  | 'search'
  | 'plus'
  | 'clock'
  | 'flame'
  | 'layers'
  | 'menu'
  | 'logout'
  | 'shield'
  | 'key'
  | 'lock'
  | 'list'
  | 'wrench'
  | 'box'
  | 'arrow-left'
  | 'note'
  | 'message'
  | 'copy'
  | 'pause'
  | 'download'
  | 'upload'
  | 'trash'
  | 'settings'
  | 'globe'
  | 'link'
  | 'play'
  | 'x-circle'
  | 'check-circle'
  | 'code';

const PATHS: Record<IconName, ReactNode> = {
  inbox: (
    <>
      <path d="M22 12h-6l-2 3h-4l-2-3H2" />
      <path d="M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z" />
    </>
  ),
  alert: (
    <>
      <circle cx="12" cy="12" r="10" />
      <path d="M12 8v4M12 16h.01" />
    </>
  ),
  info: (
    <>
      <circle cx="12" cy="12" r="10" />
      <path d="M12 16v-4M12 8h.01" />
    </>
  ),
  check: <path d="M20 6 9 17l-5-5" />,
  x: <path d="M18 6 6 18M6 6l12 12" />,
  user: (
    <>
      <circle cx="12" cy="8" r="4" />
      <path d="M4 21v-1a7 7 0 0 1 14 0v1" />
    </>
  ),
  users: (
    <>
      <circle cx="9" cy="8" r="4" />
      <path d="M2 21v-1a7 7 0 0 1 14 0v1M16 3.13a4 4 0 0 1 0 7.75M22 21v-1a7 7 0 0 0-4-6.3" />
    </>
  ),
  search: (
    <>
      <circle cx="11" cy="11" r="7" />
      <path d="m21 21-4.3-4.3" />
    </>
  ),
  plus: <path d="M12 5v14M5 12h14" />,
  clock: (
    <>
      <circle cx="12" cy="12" r="10" />
      <path d="M12 6v6l4 2" />
    </>
  ),
  flame: <path d="M8.5 14.5A2.5 2.5 0 0 0 11 12c0-1.38-.5-2-1-3-1.07-2.14-.22-4.05 2-6 .5 2.5 2 4.9 4 6.5 2 1.6 3 3.5 3 5.5a7 7 0 1 1-14 0c0-1.15.43-2.29 1-3a2.5 2.5 0 0 0 2.5 2.5z" />,
  layers: (
    <>
      <path d="m12 2 10 5-10 5L2 7z" />
      <path d="m2 17 10 5 10-5M2 12l10 5 10-5" />
    </>
  ),
  menu: <path d="M4 6h16M4 12h16M4 18h16" />,
  logout: (
    <>
      <path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" />
      <path d="m16 17 5-5-5-5M21 12H9" />
    </>
  ),
  shield: <path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z" />,
  key: (
    <>
      <circle cx="7.5" cy="15.5" r="5.5" />
      <path d="m21 2-9.6 9.6M15.5 7.5l3 3L22 7l-3-3" />
    </>
  ),
  lock: (
    <>
      <rect x="3" y="11" width="18" height="11" rx="2" />
      <path d="M7 11V7a5 5 0 0 1 10 0v4" />
    </>
  ),
  list: <path d="M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01" />,
  wrench: <path d="M14.7 6.3a1 1 0 0 0 0 1.4l1.6 1.6a1 1 0 0 0 1.4 0l3.77-3.77a6 6 0 0 1-7.94 7.94l-6.91 6.91a2.12 2.12 0 0 1-3-3l6.91-6.91a6 6 0 0 1 7.94-7.94l-3.76 3.76z" />,
  box: (
    <>
      <path d="M21 8a2 2 0 0 0-1-1.73l-7-4a2 2 0 0 0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 1.73l7 4a2 2 0 0 0 2 0l7-4A2 2 0 0 0 21 16z" />
      <path d="m3.3 7 8.7 5 8.7-5M12 22V12" />
    </>
  ),
  'arrow-left': <path d="m12 19-7-7 7-7M19 12H5" />,
  note: (
    <>
      <path d="M15.5 3H5a2 2 0 0 0-2 2v14c0 1.1.9 2 2 2h14a2 2 0 0 0 2-2V8.5L15.5 3z" />
      <path d="M15 3v6h6" />
    </>
  ),
  message: <path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z" />,
  copy: (
    <>
      <rect x="9" y="9" width="13" height="13" rx="2" />
      <path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1" />
    </>
  ),
  pause: (
    <>
      <rect x="6" y="4" width="4" height="16" rx="1" />
      <rect x="14" y="4" width="4" height="16" rx="1" />
    </>
  ),
  download: <path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M7 10l5 5 5-5M12 15V3" />,
  upload: <path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M17 8l-5-5-5 5M12 3v12" />,
  trash: <path d="M3 6h18M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6M10 11v6M14 11v6" />,
  settings: (
    <>
      <path d="M4 21v-7M4 10V3M12 21v-9M12 8V3M20 21v-5M20 12V3" />
      <path d="M1 14h6M9 8h6M17 16h6" />
    </>
  ),
  globe: (
    <>
      <circle cx="12" cy="12" r="10" />
      <path d="M2 12h20M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z" />
    </>
  ),
  link: <path d="M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71" />,
  play: <path d="m6 3 14 9-14 9z" />,
  'x-circle': (
    <>
      <circle cx="12" cy="12" r="10" />
      <path d="m15 9-6 6M9 9l6 6" />
    </>
  ),
  'check-circle': (
    <>
      <circle cx="12" cy="12" r="10" />
      <path d="m8 12 3 3 5-6" />
    </>
  ),
  code: <path d="m16 18 6-6-6-6M8 6l-6 6 6 6" />,
};

export function Icon({ name, size = 16, className }: { name: IconName; size?: number; className?: string }) {
  return (
    <svg
      className={className ? `icon ${className}` : 'icon'}
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={2}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      {PATHS[name]}
    </svg>
  );
}

/** Writes text to the clipboard; falls back to a hidden text area where the Clipboard API is missing (plain http). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Permission refused or not a secure context: try the old way.
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy failed');
}

/** Copies text to the clipboard and says so for a moment. */
/** A URL that wraps after its slashes (and before ? and &) rather than inside a word. */
export function BreakableUrl({ url }: { url: string }) {
  const parts = url.split(/(?<=\/)|(?=[?&])/);
  return (
    <>
      {parts.map((p, i) => (
        <span key={i}>
          {p}
          {i < parts.length - 1 && <wbr />}
        </span>
      ))}
    </>
  );
}

export function CopyButton({ text, label = 'Copy', testId, className = 'btn small ghost', title }: { text: string; label?: string; testId?: string; className?: string; title?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      className={state === 'copied' ? `${className} copied` : className}
      title={title}
      onClick={() => {
        copyText(text).then(
          () => setState('copied'),
          () => setState('failed'),
        );
      }}
      data-testid={testId}
      data-copied={state === 'copied' || undefined}
    >
      <Icon name={state === 'copied' ? 'check' : 'copy'} size={14} />
      <span aria-live="polite">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy' : label}</span>
    </button>
  );
}

/** A row of a `sp-values` list: what the value is, the value in full (`children` show it otherwise), and a button that copies it. */
export function CopyableValue({ term, value, testId, copyTestId, copyTitle, children = value }: { term: ReactNode; value: string; testId?: string; copyTestId?: string; copyTitle: string; children?: ReactNode }) {
  return (
    <div className="sp-value">
      <dt>{term}</dt>
      <dd>
        <code className="mono wrap" data-testid={testId}>
          {children}
        </code>
        <CopyButton text={value} testId={copyTestId} title={copyTitle} />
      </dd>
    </div>
  );
}

/** The "Load more" button under a cursor-paginated list (a `usePaged` result); nothing when all is shown. */
export function LoadMore({ list }: { list: { hasMore: boolean; loadMore: () => void; loadingMore: boolean } }) {
  if (!list.hasMore) return null;
  return (
    <div className="load-more">
      <button type="button" className="btn" onClick={list.loadMore} disabled={list.loadingMore} data-testid="load-more">
        {list.loadingMore && <Spinner small />} Load more
      </button>
    </div>
  );
}

/** A form's buttons: its own (the submit first), then Cancel where the form can be cancelled. */
export function FormActions({ children, onCancel }: { children: ReactNode; onCancel?: () => void }) {
  return (
    <div className="form-actions">
      {children}
      {onCancel && (
        <button type="button" className="btn ghost" onClick={onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}

/** A select's choices as [value, label] pairs, after an optional first choice with the empty value ("Any role"). */
export function Options({ options, empty }: { options: readonly (readonly [string | number, ReactNode])[]; empty?: ReactNode }) {
  return (
    <>
      {empty !== undefined && <option value="">{empty}</option>}
      {options.map(([v, l]) => (
        <option key={v} value={v}>
          {l}
        </option>
      ))}
    </>
  );
}

/** A filter bar's select: its label is for screen readers only. */
export function FilterSelect({ id, label, options, empty, ...select }: { id: string; label: string; options: readonly (readonly [string | number, ReactNode])[]; empty?: ReactNode } & ComponentProps<'select'>) {
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        {label}
      </label>
      <select id={id} {...select}>
        <Options options={options} empty={empty} />
      </select>
    </>
  );
}

/** A filter bar's search field; `slashKey` shows the "/" that focuses it (the page binds the key with useSlashKey). */
export function SearchBox({ id, label, slashKey = false, ...input }: { id: string; label: string; slashKey?: boolean } & ComponentProps<'input'>) {
  return (
    <div className="search-box">
      <Icon name="search" size={16} />
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <input id={id} type="search" {...input} />
      {slashKey && (
        <kbd className="kbd" aria-hidden="true">
          /
        </kbd>
      )}
    </div>
  );
}

/** Download links for a list's export in both formats; `testId` names the bar and, suffixed, each link. */
export function ExportLinks({ className, label, href, testId }: { className: string; label: ReactNode; href: (format: 'csv' | 'jsonl') => string; testId: string }) {
  return (
    <div className={`form-actions ${className}`} data-testid={testId}>
      <span className="muted small">{label}</span>
      <a className="btn small" href={href('csv')} download data-testid={`${testId}-csv`}>
        <Icon name="download" size={14} /> CSV
      </a>
      <a className="btn small" href={href('jsonl')} download data-testid={`${testId}-jsonl`}>
        <Icon name="download" size={14} /> JSON Lines
      </a>
    </div>
  );
}

/** A table with a header row (every header a column header); rows come as children. */
export function Table({ headers, children, caption, className, testId }: { headers: ReactNode[]; children: ReactNode; caption?: string; className?: string; testId?: string }) {
  return (
    <table className={className ? `table ${className}` : 'table'} data-testid={testId}>
      {caption && <caption className="sr-only">{caption}</caption>}
      <thead>
        <tr>
          {headers.map((h, i) => (
            <th key={i} scope="col">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/**
 * A cursor-paginated list (a `usePaged` result) as a table in a card: its load error, placeholder
 * rows while it loads, `empty` when nothing came back, and "Load more" under it.
 */
export function PagedTable<T>({
  list,
  rows = 6,
  empty,
  headers,
  className,
  testId,
  children,
}: {
  list: Paged<T>;
  rows?: number;
  empty: ReactNode;
  headers: ReactNode[];
  className: string;
  testId: string;
  children: (item: T) => ReactNode;
}) {
  return (
    <>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      <div className="card flush">
        {list.loading ? (
          <SkeletonRows rows={rows} />
        ) : list.items.length === 0 ? (
          empty
        ) : (
          <Table headers={headers} className={className} testId={testId}>
            {list.items.map(children)}
          </Table>
        )}
      </div>
      <LoadMore list={list} />
    </>
  );
}

/** A form's submit button: disabled with a spinner while the form is busy, otherwise with its icon, if any. */
export function SubmitButton({ busy, icon, iconSize = 16, className = 'btn primary', testId, children }: { busy: boolean; icon?: IconName; iconSize?: number; className?: string; testId?: string; children: ReactNode }) {
  return (
    <button type="submit" className={className} disabled={busy} data-testid={testId}>
      {busy ? <Spinner small /> : icon ? <Icon name={icon} size={iconSize} /> : null} {children}
    </button>
  );
}

/**
 * A cursor-paginated list (a `usePaged` result, or `items` picked from it) as cards in a `<ul>`: its
 * load error, placeholder rows and `empty` each in a card of their own, and "Load more" under it.
 * `emptyWhenFailed` false keeps the empty state away while a load error shows.
 */
export function PagedCards<T>({
  list,
  items = list.items,
  rows = 3,
  empty,
  className,
  testId,
  emptyWhenFailed = true,
  children,
}: {
  list: Paged<T>;
  items?: T[];
  rows?: number;
  empty: ReactNode;
  className: string;
  testId: string;
  emptyWhenFailed?: boolean;
  children: (item: T) => ReactNode;
}) {
  return (
    <>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      {list.loading ? (
        <div className="card">
          <SkeletonRows rows={rows} />
        </div>
      ) : items.length === 0 && (emptyWhenFailed || !list.error) ? (
        <div className="card">{empty}</div>
      ) : (
        <ul className={className} data-testid={testId}>
          {items.map(children)}
        </ul>
      )}
      <LoadMore list={list} />
    </>
  );
}
