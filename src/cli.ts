#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase } from './db/db.js';
import { migrate } from './db/migrate.js';
import { print, UsageError, withDb } from './cli/common.js';
import { auditCommand } from './cli/audit.js';
import { webhookCommand } from './cli/webhook.js';
import { workflowCommand } from './cli/workflow.js';
import { ensureDemoTenant } from './demo/seed.js';
import { AppError, NotFound } from './http/errors.js';
import { listUsers, recoverAdmin } from './identity/users.js';
import { connectionView, createSamlConnection, listConnections } from './identity/connections.js';
import { createOidcConnection } from './identity/oidc/connection.js';
import { rpUrls } from './identity/oidc/view.js';
import { addRoleRule, listRoleRules, type RuleRole } from './identity/provisioning/role-rules.js';
import { SecretBox } from './identity/secrets.js';
import { createTenant, findTenantBySlug } from './tenancy/tenants.js';
import { createCredential, listCredentials, removeCredential } from './scim/credentials.js';

const USAGE = `Usage: keydesk <command>

  serve [--demo]                     start the server (--demo: create the demo tenant if missing)
  migrate                            apply database migrations
  tenant create <slug> --name N --admin-email E [--json]
                                     create a tenant and its first admin (prints a one-time password)
  user list <tenant> [--json]        list a tenant's people
  user recover <tenant> --email E [--json]
                                     the way back in: makes E an active break-glass administrator
                                     with a new one-time password (audited); for a tenant that lost
                                     its administrators or its break-glass password
  saml connect <tenant> <conn> (--metadata-file F | --metadata-url U | --entity-id E --sso-url U --cert F [--slo-url U])
               [--name N] [--publish] [--json]
                                     connect a SAML identity provider; prints the values to paste into it.
                                     It goes live when a test sign-in passes; --publish makes it live at once
  oidc connect <tenant> <conn> --issuer URL --client-id ID (--client-secret S | --private-key-file F)
               [--allowed-tenants TID,TID] [--secret-expires DATE] [--name N] [--publish] [--json]
                                     connect an OpenID Connect provider (reads its discovery document);
                                     prints the redirect URI and back-channel logout URI to register there
  role-rule add <tenant> --group G --role agent|change_manager|admin [--connection C] [--precedence N] [--json]
                                     members of group G (Entra object id, Okta name, or an app role value)
                                     get the role at every sign-in and SCIM change; --connection: only that
                                     connection's sign-ins count
  role-rule list <tenant> [--json]   the tenant's group → role rules
  scim token create <tenant> [--client] [--name N] [--days D] [--json]
                                     generate a SCIM secret token (or, with --client, an OAuth client); shown once
  scim token list <tenant> [--json]  the tenant's SCIM tokens and clients, their state and last use
  scim token revoke <tenant> <id>    remove a SCIM token or client; it stops working at once
  webhook add <tenant> --url U --events E[,E] [--json]
                                     add a webhook endpoint for these events (e.g. user.provisioned,
                                     ticket.created, audit.event); prints its id and signing secret once
  webhook list <tenant> [--json]     the tenant's webhook endpoints and their last delivery
  workflow enable <tenant> onboarding|offboarding [--team NAME] [--json]
                                     turn on a ready-made workflow: a ticket with a checklist when a
                                     person is provisioned (onboarding) or deactivated (offboarding)
  workflow list <tenant> [--json]    the tenant's workflow rules
  audit export <tenant> --format csv|jsonl [--since T]
                                     the tenant's audit log, oldest first, on standard output
  audit verify <tenant> [--json]     check the audit log's hash chain and signed checkpoints: exit 0
                                     and how many events were checked, or exit 1 naming the first
                                     altered, removed or inserted event

Environment: PORT, PUBLIC_URL, DATABASE_URL (unset: embedded database in KEYDESK_DATA_DIR), KEYDESK_SECRET,
KEYDESK_WEBHOOK_ALLOW_PRIVATE (webhooks may call private and loopback addresses), KEYDESK_WORKER (false: no job worker)`;

