/**
 * Ticket benchmark: creation through the domain function and queue listings on a tenant holding
 * 100,000 tickets, each set against raw-SQL baselines measured in the same run on the same pool.
 */
import { performance } from 'node:perf_hooks';
import type { ActorCtx, Tenant } from '../src/context.js';
import type { Db } from '../src/db/db.js';
import { loadActor } from '../src/identity/actor.js';
import { createUser } from '../src/identity/users.js';
import { createTeam } from '../src/itsm/teams.js';
import { createTicket, listTickets, type TicketFilter } from '../src/itsm/tickets.js';
import { createTenant } from '../src/tenancy/tenants.js';
import {
  costRatio,
  p50Ratio,
  envInt,
  explain,
  fmt,
  measure,
  measureBaselines,
  printTable,
  recordingDb,
  round,
  scaled,
  withThrowawayDatabase,
  type ExplainSummary,
  type Measurement,
  type Suite,
} from './lib.js';

const POOL_SIZE = 10;
/** A listing costing more than this many indexed primary-key SELECTs gets its plan printed. */
const SLOW_RATIO = Number(process.env.BENCH_SLOW_RATIO ?? 50);

export const ticketsSuite: Suite = {
  name: 'tickets',
  description: 'createTicket and listTickets on a 100k-ticket tenant, against raw INSERT / PK SELECT baselines',
  run: ({ baseUrl }) => withThrowawayDatabase(baseUrl, POOL_SIZE, runTickets),
};

export interface People {
  tenant: Tenant;
  admin: ActorCtx;
  agents: ActorCtx[];
  /** Primary team of each agent, aligned with `agents`. */
  agentTeam: string[];
  teams: { id: string; name: string }[];
  requesterIds: string[];
}

const TEAMS: { name: string; agents: number[] }[] = [
  { name: 'Service Desk', agents: [0, 1, 2, 3, 4, 5] },
  { name: 'Network', agents: [1, 6, 7] },
  { name: 'Workplace', agents: [2, 8, 9] },
  { name: 'Applications', agents: [3, 4, 9] },
];
/** The agent whose queues are measured: member of Service Desk and Network. */
const BENCH_AGENT = 1;

export async function seedPeople(db: Db, agentCount: number, requesterCount: number): Promise<People> {
  const created = await createTenant(db, {
    slug: 'bench',
    name: 'Bench Company',
    adminEmail: 'admin@bench.example',
    adminPassword: 'bench-admin-password-0123',
  });
  const tenant = created.tenant;
  const admin = (await loadActor(db, tenant, created.admin.id))!.ctx;
  const agentIds = await db.transaction(async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < agentCount; i++) {
      const u = await createUser(admin, tx, { email: `agent${i}@bench.example`, displayName: `Agent ${i}`, roles: ['requester', 'agent'] });
      ids.push(u.id);
    }
    return ids;
  });
  const teams: { id: string; name: string }[] = [];
  const agentTeam: string[] = [];
  for (const t of TEAMS) {
    const members = t.agents.filter((i) => i < agentCount).map((i) => agentIds[i]!);
    const team = await createTeam(admin, { name: t.name, memberIds: members });
    teams.push({ id: team.id, name: team.name });
    for (const i of t.agents) if (i < agentCount) agentTeam[i] ??= team.id;
  }
  for (let i = 0; i < agentCount; i++) agentTeam[i] ??= teams[0]!.id;
  const requesterIds = await db.transaction(async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < requesterCount; i++) {
      const u = await createUser(admin, tx, { email: `person${i}@bench.example`, displayName: `Person ${i}`, roles: ['requester'] });
      ids.push(u.id);
    }
    return ids;
  });
  const agents: ActorCtx[] = [];
  for (const id of agentIds) agents.push((await loadActor(db, tenant, id))!.ctx);
  return { tenant, admin, agents, agentTeam, teams, requesterIds };
}

