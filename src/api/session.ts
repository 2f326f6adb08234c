import { Type } from 'typebox';
import { findTenantBySlug } from '../tenancy/tenants.js';
import { passwordSignin, changePassword } from '../identity/local/password-signin.js';
import { beginTotpEnrolment, confirmTotp, disableTotp } from '../identity/local/totp.js';
import { revokeSession } from '../identity/sessions/sessions.js';
import { idpLogoutUrl } from '../identity/signin/signout.js';
import { audit } from '../audit/audit.js';
import { clearSessionCookie, requireAuth, setSessionCookie, type Auth } from '../http/auth.js';
import { Unauthenticated } from '../http/errors.js';
import { getUser } from '../identity/users.js';
import { loadActor } from '../identity/actor.js';
import { LIFECYCLE } from '../itsm/lifecycle.js';
import { errors, type RoutePlugin } from './common.js';
import { RoleSchema, Text, UserSchema } from './schemas.js';

const SessionView = Type.Object({
  tenant: Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String() }),
  user: UserSchema,
  roles: Type.Array(RoleSchema),
  csrfToken: Type.Optional(Type.String()),
  passwordChangeRequired: Type.Boolean(),
  lifecycle: Type.Record(Type.String(), Type.Object({ initial: Type.String(), statuses: Type.Array(Type.String()) })),
});

const lifecycle = Object.fromEntries(
  Object.entries(LIFECYCLE).map(([type, l]) => [type, { initial: l.initial, statuses: Object.keys(l.transitions) }]),
);

async function view(auth: Auth) {
  const { ctx } = auth;
  return {
    tenant: ctx.tenant,
    user: await getUser(ctx.db, ctx.tenant.id, ctx.actor.userId),
    roles: [...ctx.actor.roles],
    csrfToken: auth.csrfToken,
    passwordChangeRequired: auth.passwordChangeRequired,
    lifecycle,
  };
}

export const sessionRoutes: RoutePlugin = async (app, { deps }) => {
  const { db, config, totpBox } = deps;

  app.get('/session', {
    config: { allowPasswordChange: true },
    schema: { tags: ['session'], summary: 'The current session, with the CSRF token to send on writes', response: { 200: SessionView, ...errors } },
  }, async (request) => view(requireAuth(request)));

  app.post('/session', {
    config: { public: true, csrfExempt: true },
    schema: {
      tags: ['session'],
      summary: 'Sign in with a local password (and a TOTP code when enrolled)',
      body: Type.Object(
        {
          tenant: Text(40),
          email: Text(320, { minLength: 3 }),
          password: Type.String({ minLength: 1, maxLength: 1024 }),
          otp: Type.Optional(Type.String({ maxLength: 10 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: SessionView, ...errors },
    },
  }, async (request, reply) => {
    const tenant = await findTenantBySlug(db, request.body.tenant.toLowerCase());
    // An unknown tenant reads like a wrong password: tenant slugs are not to be probed either.
    if (!tenant) throw new Unauthenticated('The email or password is incorrect.', 'invalid_credentials');
    const result = await passwordSignin({ db, tenant, actor: null, ip: request.ip }, config.session, totpBox, {
      email: request.body.email,
      password: request.body.password,
      otp: request.body.otp,
      userAgent: request.headers['user-agent'],
    });
    setSessionCookie(reply, config, result.cookieValue, result.expiresAt);
    const actor = await loadActor(db, tenant, result.session.userId);
    return view({
      ctx: actor!.ctx,
      via: 'session',
      sessionId: result.session.id,
      csrfToken: result.session.csrfToken,
      passwordChangeRequired: result.passwordChangeRequired,
    });
  });

  app.delete('/session', {
    config: { public: true, allowPasswordChange: true },
    schema: {
      tags: ['session'],
      summary: 'Sign out. For a single sign-on session, logoutUrl also signs out at the identity provider (open it).',
      response: { 200: Type.Object({ logoutUrl: Type.Union([Type.String(), Type.Null()]) }) },
    },
  }, async (request, reply) => {
    const auth = request.auth;
    let logoutUrl: string | null = null;
    if (auth?.sessionId) {
      logoutUrl = await db.transaction(async (tx) => {
        const url = await idpLogoutUrl(tx, config.publicUrl, deps.oidcBox, auth.ctx.tenant, auth.sessionId!);
        await revokeSession(tx, auth.ctx.tenant.id, auth.sessionId!);
        await audit(auth.ctx, tx, { action: 'signout', targetType: 'session', targetId: auth.sessionId, details: { idpLogout: url !== null } });
        return url;
      });
    }
    clearSessionCookie(reply, config);
    return { logoutUrl };
  });

  app.post('/me/password', {
    config: { allowPasswordChange: true },
    schema: {
      tags: ['session'],
      summary: 'Change your own password; signs out your other sessions',
      body: Type.Object(
        { currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Type.String({ minLength: 1, maxLength: 1024 }) },
        { additionalProperties: false },
      ),
      response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    const auth = requireAuth(request);
    await changePassword(auth.ctx, auth.sessionId, request.body);
    return reply.code(204).send(null);
  });

  app.post('/me/totp', {
    schema: {
      tags: ['session'],
      summary: 'Begin TOTP enrolment (local accounts)',
      response: { 200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }), ...errors },
    },
  }, async (request) => beginTotpEnrolment(requireAuth(request).ctx, totpBox));

  const Code = Type.Object({ code: Type.String({ minLength: 6, maxLength: 6, pattern: '^[0-9]{6}$' }) }, { additionalProperties: false });

  app.post('/me/totp/confirm', {
    schema: { tags: ['session'], summary: 'Confirm TOTP enrolment with a code', body: Code, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await confirmTotp(requireAuth(request).ctx, totpBox, request.body.code);
    return reply.code(204).send(null);
  });

  app.delete('/me/totp', {
    schema: { tags: ['session'], summary: 'Turn TOTP off, proving possession with a code', body: Code, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await disableTotp(requireAuth(request).ctx, totpBox, request.body.code);
    return reply.code(204).send(null);
  });
};

export type SessionViewT = import('typebox').Static<typeof SessionView>;
