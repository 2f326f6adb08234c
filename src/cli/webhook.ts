import type { Config } from '../config.js';
import { AppError } from '../http/errors.js';
import { SecretBox } from '../identity/secrets.js';
import { createEndpoint, listEndpoints } from '../webhooks/endpoints.js';
import { print, UsageError, withTenant } from './common.js';

/** `keydesk webhook add <tenant> --url U --events E[,E] [--json]` and `keydesk webhook list <tenant> [--json]`. */
export async function webhookCommand(config: Config, args: string[], values: { json: boolean; url?: string; events?: string; name?: string }): Promise<void> {
  const [action, slug] = args;
  if (action === 'add') {
    if (!slug || !values.url || !values.events) throw new UsageError('webhook add needs <tenant> --url U --events E[,E]');
    const events = values.events.split(',').map((e) => e.trim()).filter(Boolean);
    const created = await withTenant(config, slug, (ctx) =>
      createEndpoint(ctx, new SecretBox(config.secret, 'webhook'), { url: values.url!, events, description: values.name }, { allowPrivate: config.webhookAllowPrivate }).catch((err: unknown) => {
        if (err instanceof AppError) throw new UsageError(err.message);
        throw err;
      }),
    );
    const { endpoint, secret } = created;
    return print(
      values.json,
      { id: endpoint.id, url: endpoint.url, events: endpoint.events, secret, endpoint },
      [
        `Added webhook ${endpoint.id}`,
        `  URL             ${endpoint.url}`,
        `  Events          ${endpoint.events.join(', ')}`,
        `  Signing secret  ${secret}   (not shown again)`,
        'Messages are signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature headers); verify them with this secret.',
      ].join('\n'),
    );
  }
  if (action === 'list') {
    if (!slug) throw new UsageError('webhook list needs <tenant>');
    const items = await withTenant(config, slug, listEndpoints);
    return print(
      values.json,
      { items },
      items
        .map((e) => `${e.id}  ${e.enabled ? 'on ' : 'off'}  ${e.url}  [${e.events.join(',')}]  last: ${e.lastDelivery ? `${e.lastDelivery.succeeded ? 'delivered' : 'failed'} ${new Date(e.lastDelivery.at).toISOString()}` : 'never'}`)
        .join('\n') || 'No webhook endpoints.',
    );
  }
  throw new UsageError(`Unknown command: webhook ${args.join(' ')}`);
}