// Vocabulary for generated titles. Search figures depend on it: 'vpn timeout' matches 1/20 × 1/12
// of tickets (~0.4 %), 'printer' 1/20 (5 %).
const SUBJECTS: [string, string][] = [
  ['VPN', 'Network'], ['Wi-Fi', 'Network'], ['Network drive', 'Storage'], ['Shared mailbox', 'Email'], ['Outlook', 'Email'],
  ['Teams', 'Collaboration'], ['SharePoint', 'Collaboration'], ['Printer', 'Hardware'], ['Laptop', 'Hardware'], ['Monitor', 'Hardware'],
  ['Docking station', 'Hardware'], ['Desk phone', 'Hardware'], ['SAP', 'Applications'], ['Salesforce', 'Applications'],
  ['Expense report', 'Applications'], ['Password', 'Access'], ['MFA token', 'Access'], ['Door badge', 'Access'],
  ['Software install', 'Software'], ['Browser', 'Software'],
];
const PROBLEMS = [
  'not working', 'very slow', 'timeout', 'error on login', 'keeps disconnecting', 'access request', 'crashes on start',
  'needs replacement', 'cannot sync', 'permission denied', 'license expired', 'setup for new starter',
];

/**
 * Adds `count` tickets in one set-based statement with a realistic spread: 60/35/5 % incidents/requests/changes,
 * created uniformly over 90 days; the share still open falls with age (80 % under 2 days, 30 % under 14, 3 % older);
 * impact and urgency lean low (so P1 ≈ 1 %, P2 ≈ 6 %); new tickets mostly unassigned, the rest assigned to an agent
 * and usually that agent's team; requesters mildly skewed; SLA clocks, first responses and resolutions
 * consistent with the tenant's policies (about one response in eleven and one resolution in thirteen late).
 * Numbers continue each type's counter, and the counters are moved to match, in the same transaction.
 */
