import { Type } from 'typebox';
import type { Db } from '../db/db.js';
import type { Tenant } from '../context.js';
import { NotFound } from '../http/errors.js';
import { hit } from '../http/rate-limit.js';
import { isLive, listConnections, loginPath } from '../identity/connections.js';
import { findTenantBySlug } from '../tenancy/tenants.js';
import { tenantForEmail } from '../tenancy/domains.js';
import { errors, type RoutePlugin } from './common.js';
import { Text } from './schemas.js';

const ConnectionButton = Type.Object({ slug: Type.String(), displayName: Type.String(), loginUrl: Type.String() });

async function buttons(db: Db, tenant: Tenant) {
  const conns = await listConnections(db, tenant.id);
  return conns.filter(isLive).map((c) => ({ slug: c.slug, displayName: c.displayName, loginUrl: loginPath(tenant.slug, c) }));
}

/**
 * What sign-in pages may know before anyone signs in. Workspace slugs are not secret (they are in
 * every URL, and `/t/{slug}/` already answers 404 for unknown ones), so this discloses nothing new.
 */
export const tenantRoutes: RoutePlugin = async (app, { deps }) => {
  const { db } = deps;

  app.get('/tenants/:slug', {
    config: { public: true },
    schema: {
      tags: ['session'],
      summary: "A workspace's public face: its display name (for sign-in pages)",
      params: Type.Object({ slug: Type.String({ minLength: 1, maxLength: 40 }) }),
      response: { 200: Type.Object({ slug: Type.String(), name: Type.String() }), ...errors },
    },
  }, async (request) => {
    const tenant = await findTenantBySlug(db, request.params.slug.toLowerCase());
    if (!tenant) throw new NotFound('Workspace');
    return { slug: tenant.slug, name: tenant.name };
  });

  app.get('/tenants/:slug/sign-in-options', {
    config: { public: true },
    schema: {
      tags: ['session'],
      summary: "A workspace's sign-in buttons, and whether passwords are still accepted",
      params: Type.Object({ slug: Type.String({ minLength: 1, maxLength: 40 }) }),
      response: { 200: Type.Object({ name: Type.String(), connections: Type.Array(ConnectionButton), passwordAllowed: Type.Boolean() }), ...errors },
    },
  }, async (request) => {
    const tenant = await findTenantBySlug(db, request.params.slug.toLowerCase());
    if (!tenant) throw new NotFound('Workspace');
    const [t] = (await db.query<{ enforce_sso: boolean }>('SELECT enforce_sso FROM tenants WHERE id = $1', [tenant.id])) as [{ enforce_sso: boolean }];
    return { name: tenant.name, connections: await buttons(db, tenant), passwordAllowed: !t.enforce_sso };
  });

  app.post('/login/discover', {
    config: { public: true, csrfExempt: true },
    schema: {
      tags: ['session'],
      summary: 'Home realm discovery: the workspace and sign-in options for a work email, by its verified domain',
      body: Type.Object({ email: Text(320, { minLength: 3 }) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ tenant: Type.Object({ slug: Type.String(), name: Type.String() }), connections: Type.Array(ConnectionButton) }),
        ...errors,
      },
    },
  }, async (request) => {
    await hit(db, { bucket: `discover:ip:${request.ip}`, max: 60, windowSeconds: 60 });
    const tenant = await tenantForEmail(db, request.body.email);
    if (!tenant) throw new NotFound('Workspace for that email domain');
    return { tenant: { slug: tenant.slug, name: tenant.name }, connections: await buttons(db, tenant) };
  });
};

export type ConnectionButtonT = import('typebox').Static<typeof ConnectionButton>;
