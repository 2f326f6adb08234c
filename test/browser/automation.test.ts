/**
 * Issue 11's automation in a real browser (Debian Chromium), as an admin and an agent click it:
 * a webhook endpoint added on the Webhooks page with its secret shown once, a test message that
 * reaches a loopback receiver signed with that secret and shows in the delivery log, redelivery and
 * rotation; the onboarding workflow turned on for a team, a person provisioned through SCIM, and the
 * agent ticking the onboarding ticket's checklist; a dead delivery on the Background jobs page,
 * retried. With KEYDESK_SCREENSHOTS=1 it saves the pictures docs/automation.md shows
 * (docs/images/automation/).
 *
 * Needs the built web app (`npm run build:web`) and Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 * Run: node scripts/test.mjs test/browser/automation.test.ts
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { launchChromium, openPage, passwordSignIn, repoRoot } from '../helpers/browser.js';
import { startApp, type TestApp, type TestTenant } from '../helpers/app.js';
import type { Client } from '../helpers/client.js';
import { eventually, startReceiver } from '../helpers/receiver.js';
import { newUser, scimClient } from '../helpers/scim.js';
import { createUser } from '../../src/identity/users.js';

const SCREENSHOTS = process.env.KEYDESK_SCREENSHOTS === '1';
const docsImages = path.join(repoRoot, 'docs', 'images', 'automation');
const AGENT_PASSWORD = 'browser-test-password-42';

let t: TestApp;
let tt: TestTenant;
let slug: string;
let browser: Browser;
let api: Client;
let admin: Page;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let teamId: string;
let agent: { id: string; email: string };
/** The signing secret as the admin copied it from the page. */
let secret = '';
/** The onboarding ticket's reference, from the workflow's run. */
let onboardingRef = '';

/** A picture for the docs, only when asked for (KEYDESK_SCREENSHOTS=1). */
async function docShot(page: Page, name: string) {
  if (!SCREENSHOTS) return;
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(docsImages, `${name}.png`), fullPage: true });
}

const adminUrl = (p: string) => `${t.url}/t/${slug}/admin/${p}`;

function deliveryRows(page: Page, messageId?: string): Locator {
  return page.locator(messageId ? `[data-testid="delivery-row"][data-message-id="${messageId}"]` : '[data-testid="delivery-row"]');
}

before(async () => {
  if (SCREENSHOTS) mkdirSync(docsImages, { recursive: true });
  t = await startApp();
  tt = await t.tenant();
  slug = tt.tenant.slug;
  api = t.client();
  await api.signIn(slug, tt.adminEmail, tt.adminPassword);
  teamId = (await api.post('/api/v1/teams', { name: 'Service Desk' })).body.id;
  const u = await t.db.transaction((tx) =>
    createUser({ db: t.db, tenant: tt.tenant, actor: null }, tx, { email: `alex@${slug}.test`, displayName: 'Alex Agent', password: AGENT_PASSWORD, roles: ['requester', 'agent'], passwordChangeRequired: false }),
  );
  agent = { id: u.id, email: u.email };
  rx = await startReceiver();
  browser = await launchChromium();
  admin = await openPage(browser, { clipboard: t.url });
  await passwordSignIn(admin, t.url, slug, tt.adminEmail, tt.adminPassword);
});

after(async () => {
  await browser?.close().catch(() => {});
  await rx?.close();
  await t?.close();
});

