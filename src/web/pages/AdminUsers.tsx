import { useState, type FormEvent } from 'react';
import { api, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { BreakGlassChip, NobodyMatches, STATUS_CHOICES } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { Avatar, Dialog, ErrorNotice, Field, FilterSelect, FormActions, FormError, Icon, Loading, Notice, PagedTable, RelativeTime, SearchBox, Spinner, SubmitButton } from '../components/ui';
import { formatDateTime, humanize, ROLE_HINTS, ROLE_LABELS } from '../format';
import { useApi, useFilterParams, usePaged, useSlashKey, useTitle, useTypedSearch } from '../hooks';
import { useSession } from '../session';
import { ROLES, type Grant, type Role, type User, type UserDetail } from '../types';

/** `/t/:tenant/admin/users`: people, their roles (and where each came from), and their access. */
export function AdminUsers() {
  const { session } = useSession();
  useTitle('People', session.tenant.name);
  const [params, set] = useFilterParams();
  const q = params.get('q') ?? '';
  const role = params.get('role') ?? '';
  const status = params.get('status') ?? '';
  const [search, setSearch] = useTypedSearch(q, (text) => set({ q: text }));
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const list = usePaged<User>(`/users${qs({ q: q || undefined, role: role || undefined, status: status || undefined, limit: 50 })}`);
  useSlashKey(() => document.getElementById('user-search')?.focus());

  const replace = (u: User) => list.update((items) => items.map((i) => (i.id === u.id ? { ...i, ...u } : i)));

  return (
    <div className="page">
      <PageHeader
        title="Administration"
        actions={
          <button type="button" className="btn primary" onClick={() => setCreating(true)} data-testid="new-user">
            <Icon name="plus" size={16} /> New user
          </button>
        }
      />
      <AdminNav />
      <div aria-live="polite">{flash && <Notice tone="success">{flash}</Notice>}</div>
      <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); set({ q: search.trim() }); }}>
        <SearchBox id="user-search" label="Search people" slashKey placeholder="Search by name or email" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="user-search" />
        <FilterSelect id="filter-role" label="Role" value={role} onChange={(e) => set({ role: e.target.value })} empty="Any role" options={ROLES.map((r) => [r, ROLE_LABELS[r]])} />
        <FilterSelect id="filter-ustatus" label="Status" value={status} onChange={(e) => set({ status: e.target.value })} empty="Any status" options={STATUS_CHOICES} />
      </form>

      <PagedTable
        list={list}
        empty={<NobodyMatches />}
        className="users-table"
        testId="users-table"
        headers={['Person', 'Roles', 'Status', 'Sign-in', 'Created', <span className="sr-only">Actions</span>]}
      >
        {(u) => (
          <tr key={u.id} data-testid="user-row" data-email={u.email}>
            <td className="cell-person">
              <span className="person">
                <Avatar name={u.displayName} size={30} />
                <span>
                  <strong>{u.displayName}</strong>
                  {u.id === session.user.id && <span className="muted"> (you)</span>}
                  <br />
                  <span className="muted small">{u.email}</span>
                </span>
              </span>
            </td>
            <td data-label="Roles">
              <span className="chips">
                {u.roles.length ? u.roles.map((r) => <span key={r} className={`chip role-${r}`}>{ROLE_LABELS[r]}</span>) : <span className="muted small">No roles</span>}
              </span>
            </td>
            <td data-label="Status">
              <UserStatus user={u} />
            </td>
            <td data-label="Sign-in" className="small">
              {humanize(u.source === 'jit' ? 'single sign-on' : u.source === 'scim' ? 'provisioned' : 'local password')}
              {u.totpEnabled && <span className="chip subtle">2-step</span>}
            </td>
            <td data-label="Created" className="muted small nowrap">
              <RelativeTime date={u.createdAt} />
            </td>
            <td className="cell-actions">
              <button type="button" className="btn small" onClick={() => setEditing(u.id)} data-testid="edit-user">
                Manage
              </button>
            </td>
          </tr>
        )}
      </PagedTable>

      <Dialog open={creating} onClose={() => setCreating(false)} title="New local user" testId="new-user-dialog">
        <NewUserForm
          onCreated={(u) => {
            setCreating(false);
            setFlash(`${u.displayName} has been created. Share the one-time password with them: they choose their own at first sign-in.`);
            list.reload();
          }}
          onCancel={() => setCreating(false)}
        />
      </Dialog>
      <Dialog open={editing !== null} onClose={() => setEditing(null)} title="Manage person" wide testId="user-dialog">
        {editing && <UserEditor userId={editing} onChanged={replace} />}
      </Dialog>
    </div>
  );
}

