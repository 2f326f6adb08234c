import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';

let t: TestApp;
let tt: TestTenant;
let agent: { id: string; client: Client };
let agent2: { id: string; client: Client };
let cm: { id: string; client: Client };
let req1: { id: string; client: Client };
let req2: { id: string; client: Client };
let admin: { id: string; client: Client };

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  agent = await t.user(tt.tenant, ['requester', 'agent']);
  agent2 = await t.user(tt.tenant, ['requester', 'agent']);
  cm = await t.user(tt.tenant, ['requester', 'change_manager']);
  req1 = await t.user(tt.tenant, ['requester']);
  req2 = await t.user(tt.tenant, ['requester']);
  admin = await t.user(tt.tenant, ['requester', 'admin']);
});
after(() => t.close());

const raise = async (c: Client, body: Record<string, unknown>) => {
  const res = await c.post('/api/v1/tickets', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.headers.get('location'), `/api/v1/tickets/${res.body.id}`);
  return res.body;
};

describe('numbering and priority', () => {
  test('numbers run per tenant and per type, and references resolve', async () => {
    const other = await t.tenant();
    const otherReq = await t.user(other.tenant, ['requester']);
    const a = await raise(req1.client, { type: 'incident', title: 'one' });
    const b = await raise(req1.client, { type: 'request', title: 'two' });
    const c = await raise(req1.client, { type: 'incident', title: 'three' });
    const d = await raise(otherReq.client, { type: 'incident', title: 'elsewhere' });
    assert.match(a.ref, /^INC\d{6}$/);
    assert.match(b.ref, /^REQ\d{6}$/);
    assert.equal(c.number, a.number + 1);
    assert.equal(d.ref, 'INC000001');
    assert.equal((await req1.client.get(`/api/v1/tickets/${c.ref}`)).body.id, c.id);
  });

  test('impact × urgency gives the ITIL priority', async () => {
    const expected: Record<string, number> = { '1,1': 1, '1,2': 2, '2,1': 2, '1,3': 3, '2,2': 3, '3,1': 3, '2,3': 4, '3,2': 4, '3,3': 5 };
    for (const [k, p] of Object.entries(expected)) {
      const [impact, urgency] = k.split(',').map(Number);
      const tk = await raise(agent.client, { type: 'incident', title: `p ${k}`, impact, urgency });
      assert.equal(tk.priority, p, k);
    }
  });
});

describe('who sees what', () => {
  test('a requester gets 404 for someone else\'s ticket and never lists it', async () => {
    const mine = await raise(req1.client, { type: 'incident', title: 'private matter' });
    assert.equal((await req2.client.get(`/api/v1/tickets/${mine.id}`)).status, 404);
    assert.equal((await req2.client.get(`/api/v1/tickets/${mine.ref}`)).status, 404);
    assert.equal((await req2.client.get(`/api/v1/tickets/${mine.id}/comments`)).status, 404);
    assert.equal((await req2.client.post(`/api/v1/tickets/${mine.id}/comments`, { body: 'hi' })).status, 404);
    const list = await req2.client.get('/api/v1/tickets?limit=100');
    assert.ok(list.body.items.every((x: any) => x.requester.id === req2.id));
    assert.ok(!list.body.items.some((x: any) => x.id === mine.id));
    const search = await req2.client.get('/api/v1/tickets?q=private');
    assert.equal(search.body.items.length, 0);
  });

  test('requesters never see work notes, in comments or in the history', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'printer on fire' });
    assert.equal((await agent.client.post(`/api/v1/tickets/${tk.id}/comments`, { body: 'SECRET-NOTE suspect the toner', visibility: 'internal' })).status, 201);
    assert.equal((await agent.client.post(`/api/v1/tickets/${tk.id}/comments`, { body: 'We are on it', visibility: 'public' })).status, 201);
    const asRequester = await req1.client.get(`/api/v1/tickets/${tk.id}/comments`);
    assert.deepEqual(asRequester.body.items.map((c: any) => c.body), ['We are on it']);
    const events = await req1.client.get(`/api/v1/tickets/${tk.id}/events`);
    assert.ok(!events.body.items.some((e: any) => e.kind === 'work_note'));
    assert.ok(!JSON.stringify(events.body).includes('SECRET-NOTE'));
    const asAgent = await agent.client.get(`/api/v1/tickets/${tk.id}/comments`);
    assert.equal(asAgent.body.items.length, 2);
    assert.ok((await agent.client.get(`/api/v1/tickets/${tk.id}/events`)).body.items.some((e: any) => e.kind === 'work_note'));
  });

  test('a requester cannot write a work note', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'x' });
    const res = await req1.client.post(`/api/v1/tickets/${tk.id}/comments`, { body: 'sneaky', visibility: 'internal' });
    assert.equal(res.status, 403);
    assert.equal((await agent.client.get(`/api/v1/tickets/${tk.id}/comments`)).body.items.length, 0);
  });

  test('requesters cannot raise changes or set assignment', async () => {
    assert.equal((await req1.client.post('/api/v1/tickets', { type: 'change', title: 'no' })).status, 403);
    assert.equal((await req1.client.post('/api/v1/tickets', { type: 'incident', title: 'no', assigneeId: agent.id })).status, 403);
    assert.equal((await req1.client.post('/api/v1/tickets', { type: 'incident', title: 'no', requesterId: req2.id })).status, 403);
  });
});

