import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { AppError } from '../http/errors.js';
import { queryAudit } from '../audit/query.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, Nullable, Page, StringEnum } from './schemas.js';

const Entry = Type.Object({
  id: Type.Integer(),
  occurredAt: DateTime,
  actorId: Nullable(Type.String()),
  actorLabel: Type.String(),
  action: Type.String(),
  outcome: StringEnum(['success', 'failure'] as const),
  reason: Nullable(Type.String()),
  targetType: Nullable(Type.String()),
  targetId: Nullable(Type.String()),
  targetLabel: Nullable(Type.String({ description: "The target's name: a person, team, connection… (as recorded, if it is gone)" })),
  ip: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});

/**
 * RFC 3339 allows what PostgreSQL refuses (year 0000, an offset of +23:59): the instant goes to the
 * database in UTC, and only within the years PostgreSQL and JavaScript share without surprises.
 */
function instant(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  // JavaScript has no leap second; a second earlier makes no difference to a filter.
  const d = new Date(value.replace(/:60(?=(\.\d+)?([zZ]|[+-]))/, ':59'));
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 1 || year > 9999) {
    throw new AppError(400, 'invalid_request', 'The querystring is invalid.', { errors: [{ field, message: 'must be a date-time between the years 1 and 9999' }] });
  }
  return d.toISOString();
}

export const auditRoutes: RoutePlugin = async (app) => {
  app.get('/audit', {
    schema: {
      tags: ['audit'],
      summary: 'The audit log, newest first (admins)',
      querystring: Type.Object(
        {
          action: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z_.]+$' })),
          outcome: Type.Optional(StringEnum(['success', 'failure'] as const)),
          actor: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
          since: Type.Optional(Type.String({ format: 'date-time' })),
          until: Type.Optional(Type.String({ format: 'date-time' })),
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(Entry), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { cursor, limit, since, until, ...filter } = request.query;
    const rows = await queryAudit(ctx, { ...filter, since: instant('since', since), until: instant('until', until), limit: limit + 1, before: cursor ? Number(cursor) : undefined });
    const page = rows.slice(0, limit);
    return { items: page, nextCursor: rows.length > limit ? String(page[page.length - 1]!.id) : null };
  });
};
