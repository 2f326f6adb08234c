import { useCallback, useEffect, useRef, useState, type ComponentProps, type ReactNode } from 'react';
import { ApiError } from '../api';
import { CopyableValue, Dialog, EmptyState, FormActions, FormError, Icon, Spinner, Table, type IconName } from './ui';

/**
 * Pieces the admin pages share: a section with its heading, a table frame, an on/off switch, a
 * confirmation dialog, a secret shown once, how an account is labelled, and the busy and error state
 * of the actions on a page, kept per control so that an error shows beside the button that caused it.
 */

export interface Actions {
  /** The key of the action running now, or null. */
  busy: string | null;
  /** Runs `fn` as action `key`: busy while it runs; its error is kept under that key (and rethrown to no one). */
  run: (key: string, fn: () => Promise<void>) => Promise<boolean>;
  /** The error the action `key` ended with last time, if any. */
  errorOf: (key: string) => unknown;
  clear: (key: string) => void;
}

/** Busy and error state for a page's actions, one error per control. */
export function useActions(): Actions {
  const [busy, setBusy] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const clear = useCallback((key: string) => setErrors(({ [key]: _gone, ...rest }) => rest), []);
  const run = useCallback(
    async (key: string, fn: () => Promise<void>) => {
      setBusy(key);
      clear(key);
      try {
        await fn();
        return true;
      } catch (err) {
        setErrors((prev) => ({ ...prev, [key]: err }));
        return false;
      } finally {
        setBusy((b) => (b === key ? null : b));
      }
    },
    [clear],
  );
  const errorOf = useCallback((key: string) => errors[key], [errors]);
  return { busy, run, errorOf, clear };
}

/**
 * The server's words for a refusal that names one of `fields` (or a field inside one: `actions.0.title`,
 * `actions/0/teamId`), to show under that field; undefined when the problem is about something else.
 */
export function problemAt(err: unknown, ...fields: string[]): string | undefined {
  if (!(err instanceof ApiError) || !err.errors.length) return undefined;
  const named = err.errors[0]!.field;
  return fields.some((f) => named === f || named.startsWith(`${f}.`) || named.startsWith(`${f}/`)) ? err.message : undefined;
}

/**
 * A titled part of an admin page, with its explanation and buttons on the right. Its heading is an h3
 * under the page's own tabs and headings; `level` 2 where the sections are the page's main parts.
 * `anchor` is the section's own id, for a link to it.
 */