describe('resolving takes a resolution note (ITIL)', () => {
  test('without one it is refused and nothing changes; with one it is kept and the requester gets it as a public reply', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'printer jam' });
    const before = (await agent.client.get(`/api/v1/tickets/${tk.id}`)).body;
    const bare = await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'resolved' });
    assert.equal(bare.status, 422);
    assert.equal(bare.body.errors[0].field, 'resolution');
    assert.equal((await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'resolved', resolution: '   ' })).status, 400);
    const { allowedTransitions: _a, ...unchanged } = before;
    const { allowedTransitions: _b, ...now } = (await agent.client.get(`/api/v1/tickets/${tk.id}`)).body;
    assert.deepEqual(now, unchanged);
    assert.equal((await agent.client.get(`/api/v1/tickets/${tk.id}/comments`)).body.items.length, 0);
    // A note only goes with resolving.
    assert.equal((await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'in_progress', resolution: 'x' })).status, 422);

    const done = await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'resolved', resolution: 'Cleared the jam in tray 2.' });
    assert.equal(done.status, 200);
    assert.equal(done.body.resolution, 'Cleared the jam in tray 2.');
    assert.ok(done.body.sla.firstResponseAt, 'the reply is a first response');
    const seen = (await req1.client.get(`/api/v1/tickets/${tk.id}/comments`)).body.items;
    assert.deepEqual(seen.map((c: any) => [c.body, c.visibility]), [['Cleared the jam in tray 2.', 'public']]);
  });

  test('a request is fulfilled with a note and its own reply to the requester', async () => {
    const tk = await raise(req1.client, { type: 'request', title: 'new monitor' });
    const res = await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'fulfilled', resolution: 'Delivered a 27" monitor, asset 4411.', reply: 'Your monitor is on your desk.' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.resolution, 'Delivered a 27" monitor, asset 4411.');
    const seen = (await req1.client.get(`/api/v1/tickets/${tk.id}/comments`)).body.items;
    assert.deepEqual(seen.map((c: any) => c.body), ['Your monitor is on your desk.']);
  });
});

