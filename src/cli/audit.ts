import { once } from 'node:events';
import type { Config } from '../config.js';
import { EXPORT_FORMATS, exportAudit, parseInstant, type ExportFormat } from '../audit/export.js';
import { CheckpointKey } from '../audit/chain.js';
import { verificationText, verifyAuditChain } from '../audit/verify.js';
import { print, UsageError, withTenant } from './common.js';

/**
 * `keydesk audit verify <tenant> [--json]`: seals the events waiting for it, then re-computes the
 * tenant's audit hash chain and checks its signed checkpoints (audit/verify.ts). Whole: says how
 * many events it checked, the last checkpoint and the public key, exit code 0. Broken: names the
 * first broken event and why (altered, removed, inserted, checkpoint_mismatch, bad_signature), exit
 * code 1. With --json, the same as `GET /api/v1/audit/verify`.
 *
 * `keydesk audit export <tenant> --format csv|jsonl [--since T] [--until T]`: the tenant's audit
 * log, oldest first, on standard output, in the REST export's format (the same formatter), recorded
 * as `audit.exported` by the actor `cli`. T is an RFC 3339 date-time or a date (midnight UTC).
 * A missing tenant, an unknown format or a bad date is a usage error (exit code 2).
 */
export async function auditCommand(config: Config, args: string[], values: Record<string, unknown>): Promise<void> {
  const [action, slug, extra] = args;
  if ((action !== 'export' && action !== 'verify') || extra !== undefined) throw new UsageError(`Unknown command: audit ${args.join(' ')}`);
  if (action === 'verify') {
    if (!slug) throw new UsageError('audit verify needs <tenant>');
    const result = await withTenant(config, slug, (ctx) => verifyAuditChain(ctx, new CheckpointKey(config.secret)));
    print(values.json === true, result, verificationText(result));
    if (!result.ok) process.exitCode = 1;
    return;
  }
  if (!slug) throw new UsageError('audit export needs <tenant> --format csv|jsonl');
  const format = values.format;
  if (typeof format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(format === undefined ? 'audit export needs --format csv or --format jsonl' : `--format is csv or jsonl, not "${String(format)}".`);
  }
  const instant = (name: 'since' | 'until') => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const iso = typeof raw === 'string' ? parseInstant(raw.trim(), { dateOnly: true }) : null;
    if (iso === null) throw new UsageError(`--${name} must be a date (2024-05-01) or an RFC 3339 date-time (2024-05-01T08:00:00Z), not "${String(raw)}".`);
    return iso;
  };
  const since = instant('since');
  const until = instant('until');
  // Piped into `head` or a pager that quit: the reader has what it wanted.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  await withTenant(config, slug, async (ctx) => {
    const file = await exportAudit(ctx, format as ExportFormat, { since, until });
    for await (const chunk of file.chunks) {
      if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    }
  });
}
