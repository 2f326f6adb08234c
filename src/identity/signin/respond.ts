import type { FastifyReply } from 'fastify';
import type { Config } from '../../config.js';
import type { Tenant } from '../../context.js';
import { setSessionCookie } from '../../http/auth.js';
import { escapeXml } from '../saml/xml.js';
import type { Connection } from '../connections.js';
import { failureStatus } from './failure.js';
import type { SigninOutcome } from './complete.js';

/**
 * A plain page for the person whose browser is on an identity provider's return path (SAML ACS,
 * OIDC callback): never JSON, never a stack, at most a reference for the admin.
 */
export function signinPage(reply: FastifyReply, status: number, title: string, message: string, reference?: string) {
  const ref = reference ? `<p class="ref"><code>${escapeXml(reference)}</code></p>` : '';
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeXml(title)} · Keydesk</title>` +
        `<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1f2937;display:grid;place-items:center;min-height:100vh;margin:0}` +
        `main{background:#fff;max-width:30rem;padding:2rem;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.1)}h1{font-size:1.3rem}.ref code{font-size:1.2rem;background:#eef;padding:.3rem .6rem;border-radius:6px}</style></head>` +
        `<body><main><h1>${escapeXml(title)}</h1><p>${escapeXml(message)}</p>${ref}<p><a href="/login">Back to sign-in</a></p></main></body></html>`,
    );
}

/** A failed sign-in: the admin's test goes to its trace, anyone else gets a reference. */
export function failedSignin(reply: FastifyReply, tenant: Tenant, conn: Connection, outcome: { reference: string; test: boolean; code: string }) {
  if (outcome.test) return reply.redirect(`/t/${tenant.slug}/admin/sso/traces/${outcome.reference}`, 303);
  return signinPage(
    reply,
    failureStatus(outcome.code),
    'We could not sign you in',
    `Your sign-in through ${conn.displayName} did not succeed. If this keeps happening, give your administrator this reference:`,
    outcome.reference,
  );
}

/** Answers the browser with what a sign-in came to, whatever the protocol. */
export function answerSignin(reply: FastifyReply, config: Config, tenant: Tenant, conn: Connection, outcome: SigninOutcome) {
  reply.header('Cache-Control', 'no-store');
  switch (outcome.kind) {
    case 'signed_in':
      setSessionCookie(reply, config, outcome.cookieValue, outcome.expiresAt);
      return reply.redirect(outcome.redirect, 303);
    case 'waiting':
    case 'tested':
      return reply.redirect(outcome.redirect, 303);
    case 'failed':
      return failedSignin(reply, tenant, conn, outcome);
  }
}