describe('incident lifecycle', () => {
  test('follows new → in progress → on hold → resolved → closed, refusing skips', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'lifecycle' });
    assert.equal(tk.status, 'new');
    const bad = await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'closed' });
    assert.equal(bad.status, 409);
    assert.equal(bad.body.code, 'invalid_transition');
    for (const s of ['in_progress', 'on_hold', 'in_progress', 'resolved', 'closed']) {
      const res = await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: s, ...(s === 'resolved' ? { resolution: 'Replaced the cable.' } : {}) });
      assert.equal(res.status, 200, `${s}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.status, s);
    }
    const final = (await agent.client.get(`/api/v1/tickets/${tk.id}`)).body;
    assert.ok(final.closedAt && final.resolvedAt);
    assert.deepEqual(final.allowedTransitions, []);
    assert.equal((await agent.client.post(`/api/v1/tickets/${tk.id}/comments`, { body: 'late' })).status, 409);
  });

  test('the requester cannot work the ticket but may reopen it once resolved', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'reopen me' });
    assert.equal((await req1.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'in_progress' })).status, 403);
    assert.equal((await req1.client.patch(`/api/v1/tickets/${tk.id}`, { title: 'renamed' })).status, 403);
    await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'resolved', resolution: 'Restarted the service.' });
    const view = (await req1.client.get(`/api/v1/tickets/${tk.id}`)).body;
    assert.deepEqual(view.allowedTransitions, ['in_progress']);
    assert.equal((await req2.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'in_progress' })).status, 404);
    const reopened = await req1.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'in_progress' });
    assert.equal(reopened.status, 200);
    assert.equal(reopened.body.resolvedAt, null);
    assert.equal(reopened.body.resolution, null, 'a reopened ticket is not resolved: the old note stays in its replies and history only');
  });

  test('assignment must name an active agent of the tenant', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'assign me' });
    const toRequester = await agent.client.patch(`/api/v1/tickets/${tk.id}`, { assigneeId: req2.id });
    assert.equal(toRequester.status, 422);
    const ok = await agent.client.patch(`/api/v1/tickets/${tk.id}`, { assigneeId: agent2.id });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.assignee.id, agent2.id);
    const events = (await agent.client.get(`/api/v1/tickets/${tk.id}/events`)).body.items;
    assert.ok(events.some((e: any) => e.kind === 'assigned' && e.data.to === agent2.id));
  });
});

describe('changes and approvals', () => {
  const toAwaiting = async () => {
    const ch = await raise(agent.client, { type: 'change', title: 'upgrade switch', impact: 2, urgency: 2 });
    assert.equal(ch.status, 'draft');
    for (const s of ['assessment', 'awaiting_approval']) assert.equal((await agent.client.post(`/api/v1/tickets/${ch.id}/status`, { status: s })).status, 200);
    return ch;
  };

  test('a change cannot be implemented before approval', async () => {
    const ch = await toAwaiting();
    for (const s of ['implementing', 'approved']) {
      const res = await agent.client.post(`/api/v1/tickets/${ch.id}/status`, { status: s });
      assert.equal(res.status, 409, s);
    }
    assert.equal((await agent.client.get(`/api/v1/tickets/${ch.id}`)).body.status, 'awaiting_approval');
  });

  test('only a change manager decides, never on their own change, and approval unlocks implementation', async () => {
    const ch = await toAwaiting();
    const byAgent = await agent.client.post(`/api/v1/tickets/${ch.id}/approvals`, { decision: 'approved', comment: 'lgtm' });
    assert.equal(byAgent.status, 403);
    const byAdmin = await admin.client.post(`/api/v1/tickets/${ch.id}/approvals`, { decision: 'approved', comment: 'lgtm' });
    assert.equal(byAdmin.status, 403);
    assert.equal((await cm.client.get(`/api/v1/tickets/${ch.id}`)).body.canApprove, true);
    const approved = await cm.client.post(`/api/v1/tickets/${ch.id}/approvals`, { decision: 'approved', comment: 'Go ahead' });
    assert.equal(approved.status, 200);
    assert.equal(approved.body.status, 'approved');
    const again = await cm.client.post(`/api/v1/tickets/${ch.id}/approvals`, { decision: 'rejected', comment: 'changed my mind' });
    assert.equal(again.status, 409);
    for (const s of ['implementing', 'review', 'closed']) assert.equal((await agent.client.post(`/api/v1/tickets/${ch.id}/status`, { status: s })).status, 200, s);
    const approvals = await agent.client.get(`/api/v1/tickets/${ch.id}/approvals`);
    assert.equal(approvals.body.items.length, 1);
    assert.equal(approvals.body.items[0].approver.id, cm.id);
  });

  test('a change manager cannot approve a change they raised', async () => {
    const ch = await raise(cm.client, { type: 'change', title: 'my own change' });
    for (const s of ['assessment', 'awaiting_approval']) await agent.client.post(`/api/v1/tickets/${ch.id}/status`, { status: s });
    const res = await cm.client.post(`/api/v1/tickets/${ch.id}/approvals`, { decision: 'approved', comment: 'self' });
    assert.equal(res.status, 403);
  });

  test('a rejected change goes back to draft, and cannot be implemented', async () => {
    const ch = await toAwaiting();
    assert.equal((await cm.client.post(`/api/v1/tickets/${ch.id}/approvals`, { decision: 'rejected', comment: 'No rollback plan' })).body.status, 'rejected');
    assert.equal((await agent.client.post(`/api/v1/tickets/${ch.id}/status`, { status: 'implementing' })).status, 409);
    assert.equal((await agent.client.post(`/api/v1/tickets/${ch.id}/status`, { status: 'draft' })).status, 200);
  });

  test('the decided history lists every decision newest first, with its change, paginated; staff only', async () => {
    const first = await toAwaiting();
    await cm.client.post(`/api/v1/tickets/${first.id}/approvals`, { decision: 'approved', comment: 'Looks safe' });
    const second = await toAwaiting();
    await cm.client.post(`/api/v1/tickets/${second.id}/approvals`, { decision: 'rejected', comment: 'Needs a rollback plan' });
    const page1 = (await agent.client.get('/api/v1/approvals?limit=1')).body;
    assert.equal(page1.items[0].change.id, second.id);
    assert.equal(page1.items[0].change.ref, second.ref);
    assert.deepEqual([page1.items[0].decision, page1.items[0].comment, page1.items[0].approver.id], ['rejected', 'Needs a rollback plan', cm.id]);
    const page2 = (await agent.client.get(`/api/v1/approvals?limit=1&cursor=${page1.nextCursor}`)).body;
    assert.equal(page2.items[0].change.id, first.id);
    assert.equal(page2.items[0].decision, 'approved');
    assert.equal((await req1.client.get('/api/v1/approvals')).status, 403);
  });
});

describe('SLA clocks', () => {
  test('targets follow the priority policy; a public reply from an agent stops the response clock', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'sla', impact: 1, urgency: 1 });
    const created = Date.parse(tk.createdAt);
    assert.equal(Date.parse(tk.sla.responseDueAt) - created, 15 * 60_000);
    assert.equal(Date.parse(tk.sla.resolutionDueAt) - created, 4 * 3600_000);
    await req1.client.post(`/api/v1/tickets/${tk.id}/comments`, { body: 'any news?' });
    assert.equal((await agent.client.get(`/api/v1/tickets/${tk.id}`)).body.sla.firstResponseAt, null);
    await agent.client.post(`/api/v1/tickets/${tk.id}/comments`, { body: 'looking' });
    assert.notEqual((await agent.client.get(`/api/v1/tickets/${tk.id}`)).body.sla.firstResponseAt, null);
  });

  test('on hold pauses the clock: due times move forward by the time held, and a held ticket does not breach', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'hold', impact: 1, urgency: 1 });
    await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'on_hold' });
    // Pretend it went on hold 10 hours ago, with a due time that has since passed.
    await t.db.query(
      `UPDATE tickets SET sla_paused_at = now() - interval '10 hours', resolution_due_at = now() - interval '6 hours'
       WHERE tenant_id = $1 AND id = $2`,
      [tt.tenant.id, tk.id],
    );
    const held = (await agent.client.get(`/api/v1/tickets/${tk.id}`)).body;
    assert.equal(held.sla.paused, true);
    assert.equal(held.sla.resolutionBreached, false, 'paused before the due time: not breached');
    const resumed = (await agent.client.post(`/api/v1/tickets/${tk.id}/status`, { status: 'in_progress' })).body;
    assert.equal(resumed.sla.paused, false);
    const shift = Date.parse(resumed.sla.resolutionDueAt) - (Date.now() - 6 * 3600_000);
    assert.ok(Math.abs(shift - 10 * 3600_000) < 60_000, `due time moved by ~10h, got ${shift}`);
    assert.equal(resumed.sla.resolutionBreached, false);
  });

  test('breach is flagged and filterable', async () => {
    const late = await raise(req1.client, { type: 'incident', title: 'late one' });
    const fine = await raise(req1.client, { type: 'incident', title: 'fine one' });
    await t.db.query(`UPDATE tickets SET response_due_at = now() - interval '1 minute' WHERE tenant_id = $1 AND id = $2`, [tt.tenant.id, late.id]);
    assert.equal((await agent.client.get(`/api/v1/tickets/${late.id}`)).body.sla.responseBreached, true);
    const breached = await agent.client.get('/api/v1/tickets?breached=true&limit=100');
    const ids = breached.body.items.map((x: any) => x.id);
    assert.ok(ids.includes(late.id));
    assert.ok(!ids.includes(fine.id));
    const notBreached = await agent.client.get('/api/v1/tickets?breached=false&limit=100');
    assert.ok(notBreached.body.items.some((x: any) => x.id === fine.id));
  });

  test('raising the priority re-targets the clocks from creation', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'escalate', impact: 3, urgency: 3 });
    const up = (await agent.client.patch(`/api/v1/tickets/${tk.id}`, { impact: 1, urgency: 1 })).body;
    assert.equal(up.priority, 1);
    assert.equal(Date.parse(up.sla.responseDueAt) - Date.parse(tk.createdAt), 15 * 60_000);
  });
});

describe('search and filters', () => {
  test('filter by type, status, assignee, team, priority and text; cursor pages cover all without repeats', async () => {
    const f = await t.tenant();
    const a = await t.user(f.tenant, ['requester', 'agent']);
    const r = await t.user(f.tenant, ['requester']);
    const adm = await t.user(f.tenant, ['admin']);
    const team = (await adm.client.post('/api/v1/teams', { name: 'Network', memberIds: [a.id] })).body;
    const made = [];
    for (let i = 0; i < 12; i++) {
      made.push(await raise(r.client, { type: i % 3 === 0 ? 'request' : 'incident', title: `${i % 2 ? 'vpn' : 'printer'} trouble ${i}`, impact: (i % 3) + 1, urgency: 2 }));
    }
    await a.client.patch(`/api/v1/tickets/${made[1].id}`, { assigneeId: a.id, teamId: team.id });
    await a.client.post(`/api/v1/tickets/${made[1].id}/status`, { status: 'in_progress' });

    const q = async (qs: string) => (await a.client.get(`/api/v1/tickets?limit=100&${qs}`)).body.items as any[];
    assert.equal((await q('type=request')).length, 4);
    assert.deepEqual((await q('status=in_progress')).map((x) => x.id), [made[1].id]);
    assert.deepEqual((await q('assignee=me')).map((x) => x.id), [made[1].id]);
    assert.equal((await q('assignee=none&open=true')).length, 11);
    assert.deepEqual((await q('team=mine')).map((x) => x.id), [made[1].id]);
    assert.deepEqual((await q(`team=${team.id}`)).map((x) => x.id), [made[1].id]);
    assert.ok((await q('priority=2')).every((x) => x.priority === 2));
    assert.equal((await q('q=vpn')).length, 6);
    assert.deepEqual((await q(`q=${made[5].ref}`)).map((x) => x.id), [made[5].id]);
    assert.equal((await r.client.get('/api/v1/tickets?requester=me&limit=100')).body.items.length, 12);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await a.client.get(`/api/v1/tickets?limit=5${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...page.items.map((x: any) => x.id));
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 12);
    assert.equal(new Set(seen).size, 12);
    assert.deepEqual(seen, [...made].reverse().map((x) => x.id));
  });

  test('bad filters get a 400 problem', async () => {
    for (const qs of ['status=bogus', 'priority=9', 'limit=0', 'limit=1000', 'cursor=!!!', 'assignee=not-a-uuid', 'unknown=1', 'type=ticket']) {
      const res = await agent.client.get(`/api/v1/tickets?${qs}`);
      assert.ok(res.status === 400 || res.status === 422, `${qs} → ${res.status}`);
      assert.match(res.headers.get('content-type')!, /problem\+json/);
    }
  });
});

