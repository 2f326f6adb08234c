import { useState, type FormEvent } from 'react';
import { api, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { BreakGlassChip, NobodyMatches, STATUS_CHOICES } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { Avatar, Dialog, ErrorNotice, ExportLinks, Field, FilterSelect, FormActions, FormError, Icon, Loading, Notice, PagedTable, RelativeTime, SearchBox, Table, SubmitButton } from '../components/ui';
import { formatDateTime, ROLE_LABELS } from '../format';
import { useApi, useFilterParams, usePaged, useTask, useTitle, useTypedSearch } from '../hooks';
import { useSession } from '../session';
import { ROLES, type ReviewGrant, type ReviewPerson, type ReviewSettings, type Role, type RoleReview } from '../types';

const FILTERS = ['q', 'role', 'origin', 'source', 'status', 'staleDays'] as const;
type FilterName = (typeof FILTERS)[number];

const SOURCE_LABELS: Record<ReviewPerson['source'], string> = { local: 'Local', jit: 'Single sign-on (just in time)', scim: 'SCIM' };
const SOURCE_HINTS: Record<ReviewPerson['source'], string> = {
  local: 'Made by an administrator, the command line, or with the tenant',
  jit: 'Made at the person’s first single sign-on',
  scim: 'Provisioned by the identity provider’s directory',
};
const STALE_CHOICES = [30, 90, 180, 365];

/** A grant's provenance, short, for its chip: "rule: IT-Agents (SCIM group)", "given by Ana <ana@…> on 2026-01-05". */
export function grantOrigin(g: ReviewGrant): string {
  const day = g.grantedAt.slice(0, 10);
  if (g.origin === 'person') return g.grantedBy ? `given by ${g.grantedBy.displayName} <${g.grantedBy.email}> on ${day}` : `given on ${day}, no administrator recorded`;
  if (g.origin === 'system') {
    return g.system === 'tenant_created' ? 'system: first administrator' : g.system === 'jit' ? 'system: default at first sign-in' : 'system: default for SCIM accounts';
  }
  const scim = g.via.filter((v) => v.kind === 'scim');
  const claim = g.via.find((v) => v.kind === 'signin');
  const name = scim.length ? scim.map((v) => (v.kind === 'scim' ? v.displayName : '')).join(', ') : (g.rule?.groupRef ?? '?');
  const kinds = [scim.length ? 'SCIM group' : null, claim && claim.kind === 'signin' ? `${claim.connectionName ?? 'sign-in'} group claim` : null].filter(Boolean);
  return `rule: ${name} (${kinds.length ? kinds.join(', ') : 'membership no longer seen'})`;
}

/** `/t/:tenant/admin/access-review`: who holds which role and where it came from; export; revoke what a person granted. */
export function AdminAccessReview() {
  const { session, has } = useSession();
  useTitle('Access review', session.tenant.name);
  const isAdmin = has('admin');
  const [params, set] = useFilterParams();
  const view = params.get('view') === 'roles' ? 'roles' : 'people';
  const current = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Record<FilterName, string>;
  const [search, setSearch] = useTypedSearch(current.q, (text) => set({ q: text }));
  const [revoking, setRevoking] = useState<{ person: ReviewPerson; grant: ReviewGrant } | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  // Bumped by a revocation, so the per-role view loads again.
  const [rolesVersion, setRolesVersion] = useState(0);
  const query = Object.fromEntries(FILTERS.map((k) => [k, current[k] || undefined]));
  const list = usePaged<ReviewPerson>(view === 'people' ? `/access-review${qs({ ...query, limit: 50 })}` : null);

  const exportHref = (format: 'csv' | 'jsonl') => `/api/v1/access-review/export${qs({ format, ...query })}`;
  const active = FILTERS.some((k) => current[k]);

  return (
    <div className="page">
      <PageHeader title={isAdmin ? 'Administration' : 'Access review'} />
      {isAdmin && <AdminNav />}
      <p className="muted page-intro">
        Every account with each role it holds and where the role came from: given by an administrator, a group rule (through a SCIM group or the groups claim of a
        sign-in), or the system. Revoke what an administrator gave here; a rule&apos;s role goes when the person leaves the group in the identity provider.
      </p>
      <div className="review-bar">
        <div className="segmented" role="tablist" aria-label="View">
          <button type="button" role="tab" aria-selected={view === 'people'} className={view === 'people' ? 'seg active' : 'seg'} onClick={() => set({ view: '' })} data-testid="review-view-people">
            <Icon name="users" size={14} /> People
          </button>
          <button type="button" role="tab" aria-selected={view === 'roles'} className={view === 'roles' ? 'seg active' : 'seg'} onClick={() => set({ view: 'roles' })} data-testid="review-view-roles">
            <Icon name="shield" size={14} /> By role
          </button>
        </div>
        <span className="spacer" />
        <ExportLinks className="review-export" testId="review-export" label={active ? 'Export what these filters find:' : 'Export the whole review:'} href={exportHref} />
      </div>
      <div aria-live="polite">{flash && <Notice tone="success" testId="review-flash">{flash}</Notice>}</div>

      {view === 'people' ? (
        <>
          <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); set({ q: search.trim() }); }}>
            <SearchBox id="review-search" label="Search people" placeholder="Search by name or email" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="review-search" />
            <ReviewFilter name="role" label="Role" empty="Any role" options={ROLES.map((r) => [r, ROLE_LABELS[r]])} />
            <ReviewFilter name="origin" label="Where from" empty="Any origin" options={[['person', 'Given by an administrator'], ['rule', 'From a group rule'], ['system', 'From the system']]} />
            <ReviewFilter name="source" label="Account source" empty="Any source" options={[['local', 'Local'], ['jit', 'Single sign-on'], ['scim', 'SCIM']]} />
            <ReviewFilter name="status" label="Status" empty="Any status" options={STATUS_CHOICES} />
            <ReviewFilter name="staleDays" id="review-stale" label="Sign-in" empty="Any last sign-in" options={STALE_CHOICES.map((d) => [d, `No sign-in for ${d} days`])} />
            {active && (
              <button type="button" className="btn ghost small" onClick={() => { setSearch(''); set(Object.fromEntries(FILTERS.map((k) => [k, '']))); }}>
                Clear
              </button>
            )}
          </form>
          <PagedTable
            list={list}
            empty={<NobodyMatches />}
            className="review-table"
            testId="review-table"
            headers={['Person', 'Roles and where they came from', 'Source', 'Last sign-in', 'Last SCIM change']}
          >
            {(p) => (
              <tr key={p.id} data-testid="review-row" data-email={p.email}>
                <td className="cell-person">
                  <PersonCell person={p} />
                </td>
                <td data-label="Roles">
                  <GrantList grants={p.grants} onRevoke={(g) => setRevoking({ person: p, grant: g })} />
                </td>
                <td data-label="Source" className="small" title={SOURCE_HINTS[p.source]} data-testid="review-source">
                  {SOURCE_LABELS[p.source]}
                </td>
                <td data-label="Last sign-in" className="small nowrap" data-testid="review-last-signin">
                  {p.lastSigninAt ? <RelativeTime date={p.lastSigninAt} /> : <span className="muted">Never</span>}
                </td>
                <td data-label="Last SCIM change" className="small nowrap">
                  {p.lastScimChangeAt ? <RelativeTime date={p.lastScimChangeAt} /> : <span className="muted">—</span>}
                </td>
              </tr>
            )}
          </PagedTable>
        </>
      ) : (
        <RolesView key={rolesVersion} onShowAll={(role) => set({ view: '', role })} onRevoke={(person, grant) => setRevoking({ person, grant })} />
      )}

      {isAdmin && <ReviewSettingsForm />}

      <Dialog open={revoking !== null} onClose={() => setRevoking(null)} title="Revoke a role" testId="revoke-dialog">
        {revoking && (
          <RevokeForm
            person={revoking.person}
            grant={revoking.grant}
            onCancel={() => setRevoking(null)}
            onDone={(res) => {
              setRevoking(null);
              const role = ROLE_LABELS[res.revoked.role];
              setFlash(
                res.stillHeld
                  ? `The ${role} role an administrator gave ${res.person.displayName} is revoked; they still hold it through ${res.person.grants.filter((g) => g.role === res.revoked.role).map(grantOrigin).join(' and ')}.`
                  : `${res.person.displayName} no longer holds the ${role} role. The reason is in the audit log.`,
              );
              list.update((items) => items.map((i) => (i.id === res.person.id ? res.person : i)));
              setRolesVersion((n) => n + 1);
            }}
          />
        )}
      </Dialog>
    </div>
  );
}

