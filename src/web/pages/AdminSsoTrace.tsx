import { Fragment, useMemo, useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError } from '../api';
import { AdminNav } from '../components/AdminNav';
import { PageHeader } from '../components/PageHeader';
import { CopyButton, EmptyState, ErrorNotice, FormError, Icon, Loading, Spinner, Table, Options } from '../components/ui';
import { formatDateTime, groupHex, humanize, ROLE_LABELS } from '../format';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import { RULE_ROLES, type Role, type RoleRule, type RuleRole, type SsoConnection, type SsoEnforcement, type TraceDetail } from '../types';

const EXTRA_LABELS: Record<string, string> = {
  received: 'Received',
  expected: 'Expected',
  lateBySeconds: 'Late by',
  aheadBySeconds: 'Ahead by',
  skewSeconds: 'Allowed clock skew',
  notBefore: 'Not before',
  notOnOrAfter: 'Not on or after',
  notAfter: 'Valid until',
  now: "Keydesk's time",
  trusted: 'Trusted certificates',
  certificate: 'Certificate',
  thumbprint: 'SHA-1 thumbprint',
  subject: 'Subject',
  statusCode: 'Status code',
  subStatusCode: 'Sub-status code',
  statusMessage: 'Message from the identity provider',
  aadsts: 'Entra error code',
  signatureMethod: 'Signature method',
  digestMethod: 'Digest method',
  c14n: 'Canonicalization',
  transforms: 'Transforms',
};

function labelOf(key: string): string {
  return EXTRA_LABELS[key] ?? humanize(key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase());
}

function seconds(n: number): string {
  const abs = Math.abs(n);
  if (abs < 120) return `${n} s`;
  const m = Math.floor(abs / 60);
  return `${n} s (${m >= 120 ? `${Math.round(m / 60)} h` : `${m} min`})`;
}

