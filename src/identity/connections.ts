import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';
import { CertificateRejected, describeCertificate, toPem, type CertificateInfo } from './saml/certificates.js';
import { checkUrl, MAX_METADATA_BYTES, MetadataRejected, parseIdpMetadata, type SpUrls } from './saml/metadata.js';
import { assertTenantKeepsAccess, isUuid, lockAdminChanges } from './users.js';

export const CONNECTION_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** The identity provider's side of a SAML connection. */
export interface SamlConfig {
  idpEntityId: string;
  ssoUrl: string;
  sloUrl: string | null;
  /** Every certificate trusted for signatures (several during a rollover). */
  certificates: string[];
  allowIdpInitiated: boolean;
  /** SHA-1 signatures are refused unless the tenant opts in here. */
  allowSha1: boolean;
  clockSkewSeconds: number;
}

export interface Connection {
  id: string;
  slug: string;
  protocol: 'saml' | 'oidc';
  displayName: string;
  enabled: boolean;
  config: SamlConfig;
  jit: boolean;
  waitingRoom: boolean;
  attributeMap: Record<string, string>;
  metadataUrl: string | null;
  metadataFetchedAt: Date | null;
  metadataError: string | null;
  testPassedAt: Date | null;
  /** When it went live; null while it is being tested. */
  publishedAt: Date | null;
  createdAt: Date;
}

/**
 * Live: enabled and published. Only a live connection has a button on the sign-in page and signs
 * people in; one being tested serves only the admin's test sign-in.
 */
export function isLive(c: Pick<Connection, 'enabled' | 'publishedAt'>): boolean {
  return c.enabled && c.publishedAt !== null;
}

const COLUMNS = `id, slug, protocol, display_name AS "displayName", enabled, config, jit, waiting_room AS "waitingRoom",
  attribute_map AS "attributeMap", metadata_url AS "metadataUrl", metadata_fetched_at AS "metadataFetchedAt",
  metadata_error AS "metadataError", test_passed_at AS "testPassedAt", published_at AS "publishedAt", created_at AS "createdAt"`;

export function spUrls(publicUrl: string, tenantSlug: string, connSlug: string): SpUrls {
  const base = `${publicUrl}/t/${tenantSlug}/saml/${connSlug}`;
  return { entityId: `${base}/metadata`, acsUrl: `${base}/acs`, loginUrl: `${base}/login`, sloUrl: `${base}/slo` };
}

export async function listConnections(q: Queryable, tenantId: string): Promise<Connection[]> {
  return q.query<Connection>(`SELECT ${COLUMNS} FROM sso_connections WHERE tenant_id = $1 ORDER BY slug`, [tenantId]);
}

export async function findConnection(q: Queryable, tenantId: string, slugOrId: string): Promise<Connection | null> {
  const byId = isUuid(slugOrId);
  if (!byId && !CONNECTION_SLUG.test(slugOrId)) return null;
  const rows = await q.query<Connection>(`SELECT ${COLUMNS} FROM sso_connections WHERE tenant_id = $1 AND ${byId ? 'id' : 'slug'} = $2`, [
    tenantId,
    slugOrId,
  ]);
  return rows[0] ?? null;
}

export async function getConnection(q: Queryable, tenantId: string, slugOrId: string): Promise<Connection> {
  const c = await findConnection(q, tenantId, slugOrId);
  if (!c) throw new NotFound('Connection');
  return c;
}

/** How the admin describes the identity provider: its metadata (as a document or a URL), or by hand. */
export type IdpSource =
  | { metadataXml: string }
  | { metadataUrl: string }
  | { entityId: string; ssoUrl: string; sloUrl?: string | null; certificates: (string | Buffer)[] };

function invalid(field: string, message: string): never {
  throw new ValidationFailed(message, [{ field, message }]);
}

/** Fetches metadata from a URL with a time limit and a size cap. */
export async function fetchMetadata(url: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  checkUrl(url);
  const res = await fetchImpl(url, { signal: AbortSignal.timeout(10_000), redirect: 'follow' }).catch((err: Error) => {
    throw new MetadataRejected(`The metadata URL could not be fetched: ${err.message}`);
  });
  if (!res.ok) throw new MetadataRejected(`The metadata URL answered HTTP ${res.status}.`);
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > MAX_METADATA_BYTES) throw new MetadataRejected('The metadata document is larger than 1 MiB.');
  const body = await res.text();
  if (Buffer.byteLength(body) > MAX_METADATA_BYTES) throw new MetadataRejected('The metadata document is larger than 1 MiB.');
  return body;
}