async function serve(config: Config, demo: boolean) {
  const db = await openDatabase(config);
  await migrate(db);
  const creds = demo ? await ensureDemoTenant(db, config.dataDir, config.publicUrl) : null;
  // In the demo, one log line per request would scroll the banner (URL, accounts, password) away:
  // only warnings and errors, unless LOG_LEVEL asks for more.
  const quiet = demo && !process.env.LOG_LEVEL;
  const app = await buildApp({ config: quiet ? { ...config, logLevel: 'warn' } : config, db });
  app.addHook('onClose', async () => db.close());
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // Stop accepting, let in-flight requests finish, then close the database.
    app.close().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  const lines = [`\nKeydesk is running at ${config.publicUrl}  (database: ${config.databaseUrl ? 'PostgreSQL' : `embedded, ${config.dataDir}`})`];
  if (creds) {
    lines.push(`Demo workspace: ${creds.url}`, `Sign in with any of these accounts and the password ${creds.password}`);
    for (const a of creds.accounts) lines.push(`  ${a.email.padEnd(28)} ${a.roles.filter((r) => r !== 'requester').join(', ') || 'requester'}`);
  }
  lines.push(`API reference: ${config.publicUrl}/docs`);
  if (quiet) lines.push('Request logs are off in the demo; start with LOG_LEVEL=info to see them.');
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');
}