describe('queues', () => {
  test('each queue’s count is the number of tickets its list holds, for the caller', async () => {
    await agent.client.patch(`/api/v1/tickets/${(await raise(req1.client, { type: 'incident', title: 'queue probe' })).id}`, { assigneeId: agent.id });
    const all = async (client: Client, queue: string) => {
      let n = 0;
      let cursor: string | null = null;
      do {
        const page: any = (await client.get(`/api/v1/tickets?queue=${queue}&limit=100${cursor ? `&cursor=${cursor}` : ''}`)).body;
        n += page.items.length;
        cursor = page.nextCursor;
      } while (cursor);
      return n;
    };
    for (const client of [agent.client, agent2.client, req1.client]) {
      const counts = (await client.get('/api/v1/tickets/queues')).body.items;
      assert.deepEqual(counts.map((c: any) => c.id), ['unassigned', 'mine', 'teams', 'open', 'breached', 'all']);
      for (const c of counts) assert.equal(c.count, await all(client, c.id), c.id);
    }
    const mine = (await agent.client.get('/api/v1/tickets/queues')).body.items.find((c: any) => c.id === 'mine');
    assert.ok(mine.count >= 1);
    // A queue narrowed by another filter.
    const narrowed = (await agent.client.get('/api/v1/tickets?queue=mine&q=queue%20probe')).body.items;
    assert.deepEqual(narrowed.map((x: any) => x.title), ['queue probe']);
    assert.equal((await agent.client.get('/api/v1/tickets?queue=nonsense')).status, 400);
  });
});

