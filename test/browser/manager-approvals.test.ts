/**
 * End to end in a real browser (issue 11): an administrator adds a request category that needs the
 * manager's approval; a requester whose manager SCIM named raises a request in it from the portal;
 * the manager, a requester with no role of their own, finds it in Approvals and approves it; the
 * agent sees the decision on the ticket; when the agent is deactivated by SCIM, the ticket's
 * timeline says in words that it went back to the team's queue, and why.
 *
 * Needs the built web app (`npm run build:web`) and Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, repoRoot } from '../helpers/browser.js';
import { startApp, type TestApp, type TestTenant } from '../helpers/app.js';
import { ENTERPRISE, patch, scimClient, type ScimClient } from '../helpers/scim.js';
import { createUser } from '../../src/identity/users.js';
import type { Role } from '../../src/identity/roles.js';

const shots = path.join(repoRoot, 'test-results');
const PASSWORD = 'browser-test-password-42';

let t: TestApp;
let tt: TestTenant;
let slug: string;
let browser: Browser;
let scim: ScimClient;
const contexts: BrowserContext[] = [];
let admin: { id: string; email: string };
let manager: { id: string; email: string };
let report: { id: string; email: string };
let agent: { id: string; email: string };
let ref = '';

async function person(email: string, displayName: string, roles: Role[]) {
  const u = await t.db.transaction((tx) =>
    createUser({ db: t.db, tenant: tt.tenant, actor: null }, tx, { email, displayName, password: PASSWORD, roles, passwordChangeRequired: false }),
  );
  return { id: u.id, email: u.email };
}

async function signedIn(email: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${t.url}/t/${slug}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('user-name').waitFor();
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

before(async () => {
  mkdirSync(shots, { recursive: true });
  t = await startApp();
  tt = await t.tenant();
  slug = tt.tenant.slug;
  admin = await person(`ada@${slug}.test`, 'Ada Admin', ['requester', 'admin']);
  manager = await person(`morgan@${slug}.test`, 'Morgan Manager', ['requester']);
  report = await person(`riley@${slug}.test`, 'Riley Report', ['requester']);
  agent = await person(`alex@${slug}.test`, 'Alex Agent', ['requester', 'agent']);
  scim = await scimClient(t, tt.tenant);
  // As Entra says who someone's manager is: the manager's SCIM id.
  const set = await scim.call('PATCH', `/Users/${report.id}`, patch({ op: 'add', path: `${ENTERPRISE}:manager`, value: manager.id }));
  assert.equal(set.status, 200);
  browser = await launchChromium();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await t?.close();
});

test('an administrator adds a category that needs the manager’s approval', { timeout: 90_000 }, async () => {
  const page = await signedIn(admin.email);
  await page.goto(`${t.url}/t/${slug}/admin/teams`);
  await page.getByTestId('new-team-name').fill('Workplace');
  await page.getByTestId('new-team-submit').click();
  await page.getByTestId('team-card').waitFor();
  await page.getByTestId('admin-tab-categories').click();
  await page.getByTestId('cat-new-name').fill('New laptop');
  await page.getByTestId('cat-new-team').selectOption({ label: 'Workplace' });
  await page.getByTestId('cat-new-description').fill('A first laptop, or a replacement for one that is old or broken.');
  await page.getByTestId('cat-new-approval').check();
  await page.getByTestId('cat-new-submit').click();
  const card = page.getByTestId('category-card');
  await card.waitFor();
  assert.equal(await card.getAttribute('data-name'), 'New laptop');
  assert.match((await card.textContent()) ?? '', /Fulfilled by Workplace.*needs the manager’s approval/);
  await shot(page, 'admin-request-categories');
});

test('the requester picks it in the portal and is told their manager approves first', { timeout: 90_000 }, async () => {
  const page = await signedIn(report.email);
  assert.equal(await page.getByTestId('nav-approvals').count(), 0, 'nothing waits for Riley: no Approvals link');
  await page.goto(`${t.url}/t/${slug}/portal/new?type=request`);
  await page.getByTestId('ticket-category').selectOption({ label: 'New laptop (manager approval)' });
  await page.getByTestId('category-approval-hint').waitFor();
  await page.getByTestId('ticket-title').fill('A laptop for the new design role');
  await page.getByTestId('ticket-description').fill('The current one cannot run the design tools.');
  await page.getByTestId('ticket-submit').click();
  await page.getByTestId('awaiting-manager').waitFor();
  assert.match((await page.getByTestId('awaiting-manager').textContent()) ?? '', /Morgan Manager/);
  assert.equal(await page.getByTestId('ticket-status').textContent(), 'Awaiting approval');
  ref = (await page.getByTestId('ticket-ref').textContent()) ?? '';
  assert.match(ref, /^REQ\d{6}$/);
  await shot(page, 'portal-request-awaiting-manager');
});

test('the manager finds it under Approvals and approves it with a reason', { timeout: 90_000 }, async () => {
  const page = await signedIn(manager.email);
  await page.getByTestId('nav-approvals').click();
  const card = page.getByTestId('approval-card');
  await card.waitFor();
  assert.equal(await card.getAttribute('data-ref'), ref);
  assert.match((await card.textContent()) ?? '', /Raised by Riley Report.*New laptop.*fulfilled by Workplace/);
  await shot(page, 'approvals-manager-inbox');
  await page.getByTestId(`approve-${ref}`).click();
  await page.getByTestId('approval-comment').fill('Yes: the design tools need it.');
  await page.getByTestId('approval-submit').click();
  await page.getByText(`${ref} approved.`).waitFor();
  assert.equal(await page.getByTestId('approval-card').count(), 0);
});

test('the agent sees the decision; when SCIM deactivates the agent, the timeline says where the ticket went and why', { timeout: 90_000 }, async () => {
  const page = await signedIn(agent.email);
  await page.goto(`${t.url}/t/${slug}/agent/tickets/${ref}`);
  await page.getByTestId('assign-to-me').click();
  await page.getByTestId('ticket-approver').waitFor();
  assert.match((await page.getByTestId('ticket-approver').textContent()) ?? '', /Morgan Manager/);
  const approval = page.locator('[data-testid="event"][data-kind="approval"]');
  await approval.waitFor();
  assert.match((await approval.textContent()) ?? '', /Morgan Manager approved the request: “Yes: the design tools need it\.”/);
  assert.match((await page.locator('[data-testid="event"][data-kind="approval_requested"]').textContent()) ?? '', /Keydesk asked Morgan Manager, the requester’s manager, to approve the request/);

  assert.equal((await scim.call('PATCH', `/Users/${agent.id}`, patch({ op: 'replace', path: 'active', value: false }))).status, 200);
  // The agent's session ended with the account: a colleague reads the ticket now.
  const lead = await person(`lee@${slug}.test`, 'Lee Lead', ['requester', 'agent']);
  const other = await signedIn(lead.email);
  await other.goto(`${t.url}/t/${slug}/agent/tickets/${ref}`);
  const returned = other.locator('[data-testid="event"][data-kind="returned_to_queue"]');
  await returned.waitFor();
  assert.match((await returned.textContent()) ?? '', /Keydesk returned the ticket to the Workplace queue: Alex Agent was deactivated by SCIM\s*Staff only/);
  assert.equal(await other.getByTestId('assignee-select').inputValue(), '');
  // The unassignment recorded with it is not said twice to the desk: only Alex taking the ticket shows.
  assert.equal(await other.locator('[data-testid="event"][data-kind="assigned"]').count(), 1);
  await shot(other, 'agent-ticket-returned-to-queue');
});