async function main(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      demo: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      publish: { type: 'boolean', default: false },
      name: { type: 'string' },
      'admin-email': { type: 'string' },
      email: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      'metadata-file': { type: 'string' },
      'metadata-url': { type: 'string' },
      'entity-id': { type: 'string' },
      'sso-url': { type: 'string' },
      'slo-url': { type: 'string' },
      cert: { type: 'string', multiple: true },
      client: { type: 'boolean', default: false },
      days: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'private-key-file': { type: 'string' },
      'allowed-tenants': { type: 'string' },
      'secret-expires': { type: 'string' },
      group: { type: 'string' },
      role: { type: 'string' },
      connection: { type: 'string' },
      precedence: { type: 'string' },
      url: { type: 'string' },
      events: { type: 'string' },
      team: { type: 'string' },
      format: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
    },
  });
  const [cmd, sub, arg] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const config = loadConfig();
  if (cmd === 'serve') return serve(config, values.demo);
  if (cmd === 'migrate') {
    const applied = await withDb(config, migrate, false);
    return print(values.json, { applied }, applied.length ? `Applied migrations: ${applied.join(', ')}` : 'The database is up to date.');
  }
  if (cmd === 'tenant' && sub === 'create') {
    if (!arg || !values.name || !values['admin-email']) throw new UsageError('tenant create needs <slug> --name and --admin-email');
    const created = await withDb(config, (db) => createTenant(db, { slug: arg, name: values.name!, adminEmail: values['admin-email']! }));
    return print(
      values.json,
      created,
      `Created tenant ${created.tenant.slug} (${created.tenant.name}).\nSign in at ${config.publicUrl}/t/${created.tenant.slug}/login as ${created.admin.email} with the one-time password ${created.admin.oneTimePassword}`,
    );
  }
  if (cmd === 'user' && sub === 'list') {
    if (!arg) throw new UsageError('user list needs <tenant>');
    const users = await withDb(config, async (db) => {
      const tenant = await findTenantBySlug(db, arg);
      if (!tenant) throw new UsageError(`No tenant "${arg}".`);
      return listUsers(db, tenant.id, { limit: 10_000 });
    });
    return print(values.json, { items: users }, users.map((u) => `${u.email.padEnd(32)} ${u.status.padEnd(9)} ${u.roles.join(',')}`).join('\n'));
  }
  if (cmd === 'user' && sub === 'recover') {
    if (!arg || !values.email) throw new UsageError('user recover needs <tenant> --email E');
    const recovered = await withDb(config, async (db) => {
      const tenant = await findTenantBySlug(db, arg);
      if (!tenant) throw new UsageError(`No tenant "${arg}".`);
      return recoverAdmin({ db, tenant, actor: null }, values.email!).catch((err: unknown) => {
        if (err instanceof NotFound) throw new UsageError(`Tenant "${arg}" has no account with the email ${values.email}.`);
        throw err;
      });
    });
    return print(
      values.json,
      { user: recovered.user, oneTimePassword: recovered.oneTimePassword },
      `${recovered.user.email} is an active break-glass administrator of ${arg} again.\nSign in at ${config.publicUrl}/t/${arg}/login with the one-time password ${recovered.oneTimePassword} (to be changed at sign-in).`,
    );
  }
  if (cmd === 'oidc' && sub === 'connect') {
    const conn = positionals[3];
    if (!arg || !conn || !values.issuer || !values['client-id']) throw new UsageError('oidc connect needs <tenant> <conn> --issuer URL --client-id ID');
    if (!values['client-secret'] === !values['private-key-file']) throw new UsageError('oidc connect needs --client-secret S or --private-key-file F (one of them)');
    const privateKeyPem = values['private-key-file'] ? readFileSync(values['private-key-file'], 'utf8') : undefined;
    const view = await withDb(config, async (db) => {
      const tenant = await findTenantBySlug(db, arg);
      if (!tenant) throw new UsageError(`No tenant "${arg}".`);
      const c = await createOidcConnection({ db, tenant, actor: null }, new SecretBox(config.secret, 'oidc'), {
        slug: conn,
        displayName: values.name,
        issuer: values.issuer!,
        clientId: values['client-id']!,
        ...(privateKeyPem ? { privateKeyPem } : { clientSecret: values['client-secret']! }),
        secretExpiresAt: values['secret-expires'] ?? null,
        allowedTenants: values['allowed-tenants']?.split(',').map((x) => x.trim()).filter(Boolean),
        publish: values.publish,
        redirectUri: rpUrls(config.publicUrl, tenant.slug, conn.toLowerCase()).redirectUri,
      });
      return connectionView(c, config.publicUrl, tenant.slug, await listConnections(db, tenant.id));
    });
    const oidc = 'oidc' in view ? view.oidc : null;
    return print(
      values.json,
      view,
      [
        `Connected ${view.slug} (${oidc?.issuer}). Register at the provider:`,
        `  Redirect URI               ${oidc?.redirectUri}`,
        `  Back-channel logout URI    ${oidc?.backchannelLogoutUri}`,
        `  Front-channel / sign-out   ${oidc?.postLogoutRedirectUri} (post-logout redirect URI)`,
        oidc?.multiTenant ? `Multi-tenant issuer: Entra tenants allowed to sign in: ${oidc.allowedTenants.join(', ')}` : '',
        oidc?.clientCertificate
          ? `Client authentication: private_key_jwt. Upload this certificate at the provider (Entra: Certificates & secrets › Upload certificate; thumbprint ${oidc.clientCertificate.thumbprintSha1}):\n${oidc.clientCertificate.pem.trim()}`
          : '',
        view.live
          ? 'The connection is live: its button is on the sign-in page.'
          : 'The connection is being tested: run Test sign-in under Single sign-on (a passed test publishes it), or publish it there.',
        ...view.warnings.map((w) => `Warning: ${w}`),
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }
  if (cmd === 'role-rule' && (sub === 'add' || sub === 'list')) {
    if (!arg) throw new UsageError(`role-rule ${sub} needs <tenant>`);
    if (sub === 'add') {
      if (!values.group || !values.role) throw new UsageError('role-rule add needs --group G --role agent|change_manager|admin');
      if (!['agent', 'change_manager', 'admin'].includes(values.role)) throw new UsageError(`--role is agent, change_manager or admin, not "${values.role}".`);
      const precedence = values.precedence !== undefined ? Number(values.precedence) : undefined;
      if (precedence !== undefined && (!Number.isInteger(precedence) || precedence < 0 || precedence > 100000)) throw new UsageError('--precedence is a whole number from 0 to 100000.');
      const rule = await withDb(config, async (db) => {
        const tenant = await findTenantBySlug(db, arg);
        if (!tenant) throw new UsageError(`No tenant "${arg}".`);
        return addRoleRule({ db, tenant, actor: null }, { groupRef: values.group!, role: values.role as RuleRole, precedence, connection: values.connection ?? null }).catch((err: unknown) => {
          if (err instanceof NotFound) throw new UsageError(`Tenant "${arg}" has no connection "${values.connection}".`);
          throw err;
        });
      });
      return print(values.json, rule, `Members of "${rule.groupRef}" get the ${rule.role} role${rule.connection ? ` through ${rule.connection}` : ''} (precedence ${rule.precedence}).`);
    }
    const rules = await withDb(config, async (db) => {
      const tenant = await findTenantBySlug(db, arg);
      if (!tenant) throw new UsageError(`No tenant "${arg}".`);
      return listRoleRules({ db, tenant, actor: null });
    });
    return print(values.json, { items: rules }, rules.map((r) => `${r.groupRef.padEnd(40)} ${r.role.padEnd(15)} ${String(r.precedence).padEnd(7)} ${r.connection ?? 'any'}`).join('\n') || 'No rules.');
  }
  if (cmd === 'saml' && sub === 'connect') {
    const conn = positionals[3];
    if (!arg || !conn) throw new UsageError('saml connect needs <tenant> <conn>');
    const source = values['metadata-file']
      ? { metadataXml: readFileSync(values['metadata-file'], 'utf8') }
      : values['metadata-url']
        ? { metadataUrl: values['metadata-url'] }
        : values['entity-id'] && values['sso-url'] && values.cert?.length
          ? { entityId: values['entity-id'], ssoUrl: values['sso-url'], sloUrl: values['slo-url'], certificates: values.cert.map((f) => readFileSync(f)) }
          : null;
    if (!source) throw new UsageError('saml connect needs --metadata-file, --metadata-url, or --entity-id with --sso-url and --cert');
    const view = await withDb(config, async (db) => {
      const tenant = await findTenantBySlug(db, arg);
      if (!tenant) throw new UsageError(`No tenant "${arg}".`);
      const c = await createSamlConnection({ db, tenant, actor: null }, { slug: conn, displayName: values.name, source, publish: values.publish });
      return connectionView(c, config.publicUrl, tenant.slug, await listConnections(db, tenant.id));
    });
    return print(
      values.json,
      view,
      [
        `Connected ${view.slug} (${view.idp.entityId}). In the identity provider's Basic SAML Configuration, enter:`,
        `  Identifier (Entity ID)  ${view.sp.identifier}`,
        `  Reply URL (ACS URL)     ${view.sp.replyUrl}`,
        `  Sign on URL             ${view.sp.signOnUrl}`,
        `  Logout URL              ${view.sp.logoutUrl}`,
        `Trusted signing certificates: ${view.idp.certificates.map((c) => `${c.thumbprintSha1} (until ${c.notAfter.slice(0, 10)})`).join(', ')}`,
        view.live
          ? 'The connection is live: its button is on the sign-in page.'
          : 'The connection is being tested: run Test sign-in under Single sign-on (a passed test publishes it), or publish it there.',
        ...view.warnings.map((w) => `Warning: ${w}`),
      ].join('\n'),
    );
  }
  if (cmd === 'scim' && sub === 'token') return scimToken(config, positionals.slice(2), values);
  if (cmd === 'webhook') return webhookCommand(config, positionals.slice(1), values);
  if (cmd === 'workflow') return workflowCommand(config, positionals.slice(1), values);
  if (cmd === 'audit') return auditCommand(config, positionals.slice(1), values);
  throw new UsageError(`Unknown command: ${positionals.join(' ')}`);
}

async function scimToken(config: Config, args: string[], values: { json: boolean; client: boolean; name?: string; days?: string }) {
  const [action, slug, id] = args;
  if (!action || !slug) throw new UsageError('scim token needs create|list|revoke and <tenant>');
  const days = values.days === undefined ? undefined : Number(values.days);
  const result = await withDb(config, async (db) => {
    const tenant = await findTenantBySlug(db, slug);
    if (!tenant) throw new UsageError(`No tenant "${slug}".`);
    const ctx = { db, tenant, actor: null, actorLabel: 'cli' };
    const root = `${config.publicUrl}/t/${tenant.slug}`;
    if (action === 'create') return { created: await createCredential(ctx, { kind: values.client ? 'client' : 'token', name: values.name, expiresInDays: days }), root };
    if (action === 'list') return { list: await listCredentials(ctx), root };
    if (action === 'revoke') {
      if (!id) throw new UsageError('scim token revoke needs <tenant> <id>');
      await removeCredential(ctx, id);
      return { revoked: id, root };
    }
    throw new UsageError(`Unknown scim token action "${action}".`);
  });
  if (result.created) {
    const { credential, secret } = result.created;
    const lines = [`Tenant URL:     ${result.root}/scim/v2`];
    if (credential.clientId) lines.push(`Token endpoint: ${result.root}/oauth/token`, `Client ID:      ${credential.clientId}`, `Client secret:  ${secret}`);
    else lines.push(`Secret token:   ${secret}`);
    lines.push(`Expires:        ${credential.expiresAt?.toISOString().slice(0, 10) ?? 'never'}   (id ${credential.id}; the secret is not shown again)`);
    return print(values.json, { tenantUrl: `${result.root}/scim/v2`, ...result.created }, lines.join('\n'));
  }
  if (result.list) {
    const text = result.list
      .map((c) => `${c.id}  ${c.kind.padEnd(6)} ${c.state.padEnd(8)} …${c.hint}  ${c.name.padEnd(20)} last used ${c.lastUsedAt?.toISOString() ?? 'never'}  expires ${c.expiresAt?.toISOString().slice(0, 10) ?? 'never'}`)
      .join('\n');
    return print(values.json, { items: result.list }, text || 'No SCIM tokens or clients.');
  }
  return print(values.json, { revoked: result.revoked }, `Removed ${result.revoked}.`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof AppError) {
    process.stderr.write(`keydesk: ${err.message}\n${err instanceof UsageError ? '\n' + USAGE + '\n' : ''}`);
    process.exit(2);
  }
  process.stderr.write(`keydesk: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
