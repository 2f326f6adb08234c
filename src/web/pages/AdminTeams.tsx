import { useState, type FormEvent } from 'react';
import { api, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { PageHeader } from '../components/PageHeader';
import { Avatar, EmptyState, ErrorNotice, Field, FormError, Icon, SkeletonRows, Spinner, SubmitButton, Options } from '../components/ui';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Page, Team, User } from '../types';

/** `/t/:tenant/admin/teams`: assignment teams and their members. */
export function AdminTeams() {
  const { session } = useSession();
  useTitle('Teams', session.tenant.name);
  const teams = useApi<{ items: Team[] }>('/teams');
  const people = useApi<Page<User>>(`/users${qs({ status: 'active', limit: 200 })}`);
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Give the team a name.');
    setBusy(true);
    try {
      const t = await api.post<Team>('/teams', { name: name.trim() });
      teams.setData((prev) => ({ items: [...(prev?.items ?? []), t].sort((a, b) => a.name.localeCompare(b.name)) }));
      setName('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const replace = (t: Team) => teams.setData((prev) => ({ items: (prev?.items ?? []).map((x) => (x.id === t.id ? t : x)) }));
  const staff = (people.data?.items ?? []).filter((u) => u.roles.some((r) => r !== 'requester'));

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <form className="card inline-create" onSubmit={create} noValidate>
        <Field label="New team">
          {(id) => <input id={id} placeholder="e.g. Service Desk, Network, Workplace" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} data-testid="new-team-name" />}
        </Field>
        <SubmitButton busy={busy} icon="plus" testId="new-team-submit">
          Create team
        </SubmitButton>
        <FormError error={error} />
      </form>
      <ErrorNotice error={teams.error} onRetry={teams.reload} />
      {teams.loading ? (
        <div className="card">
          <SkeletonRows rows={3} />
        </div>
      ) : (teams.data?.items.length ?? 0) === 0 ? (
        <div className="card">
          <EmptyState title="No teams yet" icon="users">
            Teams group agents so tickets can be routed to them, and agents see them under “My teams”.
          </EmptyState>
        </div>
      ) : (
        <div className="team-grid" data-testid="team-list">
          {teams.data!.items.map((t) => (
            <TeamCard key={t.id} team={t} candidates={staff} onChanged={replace} />
          ))}
        </div>
      )}
    </div>
  );
}

function TeamCard({ team, candidates, onChanged }: { team: Team; candidates: User[]; onChanged: (t: Team) => void }) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(team.name);
  const [adding, setAdding] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const memberIds = team.members.map((m) => m.id);
  const addable = candidates.filter((c) => !memberIds.includes(c.id));

  const save = async (body: { name?: string; memberIds?: string[] }) => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await api.patch<Team>(`/teams/${team.id}`, body));
      setRenaming(false);
      setAdding('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card team-card" aria-label={team.name} data-testid="team-card">
      <div className="card-head">
        {renaming ? (
          <form
            className="rename"
            onSubmit={(e) => {
              e.preventDefault();
              if (name.trim()) void save({ name: name.trim() });
              else setError('Give the team a name.');
            }}
          >
            <label className="sr-only" htmlFor={`rename-${team.id}`}>
              Team name
            </label>
            <input id={`rename-${team.id}`} autoFocus value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
            <button type="submit" className="btn small primary" disabled={busy}>
              Save
            </button>
            <button type="button" className="btn small ghost" onClick={() => { setRenaming(false); setName(team.name); }}>
              Cancel
            </button>
          </form>
        ) : (
          <>
            <h2 className="h3">{team.name}</h2>
            <button type="button" className="btn small ghost" onClick={() => setRenaming(true)}>
              Rename
            </button>
          </>
        )}
      </div>
      <p className="muted small">{team.members.length === 1 ? '1 member' : `${team.members.length} members`}</p>
      {team.members.length > 0 && (
        <ul className="member-list">
          {team.members.map((m) => (
            <li key={m.id}>
              <span className="person">
                <Avatar name={m.displayName} size={24} />
                <span>
                  {m.displayName}
                  <span className="muted small"> · {m.email}</span>
                </span>
              </span>
              <button
                type="button"
                className="icon-btn"
                aria-label={`Remove ${m.displayName} from ${team.name}`}
                disabled={busy}
                onClick={() => void save({ memberIds: memberIds.filter((id) => id !== m.id) })}
              >
                <Icon name="x" size={14} />
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        className="add-member"
        onSubmit={(e) => {
          e.preventDefault();
          if (adding) void save({ memberIds: [...memberIds, adding] });
        }}
      >
        <label className="sr-only" htmlFor={`add-${team.id}`}>
          Add a member to {team.name}
        </label>
        <select id={`add-${team.id}`} value={adding} onChange={(e) => setAdding(e.target.value)} disabled={busy || addable.length === 0}>
          <option value="">{addable.length ? 'Add a member…' : 'Everyone on staff is a member'}</option>
          <Options options={addable.map((u) => [u.id, u.displayName])} />
        </select>
        <button type="submit" className="btn small" disabled={busy || !adding}>
          {busy && <Spinner small />} Add
        </button>
      </form>
      <FormError error={error} />
    </section>
  );
}