/** One value of a failure's data, shown as readably as its key allows. */
function ExtraValue({ name, value }: { name: string; value: unknown }): ReactNode {
  if (value === null || value === undefined || value === '') return <span className="muted">(none)</span>;
  if (typeof value === 'number') return /Seconds$/.test(name) ? seconds(value) : String(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') {
    if (/thumbprint/i.test(name)) return <span className="mono">{groupHex(value)}</span>;
    if (/^\d{4}-\d{2}-\d{2}T[\d:.]+Z?$/.test(value)) {
      return (
        <>
          {formatDateTime(value)} <span className="muted mono small">{value}</span>
        </>
      );
    }
    if (name === 'aadsts') {
      return (
        <a href={`https://login.microsoftonline.com/error?code=${encodeURIComponent(value.replace(/^AADSTS/, ''))}`} target="_blank" rel="noreferrer noopener" className="mono">
          {value}
        </a>
      );
    }
    return <span className="mono wrap">{value}</span>;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="muted">(none)</span>;
    return (
      <ul className="extra-list">
        {value.map((v, i) => (
          <li key={i}>
            <ExtraValue name={name} value={v} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'object') {
    return (
      <dl className="details extra-nested">
        <ExtraEntries entries={Object.entries(value as Record<string, unknown>)} />
      </dl>
    );
  }
  return String(value);
}

/** Named values as the terms and descriptions of a `<dl>`. */
function ExtraEntries({ entries }: { entries: [string, unknown][] }) {
  return (
    <>
      {entries.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{labelOf(k)}</dt>
          <dd>
            <ExtraValue name={k} value={v} />
          </dd>
        </Fragment>
      ))}
    </>
  );
}

/** Indents XML for reading; anything that does not parse is shown as it came. */
function prettyXml(xml: string): string {
  let doc: Document;
  try {
    doc = new DOMParser().parseFromString(xml, 'application/xml');
  } catch {
    return xml;
  }
  if (doc.getElementsByTagName('parsererror').length) return xml;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const attrs = (el: Element) => [...el.attributes].map((a) => ` ${a.name}="${esc(a.value).replace(/"/g, '&quot;')}"`).join('');
  const lines: string[] = [];
  const walk = (node: Node, depth: number) => {
    const pad = '  '.repeat(depth);
    if (node.nodeType === Node.ELEMENT_NODE) {
      const el = node as Element;
      const kids = [...el.childNodes].filter((n) => !(n.nodeType === Node.TEXT_NODE && !n.textContent?.trim()));
      if (kids.length === 0) lines.push(`${pad}<${el.tagName}${attrs(el)}/>`);
      else if (kids.length === 1 && kids[0]!.nodeType === Node.TEXT_NODE) lines.push(`${pad}<${el.tagName}${attrs(el)}>${esc(kids[0]!.textContent!.trim())}</${el.tagName}>`);
      else {
        lines.push(`${pad}<${el.tagName}${attrs(el)}>`);
        for (const k of kids) walk(k, depth + 1);
        lines.push(`${pad}</${el.tagName}>`);
      }
    } else if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.CDATA_SECTION_NODE) {
      lines.push(pad + esc(node.textContent!.trim()));
    } else if (node.nodeType === Node.COMMENT_NODE) {
      lines.push(`${pad}<!--${node.textContent}-->`);
    }
  };
  walk(doc.documentElement, 0);
  return lines.join('\n');
}

/** `/t/:tenant/admin/sso/traces/:ref`: one sign-in, check by check, with what to do when it failed. */
export function AdminSsoTrace() {
  const { ref = '' } = useParams();
  const { session, path } = useSession();
  const reference = ref.toUpperCase();
  useTitle(reference, 'Sign-in traces', session.tenant.name);
  const detail = useApi<TraceDetail>(`/sso/traces/${encodeURIComponent(reference)}`);
  const t = detail.data;
  const xml = useMemo(() => (t?.trace.responseXml ? prettyXml(t.trace.responseXml) : null), [t?.trace.responseXml]);

  const back = (
    <div className="subhead">
      <Link to={path('/admin/sso/traces')} className="back-link">
        <Icon name="arrow-left" size={14} /> Sign-in traces
      </Link>
    </div>
  );

  if (!t) {
    return (
      <div className="page">
        <PageHeader title="Administration" />
        <AdminNav />
        {back}
        {detail.error instanceof ApiError && detail.error.status === 404 ? (
          <div className="card">
            <EmptyState title={`No trace ${reference}`} icon="search">
              There is no sign-in with this reference in {session.tenant.name}. Check the reference the person gave you; traces of other workspaces are not shown.
            </EmptyState>
          </div>
        ) : detail.error ? (
          <ErrorNotice error={detail.error} onRetry={detail.reload} />
        ) : (
          <Loading />
        )}
      </div>
    );
  }

  const { steps = [], error, claims, mapped, roles, user, wouldCreate, idTokenClaims } = t.trace;
  const ok = t.outcome === 'success';
  const extras = error ? Object.entries(error).filter(([k]) => !['code', 'message', 'fix'].includes(k)) : [];
  // What arrived against what Keydesk wanted (or trusts), side by side.
  const against = extras.some(([k]) => k === 'received') ? (['expected', 'trusted'] as const).find((k) => extras.some(([x]) => x === k)) : undefined;
  const rest = against ? extras.filter(([k]) => k !== 'received' && k !== against) : extras;
  const attributes = claims?.attributes ? Object.entries(claims.attributes) : [];

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      {back}
      <div className="trace-head">
        <h2 className="h2 mono trace-title">{t.id}</h2>
        <CopyButton text={t.id} label="Copy reference" />
        <span className="header-meta muted small">
          {t.test && (
            <span className="chip test-chip" data-testid="trace-test-badge">
              Test sign-in
            </span>
          )}
          {t.connectionSlug && (
            <span>
              Connection <code className="code">{t.connectionSlug}</code>
            </span>
          )}
          <span>·</span>
          <time dateTime={t.createdAt}>{formatDateTime(t.createdAt)}</time>
        </span>
      </div>

      <div className={ok ? 'outcome-banner success' : 'outcome-banner failure'} role="status" data-testid="trace-outcome" data-outcome={t.outcome}>
        <Icon name={ok ? 'check-circle' : 'x-circle'} size={30} />
        <div>
          <p className="outcome-title">{ok ? 'Sign-in succeeded' : `Sign-in failed: ${error?.message ?? humanize(t.errorCode ?? 'unknown error')}`}</p>
          {ok && t.test && (
            <p className="outcome-sub" data-testid="trace-test-passed">
              This connection passed its test{t.trace.published === true ? ' and is now live: its button is on the sign-in page' : ''}. The next steps are below.
            </p>
          )}
          {ok && !t.test && user && <p className="outcome-sub">{user.email} signed in.</p>}
          {!ok && (t.errorCode || error?.code) && (
            <p className="outcome-sub">
              Error code <code className="code">{error?.code ?? t.errorCode}</code>
              {t.test && ' · a test sign-in changes nothing, so nobody was affected'}
            </p>
          )}
        </div>
      </div>

      {ok && t.test && t.connectionSlug && <NextSteps connectionSlug={t.connectionSlug} groups={mapped?.groups ?? null} overage={mapped?.groupsOverage ?? false} />}

      {!ok && error && (
        <section className="fix-callout" aria-labelledby="fix-h" data-testid="trace-fix">
          <h3 id="fix-h" className="h3">
            <Icon name="wrench" size={18} /> How to fix
          </h3>
          <p className="fix-text">{error.fix}</p>
          {against && (
            <div className="compare" data-testid="trace-compare">
              <div className="compare-side received">
                <span className="label">Received</span>
                <ExtraValue name="received" value={error.received} />
              </div>
              <div className="compare-side expected">
                <span className="label">{against === 'expected' ? 'Expected' : 'Trusted by this connection'}</span>
                <ExtraValue name={against} value={error[against]} />
              </div>
            </div>
          )}
          {rest.length > 0 && (
            <dl className="details fix-details" data-testid="trace-error-data">
              <ExtraEntries entries={rest} />
            </dl>
          )}
        </section>
      )}

      <div className="trace-grid">
        <section className="card" aria-labelledby="steps-h">
          <h3 id="steps-h" className="h3">
            Checks
          </h3>
          {steps.length === 0 && !error ? (
            <p className="muted small">No checks were recorded.</p>
          ) : (
            <ol className="step-list">
              {steps.map((s, i) => (
                <StepItem key={i} ok={s.ok} check={s.check} detail={s.detail} testId="trace-step" />
              ))}
              {!ok && error && !steps.some((s) => !s.ok) && <StepItem ok={false} check={humanize(error.code)} detail={error.message} testId="trace-step-error" />}
            </ol>
          )}
        </section>

        <div className="trace-side">
          <section className="card" aria-labelledby="mapped-h">
            <h3 id="mapped-h" className="h3">
              Mapped to
            </h3>
            {mapped ? (
              <dl className="details" data-testid="trace-mapped">
                <dt>Email</dt>
                <dd>{mapped.email ?? <span className="error-text">none found</span>}</dd>
                <dt>Display name</dt>
                <dd>{mapped.displayName}</dd>
                <dt>Subject</dt>
                <dd>
                  <span className="mono wrap small">{mapped.subject ?? '—'}</span>
                  <br />
                  <span className="muted small">from {mapped.subjectSource}</span>
                </dd>
                <dt>Groups</dt>
                <dd>
                  {mapped.groups === null ? (
                    mapped.groupsOverage ? (
                      <span className="badge tone-amber">unknown (groups overage)</span>
                    ) : (
                      <span className="muted">no groups claim</span>
                    )
                  ) : mapped.groups.length === 0 ? (
                    <span className="muted">none</span>
                  ) : (
                    <span className="chips">
                      {mapped.groups.map((g) => (
                        <span key={g} className="chip subtle mono group-chip">
                          {g}
                        </span>
                      ))}
                    </span>
                  )}
                </dd>
              </dl>
            ) : (
              <p className="muted small">Nothing was mapped: the sign-in stopped before the claims were read.</p>
            )}
          </section>
          {(user || roles) && (
            <section className="card" aria-labelledby="account-h">
              <h3 id="account-h" className="h3">
                Keydesk account
              </h3>
              <dl className="details">
                {user && (
                  <>
                    <dt>Account</dt>
                    <dd>
                      {user.email}{' '}
                      {wouldCreate ? (
                        <span className="badge tone-gray" data-testid="trace-account-state">
                          <span className="badge-dot" aria-hidden="true" />
                          Not created yet
                        </span>
                      ) : (
                        <span className={`badge tone-${user.status === 'active' ? 'green' : user.status === 'waiting' ? 'amber' : 'gray'}`} data-testid="trace-account-state">
                          <span className="badge-dot" aria-hidden="true" />
                          {humanize(user.status)}
                        </span>
                      )}
                      {wouldCreate !== undefined && <span className="muted small account-note">{wouldCreate ? `Would be created at the first real sign-in (just-in-time)${user.status === 'waiting' ? ', to wait for access' : ''}.` : 'Already exists.'}</span>}
                    </dd>
                  </>
                )}
                {roles && (
                  <>
                    <dt>Roles</dt>
                    <dd>
                      {roles.length ? (
                        <span className="chips" data-testid="trace-roles">
                          {roles.map((r) => (
                            <span key={r} className={`chip role-${r}`}>
                              {ROLE_LABELS[r as Role] ?? humanize(r)}
                            </span>
                          ))}
                        </span>
                      ) : (
                        <span className="muted">none (waiting for access)</span>
                      )}
                    </dd>
                  </>
                )}
              </dl>
            </section>
          )}
        </div>
      </div>

      {claims && (
        <ClaimsCard id="claims-h" title="Claims received" note={`${attributes.length} attribute${attributes.length === 1 ? '' : 's'}`} testId="trace-claims" headers={['Attribute', 'Values']}>
          <tr className="nameid-row">
            <td>
              <strong>NameID</strong>
              {claims.nameIdFormat && (
                <>
                  <br />
                  <span className="muted small mono wrap">{claims.nameIdFormat}</span>
                </>
              )}
            </td>
            <td className="mono small wrap">{claims.nameId ?? <span className="muted">(none)</span>}</td>
          </tr>
          {attributes.map(([name, values]) => (
            <tr key={name}>
              <td className="mono small wrap attr-name">{name}</td>
              <td className="mono small wrap">
                {values.length === 0 ? (
                  <span className="muted">(empty)</span>
                ) : values.length === 1 ? (
                  values[0]
                ) : (
                  <ul className="value-list">
                    {values.map((v, i) => (
                      <li key={i}>{v}</li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          ))}
        </ClaimsCard>
      )}

      {idTokenClaims && (
        <ClaimsCard id="id-claims-h" title="Claims in the ID token" note="as received; the checks above say whether they were trusted" testId="trace-id-token-claims" headers={['Claim', 'Value']}>
          {Object.entries(idTokenClaims).map(([name, value]) => (
            <tr key={name}>
              <td className="mono small wrap attr-name">{name}</td>
              <td className="mono small wrap">
                {Array.isArray(value) ? (
                  <ul className="value-list">
                    {value.map((v, i) => (
                      <li key={i}>{typeof v === 'string' ? v : JSON.stringify(v)}</li>
                    ))}
                  </ul>
                ) : typeof value === 'string' ? (
                  value
                ) : typeof value === 'number' && TIME_CLAIMS.has(name) ? (
                  <span title={String(value)}>{formatDateTime(new Date(value * 1000).toISOString())}</span>
                ) : (
                  JSON.stringify(value)
                )}
              </td>
            </tr>
          ))}
        </ClaimsCard>
      )}

      {t.trace.idToken && (
        <details className="card xml-card" data-testid="trace-id-token">
          <summary>
            <Icon name="code" size={16} /> The ID token <span className="muted small">(signature elided)</span>
          </summary>
          <div className="xml-tools">
            <CopyButton text={t.trace.idToken} label="Copy" />
          </div>
          <pre className="xml-block">{t.trace.idToken}</pre>
        </details>
      )}

      {xml && (
        <details className="card xml-card" data-testid="trace-xml">
          <summary>
            <Icon name="code" size={16} /> Decoded response XML <span className="muted small">(signature values and certificates elided)</span>
          </summary>
          <div className="xml-tools">
            <CopyButton text={t.trace.responseXml!} label="Copy XML" />
          </div>
          <pre className="xml-block">{xml}</pre>
        </details>
      )}
    </div>
  );
}

/** ID-token claims that are seconds since 1970 (RFC 7519 §2 NumericDate), shown as dates. */
const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time']);

const GROUP_OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * After a passed test, what comes next, in place: map the groups this sign-in carried to roles,
 * make sure the connection is live, then enforce single sign-on.
 */
function NextSteps({ connectionSlug, groups, overage }: { connectionSlug: string; groups: string[] | null; overage: boolean }) {
  const { path } = useSession();
  const rules = useApi<{ items: RoleRule[] }>('/sso/role-rules');
  const connection = useApi<SsoConnection>(`/sso/connections/${encodeURIComponent(connectionSlug)}`);
  const enforcement = useApi<SsoEnforcement>('/sso/enforcement');
  const [chosen, setChosen] = useState<Record<string, RuleRole | ''>>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run = async (key: string, fn: () => Promise<unknown>, after: () => void) => {
    setBusy(key);
    setError(null);
    try {
      await fn();
      after();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  const ruleFor = (g: string) => rules.data?.items.filter((r) => r.groupRef.toLowerCase() === g.toLowerCase()) ?? [];
  const c = connection.data;

  return (
    <section className="card next-steps" aria-labelledby="next-h" data-testid="next-steps">
      <h3 id="next-h" className="h3">
        Next steps
      </h3>
      <ol className="next-steps-list">
        <li>
          <strong>Give roles by group or app role.</strong>{' '}
          {groups && groups.length > 0 ? (
            <>
              <span className="muted small">
                The groups and app roles this sign-in carried; pick a role for those that should have one.
                {groups.some((g) => GROUP_OBJECT_ID.test(g)) && ' Entra sends each group’s object ID: Entra’s Groups page shows which name it has.'}
              </span>
              <ul className="group-picks" data-testid="next-groups">
                {groups.map((g) => (
                  <li key={g} data-testid="next-group" data-group={g}>
                    <code className="code">{g}</code>
                    {ruleFor(g).length > 0 ? (
                      <span className="chips">
                        {ruleFor(g).map((r) => (
                          <span key={r.id} className={`chip role-${r.role}`}>
                            {ROLE_LABELS[r.role]}
                          </span>
                        ))}
                      </span>
                    ) : (
                      <span className="group-pick">
                        <select aria-label={`Role for ${g}`} value={chosen[g] ?? ''} onChange={(e) => setChosen({ ...chosen, [g]: e.target.value as RuleRole | '' })} data-testid="next-group-role">
                          <Options empty="No role" options={RULE_ROLES.map((r) => [r, ROLE_LABELS[r]])} />
                        </select>
                        <button
                          type="button"
                          className="btn small"
                          disabled={!chosen[g] || busy !== null}
                          onClick={() => void run(`rule-${g}`, () => api.post('/sso/role-rules', { groupRef: g, role: chosen[g] }), rules.reload)}
                          data-testid="next-group-add"
                        >
                          {busy === `rule-${g}` && <Spinner small />} Add rule
                        </button>
                      </span>
                    )}
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <span className="muted small" data-testid="next-no-groups">
              {overage
                ? 'The person is in too many groups for the claim (Entra sent a link instead): emit only the groups assigned to the application.'
                : 'No groups claim arrived. In Entra: Enterprise applications › your app › Single sign-on › Attributes & Claims › Add a group claim (groups assigned to the application, as Group ID). In Okta: the app’s SAML settings › Group Attribute Statements, name “groups”, filter Matches regex “.*”. Then test again.'}
            </span>
          )}
        </li>
        <li>
          <strong>Publish the connection.</strong>{' '}
          {c?.live ? (
            <span className="muted small" data-testid="next-live">
              It is live: its button is on the sign-in page.
            </span>
          ) : c ? (
            <button
              type="button"
              className="btn small"
              disabled={busy !== null || !c.enabled}
              onClick={() => void run('publish', () => api.patch(`/sso/connections/${c.id}`, { published: true }), connection.reload)}
              data-testid="next-publish"
            >
              {busy === 'publish' && <Spinner small />} Publish
            </button>
          ) : null}
        </li>
        <li>
          {enforcement.data?.enforced ? (
            <span data-testid="next-enforced">
              <strong>Single sign-on is required</strong> <span className="muted small">already: passwords work only for break-glass accounts.</span>
            </span>
          ) : (
            <>
              <strong>Require single sign-on</strong> when everyone can sign in this way.{' '}
              <Link to={`${path('/admin/sso')}#sso-enforce-h`} data-testid="next-enforce">
                Go to enforcement
              </Link>
            </>
          )}
        </li>
      </ol>
      <FormError error={error} testId="next-error" />
    </section>
  );
}

/** One check of a sign-in; a failure the checks did not record comes as a failed step without `data-ok`. */
function StepItem({ ok, check, detail, testId }: { ok: boolean; check: string; detail?: string; testId: 'trace-step' | 'trace-step-error' }) {
  return (
    <li className={ok ? 'step ok' : 'step failed'} data-testid={testId} data-ok={testId === 'trace-step' ? ok : undefined}>
      <span className="step-icon" aria-hidden="true">
        <Icon name={ok ? 'check' : 'x'} size={13} />
      </span>
      <span className="step-text">
        <span className="sr-only">{ok ? 'Passed: ' : 'Failed: '}</span>
        <strong>{check}</strong>
        {detail && <span className="step-detail">{detail}</span>}
      </span>
    </li>
  );
}

/** A table of what the identity provider sent, in a card of its own under a heading and a short note. */
function ClaimsCard({ id, title, note, testId, headers, children }: { id: string; title: string; note: string; testId: string; headers: string[]; children: ReactNode }) {
  return (
    <section className="card flush claims-card" aria-labelledby={id}>
      <div className="card-head padded">
        <h3 id={id} className="h3">
          {title}
        </h3>
        <span className="muted small">{note}</span>
      </div>
      <Table className="claims-table" testId={testId} headers={headers}>
        {children}
      </Table>
    </section>
  );
}