test('webhooks: an endpoint is added with its secret shown once; a test message arrives signed and shows in the delivery log; redelivery and rotation', { timeout: 120_000 }, async () => {
  await admin.goto(adminUrl('teams'));
  const tab = admin.getByTestId('admin-tab-webhooks');
  assert.equal((await tab.innerText()).trim(), 'Webhooks');
  await tab.click();
  await admin.waitForURL(adminUrl('webhooks'));
  await admin.getByRole('heading', { name: 'Webhooks', level: 2, exact: true }).waitFor();
  // The list loads after the heading: wait for its empty state rather than reading the skeleton.
  await admin.getByTestId('webhook-section').getByText('No endpoints yet').waitFor();

  // A URL Keydesk will not call: the server's reason shows under the URL field, and nothing is added.
  await admin.getByTestId('add-endpoint').click();
  const dialog = admin.getByTestId('add-endpoint-dialog');
  await dialog.getByTestId('endpoint-url').fill('ftp://example.com/hook');
  await dialog.locator('[data-testid="event-option"][data-event="user.provisioned"]').check();
  await dialog.getByTestId('add-endpoint-submit').click();
  const urlField = dialog.locator('.field.has-error');
  await urlField.waitFor();
  assert.match(await urlField.innerText(), /Endpoint URL[\s\S]*only http and https URLs can be called/);
  assert.equal(await dialog.getByTestId('endpoint-url').getAttribute('aria-invalid'), 'true');
  assert.equal((await api.get('/api/v1/webhooks')).body.items.length, 0, 'nothing was added');

  // The receiver's URL, every people-and-groups event by their group's box, and one workflow event.
  await dialog.getByTestId('endpoint-url').fill(rx.url);
  await dialog.getByTestId('endpoint-description').fill('HR system');
  await dialog.getByTestId('event-group-people-and-groups').check();
  await dialog.locator('[data-testid="event-option"][data-event="workflow.manager_notification"]').check();
  assert.equal(await dialog.locator('[data-testid="event-option"][data-event="group.member_added"]').isChecked(), true, 'the group box ticks its events');
  assert.equal(await dialog.locator('[data-testid="event-option"][data-event="ticket.created"]').isChecked(), false);
  await dialog.getByTestId('add-endpoint-submit').click();
  await dialog.waitFor({ state: 'hidden' });

  const reveal = admin.getByTestId('webhook-secret');
  await reveal.waitFor();
  const text = await reveal.innerText();
  assert.match(text, /Store its signing secret now: it is not shown again/);
  assert.match(text, /Verify each message per Standard Webhooks/);
  secret = (await reveal.getByTestId('revealed-secret').innerText()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  await reveal.getByTestId('copy-secret').click();
  await admin.locator('[data-testid="copy-secret"][data-copied]').waitFor();
  assert.equal(await admin.evaluate('navigator.clipboard.readText()'), secret, 'the copy button copies the secret');

  const [stored] = (await api.get('/api/v1/webhooks')).body.items as { id: string; url: string; events: string[]; description: string }[];
  assert.equal(stored!.url, rx.url);
  assert.equal(stored!.description, 'HR system');
  assert.deepEqual([...stored!.events].sort(), ['group.created', 'group.deleted', 'group.member_added', 'group.member_removed', 'group.updated', 'user.deactivated', 'user.deleted', 'user.first_signin', 'user.provisioned', 'user.reactivated', 'user.role_changed', 'user.updated', 'workflow.manager_notification']);
  const card = admin.locator(`[data-testid="webhook-endpoint"][data-id="${stored!.id}"]`);
  assert.match(await card.getByTestId('webhook-events').innerText(), /user\.provisioned[\s\S]*workflow\.manager_notification/);
  assert.match(await card.getByTestId('webhook-last-delivery').innerText(), /Nothing sent yet/);

  // Dismissed, the secret is gone, and a reload does not bring it back.
  await reveal.getByTestId('secret-dismiss').click();
  await reveal.waitFor({ state: 'detached' });
  await admin.reload();
  await card.waitFor();
  assert.equal((await admin.content()).includes(secret), false, 'the secret is never shown again');

  // A test message: it reaches the receiver signed with that secret, and the log shows it delivered.
  await card.getByTestId('send-test').click();
  const [msg] = await rx.waitFor(1);
  const payload = new Webhook(secret).verify(msg!.body, msg!.headers as Record<string, string>) as { type: string };
  assert.equal(payload.type, 'webhook.test');
  const messageId = String(msg!.headers['webhook-id']);
  const row = deliveryRows(admin, messageId);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-event'), 'webhook.test');
  assert.equal(await row.getAttribute('data-succeeded'), 'true');
  assert.equal(await row.getByTestId('delivery-status').getAttribute('data-status'), '200');
  assert.equal((await row.getByTestId('delivery-attempt').innerText()).replace('Attempt', '').trim(), '1');
  await card.locator('[data-testid="last-delivery-status"][data-status="200"]').waitFor();

  // Redeliver: the same webhook-id again, a second line in the log.
  await row.getByTestId('redeliver').click();
  await rx.waitFor(2);
  assert.equal(rx.received[1]!.headers['webhook-id'], messageId, 'the same message');
  await eventually(async () => (await deliveryRows(admin, messageId).count()) === 2, 15_000, 'the redelivery in the log');
  await docShot(admin, 'webhooks');

  // Rotation: a new secret shown once; the old one signs too until the time shown.
  await card.getByTestId('rotate-secret').click();
  const rotate = admin.getByTestId('rotate-dialog');
  assert.match(await rotate.innerText(), /For 24 hours the current secret keeps signing as well/);
  await rotate.getByTestId('confirm').click();
  await rotate.waitFor({ state: 'hidden' });
  const rotated = card.getByTestId('webhook-secret');
  await rotated.waitFor();
  const newSecret = (await rotated.getByTestId('revealed-secret').innerText()).trim();
  assert.notEqual(newSecret, secret);
  assert.match(await rotated.innerText(), /The old secret keeps signing too until/);
  const until = (await api.get(`/api/v1/webhooks/${stored!.id}`)).body.previousSecretUntil as string;
  assert.ok(new Date(until).getTime() > Date.now() + 23 * 3600_000, until);
  // A second rotation in the overlap would retire the secret the receiver is switching from.
  await card.locator('[data-testid="rotate-secret"][disabled]').waitFor();
  await card.getByTestId('send-test').click();
  const [, , third] = await rx.waitFor(3);
  for (const s of [secret, newSecret]) new Webhook(s).verify(third!.body, third!.headers as Record<string, string>);
  await rotated.getByTestId('secret-dismiss').click();
  secret = newSecret;
});

test('workflows: onboarding turned on for a team; a person provisioned through SCIM gets a ticket whose checklist an agent ticks', { timeout: 120_000 }, async () => {
  await admin.getByTestId('admin-tab-workflows').click();
  await admin.waitForURL(adminUrl('workflows'));
  const onboarding = admin.getByTestId('template-onboarding');
  await onboarding.waitFor();
  assert.equal((await onboarding.getByTestId('template-state').innerText()).trim(), 'Not turned on');
  assert.match(await onboarding.innerText(), /When a person is provisioned/);
  assert.equal(await onboarding.getByTestId('template-checklist').locator('li').count(), 4);
  assert.match(await onboarding.innerText(), /workflow\.manager_notification/);
  await admin.getByTestId('rules-section').getByText('No workflows yet').waitFor();

  await onboarding.getByTestId('template-team').selectOption({ label: 'Service Desk' });
  await onboarding.getByTestId('template-enable').click();
  await admin.locator('[data-testid="template-onboarding"][data-enabled="true"]').waitFor();
  assert.equal((await onboarding.getByTestId('template-state').innerText()).trim(), 'On');
  const ruleRow = admin.locator('[data-testid="rule-row"][data-name="Onboarding"]');
  await ruleRow.waitFor();
  assert.equal(await ruleRow.getByTestId('rule-enabled').isChecked(), true);
  assert.match(await ruleRow.getByTestId('rule-actions').innerText(), /Ticket “Onboarding: \{\{name\}\}” in Service Desk, checklist of 4[\s\S]*Notify the manager/);
  const rules = (await api.get('/api/v1/workflows')).body.items as { template: string; enabled: boolean; actions: { type: string; teamId?: string }[] }[];
  const rule = rules.find((r) => r.template === 'onboarding')!;
  assert.equal(rule.enabled, true);
  assert.equal(rule.actions.find((a) => a.type === 'ticket')!.teamId, teamId, 'routed to the team chosen on the page');

  // The directory provisions a person: the endpoint hears of it, and the workflow raises the ticket.
  const scim = await scimClient(t, tt.tenant);
  const created = await scim.call('POST', 'Users', newUser(`nina.new@${slug}.test`, { displayName: 'Nina New' }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const provisioned = await eventually(async () => rx.received.find((m) => JSON.parse(m.body).type === 'user.provisioned'), 10_000, 'the user.provisioned message');
  assert.equal((new Webhook(secret).verify(provisioned.body, provisioned.headers as Record<string, string>) as { data: { user: { email: string } } }).data.user.email, `nina.new@${slug}.test`);

  const run = admin.locator(`[data-testid="run-row"][data-person="nina.new@${slug}.test"]`);
  await eventually(async () => {
    await admin.getByTestId('runs-refresh').click();
    await admin.locator('[data-testid="runs-refresh"]:not([disabled])').waitFor();
    return (await run.count()) > 0;
  }, 15_000, 'the run under Recent runs');
  assert.equal((await run.getByTestId('run-outcome').innerText()).trim(), 'Done');
  assert.equal((await run.getByTestId('run-rule').innerText()).trim(), 'Onboarding');
  onboardingRef = (await run.getByTestId('run-ticket').innerText()).trim();
  assert.match(onboardingRef, /^REQ\d+$/);
  assert.equal(await run.getByTestId('run-ticket').getAttribute('href'), `/t/${slug}/agent/tickets/${onboardingRef}`);
  await docShot(admin, 'workflows');

  // The agent opens the ticket from the team queue's link and ticks the first task.
  const agentPage = await openPage(browser);
  await passwordSignIn(agentPage, t.url, slug, agent.email, AGENT_PASSWORD);
  await agentPage.goto(`${t.url}/t/${slug}/agent/tickets/${onboardingRef}`);
  assert.equal((await agentPage.getByTestId('ticket-title-text').innerText()).trim(), 'Onboarding: Nina New');
  const checklist = agentPage.getByTestId('checklist');
  await checklist.waitFor();
  const tasks = checklist.getByTestId('task');
  assert.equal(await tasks.count(), 4);
  assert.equal((await checklist.getByTestId('checklist-progress').innerText()).trim(), '0 of 4 done');
  assert.equal((await tasks.nth(0).innerText()).trim(), 'Prepare and ship a laptop');
  const first = tasks.nth(0);
  const firstId = (await first.getAttribute('data-task-id'))!;
  await first.getByTestId('task-checkbox').check();
  await agentPage.locator(`[data-testid="task"][data-task-id="${firstId}"][data-done="true"]`).waitFor();
  assert.match(await first.getByTestId('task-done-by').innerText(), /^Ticked by Alex Agent · /);
  assert.equal((await checklist.getByTestId('checklist-progress').innerText()).trim(), '1 of 4 done');
  const [storedTask] = await t.db.query<{ done_at: Date | null; done_by: string | null }>('SELECT done_at, done_by FROM ticket_tasks WHERE id = $1', [firstId]);
  assert.ok(storedTask!.done_at, 'the tick is stored');
  assert.equal(storedTask!.done_by, agent.id);

  // A refusal: the box goes back to what the server holds, with the reason beside it.
  const second = tasks.nth(1);
  const secondId = (await second.getAttribute('data-task-id'))!;
  await agentPage.route(`**/api/v1/tickets/*/tasks/${secondId}`, (route) =>
    route.fulfill({ status: 403, contentType: 'application/problem+json', body: JSON.stringify({ type: 'urn:keydesk:problem:forbidden', title: 'Forbidden', status: 403, code: 'forbidden', detail: 'Only agents working the ticket tick off its tasks.' }) }),
  );
  await second.getByTestId('task-checkbox').click();
  await second.getByTestId('task-error').waitFor();
  assert.equal((await second.getByTestId('task-error').innerText()).trim(), 'Only agents working the ticket tick off its tasks.');
  await agentPage.locator(`[data-testid="task"][data-task-id="${secondId}"] [data-testid="task-checkbox"]:not([disabled])`).waitFor();
  assert.equal(await second.getByTestId('task-checkbox').isChecked(), false, 'the box shows the real state after a refusal');
  assert.equal((await t.db.query<{ done_at: Date | null }>('SELECT done_at FROM ticket_tasks WHERE id = $1', [secondId]))[0]!.done_at, null);
  await agentPage.unroute(`**/api/v1/tickets/*/tasks/${secondId}`);

  // A ticket without tasks has no checklist section.
  const plain = await api.post('/api/v1/tickets', { type: 'incident', title: 'Printer jammed' });
  assert.equal(plain.status, 201);
  const tasksAnswered = agentPage.waitForResponse((r) => r.url().endsWith(`/api/v1/tickets/${plain.body.id}/tasks`));
  await agentPage.goto(`${t.url}/t/${slug}/agent/tickets/${plain.body.ref}`);
  await agentPage.getByTestId('ticket-title-text').waitFor();
  const answer = await tasksAnswered;
  assert.deepEqual(await answer.json(), { items: [] });
  assert.equal(await agentPage.getByTestId('checklist').count(), 0, 'no tasks, no checklist');
});

test('background jobs: a delivery that died shows with its error and is retried from the page', { timeout: 120_000 }, async () => {
  // A receiver that fails once; a test message gets one attempt, so it dies at the first 500.
  const failing = await startReceiver([500]);
  try {
    const { endpoint } = (await api.post('/api/v1/webhooks', { url: failing.url, events: ['ticket.created'], description: 'Flaky' })).body;
    assert.equal((await api.post(`/api/v1/webhooks/${endpoint.id}/test`, {})).status, 202);
    await failing.waitFor(1);
    const [dead] = await eventually(
      async () => {
        const rows = await t.db.query<{ id: string; status: string }>(`SELECT id, status FROM jobs WHERE payload ->> 'endpointId' = $1 AND status = 'dead'`, [endpoint.id]);
        return rows.length ? rows : null;
      },
      10_000,
      'the dead job',
    );

    await admin.getByTestId('admin-tab-jobs').click();
    await admin.waitForURL(adminUrl('jobs'));
    const deadFilter = admin.getByTestId('job-filter-dead');
    await admin.locator('[data-testid="job-filter-dead"] [data-testid="job-count"]:text-is("1")').waitFor();
    await deadFilter.click();
    assert.equal(await deadFilter.getAttribute('aria-pressed'), 'true');
    const row = admin.locator(`[data-testid="job-row"][data-id="${dead!.id}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'dead');
    assert.equal((await row.getByTestId('job-state').innerText()).trim(), 'Dead');
    // The endpoint shows as its site: a receiver's URL may carry a token in its path.
    assert.equal((await row.getByTestId('job-summary').innerText()).trim(), `webhook.test → ${new URL(failing.url).origin}/…`);
    assert.equal((await row.getByTestId('job-attempts').innerText()).replace('Attempts', '').trim(), '1 of 1');
    assert.equal((await row.getByTestId('job-error').innerText()).trim(), 'The receiver answered 500.');
    assert.equal(await admin.locator('[data-testid="job-row"]').count(), 1, 'only dead jobs are listed');
    await docShot(admin, 'jobs');

    await row.getByTestId('job-retry').click();
    await row.waitFor({ state: 'detached' });
    await admin.locator('[data-testid="job-filter-dead"] [data-testid="job-count"]:text-is("0")').waitFor();
    await failing.waitFor(2);
    assert.equal(failing.received[1]!.headers['webhook-id'], failing.received[0]!.headers['webhook-id'], 'the same message, sent again');
    await eventually(async () => (await t.db.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [dead!.id]))[0]?.status === 'done', 10_000, 'the retried job to be done');
    const audit = (await api.get('/api/v1/audit?action=job.retried')).body.items as { targetId: string }[];
    assert.equal(audit[0]?.targetId, dead!.id, 'the retry is audited');
  } finally {
    await failing.close();
  }
});