export function Section({ id, title, description, actions, children, testId, level = 3, anchor }: { id: string; title: string; description?: ReactNode; actions?: ReactNode; children: ReactNode; testId?: string; level?: 2 | 3; anchor?: string }) {
  return (
    <section className="sso-section" id={anchor} aria-labelledby={`${id}-h`} data-testid={testId}>
      <div className="section-head">
        <div>
          {level === 2 ? (
            <h2 id={`${id}-h`} className="h2">
              {title}
            </h2>
          ) : (
            <h3 id={`${id}-h`} className="h3 prov-title">
              {title}
            </h3>
          )}
          {description && <p className="muted">{description}</p>}
        </div>
        {actions && <div className="row wrap-row">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

/** An empty list inside a section (the shared empty look, with a heading below the section's). */
export function SectionEmpty(props: { title: string; icon?: IconName; children?: ReactNode }) {
  return <EmptyState {...props} heading="h4" />;
}

/** A people list that a search or filter left empty. */
export function NobodyMatches() {
  return (
    <EmptyState title="Nobody matches" icon="users">
      Try another search or filter.
    </EmptyState>
  );
}

/** A framed table with a header row; rows come as children. */
export function DataTable(props: ComponentProps<typeof Table>) {
  return (
    <div className="table-frame">
      <Table {...props} />
    </div>
  );
}

/**
 * An on/off switch (a checkbox with role="switch") and its label. `dimmed` greys the row out: by
 * default while the switch is disabled, but a switch that is only busy for a moment stays bright.
 * `hintId` ties the hint to the switch for screen readers; `busy` puts a spinner after the label.
 */
export function Switch({
  checked,
  onChange,
  label,
  hint,
  disabled = false,
  dimmed = disabled,
  busy = false,
  className,
  hintId,
  hintTestId,
  testId,
}: {
  checked: boolean;
  onChange: (on: boolean) => void;
  label: ReactNode;
  hint?: ReactNode;
  disabled?: boolean;
  dimmed?: boolean;
  busy?: boolean;
  className?: string;
  hintId?: string;
  hintTestId?: string;
  testId?: string;
}) {
  return (
    <label className={['switch-row', className, dimmed && 'disabled'].filter(Boolean).join(' ')}>
      <span className="switch">
        <input type="checkbox" role="switch" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} aria-describedby={hintId} data-testid={testId} />
        <span className="switch-track" aria-hidden="true">
          <span className="switch-thumb" />
        </span>
      </span>
      <span className="switch-text">
        <strong>{label}</strong>
        {hint && (
          <span id={hintId} className="muted small" data-testid={hintTestId}>
            {hint}
          </span>
        )}
      </span>
      {busy && <Spinner small />}
    </label>
  );
}

/**
 * Asks before something that cannot be undone (removing, rotating). The dialog stays open with the
 * server's answer when `onConfirm` fails, and closes when it succeeds.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  icon,
  danger = false,
  onConfirm,
  onClose,
  testId,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  icon?: IconName;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (open) setError(null);
  }, [open]);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title={title} testId={testId}>
      <div className="stack">
        {children}
        <FormError error={error} testId="confirm-error" />
        <FormActions onCancel={onClose}>
          <button type="button" className={danger ? 'btn danger' : 'btn primary'} onClick={() => void confirm()} disabled={busy} autoFocus data-testid="confirm">
            {busy ? <Spinner small /> : icon ? <Icon name={icon} size={15} /> : null} {confirmLabel}
          </button>
        </FormActions>
      </div>
    </Dialog>
  );
}

/** A secret shown this once, with a copy button and what to do with it; focused so that it is read out. */
export function SecretOnce({ heading, secret, label, children, onDismiss, testId = 'secret-once' }: { heading: ReactNode; secret: string; label: string; children?: ReactNode; onDismiss: () => void; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [secret]);
  return (
    <div ref={ref} className="token-created prov-reveal" role="status" tabIndex={-1} data-testid={testId}>
      <p>
        <strong>{heading}</strong>
      </p>
      {children}
      <dl className="sp-values prov-values">
        <CopyableValue term={label} value={secret} testId="revealed-secret" copyTestId="copy-secret" copyTitle={`Copy the ${label.toLowerCase()}`} />
      </dl>
      <button type="button" className="btn small" onClick={onDismiss} data-testid="secret-dismiss">
        <Icon name="check" size={14} /> I have stored it
      </button>
    </div>
  );
}

/** A refresh button that shows a spinner while its list reloads. */
export function RefreshButton({ onClick, loading, testId }: { onClick: () => void; loading: boolean; testId?: string }) {
  return (
    <button type="button" className="btn small" onClick={onClick} disabled={loading} data-testid={testId}>
      {loading ? <Spinner small label="Refreshing" /> : <Icon name="clock" size={14} />} Refresh
    </button>
  );
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  410: 'Gone',
  429: 'Too many requests',
  500: 'Server error',
  502: 'Bad gateway',
  503: 'Unavailable',
  504: 'Gateway timeout',
};

/** An HTTP status as a badge: green for 2xx, red otherwise; "No answer" when there was none. */
export function HttpStatus({ status, testId = 'http-status' }: { status: number | null; testId?: string }) {
  if (status === null) {
    return (
      <span className="badge tone-red" data-testid={testId} data-status="none">
        No answer
      </span>
    );
  }
  const ok = status >= 200 && status < 300;
  return (
    <span className={`badge tone-${ok ? 'green' : 'red'}`} data-testid={testId} data-status={status}>
      {status}
      {REASONS[status] && <span className="status-reason"> {REASONS[status]}</span>}
    </span>
  );
}

/** The account states a list of people can be narrowed to, as [value, label]. */
export const STATUS_CHOICES: [string, string][] = [
  ['active', 'Active'],
  ['waiting', 'Waiting for access'],
  ['disabled', 'Disabled'],
];

/** Marks an emergency account. */
export function BreakGlassChip() {
  return (
    <span className="chip danger" title="Emergency account: can sign in with a password even when single sign-on is enforced">
      Break-glass
    </span>
  );
}