function UserStatus({ user }: { user: User }) {
  const tone = user.status === 'active' ? 'green' : user.status === 'waiting' ? 'amber' : 'gray';
  const label = user.status === 'active' ? 'Active' : user.status === 'waiting' ? 'Waiting' : 'Disabled';
  return (
    <span className="status-line">
      <span className={`badge tone-${tone}`}>
        <span className="badge-dot" aria-hidden="true" />
        {label}
      </span>
      {user.breakGlass && <BreakGlassChip />}
    </span>
  );
}

function NewUserForm({ onCreated, onCancel }: { onCreated: (u: User) => void; onCancel: () => void }) {
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState<Role[]>(['requester']);
  const [breakGlass, setBreakGlass] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!email.trim() || !displayName.trim()) return setError('Enter a name and an email address.');
    if (password && password.length < 12) return setError('A one-time password needs at least 12 characters.');
    setBusy(true);
    setError(null);
    try {
      const u = await api.post<User>('/users', { email: email.trim(), displayName: displayName.trim(), roles, breakGlass, ...(password ? { password } : {}) });
      onCreated(u);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} noValidate>
      <div className="grid-2">
        <Field label="Name">{(id) => <input id={id} autoFocus value={displayName} onChange={(e) => setDisplayName(e.target.value)} data-testid="new-user-name" />}</Field>
        <Field label="Email address">{(id) => <input id={id} type="email" value={email} onChange={(e) => setEmail(e.target.value)} data-testid="new-user-email" />}</Field>
      </div>
      <Field label="One-time password" hint="Optional. At least 12 characters; they must change it at first sign-in. Leave empty for people who sign in with single sign-on.">
        {(id, d) => <input id={id} type="password" autoComplete="new-password" aria-describedby={d} value={password} onChange={(e) => setPassword(e.target.value)} data-testid="new-user-password" />}
      </Field>
      <fieldset className="checks">
        <legend className="label">Roles</legend>
        {ROLES.map((r) => (
          <label key={r} className="check">
            <input type="checkbox" checked={roles.includes(r)} onChange={(e) => setRoles((prev) => (e.target.checked ? [...prev, r] : prev.filter((x) => x !== r)))} />
            <span>
              <strong>{ROLE_LABELS[r]}</strong>
              <span className="muted small">{ROLE_HINTS[r]}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={breakGlass} onChange={(e) => setBreakGlass(e.target.checked)} />
        <span>
          <strong>Break-glass account</strong>
          <span className="muted small">An emergency account that may sign in with a password even when single sign-on is required.</span>
        </span>
      </label>
      <FormError error={error} />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} testId="new-user-submit">
          Create user
        </SubmitButton>
      </FormActions>
    </form>
  );
}

function originText(g: Grant): string {
  if (g.origin === 'system') return 'system: first administrator';
  if (g.origin === 'rule') return g.groupRef ? `rule: group ${g.groupRef}` : 'rule';
  return 'granted by an administrator';
}

type Section = 'roles' | 'access' | 'email' | 'identities';

function sectionOf(key: string): Section {
  if (key === 'roles' || key === 'email') return key;
  return key.startsWith('unlink-') ? 'identities' : 'access';
}

