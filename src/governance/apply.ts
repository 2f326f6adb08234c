import type { Config } from '../config.js';
import type { Ctx } from '../context.js';
import { deleteConnection, getConnection, updateConnection, type ConnectionPatch } from '../identity/connections.js';
import { setEnforcement } from '../identity/enforcement.js';
import { rpUrls } from '../identity/oidc/view.js';
import { addRoleRule, deleteRoleRule, type RuleRole } from '../identity/provisioning/role-rules.js';
import { SecretBox } from '../identity/secrets.js';
import type { Role } from '../identity/roles.js';
import { createUser, setPersonRoles, updateUser, type NewUser } from '../identity/users.js';
import { setGoverned, type Governance } from './changes.js';

/**
 * What each kind of governed change does: the same domain function the REST route calls when the
 * tenant does not govern its identity configuration. One place, used by the route (now) and by
 * the approved change's job (later).
 */
export function governance(opts: { config: Pick<Config, 'secret' | 'publicUrl'>; oidcBox: SecretBox }): Governance {
  const apply: Governance['apply'] = async (ctx: Ctx, { kind, params }) => {
    switch (kind) {
      case 'role_rule.add':
        return addRoleRule(ctx, params as { groupRef: string; role: RuleRole; precedence?: number; connection?: string | null });
      case 'role_rule.delete':
        return deleteRoleRule(ctx, String(params.id));
      case 'enforcement.set':
        return setEnforcement(ctx, params.enforced === true);
      case 'connection.update': {
        const current = await getConnection(ctx.db, ctx.tenant.id, String(params.id));
        const redirectUri = rpUrls(opts.config.publicUrl, ctx.tenant.slug, current.slug).redirectUri;
        return updateConnection(ctx, current.id, params.patch as ConnectionPatch, { box: opts.oidcBox, redirectUri });
      }
      case 'connection.delete':
        return deleteConnection(ctx, String(params.id));
      case 'governance.set':
        return setGoverned(ctx, params.enabled === true);
      case 'user.create':
        return ctx.db.transaction((tx) => createUser(ctx, tx, params as unknown as NewUser));
      case 'user.roles':
        return setPersonRoles(ctx, String(params.id), params.roles as Role[]);
      case 'user.update':
        return updateUser(ctx, String(params.id), params.patch as Parameters<typeof updateUser>[2]);
    }
  };
  return { box: new SecretBox(opts.config.secret, 'governance'), apply };
}
