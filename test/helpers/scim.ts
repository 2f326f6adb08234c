import type { Tenant } from '../../src/context.js';
import { createCredential } from '../../src/scim/credentials.js';
import { Client, type Res } from './client.js';
import type { TestApp } from './app.js';

/** A SCIM client as Entra's provisioning service is: a bearer token and the Tenant URL. */
export interface ScimClient {
  base: string;
  token: string;
  call<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Res<T>>;
}

export async function scimClient(t: TestApp, tenant: Tenant, name = 'Entra'): Promise<ScimClient> {
  const { secret } = await createCredential({ db: t.db, tenant, actor: null, actorLabel: 'test' }, { kind: 'token', name });
  return scimClientWith(t, tenant, secret);
}

export function scimClientWith(t: TestApp, tenant: Tenant, token: string): ScimClient {
  const base = `/t/${tenant.slug}/scim/v2`;
  const client = new Client(t.url).withToken(token);
  return {
    base,
    token,
    call: (method, path, body, headers = {}) =>
      client.request(method, `${base}/${path.replace(/^\//, '')}`, body, body === undefined ? headers : { 'content-type': 'application/scim+json', ...headers }),
  };
}

export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export function newUser(userName: string, extra: Record<string, unknown> = {}) {
  return { schemas: [USER_SCHEMA], userName, active: true, emails: [{ value: userName, type: 'work', primary: true }], name: { givenName: 'Given', familyName: 'Family' }, ...extra };
}

export function patch(...Operations: unknown[]) {
  return { schemas: [PATCH_OP], Operations };
}
