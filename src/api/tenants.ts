import { Type } from 'typebox';
import { NotFound } from '../http/errors.js';
import { findTenantBySlug } from '../tenancy/tenants.js';
import { errors, type RoutePlugin } from './common.js';

/**
 * What a sign-in page may show before anyone signs in. Workspace slugs are not secret (they are in
 * every URL, and `/t/{slug}/` already answers 404 for unknown ones), so this discloses nothing new.
 */
export const tenantRoutes: RoutePlugin = async (app, { deps }) => {
  app.get('/tenants/:slug', {
    config: { public: true },
    schema: {
      tags: ['session'],
      summary: "A workspace's public face: its display name (for sign-in pages)",
      params: Type.Object({ slug: Type.String({ minLength: 1, maxLength: 40 }) }),
      response: { 200: Type.Object({ slug: Type.String(), name: Type.String() }), ...errors },
    },
  }, async (request) => {
    const tenant = await findTenantBySlug(deps.db, request.params.slug.toLowerCase());
    if (!tenant) throw new NotFound('Workspace');
    return { slug: tenant.slug, name: tenant.name };
  });
};