describe('SLA policies', () => {
  test('admins change targets (audited); new tickets use them; bad sets are refused whole', async () => {
    const p = await t.tenant();
    const adm = await t.user(p.tenant, ['requester', 'admin']);
    const ag = await t.user(p.tenant, ['agent']);
    const items = [1, 2, 3, 4, 5].map((priority) => ({ priority, responseMinutes: priority * 10, resolutionMinutes: priority * 100 }));
    assert.equal((await ag.client.put('/api/v1/sla-policies', { items })).status, 403);
    const bad = items.map((x) => (x.priority === 2 ? { ...x, resolutionMinutes: 1 } : x));
    assert.equal((await adm.client.put('/api/v1/sla-policies', { items: bad })).status, 422);
    assert.equal((await adm.client.put('/api/v1/sla-policies', { items: [...items.slice(1), items[1]] })).status, 422);
    assert.equal((await adm.client.get('/api/v1/sla-policies')).body.items[0].responseMinutes, 15, 'unchanged after refusals');
    assert.equal((await adm.client.put('/api/v1/sla-policies', { items })).status, 200);
    const tk = await raise(adm.client, { type: 'incident', title: 'p1', impact: 1, urgency: 1 });
    assert.equal(Date.parse(tk.sla.responseDueAt) - Date.parse(tk.createdAt), 10 * 60_000);
    const audit = (await adm.client.get('/api/v1/audit?action=sla.policies_changed')).body.items;
    assert.equal(audit.length, 1);
  });
});