/** One of the people view's filters, read from and written to the address. */
function ReviewFilter({ name, id = `review-${name}`, ...rest }: { name: FilterName; id?: string; label: string; empty: string; options: readonly (readonly [string | number, string])[] }) {
  const [params, set] = useFilterParams();
  return <FilterSelect id={id} value={params.get(name) ?? ''} onChange={(e) => set({ [name]: e.target.value })} data-testid={id} {...rest} />;
}

function PersonCell({ person: p }: { person: Pick<ReviewPerson, 'displayName' | 'email' | 'status' | 'breakGlass'> }) {
  return (
    <span className="person">
      <Avatar name={p.displayName} size={30} />
      <span>
        <strong>{p.displayName}</strong>
        {p.status !== 'active' && (
          <span className={`badge tone-${p.status === 'waiting' ? 'amber' : 'gray'} review-status`}>
            <span className="badge-dot" aria-hidden="true" />
            {p.status === 'waiting' ? 'Waiting' : 'Disabled'}
          </span>
        )}
        {p.breakGlass && <BreakGlassChip />}
        <br />
        <span className="muted small">{p.email}</span>
      </span>
    </span>
  );
}

/** A person's grants as chips, each saying where it came from; what an administrator gave has a Revoke button. */
function GrantList({ grants, onRevoke }: { grants: ReviewGrant[]; onRevoke: (g: ReviewGrant) => void }) {
  if (!grants.length) return <span className="muted small">No roles</span>;
  return (
    <ul className="grant-list">
      {grants.map((g, i) => (
        <li key={i} data-testid={`grant-${g.role}-${g.origin}`}>
          <span className={`chip grant-chip origin-${g.origin}`} title={`${g.provenance} (${formatDateTime(g.grantedAt)})`}>
            <strong>{ROLE_LABELS[g.role]}</strong> · {grantOrigin(g)}
          </span>
          {g.revocable && (
            <button type="button" className="btn small ghost danger-text" onClick={() => onRevoke(g)} aria-label={`Revoke ${ROLE_LABELS[g.role]}`} data-testid={`revoke-${g.role}`}>
              Revoke
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

interface RevokeResult {
  person: ReviewPerson;
  revoked: ReviewGrant;
  stillHeld: boolean;
}

function RevokeForm({ person, grant, onCancel, onDone }: { person: Pick<ReviewPerson, 'id' | 'displayName' | 'email'> & { grants: ReviewGrant[] }; grant: ReviewGrant; onCancel: () => void; onDone: (r: RevokeResult) => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const others = person.grants.filter((g) => g.role === grant.role && g !== grant && g.origin !== 'person');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!/[^\s\u200B-\u200D\u2060\uFEFF]/.test(reason)) return setError('Say why: the reason is recorded in the audit log.');
    setBusy(true);
    setError(null);
    try {
      onDone(await api.post<RevokeResult>('/access-review/revoke', { userId: person.id, role: grant.role, reason: reason.trim() }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} noValidate data-testid="revoke-form">
      <p>
        Revoke <strong>{ROLE_LABELS[grant.role]}</strong> from <strong>{person.displayName}</strong> <span className="muted">&lt;{person.email}&gt;</span>, {grantOrigin(grant)}.
      </p>
      {others.length > 0 && (
        <Notice tone="warning">
          They also hold {ROLE_LABELS[grant.role]} through {others.map(grantOrigin).join(' and ')}: that stays until it is changed where it comes from.
        </Notice>
      )}
      <Field label="Reason" hint="Recorded in the audit log with the revocation, for the auditor.">
        {(id, d) => <textarea id={id} aria-describedby={d} rows={3} maxLength={500} value={reason} autoFocus onChange={(e) => setReason(e.target.value)} data-testid="revoke-reason" />}
      </Field>
      <FormError error={error} testId="revoke-error" />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} className="btn danger" testId="revoke-submit">
          Revoke role
        </SubmitButton>
      </FormActions>
    </form>
  );
}

/** Per role: how many hold it, through which rules and whose grants, and the first holders. */
function RolesView({ onShowAll, onRevoke }: { onShowAll: (role: Role) => void; onRevoke: (p: ReviewPerson, g: ReviewGrant) => void }) {
  const roles = useApi<{ items: RoleReview[] }>('/access-review/roles?holders=25');
  if (!roles.data) return roles.error ? <ErrorNotice error={roles.error} onRetry={roles.reload} /> : <Loading />;
  return (
    <div className="stack-lg" data-testid="review-roles">
      {roles.data.items.map((r) => (
        <section key={r.role} className="card" aria-labelledby={`role-${r.role}-h`} data-testid={`review-role-${r.role}`}>
          <header className="review-role-head">
            <h2 id={`role-${r.role}-h`} className="h3">
              <span className={`chip role-${r.role}`}>{ROLE_LABELS[r.role]}</span> {r.holderCount} {r.holderCount === 1 ? 'person' : 'people'}
            </h2>
            <span className="muted small">
              {r.byOrigin.person} given by administrators · {r.byOrigin.rule} from group rules · {r.byOrigin.system} from the system
            </span>
          </header>
          {(r.rules.length > 0 || r.grantors.length > 0) && (
            <div className="grid-2 review-role-sources">
              {r.rules.length > 0 && (
                <div>
                  <h3 className="h4">Rules</h3>
                  <ul className="plain-list small">
                    {r.rules.map((x) => (
                      <li key={x.id}>
                        group <code>{x.groupRef}</code>
                        {x.scimGroups.length > 0 && x.scimGroups.join(', ') !== x.groupRef ? ` (SCIM: ${x.scimGroups.join(', ')})` : ''}
                        {x.connection ? ` through ${x.connection}` : ''}: {x.holders} {x.holders === 1 ? 'person' : 'people'}
                      </li>
                    ))}
                  </ul>
                </div>
              )}
              {r.grantors.length > 0 && (
                <div>
                  <h3 className="h4">Given by</h3>
                  <ul className="plain-list small">
                    {r.grantors.map((g, i) => (
                      <li key={g.id ?? `none-${i}`}>
                        {g.id ? `${g.displayName ?? 'a deleted account'}${g.email ? ` <${g.email}>` : ''}` : 'no administrator recorded'}: {g.holders}
                      </li>
                    ))}
                  </ul>
                </div>
              )}
            </div>
          )}
          {r.holders.length > 0 && (
            <Table className="review-table" headers={['Holder', 'Through', 'Last sign-in']}>
              {r.holders.map((h) => (
                <tr key={h.id} data-testid="role-holder" data-email={h.email}>
                  <td className="cell-person">
                    <PersonCell person={h} />
                  </td>
                  <td>
                    <GrantList grants={h.grants} onRevoke={(g) => onRevoke({ ...h, roles: [], grants: h.grants }, g)} />
                  </td>
                  <td className="small nowrap">{h.lastSigninAt ? <RelativeTime date={h.lastSigninAt} /> : <span className="muted">Never</span>}</td>
                </tr>
              ))}
            </Table>
          )}
          {r.more && (
            <button type="button" className="btn small" onClick={() => onShowAll(r.role)} data-testid={`review-role-all-${r.role}`}>
              Show all {r.holderCount}
            </button>
          )}
        </section>
      ))}
    </div>
  );
}

/** Administrators decide whether change managers review access too. */
function ReviewSettingsForm() {
  const settings = useApi<ReviewSettings>('/access-review/settings');
  const { busy, error, run } = useTask();
  if (!settings.data) return settings.error ? <ErrorNotice error={settings.error} onRetry={settings.reload} /> : null;
  const on = settings.data.changeManagersMayReview;
  return (
    <section className="card stack review-settings" aria-labelledby="review-settings-h">
      <h2 id="review-settings-h" className="h4">
        Reviewers
      </h2>
      <label className="check">
        <input
          type="checkbox"
          checked={on}
          disabled={busy}
          data-testid="review-change-managers"
          onChange={(e) => {
            const changeManagersMayReview = e.target.checked;
            void run(async () => settings.setData(await api.put<ReviewSettings>('/access-review/settings', { changeManagersMayReview })));
          }}
        />
        <span>
          <strong>Change managers review access too</strong>
          <span className="muted small">They may read and export this review and revoke roles an administrator gave (with a reason, audited). Administrators always may.</span>
        </span>
      </label>
      <FormError error={error} testId="review-settings-error" />
    </section>
  );
}
