import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ActorCtx, Tenant } from '../context.js';
import type { Db } from '../db/db.js';
import { loadActor } from '../identity/actor.js';
import { randomToken } from '../identity/secrets.js';
import type { Role } from '../identity/roles.js';
import { createUser } from '../identity/users.js';
import { decideApproval } from '../itsm/approvals.js';
import { createTeam } from '../itsm/teams.js';
import { addComment, changeStatus, createTicket, updateTicket, type NewTicket } from '../itsm/tickets.js';
import { createTenant, findTenantBySlug } from '../tenancy/tenants.js';

export const DEMO_SLUG = 'demo';

const PEOPLE: { key: string; email: string; name: string; roles: Role[] }[] = [
  { key: 'admin', email: 'admin@demo.example', name: 'Ada Admin', roles: ['requester', 'admin'] },
  { key: 'alex', email: 'alex.agent@demo.example', name: 'Alex Agent', roles: ['requester', 'agent'] },
  { key: 'sam', email: 'sam.agent@demo.example', name: 'Sam Support', roles: ['requester', 'agent'] },
  { key: 'chris', email: 'chris.change@demo.example', name: 'Chris Change', roles: ['requester', 'agent', 'change_manager'] },
  { key: 'robin', email: 'robin@demo.example', name: 'Robin Requester', roles: ['requester'] },
  { key: 'jamie', email: 'jamie@demo.example', name: 'Jamie Jones', roles: ['requester'] },
  { key: 'taylor', email: 'taylor@demo.example', name: 'Taylor Tran', roles: ['requester'] },
];

export interface DemoCredentials {
  url: string;
  password: string;
  accounts: { email: string; roles: Role[] }[];
}

/**
 * Creates the `demo` tenant once, with people, teams and a few dozen tickets in every state. The
 * shared demo password is random per installation and kept (mode 600) in the data folder.
 */
export async function ensureDemoTenant(db: Db, dataDir: string, publicUrl: string): Promise<DemoCredentials> {
  const file = path.join(dataDir, 'demo-credentials.json');
  const accounts = PEOPLE.map((p) => ({ email: p.email, roles: p.roles }));
  const url = `${publicUrl}/t/${DEMO_SLUG}/`;
  if ((await findTenantBySlug(db, DEMO_SLUG)) && existsSync(file)) {
    return { url, accounts, password: (JSON.parse(readFileSync(file, 'utf8')) as { password: string }).password };
  }
  if (await findTenantBySlug(db, DEMO_SLUG)) {
    throw new Error(`A "${DEMO_SLUG}" tenant exists but ${file} is missing; sign in with the accounts you made, or use a fresh KEYDESK_DATA_DIR.`);
  }
  const password = randomToken(12);
  await seedDemo(db, password);
  writeFileSync(file, JSON.stringify({ password }, null, 2) + '\n', { mode: 0o600 });
  return { url, accounts, password };
}