/** Turns the admin's input into the IdP side of the config, with errors that name the field. */
export async function resolveIdpSource(
  source: IdpSource,
  fetchImpl?: typeof fetch,
): Promise<{ idp: Pick<SamlConfig, 'idpEntityId' | 'ssoUrl' | 'sloUrl' | 'certificates'>; metadataXml: string | null; metadataUrl: string | null }> {
  try {
    if ('metadataXml' in source) {
      const md = parseIdpMetadata(source.metadataXml);
      return { idp: { idpEntityId: md.entityId, ssoUrl: md.ssoUrl, sloUrl: md.sloUrl, certificates: md.certificates }, metadataXml: source.metadataXml, metadataUrl: null };
    }
    if ('metadataUrl' in source) {
      const xml = await fetchMetadata(source.metadataUrl, fetchImpl);
      const md = parseIdpMetadata(xml);
      return { idp: { idpEntityId: md.entityId, ssoUrl: md.ssoUrl, sloUrl: md.sloUrl, certificates: md.certificates }, metadataXml: xml, metadataUrl: source.metadataUrl };
    }
  } catch (err) {
    if (err instanceof MetadataRejected || err instanceof CertificateRejected) invalid('metadata' in source ? 'metadataXml' : 'metadataUrl' in source ? 'metadataUrl' : 'metadataXml', err.message);
    throw err;
  }
  if (!source.entityId.trim()) invalid('entityId', 'The IdP entity ID is required.');
  try {
    checkUrl(source.ssoUrl);
    if (source.sloUrl) checkUrl(source.sloUrl);
  } catch (err) {
    invalid('ssoUrl', (err as Error).message);
  }
  if (!source.certificates.length) invalid('certificates', 'At least one signing certificate is required.');
  const certificates = source.certificates.map((c, i) => {
    try {
      return toPem(c);
    } catch (err) {
      return invalid(`certificates.${i}`, (err as Error).message);
    }
  });
  return {
    idp: { idpEntityId: source.entityId.trim(), ssoUrl: source.ssoUrl, sloUrl: source.sloUrl ?? null, certificates: [...new Set(certificates)] },
    metadataXml: null,
    metadataUrl: null,
  };
}

export interface NewSamlConnection {
  slug: string;
  displayName?: string;
  source: IdpSource;
  allowIdpInitiated?: boolean;
  allowSha1?: boolean;
  clockSkewSeconds?: number;
  jit?: boolean;
  waitingRoom?: boolean;
  /** Live at once, before any test (scripted setups: `saml connect --publish`); audited as such. */
  publish?: boolean;
}

export async function createSamlConnection(ctx: Ctx, input: NewSamlConnection, fetchImpl?: typeof fetch): Promise<Connection> {
  const slug = input.slug.toLowerCase();
  if (!CONNECTION_SLUG.test(slug)) invalid('slug', 'Use 1-40 lowercase letters, digits or inner hyphens, for example "entra" or "okta".');
  const resolved = await resolveIdpSource(input.source, fetchImpl);
  const config: SamlConfig = {
    ...resolved.idp,
    allowIdpInitiated: input.allowIdpInitiated ?? true,
    allowSha1: input.allowSha1 ?? false,
    clockSkewSeconds: input.clockSkewSeconds ?? 180,
  };
  return ctx.db.transaction(async (tx) => {
    let id: string;
    try {
      id = (
        await tx.query<{ id: string }>(
          `INSERT INTO sso_connections (tenant_id, slug, protocol, display_name, config, jit, waiting_room, metadata_url, metadata_xml, metadata_fetched_at, published_at)
           VALUES ($1, $2, 'saml', $3, $4, $5, $6, $7, $8, CASE WHEN $8::text IS NULL THEN NULL ELSE now() END, CASE WHEN $9 THEN now() END) RETURNING id`,
          [ctx.tenant.id, slug, input.displayName ?? defaultDisplayName(config), JSON.stringify(config), input.jit ?? true, input.waitingRoom ?? false, resolved.metadataUrl, resolved.metadataXml, input.publish ?? false],
        )
      )[0]!.id;
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`A connection named "${slug}" already exists.`, 'connection_exists');
      throw err;
    }
    await audit(ctx, tx, {
      action: 'sso.connection_created',
      targetType: 'connection',
      targetId: id,
      details: { slug, protocol: 'saml', idpEntityId: config.idpEntityId, certificates: config.certificates.map((c) => describeCertificate(c).thumbprintSha1) },
    });
    if (input.publish) await auditPublished(ctx, tx, id, { slug, tested: false });
    return getConnection(tx, ctx.tenant.id, id);
  });
}

