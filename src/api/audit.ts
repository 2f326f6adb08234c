import { Type, type Static } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { AppError } from '../http/errors.js';
import { WRITTEN_TEXT } from '../http/text.js';
import { exportAudit, toInstant } from '../audit/export.js';
import { MAX_QUERY_LENGTH, queryAudit, type AuditFilter } from '../audit/query.js';
import { getAuditSettings, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, testSyslog, updateAuditSettings } from '../audit/settings.js';
import { CheckpointKey, registerCheckpointKey } from '../audit/chain.js';
import { listCheckpoints, verifyAuditChain } from '../audit/verify.js';
import { errors, type RoutePlugin } from './common.js';
import { ExportFileResponse, ExportFormatParam, sendExportFile } from './export-file.js';
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
  chainSeq: Nullable(Type.Integer({ description: "The event's position in the tenant's hash chain; null until sealed (seconds after it is written)" })),
  prevHash: Nullable(Type.String({ description: 'The hash at the position before (hex SHA-256; 64 zeros before position 1)' })),
  hash: Nullable(Type.String({ description: 'hex SHA-256(prevHash bytes || canonical event), see docs/audit.md' })),
});

/** The filters the list and the export share. */
const filterProperties = {
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z_.]+$', description: 'An exact action (`user.created`) or a family (`signin`)' })),
  outcome: Type.Optional(StringEnum(['success', 'failure'] as const)),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: "Part of the actor's label (email, `cli`, `scim:…`), any case" })),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001F\\u007F]+$', description: 'An exact reason code, e.g. `bad_password`' })),
  targetType: Type.Optional(Type.String({ minLength: 1, maxLength: 50, pattern: '^[a-z_]+$', description: 'e.g. `user`, `connection`, `team`' })),
  targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001F\\u007F]+$', description: "The target's id, exactly" })),
  q: Type.Optional(
    Type.String({ minLength: 1, maxLength: MAX_QUERY_LENGTH, pattern: WRITTEN_TEXT, description: 'Free text, any case, in the actor, action, target name or reason' }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'From this instant (inclusive), RFC 3339' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Before this instant (exclusive), RFC 3339' })),
};
const FilterQuery = Type.Object(filterProperties);

/** The validated query's filters, the instants normalised to UTC (a 400 for those PostgreSQL would refuse). */
function filterOf(query: Static<typeof FilterQuery>): AuditFilter {
  const instant = (field: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const iso = toInstant(value);
    if (iso === null) throw new AppError(400, 'invalid_request', 'The querystring is invalid.', { errors: [{ field, message: 'must be a date-time between the years 1 and 9999' }] });
    return iso;
  };
  const { since, until, action, outcome, actor, reason, targetType, targetId, q } = query;
  const f: AuditFilter = { action, outcome, actor, reason, targetType, targetId, q: q?.trim(), since: instant('since', since), until: instant('until', until) };
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as AuditFilter;
}

const CaInfo = Type.Object({ subject: Type.String(), notAfter: DateTime, sha256: Type.String() });
const Settings = Type.Object({
  retentionDays: Nullable(Type.Integer({ description: 'Days events are kept; null: forever. Events not yet streamed to an enabled SIEM are kept regardless.' })),
  syslog: Type.Object({
    enabled: Type.Boolean(),
    host: Nullable(Type.String()),
    port: Type.Integer(),
    caCertificate: Nullable(Type.String({ description: 'PEM CA certificate(s) trusted for the collector; null: the usual public roots' })),
    caCertificates: Type.Array(CaInfo),
    servername: Nullable(Type.String({ description: 'TLS server name (SNI) the certificate must carry; null: the host' })),
    lastDeliveredId: Nullable(Type.Integer({ description: 'The id of the last event written and flushed to the collector' })),
    lastDeliveredAt: Nullable(DateTime),
    lastError: Nullable(Type.String()),
    lastErrorAt: Nullable(DateTime),
    pending: Type.Integer({ description: 'Events not yet delivered (counted up to 10001)' }),
  }),
});

const HOSTISH = '^[A-Za-z0-9.:\\[\\]-]+$';
/** PEM text: printable ASCII and line breaks, at most 64 KiB. */
const PemText = Type.String({ maxLength: 65536, pattern: '^[\\x20-\\x7E\\r\\n\\t]*$', description: 'PEM CA certificate(s); empty or null: the usual public roots' });

const BreakReasonSchema = StringEnum(['altered', 'removed', 'inserted', 'checkpoint_mismatch', 'bad_signature'] as const);
const KeySchema = Type.Object({
  algorithm: Type.Literal('Ed25519'),
  keyId: Type.String({ description: 'The first 16 hex digits of SHA-256 of the raw public key' }),
  publicKeyPem: Type.String({ description: 'SubjectPublicKeyInfo, PEM' }),
  publicKeyRaw: Type.String({ description: 'The raw 32-byte public key, base64url' }),
});
const Verification = Type.Object({
  ok: Type.Boolean(),
  tenant: Type.String(),
  tenantId: Type.String(),
  checked: Type.Integer({ description: 'Events whose hash was re-computed and found right, in chain order (before the break, if any)' }),
  firstPosition: Nullable(Type.Integer()),
  lastPosition: Nullable(Type.Integer()),
  sealedThrough: Nullable(DateTime),
  checkpoints: Type.Integer({ description: 'Signed checkpoints checked' }),
  lastCheckpoint: Nullable(Type.Object({ chainSeq: Type.Integer(), kind: Type.String(), signedAt: DateTime })),
  prunedThrough: Nullable(Type.Integer({ description: 'The chain starts after this position, where retention pruned' })),
  unsealed: Type.Integer({ description: 'Events not sealed yet (newer than sealedThrough): not broken' }),
  firstBroken: Nullable(
    Type.Object({
      id: Nullable(Type.Integer({ description: 'The event named; null when it is gone' })),
      chainSeq: Nullable(Type.Integer()),
      reason: BreakReasonSchema,
      message: Type.String(),
    }),
  ),
  key: KeySchema,
});
const Checkpoint = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ description: '`periodic` (the sealer), or `prune` (where retention removed the events before it)' }),
  chainSeq: Type.Integer(),
  hash: Type.String(),
  signedAt: DateTime,
  keyId: Type.String(),
  signature: Type.String({ description: 'Ed25519 over the checkpoint message (docs/audit.md), base64url' }),
});

