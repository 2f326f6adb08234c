import { authenticate, checkCsrf } from '../http/auth.js';
import { AppError } from '../http/errors.js';
import { checkRequestText } from '../http/text.js';
import { accessReviewRoutes } from './access-review.js';
import { auditRoutes } from './audit.js';
import { categoryRoutes } from './categories.js';
import type { RoutePlugin } from './common.js';
import { provisioningRoutes } from './provisioning.js';
import { sessionRoutes } from './session.js';
import { slaRoutes } from './sla.js';
import { ssoRoutes } from './sso.js';
import { teamRoutes } from './teams.js';
import { tenantRoutes } from './tenants.js';
import { ticketRoutes } from './tickets.js';
import { tokenRoutes } from './tokens.js';
import { userRoutes } from './users.js';
import { webhookRoutes } from './webhooks.js';
import { jobRoutes } from './jobs.js';
import { workflowRoutes } from './workflows.js';
import { governanceRoutes } from './governance.js';

/** `/api/v1`: every route is authenticated, CSRF-checked and JSON-only unless it says otherwise. */
export const apiV1: RoutePlugin = async (app, opts) => {
  const { db, config } = opts.deps;

  // The text rule as a hook, not in the validator: the validator sees only the parts a route has a
  // schema for (many have no querystring schema, some no body), and object keys only where a
  // schema names them. preValidation runs after parsing and before authentication (preHandler),
  // so a sign-in with a NUL in the email is a 400 without a single query.
  app.addHook('preValidation', async (request) => checkRequestText(request));

  app.addHook('preHandler', async (request) => {
    request.auth = await authenticate(db, config, request);
    checkCsrf(config, request, request.auth);
    const routeConfig = request.routeOptions.config;
    if (!routeConfig.public && !request.auth) throw new AppError(401, 'unauthenticated', 'Sign in or send an API token.');
    if (request.auth?.passwordChangeRequired && !routeConfig.allowPasswordChange) {
      throw new AppError(403, 'password_change_required', 'Change your one-time password first (POST /api/v1/me/password).');
    }
  });

  for (const routes of [sessionRoutes, tenantRoutes, tokenRoutes, ticketRoutes, userRoutes, teamRoutes, categoryRoutes, slaRoutes, ssoRoutes, provisioningRoutes, auditRoutes, webhookRoutes, workflowRoutes, jobRoutes, governanceRoutes, accessReviewRoutes]) {
    await app.register(routes, { deps: opts.deps });
  }
};
