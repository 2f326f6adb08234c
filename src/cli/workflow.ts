import type { Config } from '../config.js';
import { AppError } from '../http/errors.js';
import { enableTemplate, listRules } from '../workflows/rules.js';
import { print, UsageError, withTenant } from './common.js';

/** `keydesk workflow enable <tenant> onboarding|offboarding [--team NAME] [--json]` and `keydesk workflow list <tenant>`. */
export async function workflowCommand(config: Config, args: string[], values: { json: boolean; team?: string }): Promise<void> {
  const [action, slug, template] = args;
  if (action === 'enable') {
    if (!slug || (template !== 'onboarding' && template !== 'offboarding')) throw new UsageError('workflow enable needs <tenant> onboarding|offboarding');
    const rule = await withTenant(config, slug, (ctx) =>
      enableTemplate(ctx, template, { team: values.team }).catch((err: unknown) => {
        if (err instanceof AppError) throw new UsageError(err.message);
        throw err;
      }),
    );
    const ticket = rule.actions.find((a) => a.type === 'ticket');
    return print(
      values.json,
      rule,
      [
        `The ${rule.name} workflow is on (${rule.id}).`,
        `  When            ${rule.trigger}`,
        ticket?.type === 'ticket' ? `  Raises          "${ticket.title}" with ${ticket.checklist.length} tasks, in ${values.team ? `the ${values.team} queue` : 'the unassigned queue'}` : '',
        rule.actions.some((a) => a.type === 'notify_manager') ? '  Notifies        the person’s manager (from SCIM), through webhooks subscribed to workflow.manager_notification' : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }
  if (action === 'list') {
    if (!slug) throw new UsageError('workflow list needs <tenant>');
    const items = await withTenant(config, slug, listRules);
    return print(values.json, { items }, items.map((r) => `${r.id}  ${r.enabled ? 'on ' : 'off'}  ${r.name.padEnd(24)} ${r.trigger}`).join('\n') || 'No workflows.');
  }
  throw new UsageError(`Unknown command: workflow ${args.join(' ')}`);
}