export const auditRoutes: RoutePlugin = async (app, opts) => {
  const { config, db } = opts.deps;
  const checkpointKey = new CheckpointKey(config.secret);
  registerCheckpointKey(db, checkpointKey);

  app.get('/audit', {
    schema: {
      tags: ['audit'],
      summary: 'The audit log, newest first (admins)',
      querystring: Type.Object(
        {
          ...filterProperties,
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
    const { cursor, limit } = request.query;
    const rows = await queryAudit(ctx, { ...filterOf(request.query), limit: limit + 1, before: cursor ? Number(cursor) : undefined });
    const page = rows.slice(0, limit);
    return { items: page, nextCursor: rows.length > limit ? String(page[page.length - 1]!.id) : null };
  });

  app.get('/audit/export', {
    // A HEAD would record an export that sends nothing.
    exposeHeadRoute: false,
    schema: {
      tags: ['audit'],
      summary: 'The audit log as a file, oldest first: CSV (RFC 4180) or JSON Lines (admins; recorded as audit.exported)',
      description:
        'Streams every event matching the filters that exists when asked. CSV: a header row, CRLF line ends, fields quoted when needed, a cell starting with = + - @ TAB or CR prefixed with \' (formula injection); `details` as JSON. JSON Lines: one list-API object per line.',
      querystring: Type.Object({ ...ExportFormatParam, ...filterProperties }, { additionalProperties: false }),
      response: { 200: ExportFileResponse, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const file = await exportAudit(ctx, request.query.format, filterOf(request.query));
    return sendExportFile(reply, file);
  });

  app.get('/audit/verify', {
    schema: {
      tags: ['audit'],
      summary: "Verify the tenant's audit hash chain and its signed checkpoints (admins)",
      description:
        'Seals the events waiting for it, then re-computes the chain from its first retained event and checks every checkpoint signature. `ok: false` names the first broken event: altered, removed, inserted, checkpoint_mismatch or bad_signature. Events newer than the settle window may be `unsealed`, which is not a break.',
      querystring: Type.Object({}, { additionalProperties: false }),
      response: { 200: Verification, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return verifyAuditChain(ctx, checkpointKey);
  });

  app.get('/audit/checkpoints', {
    schema: {
      tags: ['audit'],
      summary: "The audit chain's signed checkpoints, newest first, and the public key that checks them (admins)",
      querystring: Type.Object(
        { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ key: KeySchema, items: Type.Array(Checkpoint), nextCursor: Nullable(Type.String()) }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { limit, cursor } = request.query;
    const rows = await listCheckpoints(ctx, { limit: limit + 1, before: cursor ? Number(cursor) : undefined });
    const items = rows.slice(0, limit);
    return {
      key: { algorithm: 'Ed25519' as const, keyId: checkpointKey.keyId, publicKeyPem: checkpointKey.publicKeyPem, publicKeyRaw: checkpointKey.publicKeyRaw },
      items,
      nextCursor: rows.length > limit ? String(items[items.length - 1]!.id) : null,
    };
  });

  app.get('/audit/settings', {
    schema: { tags: ['audit'], summary: 'Retention and SIEM streaming (syslog over TLS) settings (admins)', response: { 200: Settings, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return getAuditSettings(ctx);
  });

  app.patch('/audit/settings', {
    schema: {
      tags: ['audit'],
      summary: 'Change retention and/or SIEM streaming (admins; audited)',
      description:
        'Only the fields sent change. Streaming sends every event, in order, as RFC 5424 over TLS (RFC 5425) to host:port; the first time it is turned on it starts with the newest events. A literal host address must be public unless the operator allows private ones.',
      body: Type.Object(
        {
          retentionDays: Type.Optional(Nullable(Type.Integer({ minimum: MIN_RETENTION_DAYS, maximum: MAX_RETENTION_DAYS, description: 'null: keep forever' }))),
          syslog: Type.Optional(
            Type.Object(
              {
                enabled: Type.Optional(Type.Boolean()),
                host: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 253, pattern: HOSTISH, description: 'DNS name or IP address of the collector' }))),
                port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 6514' })),
                caCertificate: Type.Optional(Nullable(PemText)),
                servername: Type.Optional(Nullable(Type.String({ maxLength: 253, pattern: '^[A-Za-z0-9.-]*$' }))),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 200: Settings, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return updateAuditSettings(ctx, request.body, { allowPrivate: config.webhookAllowPrivate });
  });

  app.post('/audit/settings/syslog/test', {
    schema: {
      tags: ['audit'],
      summary: 'Send a test message to the SIEM (admins; audited)',
      description: 'Connects as the stream would (TLS, certificate verified) and sends one message; `ok: false` says why not in plain words.',
      response: {
        200: Type.Object({ ok: Type.Boolean(), message: Type.String(), code: Nullable(Type.String()), ms: Type.Integer() }),
        ...errors,
      },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return testSyslog(ctx, { allowPrivate: config.webhookAllowPrivate, hostname: new URL(config.publicUrl).hostname });
  });
};

export type AuditEntryT = Static<typeof Entry>;
export type AuditSettingsT = Static<typeof Settings>;
export type AuditVerificationT = Static<typeof Verification>;