describe('concurrency', () => {
  test('tickets raised at once get distinct consecutive numbers', async () => {
    const c = await t.tenant();
    const r = await t.user(c.tenant, ['requester']);
    const made = await Promise.all(Array.from({ length: 16 }, (_, i) => r.client.post('/api/v1/tickets', { type: 'incident', title: `burst ${i}` })));
    assert.ok(made.every((m) => m.status === 201));
    const numbers = made.map((m) => m.body.number).sort((x, y) => x - y);
    assert.deepEqual(numbers, Array.from({ length: 16 }, (_, i) => i + 1));
  });
});

describe('history for requesters', () => {
  test('assignment events name the agent and team, so requesters can read them', async () => {
    const tk = await raise(req1.client, { type: 'incident', title: 'who has it' });
    const team = (await admin.client.post('/api/v1/teams', { name: 'Field Services', memberIds: [agent.id] })).body;
    await agent.client.patch(`/api/v1/tickets/${tk.id}`, { assigneeId: agent.id, teamId: team.id });
    const events = (await req1.client.get(`/api/v1/tickets/${tk.id}/events`)).body.items;
    const assigned = events.find((e: any) => e.kind === 'assigned');
    assert.equal(assigned.data.to, agent.id);
    assert.match(assigned.data.toName, /^User \d+$/);
    assert.equal(events.find((e: any) => e.kind === 'team_changed').data.toName, 'Field Services');
  });
});