export async function bulkInsert(db: Db, p: People, count: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `WITH r AS MATERIALIZED (
         SELECT random() AS r_type, random() AS r_age, random() AS r_open, random() AS r_st, random() AS r_imp, random() AS r_urg,
                random() AS r_asg, random() AS r_ai, random() AS r_team, random() AS r_req, random() AS r_subj, random() AS r_prob,
                random() AS r_resp, random() AS r_res, random() AS r_tag
         FROM generate_series(1, $2::int)
       ), b AS MATERIALIZED (
         SELECT r.*,
           CASE WHEN r_type < 0.60 THEN 'incident' WHEN r_type < 0.95 THEN 'request' ELSE 'change' END AS type,
           now() - make_interval(secs => r_age * 90 * 86400) AS created_at,
           r_age * 90 AS age_days,
           CASE WHEN r_imp < 0.1 THEN 1 WHEN r_imp < 0.4 THEN 2 ELSE 3 END AS impact,
           CASE WHEN r_urg < 0.1 THEN 1 WHEN r_urg < 0.4 THEN 2 ELSE 3 END AS urgency
         FROM r
       ), c AS MATERIALIZED (
         SELECT b.*, impact + urgency - 1 AS priority,
           r_open < CASE WHEN age_days < 2 THEN 0.8 WHEN age_days < 14 THEN 0.3 ELSE 0.03 END AS is_open
         FROM b
       ), d AS MATERIALIZED (
         SELECT c.*,
           CASE
             WHEN is_open AND type = 'incident' THEN CASE WHEN r_st < 0.35 THEN 'new' WHEN r_st < 0.8 THEN 'in_progress' ELSE 'on_hold' END
             WHEN is_open AND type = 'request' THEN CASE WHEN r_st < 0.35 THEN 'submitted' WHEN r_st < 0.8 THEN 'in_fulfilment' ELSE 'on_hold' END
             WHEN is_open THEN (ARRAY['draft', 'assessment', 'awaiting_approval', 'approved', 'implementing', 'review'])[1 + floor(r_st * 6)::int]
             WHEN type = 'change' THEN CASE WHEN r_st < 0.1 THEN 'rejected' ELSE 'closed' END
             WHEN age_days < 5 OR r_st < 0.05 THEN CASE WHEN type = 'incident' THEN 'resolved' ELSE 'fulfilled' END
             ELSE 'closed'
           END AS status
         FROM c
       ), e AS MATERIALIZED (
         SELECT d.*,
           status IN ('new', 'submitted', 'draft') AS untouched,
           CASE WHEN status IN ('new', 'submitted', 'draft') THEN r_asg < 0.3 WHEN is_open THEN r_asg < 0.95 ELSE true END AS assigned,
           1 + floor(r_ai * cardinality($3::uuid[]))::int AS ai,
           1 + floor(r_subj * cardinality($7::text[]))::int AS si,
           1 + floor(r_prob * cardinality($9::text[]))::int AS pi
         FROM d
       ), f AS MATERIALIZED (
         SELECT e.*,
           e.created_at + make_interval(mins => s.response_minutes) AS response_due_at,
           e.created_at + make_interval(mins => s.resolution_minutes) AS resolution_due_at,
           CASE WHEN untouched THEN NULL
                ELSE least(now(), e.created_at + make_interval(secs => s.response_minutes * 60 * r_resp * 1.1)) END AS first_response_at,
           s.resolution_minutes
         FROM e JOIN sla_policies s ON s.tenant_id = $1 AND s.priority = e.priority
       ), g AS MATERIALIZED (
         SELECT f.*,
           CASE WHEN status IN ('resolved', 'fulfilled', 'closed')
                THEN least(now(), greatest(first_response_at, created_at + make_interval(secs => resolution_minutes * 60 * r_res * 1.08))) END AS resolved_at,
           CASE WHEN status = 'on_hold' THEN greatest(first_response_at, created_at + (now() - created_at) / 2) END AS sla_paused_at
         FROM f
       )
       INSERT INTO tickets (tenant_id, type, number, title, description, status, requester_id, assignee_id, team_id, category,
                            impact, urgency, priority, created_at, updated_at, response_due_at, resolution_due_at,
                            first_response_at, resolved_at, closed_at, sla_paused_at)
       SELECT $1, g.type,
         coalesce(k.last_number, 0) + row_number() OVER (PARTITION BY g.type ORDER BY g.created_at),
         ($7::text[])[si] || ' ' || ($9::text[])[pi],
         format('%s: %s. Reported from floor %s, asset AT%s. Please call back on extension %s.',
                ($7::text[])[si], ($9::text[])[pi], 1 + floor(r_tag * 8)::int, 10000 + floor(r_tag * 89999)::int, 2000 + floor(r_req * 7999)::int),
         g.status,
         ($6::uuid[])[1 + floor(power(r_req, 1.25) * cardinality($6::uuid[]))::int],
         CASE WHEN assigned THEN ($3::uuid[])[ai] END,
         CASE WHEN assigned AND r_team < 0.9 THEN ($4::uuid[])[ai]
              WHEN assigned THEN ($5::uuid[])[1 + floor((r_team - 0.9) * 10 * cardinality($5::uuid[]))::int]
              WHEN r_team < 0.85 THEN ($5::uuid[])[1 + floor(r_team / 0.85 * cardinality($5::uuid[]))::int] END,
         ($8::text[])[si],
         g.impact, g.urgency, g.priority, g.created_at,
         greatest(g.created_at, coalesce(g.resolved_at, g.sla_paused_at, g.first_response_at, g.created_at)),
         g.response_due_at, g.resolution_due_at, g.first_response_at, g.resolved_at,
         CASE WHEN g.status = 'closed' THEN least(now(), g.resolved_at + interval '3 days') END,
         g.sla_paused_at
       FROM g LEFT JOIN ticket_counters k ON k.tenant_id = $1 AND k.type = g.type`,
      [
        p.tenant.id,
        count,
        p.agents.map((a) => a.actor.userId),
        p.agentTeam,
        p.teams.map((t) => t.id),
        p.requesterIds,
        SUBJECTS.map((s) => s[0]),
        SUBJECTS.map((s) => s[1]),
        PROBLEMS,
      ],
    );
    await tx.query(
      `INSERT INTO ticket_counters (tenant_id, type, last_number)
       SELECT $1, type, max(number) FROM tickets WHERE tenant_id = $1 GROUP BY type
       ON CONFLICT (tenant_id, type) DO UPDATE SET last_number = EXCLUDED.last_number`,
      [p.tenant.id],
    );
  });
}