export async function seedDemo(db: Db, password: string): Promise<Tenant> {
  const { tenant, admin } = await createTenant(db, { slug: DEMO_SLUG, name: 'Demo Company', adminEmail: PEOPLE[0]!.email, adminName: PEOPLE[0]!.name, adminPassword: password });
  await db.query('UPDATE users SET password_change_required = false WHERE tenant_id = $1', [tenant.id]);
  const adminCtx = (await loadActor(db, tenant, admin.id))!.ctx;
  const ids: Record<string, string> = { admin: admin.id };
  for (const p of PEOPLE.slice(1)) {
    const u = await db.transaction((tx) => createUser(adminCtx, tx, { email: p.email, displayName: p.name, password, roles: p.roles, passwordChangeRequired: false }));
    ids[p.key] = u.id;
  }
  const desk = await createTeam(adminCtx, { name: 'Service Desk', memberIds: [ids.alex!, ids.sam!] });
  const network = await createTeam(adminCtx, { name: 'Network', memberIds: [ids.sam!] });
  await createTeam(adminCtx, { name: 'Change Advisory Board', memberIds: [ids.chris!] });

  const as = async (key: string): Promise<ActorCtx> => (await loadActor(db, tenant, ids[key]!))!.ctx;
  const ctx = { robin: await as('robin'), jamie: await as('jamie'), taylor: await as('taylor'), alex: await as('alex'), sam: await as('sam'), chris: await as('chris') };
  const requesters = [ctx.robin, ctx.jamie, ctx.taylor];

  const incidents: [string, string, number, number, string][] = [
    ['Laptop will not boot after update', 'Black screen after the overnight update. Power light is on.', 2, 2, 'Hardware'],
    ['Cannot connect to VPN from home', 'The VPN client says "authentication failed" since this morning.', 2, 1, 'Network'],
    ['Outlook keeps asking for password', 'Prompted every few minutes, even after entering it.', 3, 2, 'Email'],
    ['Printer on floor 3 jams constantly', 'The HP on floor 3 jams on every second page.', 3, 3, 'Hardware'],
    ['Wi-Fi drops in meeting room B', 'Connection drops every 10 minutes in room B.', 2, 2, 'Network'],
    ['Teams calls have no audio', 'Others cannot hear me in Teams calls.', 3, 2, 'Collaboration'],
    ['Shared drive is read-only', 'I cannot save to the Finance shared drive.', 2, 2, 'Storage'],
    ['Website checkout page down', 'Customers report errors at checkout.', 1, 1, 'Applications'],
    ['Monitor flickering', 'Second monitor flickers on and off.', 3, 3, 'Hardware'],
    ['Cannot open PDF attachments', 'PDFs from email open as blank pages.', 3, 3, 'Applications'],
    ['Phone not syncing mail', 'Mobile mail stopped syncing yesterday.', 3, 2, 'Email'],
    ['Slow network in warehouse', 'Scanners time out in the warehouse.', 2, 2, 'Network'],
    ['Password reset email not arriving', 'Self-service reset mail never arrives.', 3, 2, 'Identity'],
    ['Keyboard missing keys', 'Two keys came off my keyboard.', 3, 3, 'Hardware'],
  ];
  const requests: [string, string][] = [
    ['New laptop for starter', 'A laptop for a new starter in Marketing next Monday.'],
    ['Access to the CRM', 'Please grant me access to the CRM for the sales pilot.'],
    ['Second monitor', 'Requesting a second monitor for my desk.'],
    ['Software: Visio licence', 'Need Visio for process diagrams.'],
    ['Add me to the Finance distribution list', 'I joined Finance this week.'],
    ['Mobile phone for on-call', 'On-call rota needs a company phone.'],
    ['Guest Wi-Fi for visitors', 'Guest Wi-Fi codes for a workshop on Thursday.'],
    ['New shared mailbox', 'A shared mailbox for the support team.'],
    ['Headset replacement', 'My headset microphone is broken.'],
    ['VPN access for contractor', 'Contractor needs VPN for 3 months.'],
  ];
  const changes: [string, string][] = [
    ['Upgrade core switch firmware', 'Apply vendor firmware 9.2 to both core switches in the Saturday window.'],
    ['Rotate SAML signing certificate', 'Roll over the IdP signing certificate before expiry.'],
    ['Migrate file server to new storage', 'Move the file server to the new SAN.'],
    ['Patch database servers', 'Monthly security patches for the SQL cluster.'],
    ['Enable MFA for all staff', 'Conditional access policy requiring MFA.'],
    ['Replace office firewall', 'Swap the branch firewall for the new model.'],
  ];

  let i = 0;
  const raise = (who: ActorCtx, t: NewTicket) => createTicket(who, t);
  for (const [title, description, impact, urgency, category] of incidents) {
    const t = await raise(requesters[i % 3]!, { type: 'incident', title, description, impact, urgency, category });
    const step = i % 6;
    const agent = i % 2 ? ctx.alex : ctx.sam;
    if (step >= 1) await updateTicket(agent, t.id, { assigneeId: agent.actor.userId, teamId: category === 'Network' ? network.id : desk.id });
    if (step >= 2) {
      await changeStatus(agent, t.id, 'in_progress');
      await addComment(agent, t.id, { body: 'Looking into this now.', visibility: 'public' });
      await addComment(agent, t.id, { body: 'Checked the logs; likely related to last night\'s change.', visibility: 'internal' });
    }
    if (step === 3) await changeStatus(agent, t.id, 'on_hold');
    if (step >= 4) await changeStatus(agent, t.id, 'resolved', { resolution: 'Fixed and confirmed with the requester.' });
    if (step === 5) await changeStatus(agent, t.id, 'closed');
    i++;
  }
  for (const [title, description] of requests) {
    const t = await raise(requesters[i % 3]!, { type: 'request', title, description, impact: 3, urgency: (i % 3) + 1, category: 'Service request' });
    const step = i % 4;
    if (step >= 1) await updateTicket(ctx.alex, t.id, { assigneeId: ctx.alex.actor.userId, teamId: desk.id });
    if (step >= 2) await changeStatus(ctx.alex, t.id, 'in_fulfilment');
    if (step >= 3) await changeStatus(ctx.alex, t.id, 'fulfilled', { resolution: 'Done: delivered as requested.' });
    i++;
  }
  let c = 0;
  for (const [title, description] of changes) {
    const t = await raise(ctx.sam, { type: 'change', title, description, impact: 2, urgency: 2, category: 'Infrastructure' });
    if (c >= 1) await changeStatus(ctx.sam, t.id, 'assessment');
    if (c >= 2) await changeStatus(ctx.sam, t.id, 'awaiting_approval');
    if (c === 3) await decideApproval(ctx.chris, t.id, { decision: 'rejected', comment: 'Needs a rollback plan.' });
    if (c >= 4) await decideApproval(ctx.chris, t.id, { decision: 'approved', comment: 'Approved for the weekend window.' });
    if (c >= 5) await changeStatus(ctx.sam, t.id, 'implementing');
    c++;
  }
  return tenant;
}
