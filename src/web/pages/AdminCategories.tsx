import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { AdminNav } from '../components/AdminNav';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, ErrorNotice, Field, FormActions, FormError, Icon, Options, SkeletonRows, Spinner, SubmitButton } from '../components/ui';
import { useApi, useTask, useTitle } from '../hooks';
import { useSession } from '../session';
import type { RequestCategory, Team } from '../types';

const byName = (a: RequestCategory, b: RequestCategory) => a.name.localeCompare(b.name);

/**
 * `/t/:tenant/admin/categories`: what requesters may ask for in the portal, which team fulfils it,
 * and whether the requester's manager (from the directory, over SCIM) approves it first.
 */
export function AdminCategories() {
  const { session } = useSession();
  useTitle('Request categories', session.tenant.name);
  const categories = useApi<{ items: RequestCategory[] }>('/request-categories');
  const teams = useApi<{ items: Team[] }>('/teams');
  const teamList = teams.data?.items ?? [];

  const replace = (c: RequestCategory) => categories.setData((prev) => ({ items: (prev?.items ?? []).map((x) => (x.id === c.id ? c : x)).sort(byName) }));
  const remove = (id: string) => categories.setData((prev) => ({ items: (prev?.items ?? []).filter((x) => x.id !== id) }));

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <div className="stack">
        <p className="muted">
          Requesters choose a category when they ask for something in the portal. The category’s team fulfils the request. When a category needs the manager’s
          approval, the request first waits for the requester’s manager as the directory names them (SCIM’s enterprise <code>manager</code>); with no manager, or
          one without an active account, it goes straight to the team with a note saying so.
        </p>
        {teams.data && teamList.length === 0 ? (
          <div className="card">
            <EmptyState title="Create a team first" icon="users">
              Every category is fulfilled by a team. Create one under Teams.
            </EmptyState>
          </div>
        ) : (
          <CategoryForm teams={teamList} onSaved={(c) => categories.setData((prev) => ({ items: [...(prev?.items ?? []), c].sort(byName) }))} />
        )}
        <ErrorNotice error={categories.error ?? teams.error} onRetry={categories.reload} />
        {categories.loading ? (
          <div className="card">
            <SkeletonRows rows={3} />
          </div>
        ) : (categories.data?.items.length ?? 0) === 0 ? (
          <div className="card">
            <EmptyState title="No request categories yet" icon="box">
              Without categories, requesters describe what they need in their own words and the desk routes it by hand.
            </EmptyState>
          </div>
        ) : (
          <ul className="approval-cards" data-testid="category-list">
            {categories.data!.items.map((c) => (
              <CategoryCard key={c.id} category={c} teams={teamList} onChanged={replace} onDeleted={() => remove(c.id)} />
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

/** Creates a category, or (with `category`) changes one. */
function CategoryForm({ teams, category, onSaved, onCancel }: { teams: Team[]; category?: RequestCategory; onSaved: (c: RequestCategory) => void; onCancel?: () => void }) {
  const [name, setName] = useState(category?.name ?? '');
  const [description, setDescription] = useState(category?.description ?? '');
  const [teamId, setTeamId] = useState(category?.team?.id ?? '');
  const [approval, setApproval] = useState(category?.requiresManagerApproval ?? false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const idp = category ? `cat-${category.id}` : 'cat-new';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Give the category a name.');
    if (!teamId) return setError('Choose the team that fulfils these requests.');
    setBusy(true);
    try {
      const body = { name: name.trim(), description, teamId, requiresManagerApproval: approval };
      const saved = category ? await api.patch<RequestCategory>(`/request-categories/${category.id}`, body) : await api.post<RequestCategory>('/request-categories', body);
      onSaved(saved);
      if (!category) {
        setName('');
        setDescription('');
        setApproval(false);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className={category ? 'stack' : 'card stack'} onSubmit={submit} noValidate data-testid={category ? 'category-edit-form' : 'category-form'}>
      {!category && <h2 className="h3">New request category</h2>}
      <div className="grid-2">
        <Field label="Name" hint="What requesters pick, e.g. New laptop, Software, Access to a shared mailbox">
          {(id, d) => <input id={id} aria-describedby={d} maxLength={100} value={name} onChange={(e) => setName(e.target.value)} data-testid={`${idp}-name`} />}
        </Field>
        <Field label="Fulfilled by">
          {(id) => (
            <select id={id} value={teamId} onChange={(e) => setTeamId(e.target.value)} data-testid={`${idp}-team`}>
              <Options empty="Choose a team…" options={teams.map((t) => [t.id, t.name])} />
            </select>
          )}
        </Field>
      </div>
      <Field label={<>Description <span className="muted">(optional)</span></>} hint="Shown to requesters under the category.">
        {(id, d) => <textarea id={id} aria-describedby={d} rows={2} maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} data-testid={`${idp}-description`} />}
      </Field>
      <label className="check">
        <input type="checkbox" checked={approval} onChange={(e) => setApproval(e.target.checked)} data-testid={`${idp}-approval`} />
        <span>
          <strong>Needs the manager’s approval</strong>
          <span className="muted small">The requester’s manager approves or rejects it before the team fulfils it.</span>
        </span>
      </label>
      <FormError error={error} />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} icon={category ? undefined : 'plus'} testId={`${idp}-submit`}>
          {category ? 'Save' : 'Create category'}
        </SubmitButton>
      </FormActions>
    </form>
  );
}

function CategoryCard({ category, teams, onChanged, onDeleted }: { category: RequestCategory; teams: Team[]; onChanged: (c: RequestCategory) => void; onDeleted: () => void }) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useTask();

  const remove = () =>
    run(async () => {
      await api.delete(`/request-categories/${category.id}`);
      onDeleted();
    });

  return (
    <li className="card" data-testid="category-card" data-name={category.name}>
      {editing ? (
        <CategoryForm
          teams={teams}
          category={category}
          onSaved={(c) => {
            onChanged(c);
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <>
          <div className="card-head">
            <div>
              <h2 className="h3">{category.name}</h2>
              <p className="muted small">
                Fulfilled by {category.team ? <strong>{category.team.name}</strong> : <span>no team (its team was removed)</span>}
                {' · '}
                {category.requiresManagerApproval ? (
                  <span data-testid="category-approval">needs the manager’s approval</span>
                ) : (
                  <span data-testid="category-approval">no approval</span>
                )}
              </p>
            </div>
            <div className="form-actions">
              <button type="button" className="btn small ghost" onClick={() => setEditing(true)} data-testid="category-edit">
                Edit
              </button>
              {confirming ? (
                <>
                  <button type="button" className="btn small danger" disabled={busy} onClick={() => void remove()} data-testid="category-delete-confirm">
                    {busy && <Spinner small />} Delete
                  </button>
                  <button type="button" className="btn small ghost" onClick={() => setConfirming(false)}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" className="btn small ghost" onClick={() => setConfirming(true)} aria-label={`Delete ${category.name}`} data-testid="category-delete">
                  <Icon name="trash" size={14} />
                </button>
              )}
            </div>
          </div>
          {category.description && <p className="prose">{category.description}</p>}
          {confirming && <p className="muted small">Requests already raised in it keep its name, their team and any approval still pending.</p>}
          <FormError error={error} />
        </>
      )}
    </li>
  );
}