/** Publishing is audited with whether a test had passed: publishing untested is the admin's call, on record. */
export async function auditPublished(ctx: Ctx, tx: Queryable, connectionId: string, details: { slug: string; tested: boolean; via?: 'test' }): Promise<void> {
  await audit(ctx, tx, { action: 'sso.connection_published', targetType: 'connection', targetId: connectionId, details });
}

/**
 * Why an admin should look twice: another connection of the tenant trusts the same identity
 * provider (two buttons that look alike, one of them maybe broken).
 */
export function connectionWarnings(c: Connection, siblings: Connection[]): string[] {
  return siblings
    .filter((o) => o.id !== c.id && o.config.idpEntityId === c.config.idpEntityId)
    .map(
      (o) =>
        `Connection "${o.slug}" trusts the same identity provider (entity ID ${c.config.idpEntityId}). If this one replaces it, disable or delete "${o.slug}" once this one is tested; two live connections to one provider show two look-alike buttons.`,
    );
}

/** "Microsoft" for Entra, "Okta" for Okta: what the sign-in button says. */
function defaultDisplayName(config: Pick<SamlConfig, 'idpEntityId'>): string {
  if (/^https:\/\/sts\.windows\.net\//.test(config.idpEntityId)) return 'Microsoft';
  if (/okta\.com/.test(config.idpEntityId)) return 'Okta';
  return 'Single sign-on';
}

export function certificatesOf(c: Connection): CertificateInfo[] {
  return c.config.certificates.map((pem) => describeCertificate(pem));
}

/** What the admin API and CLI show: both sides of the handshake, certificates described, no secrets. */
export function connectionView(c: Connection, publicUrl: string, tenantSlug: string, siblings: Connection[] = []) {
  const sp = spUrls(publicUrl, tenantSlug, c.slug);
  return {
    id: c.id,
    slug: c.slug,
    protocol: c.protocol,
    displayName: c.displayName,
    enabled: c.enabled,
    publishedAt: c.publishedAt,
    live: isLive(c),
    warnings: connectionWarnings(c, siblings),
    jit: c.jit,
    waitingRoom: c.waitingRoom,
    allowIdpInitiated: c.config.allowIdpInitiated,
    allowSha1: c.config.allowSha1,
    clockSkewSeconds: c.config.clockSkewSeconds,
    attributeMap: c.attributeMap,
    testPassedAt: c.testPassedAt,
    sp: { identifier: sp.entityId, replyUrl: sp.acsUrl, signOnUrl: sp.loginUrl, logoutUrl: sp.sloUrl, metadataUrl: sp.entityId },
    idp: {
      entityId: c.config.idpEntityId,
      ssoUrl: c.config.ssoUrl,
      sloUrl: c.config.sloUrl,
      certificates: certificatesOf(c).map(({ pem: _pem, ...info }) => info),
      metadataUrl: c.metadataUrl,
      metadataFetchedAt: c.metadataFetchedAt,
      metadataError: c.metadataError,
    },
  };
}
export type ConnectionView = ReturnType<typeof connectionView>;

export interface ConnectionPatch {
  displayName?: string;
  enabled?: boolean;
  /** true: live now (tested or not, audited); false: back to testing. */
  published?: boolean;
  jit?: boolean;
  waitingRoom?: boolean;
  allowIdpInitiated?: boolean;
  allowSha1?: boolean;
  clockSkewSeconds?: number;
  attributeMap?: Record<string, string>;
  /** Replaces the identity provider's side (new metadata, URL, or by-hand values). */
  source?: IdpSource;
}

export const ATTRIBUTE_MAP_KEYS = ['subject', 'email', 'givenName', 'surname', 'displayName', 'groups'] as const;

export async function updateConnection(ctx: Ctx, idOrSlug: string, patch: ConnectionPatch, fetchImpl?: typeof fetch): Promise<Connection> {
  const resolved = patch.source ? await resolveIdpSource(patch.source, fetchImpl) : null;
  return ctx.db.transaction(async (tx) => {
    const before = await getConnection(tx, ctx.tenant.id, idOrSlug);
    await lockAdminChanges(tx, ctx.tenant.id);
    const config: SamlConfig = {
      ...before.config,
      ...(resolved?.idp ?? {}),
      ...(patch.allowIdpInitiated !== undefined ? { allowIdpInitiated: patch.allowIdpInitiated } : {}),
      ...(patch.allowSha1 !== undefined ? { allowSha1: patch.allowSha1 } : {}),
      ...(patch.clockSkewSeconds !== undefined ? { clockSkewSeconds: patch.clockSkewSeconds } : {}),
    };
    const attributeMap = patch.attributeMap
      ? Object.fromEntries(Object.entries(patch.attributeMap).filter(([k, v]) => (ATTRIBUTE_MAP_KEYS as readonly string[]).includes(k) && v.trim() !== ''))
      : before.attributeMap;
    // A new identity-provider side must pass a test sign-in again before enforcement relies on it.
    const retest =
      resolved !== null &&
      (resolved.idp.idpEntityId !== before.config.idpEntityId ||
        resolved.idp.ssoUrl !== before.config.ssoUrl ||
        JSON.stringify([...resolved.idp.certificates].sort()) !== JSON.stringify([...before.config.certificates].sort()));
    await tx.query(
      `UPDATE sso_connections SET display_name = $3, enabled = $4, jit = $5, waiting_room = $6, config = $7, attribute_map = $8,
         metadata_url = CASE WHEN $9 THEN $10 ELSE metadata_url END,
         metadata_xml = CASE WHEN $9 THEN $11 ELSE metadata_xml END,
         metadata_fetched_at = CASE WHEN $9 THEN (CASE WHEN $11::text IS NULL THEN NULL ELSE now() END) ELSE metadata_fetched_at END,
         metadata_error = CASE WHEN $9 THEN NULL ELSE metadata_error END,
         test_passed_at = CASE WHEN $12 THEN NULL ELSE test_passed_at END,
         published_at = CASE WHEN $13::boolean IS NULL THEN published_at WHEN $13 THEN coalesce(published_at, now()) ELSE NULL END,
         updated_at = now()
       WHERE tenant_id = $1 AND id = $2`,
      [
        ctx.tenant.id,
        before.id,
        patch.displayName ?? before.displayName,
        patch.enabled ?? before.enabled,
        patch.jit ?? before.jit,
        patch.waitingRoom ?? before.waitingRoom,
        JSON.stringify(config),
        JSON.stringify(attributeMap),
        resolved !== null,
        resolved?.metadataUrl ?? null,
        resolved?.metadataXml ?? null,
        retest,
        patch.published ?? null,
      ],
    );
    const { source: _source, published: _published, ...rest } = patch;
    await audit(ctx, tx, {
      action: 'sso.connection_updated',
      targetType: 'connection',
      targetId: before.id,
      details: { ...rest, ...(resolved ? { idpEntityId: config.idpEntityId, certificates: config.certificates.map((c) => describeCertificate(c).thumbprintSha1) } : {}) },
    });
    if (patch.published === true && before.publishedAt === null) await auditPublished(ctx, tx, before.id, { slug: before.slug, tested: before.testPassedAt !== null && !retest });
    if (patch.published === false && before.publishedAt !== null) {
      await audit(ctx, tx, { action: 'sso.connection_unpublished', targetType: 'connection', targetId: before.id, details: { slug: before.slug } });
    }
    // Disabling or unpublishing may take away the last way in of an enforced tenant.
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    return getConnection(tx, ctx.tenant.id, before.id);
  });
}

export async function deleteConnection(ctx: Ctx, idOrSlug: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const c = await getConnection(tx, ctx.tenant.id, idOrSlug);
    await lockAdminChanges(tx, ctx.tenant.id);
    await tx.query('DELETE FROM sso_connections WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, c.id]);
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    await audit(ctx, tx, { action: 'sso.connection_deleted', targetType: 'connection', targetId: c.id, details: { slug: c.slug } });
  });
}