interface ListingCase {
  name: string;
  ctx: ActorCtx;
  filter: TicketFilter;
}

interface ListingResult {
  measurement: Measurement;
  vsSelect: number;
  vsSelectP50: number;
  rows: number;
  filter: Omit<TicketFilter, 'cursor'> & { cursor?: string };
  plan: ExplainSummary;
  planText?: string;
}

async function runTickets({ db }: { db: Db }): Promise<Record<string, unknown>> {
  const started = performance.now();
  const targetTickets = envInt('BENCH_TICKETS', 100_000);
  const agentCount = envInt('BENCH_AGENTS', 10);
  const requesterCount = envInt('BENCH_REQUESTERS', 200);
  const step = (msg: string) => console.log(`  [${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

  step(`seeding tenant: 1 admin, ${agentCount} agents, ${TEAMS.length} teams, ${requesterCount} requesters`);
  const p = await seedPeople(db, agentCount, requesterCount);
  const agent = p.agents[Math.min(BENCH_AGENT, p.agents.length - 1)]!;
  const requesterCtxs: ActorCtx[] = [];
  for (const id of p.requesterIds.slice(0, 20)) requesterCtxs.push((await loadActor(db, p.tenant, id))!.ctx);

  // 1. Baselines, same pool.
  step('baselines: raw INSERT and PK SELECT');
  const baselines = await measureBaselines(db, { inserts: scaled(2000), selects: scaled(5000), tenantId: p.tenant.id });
  const concurrency = envInt('BENCH_CONCURRENCY', 4);
  const insertConcurrent = await measure(
    `baseline: INSERT one row, ${concurrency} callers`,
    (i) => db.query('INSERT INTO bench_baseline (tenant_id, title) VALUES ($1, $2)', [p.tenant.id, `Concurrent row ${i}`]),
    { iterations: scaled(2000), concurrency },
  );

  // 2. Ticket creation through the domain function.
  step('createTicket');
  const creations: { m: Measurement; baseline: Measurement; note: string }[] = [];
  // Same templated text as the bulk load, so the search column's statistics (and with them the
  // planner's choices) do not depend on how many tickets the creation runs added.
  const subject = (i: number) => SUBJECTS[Math.abs(i) % SUBJECTS.length]![0];
  const problem = (i: number) => PROBLEMS[(Math.abs(i) * 7) % PROBLEMS.length]!;
  const newTitle = (i: number) => `${subject(i)} ${problem(i)}`;
  const newDescription = (i: number) =>
    `${subject(i)}: ${problem(i)}. Reported from floor ${1 + (Math.abs(i) % 8)}, asset AT${10000 + ((Math.abs(i) * 7919) % 89999)}. ` +
    `Please call back on extension ${2000 + ((Math.abs(i) * 31) % 7999)}.`;
  creations.push({
    baseline: baselines.insert,
    note: 'empty table',
    m: await measure(
      'createTicket: requester raises incident',
      (i) => createTicket(requesterCtxs[Math.abs(i) % requesterCtxs.length]!, { type: 'incident', title: newTitle(i), description: newDescription(i), impact: 3, urgency: 2 }),
      { iterations: scaled(400) },
    ),
  });
  const agentRaise = (i: number) => {
    const a = Math.abs(i) % p.agents.length;
    return createTicket(agent, {
      type: i % 3 === 0 ? 'request' : 'incident',
      title: newTitle(i),
      description: newDescription(i),
      impact: 2,
      urgency: 2,
      requesterId: p.requesterIds[Math.abs(i) % p.requesterIds.length]!,
      assigneeId: p.agents[a]!.actor.userId,
      teamId: p.agentTeam[a]!,
    });
  };
  creations.push({
    baseline: baselines.insert,
    note: 'empty table',
    m: await measure('createTicket: agent raises for requester, assigned', agentRaise, { iterations: scaled(400) }),
  });
  creations.push({
    baseline: insertConcurrent,
    note: `${concurrency} callers, one tenant`,
    m: await measure(`createTicket: agent raises, ${concurrency} callers`, agentRaise, { iterations: scaled(400), concurrency }),
  });

  // 3. Bulk load to the target, then listings.
  const [{ n: existing }] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickets WHERE tenant_id = $1', [p.tenant.id])) as [{ n: number }];
  const toLoad = Math.max(0, targetTickets - existing);
  const chunk = 25_000;
  const loadStart = performance.now();
  for (let done = 0; done < toLoad; done += chunk) {
    const n = Math.min(chunk, toLoad - done);
    step(`bulk load: ${(existing + done + n).toLocaleString('en-US')} / ${targetTickets.toLocaleString('en-US')} tickets`);
    await bulkInsert(db, p, n);
  }
  const loadSeconds = round((performance.now() - loadStart) / 1000, 1);
  step('VACUUM ANALYZE');
  await db.query('VACUUM (ANALYZE) tickets');
  await db.query('ANALYZE');

  const dataset = await describeDataset(db, p.tenant.id);
  if (!dataset.countersConsistent) throw new Error(`ticket counters do not match the tickets: ${JSON.stringify(dataset.counters)}`);
  step(
    `dataset: ${dataset.tickets.toLocaleString('en-US')} tickets, ${dataset.open.toLocaleString('en-US')} open ` +
      `(${dataset.unassignedOpen.toLocaleString('en-US')} unassigned), ${dataset.breached.toLocaleString('en-US')} breached, ` +
      `table ${dataset.tableMiB} MiB + indexes ${dataset.indexMiB} MiB, loaded in ${loadSeconds} s`,
  );

  step('createTicket on the full table');
  creations.push({
    baseline: baselines.insert,
    note: `${dataset.tickets.toLocaleString('en-US')} tickets`,
    m: await measure('createTicket: agent raises, after bulk load', agentRaise, { iterations: scaled(200) }),
  });

  // The requester whose "my tickets" is measured: the median one by ticket count.
  const [median] = await db.query<{ id: string; n: number }>(
    `SELECT requester_id AS id, count(*)::int AS n FROM tickets WHERE tenant_id = $1 GROUP BY requester_id ORDER BY 2, 1 OFFSET $2 LIMIT 1`,
    [p.tenant.id, Math.floor(p.requesterIds.length / 2)],
  );
  const requester = (await loadActor(db, p.tenant, median!.id))!.ctx;

  // A rare search term, as people search for a specific asset: the tag of some old ticket.
  const [{ tag: assetTag }] = (await db.query<{ tag: string }>(
    `SELECT substring(description FROM 'AT[0-9]+') AS tag FROM tickets WHERE tenant_id = $1 AND description LIKE '%asset AT%' ORDER BY created_at LIMIT 1`,
    [p.tenant.id],
  )) as [{ tag: string }];

  // Walk nine pages of the open queue for the cursor of the tenth.
  let cursor: string | undefined;
  for (let page = 1; page < 10; page++) {
    const res = await listTickets(agent, { open: true, limit: 25, cursor });
    if (!res.nextCursor) throw new Error(`the open queue has fewer than ${page * 25 + 1} tickets`);
    cursor = res.nextCursor;
  }

  const cases: ListingCase[] = [
    { name: 'open queue (all open)', ctx: agent, filter: { open: true, limit: 25 } },
    { name: 'unassigned, open', ctx: agent, filter: { open: true, assignee: 'none', limit: 25 } },
    { name: 'assigned to me, open', ctx: agent, filter: { open: true, assignee: 'me', limit: 25 } },
    { name: 'my teams, open', ctx: agent, filter: { open: true, team: 'mine', limit: 25 } },
    { name: 'priority 1–2', ctx: agent, filter: { priority: [1, 2], limit: 25 } },
    { name: 'SLA breached', ctx: agent, filter: { breached: true, limit: 25 } },
    { name: "search 'vpn timeout'", ctx: agent, filter: { q: 'vpn timeout', limit: 25 } },
    { name: "search 'printer' (broad)", ctx: agent, filter: { q: 'printer', limit: 25 } },
    { name: `search '${assetTag}' (rare: asset tag)`, ctx: agent, filter: { q: assetTag, limit: 25 } },
    { name: "search 'kerberos' (no match)", ctx: agent, filter: { q: 'kerberos', limit: 25 } },
    { name: 'my teams, unassigned, open', ctx: agent, filter: { open: true, team: 'mine', assignee: 'none', limit: 25 } },
    { name: `requester's own (${median!.n} tickets)`, ctx: requester, filter: { limit: 25 } },
    { name: 'open queue, page 10 (cursor)', ctx: agent, filter: { open: true, limit: 25, cursor } },
  ];

  const measureListing = async (c: ListingCase, suffix = ''): Promise<ListingResult> => {
    const m = await measure(`listTickets: ${c.name}${suffix}`, () => listTickets(c.ctx, c.filter), { iterations: scaled(200), maxMs: 15_000 });
    const rec = recordingDb(db);
    const res = await listTickets({ ...c.ctx, db: rec.db }, c.filter);
    const plan = await explain(db, rec.queries[rec.queries.length - 1]!, 'tickets');
    const vsSelect = costRatio(m, baselines.select);
    const vsSelectP50 = p50Ratio(m, baselines.select);
    return {
      measurement: m,
      vsSelect,
      vsSelectP50,
      rows: res.items.length,
      filter: { ...c.filter, ...(c.filter.cursor ? { cursor: '(page 10)' } : {}) },
      plan: plan.summary,
      ...(Math.max(vsSelect, vsSelectP50) > SLOW_RATIO ? { planText: plan.text } : {}),
    };
  };

  step(`listTickets: ${cases.length} listings`);
  const listings: ListingResult[] = [];
  for (const c of cases) listings.push(await measureListing(c));

  const totalSeconds = round((performance.now() - started) / 1000, 1);

  // ---- Report ----
  printTable(
    'Baselines (same pool)',
    [
      { header: 'operation', value: (m: Measurement) => m.name, align: 'left' },
      { header: 'n', value: (m) => m.iterations },
      { header: 'ops/s', value: (m) => fmt(m.opsPerSec, 0) },
      { header: 'mean ms', value: (m) => fmt(m.meanMs, 3) },
      { header: 'p50 ms', value: (m) => fmt(m.p50Ms, 3) },
      { header: 'p99 ms', value: (m) => fmt(m.p99Ms, 3) },
    ],
    [baselines.insert, baselines.select, insertConcurrent],
  );
  printTable(
    'Ticket creation (× INSERT = baseline ops/s ÷ ops/s; × p50 = p50 ÷ baseline p50)',
    [
      { header: 'operation', value: (r: (typeof creations)[number]) => r.m.name, align: 'left' },
      { header: 'n', value: (r) => r.m.iterations },
      { header: 'ops/s', value: (r) => fmt(r.m.opsPerSec, 0) },
      { header: 'p50 ms', value: (r) => fmt(r.m.p50Ms, 3) },
      { header: 'p99 ms', value: (r) => fmt(r.m.p99Ms, 3) },
      { header: '× INSERT', value: (r) => fmt(costRatio(r.m, r.baseline), 1) },
      { header: '× p50', value: (r) => fmt(p50Ratio(r.m, r.baseline), 1) },
      { header: 'compared with', value: (r) => `${r.baseline.name.replace('baseline: ', '')} (${r.note})`, align: 'left' },
    ],
    creations,
  );
  printTable(
    `Queue listings, limit 25, ${dataset.tickets.toLocaleString('en-US')} tickets (× SELECT = PK-SELECT ops/s ÷ ops/s; × p50 = p50 ÷ its p50)`,
    [
      { header: 'listing', value: (l: ListingResult) => l.measurement.name.replace('listTickets: ', ''), align: 'left' },
      { header: 'rows', value: (l) => l.rows },
      { header: 'n', value: (l) => l.measurement.iterations },
      { header: 'ops/s', value: (l) => fmt(l.measurement.opsPerSec, 0) },
      { header: 'p50 ms', value: (l) => fmt(l.measurement.p50Ms, 3) },
      { header: 'p99 ms', value: (l) => fmt(l.measurement.p99Ms, 3) },
      { header: '× SELECT', value: (l) => fmt(l.vsSelect, 1) },
      { header: '× p50', value: (l) => fmt(l.vsSelectP50, 1) },
      { header: 'plan (tickets access)', value: (l) => planLine(l.plan), align: 'left' },
    ],
    listings,
  );
  const slow = listings.filter((l) => l.planText);
  for (const l of slow) {
    console.log(`\nSLOW (> ${SLOW_RATIO}× PK SELECT): ${l.measurement.name}, ${fmt(l.vsSelect, 1)}× by ops/s, ${fmt(l.vsSelectP50, 1)}× by p50\n${l.planText}`);
  }
  if (!slow.length) console.log(`\nNo listing costs more than ${SLOW_RATIO}× the PK SELECT baseline.`);
  console.log(`\ntickets suite: ${totalSeconds} s`);

  return {
    totalSeconds,
    dataset: { ...dataset, loadSeconds, agents: agentCount, teams: TEAMS.length, requesters: requesterCount },
    baselines: { insert: baselines.insert, select: baselines.select, insertConcurrent },
    creation: creations.map((c) => ({ ...c.m, vsInsert: costRatio(c.m, c.baseline), vsInsertP50: p50Ratio(c.m, c.baseline), comparedWith: c.baseline.name, note: c.note })),
    listings: listings.map((l) => ({ ...l.measurement, vsSelect: l.vsSelect, vsSelectP50: l.vsSelectP50, rows: l.rows, filter: l.filter, plan: l.plan, planText: l.planText })),
    slowRatio: SLOW_RATIO,
  };
}