function UserEditor({ userId, onChanged }: { userId: string; onChanged: (u: User) => void }) {
  const { session } = useSession();
  const detail = useApi<UserDetail>(`/users/${userId}`);
  const [roles, setRoles] = useState<Role[] | null>(null);
  const [email, setEmail] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  // A refusal is shown next to the control it concerns, which then shows what is really stored.
  const [error, setError] = useState<{ at: Section; err: unknown } | null>(null);
  const [flash, setFlash] = useState<string | null>(null);

  const u = detail.data;
  const personRoles = u ? [...new Set(u.grants.filter((g) => g.origin !== 'rule').map((g) => g.role))] : [];
  const chosen = roles ?? personRoles;
  const dirty = roles !== null && (roles.length !== personRoles.length || roles.some((r) => !personRoles.includes(r)));

  const act = async (key: string, fn: () => Promise<unknown>, message: string) => {
    setBusy(key);
    setError(null);
    setFlash(null);
    try {
      await fn();
      setFlash(message);
      setRoles(null);
      setEmail(null);
      const fresh = await api.get<UserDetail>(`/users/${userId}`);
      detail.setData(fresh);
      onChanged(fresh);
    } catch (err) {
      // Ticked roles go back to what is stored; a typed address stays, to be corrected.
      if (key === 'roles') setRoles(null);
      setError({ at: sectionOf(key), err });
      detail.reload();
    } finally {
      setBusy(null);
    }
  };
  const errorAt = (at: Section) => (error?.at === at ? error.err : null);

  if (!u) return detail.error ? <ErrorNotice error={detail.error} onRetry={detail.reload} /> : <Loading />;
  const self = u.id === session.user.id;

  return (
    <div className="stack-lg" data-testid="user-editor">
      <div className="person big">
        <Avatar name={u.displayName} size={44} />
        <span>
          <strong className="h3">{u.displayName}</strong>
          <br />
          <span className="muted">{u.email}</span>
        </span>
        <span className="spacer" />
        <UserStatus user={u} />
      </div>

      <section aria-labelledby="roles-h" className="stack">
        <h3 id="roles-h" className="h4">
          Roles
        </h3>
        <p className="muted small">Roles from a group rule are kept by the next sync and cannot be removed here.</p>
        <div className="role-list">
          {ROLES.map((r) => {
            const grants = u.grants.filter((g) => g.role === r);
            const fromRule = grants.some((g) => g.origin === 'rule');
            return (
              <label key={r} className="check role-check" data-testid={`role-${r}`}>
                <input type="checkbox" checked={chosen.includes(r)} onChange={(e) => setRoles(e.target.checked ? [...chosen, r] : chosen.filter((x) => x !== r))} />
                <span>
                  <strong>{ROLE_LABELS[r]}</strong>
                  <span className="muted small">{ROLE_HINTS[r]}</span>
                  {grants.length > 0 && (
                    <span className="chips">
                      {grants.map((g, i) => (
                        <span key={i} className={`chip origin-${g.origin}`}>
                          {originText(g)}
                        </span>
                      ))}
                    </span>
                  )}
                  {fromRule && !chosen.includes(r) && <span className="small muted">Still granted by a rule.</span>}
                </span>
              </label>
            );
          })}
        </div>
        <div>
          <button type="button" className="btn primary" disabled={!dirty || busy !== null} onClick={() => void act('roles', () => api.put(`/users/${u.id}/roles`, { roles: chosen }), 'Roles saved.')} data-testid="save-roles">
            {busy === 'roles' && <Spinner small />} Save roles
          </button>
        </div>
        <FormError error={errorAt('roles')} testId="roles-error" />
      </section>

      <section aria-labelledby="access-h" className="stack">
        <h3 id="access-h" className="h4">
          Access
        </h3>
        <div className="access-actions">
          {u.status === 'disabled' ? (
            <button type="button" className="btn" disabled={busy !== null} onClick={() => void act('status', () => api.patch(`/users/${u.id}`, { status: 'active' }), 'The account is enabled again.')}>
              {busy === 'status' && <Spinner small />} Enable account
            </button>
          ) : (
            <button
              type="button"
              className="btn danger-outline"
              disabled={busy !== null || self}
              title={self ? 'You cannot disable your own account' : undefined}
              onClick={() => void act('status', () => api.patch(`/users/${u.id}`, { status: 'disabled' }), 'The account is disabled and its sessions have ended.')}
            >
              {busy === 'status' && <Spinner small />} Disable account
            </button>
          )}
          <button type="button" className="btn" disabled={busy !== null} onClick={() => void act('revoke', () => api.post(`/users/${u.id}/sessions/revoke`), 'All sessions and API tokens of this person have ended.')}>
            {busy === 'revoke' && <Spinner small />} Sign out everywhere
          </button>
        </div>
        <label className="check">
          <input type="checkbox" checked={u.breakGlass} disabled={busy !== null} onChange={(e) => void act('bg', () => api.patch(`/users/${u.id}`, { breakGlass: e.target.checked }), e.target.checked ? 'Marked as a break-glass account.' : 'No longer a break-glass account.')} />
          <span>
            <strong>Break-glass account</strong>
            <span className="muted small">May sign in with a password even when single sign-on is required. Keep these few and watched.</span>
          </span>
        </label>
        <FormError error={errorAt('access')} testId="access-error" />
      </section>
      <section aria-labelledby="email-h" className="stack">
        <h3 id="email-h" className="h4">
          Email address
        </h3>
        <form
          className="inline-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void act('email', () => api.patch(`/users/${u.id}`, { email: (email ?? u.email).trim() }), 'The email address is changed.');
          }}
        >
          <input aria-labelledby="email-h" type="email" value={email ?? u.email} onChange={(e) => setEmail(e.target.value)} data-testid="user-email" />
          <button type="submit" className="btn" disabled={busy !== null || email === null || email.trim() === u.email} data-testid="save-email">
            {busy === 'email' && <Spinner small />} Change email
          </button>
        </form>
        <FormError error={errorAt('email')} testId="email-error" />
        <p className="muted small">When an address was given to someone new, change the old account&apos;s address: the newcomer then gets an account of their own at their first sign-in. Accounts SCIM provisions take their address from the directory.</p>
      </section>

      <section aria-labelledby="identities-h" className="stack" data-testid="user-identities">
        <h3 id="identities-h" className="h4">
          Sign-in identities
        </h3>
        <p className="muted small">
          The identity-provider subject each single sign-on connection signs this person in as. Remove one when the person got a new identity at the
          identity provider; their next sign-in then links again by the usual rule.
        </p>
        {u.identities.length === 0 ? (
          <p className="muted small">None: this person has not signed in with single sign-on.</p>
        ) : (
          <ul className="identity-list">
            {u.identities.map((x) => (
              <li key={x.connection} data-testid={`identity-${x.connection}`}>
                <span>
                  <strong>{x.connectionName}</strong> <code className="small">{x.subject}</code>
                  <br />
                  <span className="muted small">
                    bound {formatDateTime(x.createdAt)}
                    {x.lastSigninAt ? `, last sign-in ${formatDateTime(x.lastSigninAt)}` : ''}
                  </span>
                </span>
                <button
                  type="button"
                  className="btn small danger-outline"
                  disabled={busy !== null}
                  onClick={() => void act(`unlink-${x.connection}`, () => api.delete(`/users/${u.id}/identities/${encodeURIComponent(x.connection)}`), `The ${x.connectionName} identity is no longer bound to this account.`)}
                  data-testid={`unlink-${x.connection}`}
                >
                  {busy === `unlink-${x.connection}` && <Spinner small />} Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        <FormError error={errorAt('identities')} testId="identities-error" />
      </section>
      <div aria-live="polite">{flash && <Notice tone="success">{flash}</Notice>}</div>
    </div>
  );
}