function planLine(p: ExplainSummary): string {
  const scans = p.scans.map((s) => `${s.node.replace(' Scan', '')}${s.index ? ` ${s.index}` : ''} ${s.rows}${s.removedByFilter ? ` (-${s.removedByFilter})` : ''}`);
  return `${scans.join(' + ')}${p.sortedRows !== undefined ? `, sort ${p.sortedRows}` : ''}; ${fmt(p.executionMs, 2)} ms`;
}

async function describeDataset(db: Db, tenantId: string) {
  const [s] = await db.query<Record<string, number>>(
    `SELECT count(*)::int AS tickets,
       count(*) FILTER (WHERE status <> ALL('{resolved,fulfilled,closed,rejected}'))::int AS open,
       count(*) FILTER (WHERE status <> ALL('{resolved,fulfilled,closed,rejected}') AND assignee_id IS NULL)::int AS "unassignedOpen",
       count(*) FILTER (WHERE (response_due_at IS NOT NULL AND coalesce(first_response_at, sla_paused_at, now()) > response_due_at)
                           OR (resolution_due_at IS NOT NULL AND coalesce(resolved_at, sla_paused_at, now()) > resolution_due_at))::int AS breached,
       count(*) FILTER (WHERE priority <= 2)::int AS "priority1to2"
     FROM tickets WHERE tenant_id = $1`,
    [tenantId],
  );
  const byType = await db.query<{ type: string; n: number; max: number; counter: number }>(
    `SELECT t.type, count(*)::int AS n, max(t.number) AS max, k.last_number AS counter
     FROM tickets t LEFT JOIN ticket_counters k ON k.tenant_id = t.tenant_id AND k.type = t.type
     WHERE t.tenant_id = $1 GROUP BY t.type, k.last_number ORDER BY t.type`,
    [tenantId],
  );
  const byStatus = await db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM tickets WHERE tenant_id = $1 GROUP BY status ORDER BY 2 DESC',
    [tenantId],
  );
  const [size] = await db.query<{ table: number; indexes: number }>(
    `SELECT pg_table_size('tickets') AS table, pg_indexes_size('tickets') AS indexes`,
  );
  return {
    tickets: s!.tickets!,
    open: s!.open!,
    unassignedOpen: s!.unassignedOpen!,
    breached: s!.breached!,
    priority1to2: s!.priority1to2!,
    counters: byType,
    // Numbers are dense per type (1..n) and each counter stands at the highest number.
    countersConsistent: byType.every((r) => r.n === r.max && r.max === r.counter),
    byStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    tableMiB: round(size!.table / 2 ** 20, 1),
    indexMiB: round(size!.indexes / 2 ** 20, 1),
  };
}
