import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';
import { CertificateRejected, describeCertificate, toPem, type CertificateInfo } from './saml/certificates.js';
import { checkUrl, MAX_METADATA_BYTES, MetadataRejected, parseIdpMetadata, type SpUrls } from './saml/metadata.js';
import { assertTenantKeepsAccess, isUuid, lockAdminChanges } from './users.js';
import type { OidcConfig } from './oidc/config.js';
import { oidcView } from './oidc/view.js';
import { applyOidcClientPatch, changesParty, type OidcClientPatch } from './oidc/client-patch.js';
import { discoverProvider } from './oidc/provider.js';
import { checkClientCredentials } from './oidc/connection.js';
import type { SecretBox } from './secrets.js';

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

interface ConnectionCommon {
  id: string;
  slug: string;
  displayName: string;
  enabled: boolean;
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
  /** Moves on with every change to the stored row (migration 019): a copy kept in memory is current while it matches. */
  version: number;
}

export interface SamlConnection extends ConnectionCommon {
  protocol: 'saml';
  config: SamlConfig;
}

export interface OidcConnection extends ConnectionCommon {
  protocol: 'oidc';
  config: OidcConfig;
}

/** An identity-provider connection of a tenant: SAML 2.0 or OpenID Connect, told apart by `protocol`. */
export type Connection = SamlConnection | OidcConnection;

/**
 * Live: enabled and published. Only a live connection has a button on the sign-in page and signs
 * people in; one being tested serves only the admin's test sign-in.
 */
export function isLive(c: Pick<Connection, 'enabled' | 'publishedAt'>): boolean {
  return c.enabled && c.publishedAt !== null;
}

const COLUMNS = `id, slug, protocol, display_name AS "displayName", enabled, config, jit, waiting_room AS "waitingRoom",
  attribute_map AS "attributeMap", metadata_url AS "metadataUrl", metadata_fetched_at AS "metadataFetchedAt",
  metadata_error AS "metadataError", test_passed_at AS "testPassedAt", published_at AS "publishedAt", created_at AS "createdAt", version`;

/**
 * The connection changed after this copy of it was read (its version moved on): whatever was
 * decided with the copy is void, and the work starts again with the stored one.
 */
export class StaleConnection extends Error {
  constructor() {
    super('The connection changed since this copy of it was read.');
  }
}

/** Whether `conn` is still the stored version of the connection (false also when it was deleted). */
export async function isCurrent(q: Queryable, conn: Pick<Connection, 'id' | 'version'>): Promise<boolean> {
  const rows = await q.query<{ version: number }>('SELECT version FROM sso_connections WHERE id = $1', [conn.id]);
  return rows[0]?.version === conn.version;
}

/** Where a person starts signing in through a connection, whatever its protocol (`?RelayState=` picks the page). */
export function loginPath(tenantSlug: string, c: Pick<Connection, 'protocol' | 'slug'>): string {
  return `/t/${tenantSlug}/${c.protocol}/${c.slug}/login`;
}

/** Where every SAML URL of a tenant's connections starts (`{base}/{slug}/acs`, …). */
export function spBaseUrl(publicUrl: string, tenantSlug: string): string {
  return `${publicUrl}/t/${tenantSlug}/saml`;
}

export function spUrls(publicUrl: string, tenantSlug: string, connSlug: string): SpUrls {
  const base = `${spBaseUrl(publicUrl, tenantSlug)}/${connSlug}`;
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

/**
 * Test sign-ins that were started and never came back, newest per connection: the provider showed
 * an error on its own page (an unregistered redirect URI, an unknown client ID) and the admin was
 * left there. Only those started more than a minute ago and within the last day count.
 */
export async function unansweredTests(q: Queryable, tenantId: string): Promise<Map<string, Date>> {
  const rows = await q.query<{ connection_id: string; started: Date }>(
    `SELECT connection_id, max(created_at) AS started FROM (
       SELECT connection_id, created_at, consumed_at FROM saml_requests WHERE tenant_id = $1 AND test
       UNION ALL SELECT connection_id, created_at, consumed_at FROM oidc_requests WHERE tenant_id = $1 AND test
     ) r
     WHERE consumed_at IS NULL AND created_at < now() - interval '1 minute' AND created_at > now() - interval '1 day'
       AND NOT EXISTS (SELECT 1 FROM signin_traces s WHERE s.tenant_id = $1 AND s.connection_id = r.connection_id AND s.test AND s.created_at > r.created_at)
     GROUP BY connection_id`,
    [tenantId],
  );
  return new Map(rows.map((r) => [r.connection_id, r.started]));
}

export async function getSamlConnection(q: Queryable, tenantId: string, slugOrId: string): Promise<SamlConnection> {
  const c = await getConnection(q, tenantId, slugOrId);
  if (c.protocol !== 'saml') throw new NotFound('SAML connection');
  return c;
}

export async function getOidcConnection(q: Queryable, tenantId: string, slugOrId: string): Promise<OidcConnection> {
  const c = await getConnection(q, tenantId, slugOrId);
  if (c.protocol !== 'oidc') throw new NotFound('OpenID Connect connection');
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
  const host = new URL(url).host;
  const res = await fetchImpl(url, { signal: AbortSignal.timeout(METADATA_TIMEOUT_MS), redirect: 'follow' }).catch((err: Error) => {
    throw new MetadataRejected(unreachable(host, err));
  });
  if (!res.ok) throw new MetadataRejected(`The metadata URL answered HTTP ${res.status}.`);
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > MAX_METADATA_BYTES) throw new MetadataRejected('The metadata document is larger than 1 MiB.');
  const body = await res.text().catch((err: Error) => {
    throw new MetadataRejected(unreachable(host, err));
  });
  if (Buffer.byteLength(body) > MAX_METADATA_BYTES) throw new MetadataRejected('The metadata document is larger than 1 MiB.');
  if (/^\s*(?:<!doctype html|<html[\s>])/i.test(body) || /^text\/html/i.test(res.headers.get('content-type') ?? '')) {
    throw new MetadataRejected(
      'The URL answered with a web page (HTML), not SAML metadata. Copy the metadata URL itself: in Entra, the App Federation Metadata Url (…/federationmetadata/2007-06/federationmetadata.xml?appid=…), not the address of the Entra page; in Okta, the Metadata URL on the Sign On tab.',
    );
  }
  return body;
}

const METADATA_TIMEOUT_MS = 10_000;

/** Why a URL could not be read, in words an admin can act on (fetch's own is "fetch failed"). */
function unreachable(host: string, err: Error): string {
  const code = (err.cause as { code?: string } | undefined)?.code ?? (err as { code?: string }).code;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `${host} did not answer within ${METADATA_TIMEOUT_MS / 1000} seconds. Check the URL, and that Keydesk's server may reach it.`;
  if (code === 'ECONNREFUSED') return `Nothing answers at ${host} (connection refused). Check the URL's host and port.`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `The host name ${host} does not resolve. Check the URL for typos.`;
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return `${host}'s TLS certificate is not trusted (${code}). Use the identity provider's public https URL.`;
  return `The metadata URL could not be read from ${host}${code ? ` (${code})` : ''}.`;
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

export async function createSamlConnection(ctx: Ctx, input: NewSamlConnection, fetchImpl?: typeof fetch): Promise<SamlConnection> {
  const slug = input.slug.toLowerCase();
  if (!CONNECTION_SLUG.test(slug)) invalid('slug', 'Use 1-40 lowercase letters, digits or inner hyphens, for example "entra" or "okta".');
  const resolved = await resolveIdpSource(input.source, fetchImpl);
  const config: SamlConfig = {
    ...resolved.idp,
    allowIdpInitiated: input.allowIdpInitiated ?? true,
    allowSha1: input.allowSha1 ?? false,
    clockSkewSeconds: input.clockSkewSeconds ?? 180,
  };
  const id = await insertConnection(ctx, {
    slug,
    protocol: 'saml',
    displayName: input.displayName ?? defaultDisplayName(config.idpEntityId),
    config,
    jit: input.jit,
    waitingRoom: input.waitingRoom,
    publish: input.publish,
    metadata: resolved.metadataXml !== null ? { url: resolved.metadataUrl, xml: resolved.metadataXml } : null,
    audited: { idpEntityId: config.idpEntityId, certificates: config.certificates.map((c) => describeCertificate(c).thumbprintSha1) },
  });
  return getSamlConnection(ctx.db, ctx.tenant.id, id);
}

/**
 * Stores a new connection of either protocol, in testing unless `publish` (audited either way).
 * @returns its id
 * @throws Conflict `connection_exists` when the tenant has a connection of that name
 */
export async function insertConnection(
  ctx: Ctx,
  c: {
    slug: string;
    protocol: Connection['protocol'];
    displayName: string;
    config: SamlConfig | OidcConfig;
    jit?: boolean;
    waitingRoom?: boolean;
    publish?: boolean;
    metadata?: { url: string | null; xml: string } | null;
    /** What the audit event says about the provider (never a secret). */
    audited: Record<string, unknown>;
  },
): Promise<string> {
  return ctx.db.transaction(async (tx) => {
    let id: string;
    try {
      id = (
        await tx.query<{ id: string }>(
          `INSERT INTO sso_connections (tenant_id, slug, protocol, display_name, config, jit, waiting_room, metadata_url, metadata_xml, metadata_fetched_at, published_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $9::text IS NULL THEN NULL ELSE now() END, CASE WHEN $10 THEN now() END) RETURNING id`,
          [ctx.tenant.id, c.slug, c.protocol, c.displayName, JSON.stringify(c.config), c.jit ?? true, c.waitingRoom ?? false, c.metadata?.url ?? null, c.metadata?.xml ?? null, c.publish ?? false],
        )
      )[0]!.id;
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`A connection named "${c.slug}" already exists.`, 'connection_exists');
      throw err;
    }
    await audit(ctx, tx, { action: 'sso.connection_created', targetType: 'connection', targetId: id, details: { slug: c.slug, protocol: c.protocol, ...c.audited } });
    if (c.publish) await auditPublished(ctx, tx, id, { slug: c.slug, tested: false });
    return id;
  });
}

/** Publishing is audited with whether a test had passed: publishing untested is the admin's call, on record. */
export async function auditPublished(ctx: Ctx, tx: Queryable, connectionId: string, details: { slug: string; tested: boolean; via?: 'test' }): Promise<void> {
  await audit(ctx, tx, { action: 'sso.connection_published', targetType: 'connection', targetId: connectionId, details });
}

/** Who a connection trusts: a SAML entity ID, or an OpenID issuer and the client registered there. */
function trustedParty(c: Connection): { key: string; named: string } {
  return c.protocol === 'saml'
    ? { key: `saml ${c.config.idpEntityId}`, named: `entity ID ${c.config.idpEntityId}` }
    : { key: `oidc ${c.config.issuer} ${c.config.clientId}`, named: `issuer ${c.config.issuer}, client ID ${c.config.clientId}` };
}

/**
 * Why an admin should look twice: another connection of the tenant trusts the same identity
 * provider (two buttons that look alike, one of them maybe broken).
 */
export function connectionWarnings(c: Connection, siblings: Connection[]): string[] {
  const mine = trustedParty(c);
  return siblings
    .filter((o) => o.id !== c.id && trustedParty(o).key === mine.key)
    .map(
      (o) =>
        `Connection "${o.slug}" trusts the same identity provider (${mine.named}). Once both are live, the sign-in page shows two look-alike buttons: keep one, and disable or delete the other once the one you keep has passed its test.`,
    );
}

/** "Microsoft" for Entra, "Okta" for Okta: what the sign-in button says. */
export function defaultDisplayName(identifier: string): string {
  if (/^https:\/\/(?:sts\.windows\.net|login\.microsoftonline\.com)\//.test(identifier)) return 'Microsoft';
  if (/okta\.com/.test(identifier)) return 'Okta';
  return 'Single sign-on';
}

export function certificatesOf(c: SamlConnection): CertificateInfo[] {
  return c.config.certificates.map((pem) => describeCertificate(pem));
}

function commonView(c: Connection, siblings: Connection[]) {
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
    clockSkewSeconds: c.config.clockSkewSeconds,
    attributeMap: c.attributeMap,
    testPassedAt: c.testPassedAt,
  };
}

function samlView(c: SamlConnection, publicUrl: string, tenantSlug: string, siblings: Connection[]) {
  const sp = spUrls(publicUrl, tenantSlug, c.slug);
  return {
    ...commonView(c, siblings),
    allowIdpInitiated: c.config.allowIdpInitiated,
    allowSha1: c.config.allowSha1,
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

/**
 * What the admin API and CLI show: both sides of the handshake, certificates described, no
 * secrets. SAML connections carry `sp` and `idp`, OpenID Connect ones `oidc`.
 */
export function connectionView(c: SamlConnection, publicUrl: string, tenantSlug: string, siblings?: Connection[]): ReturnType<typeof samlView>;
export function connectionView(c: Connection, publicUrl: string, tenantSlug: string, siblings?: Connection[]): ConnectionView;
export function connectionView(c: Connection, publicUrl: string, tenantSlug: string, siblings: Connection[] = []): ConnectionView {
  if (c.protocol === 'oidc') return { ...commonView(c, siblings), oidc: oidcView(c, publicUrl, tenantSlug) };
  return samlView(c, publicUrl, tenantSlug, siblings);
}
export type ConnectionView = ReturnType<typeof samlView> | (ReturnType<typeof commonView> & { oidc: ReturnType<typeof oidcView> });

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
  /** OpenID Connect: a new client secret (rotation), its expiry, the allowed Entra tenants. */
  oidc?: OidcClientPatch;
}

export const ATTRIBUTE_MAP_KEYS = ['subject', 'email', 'givenName', 'surname', 'displayName', 'groups'] as const;

export async function updateConnection(ctx: Ctx, idOrSlug: string, patch: ConnectionPatch, opts: { fetchImpl?: typeof fetch; box?: SecretBox; redirectUri?: string } = {}): Promise<Connection> {
  const resolved = patch.source ? await resolveIdpSource(patch.source, opts.fetchImpl) : null;
  // Another OIDC issuer is read before the transaction: discovery talks to the provider.
  const discoveredIssuer = patch.oidc?.issuer?.trim().replace(/\/\.well-known\/openid-configuration\/?$/, '');
  const discovered = discoveredIssuer ? { issuer: discoveredIssuer, provider: await discoverProvider(discoveredIssuer) } : null;
  // A new secret (with another client or issuer, maybe) is tried at the provider before it is kept,
  // outside any transaction: the provider is talked to.
  if (patch.oidc?.clientSecret && opts.redirectUri) {
    const current = await getConnection(ctx.db, ctx.tenant.id, idOrSlug);
    if (current.protocol === 'oidc') await checkClientCredentials(applyOidcClientPatch(current.config, patch.oidc, opts.box, discovered), patch.oidc.clientSecret, opts.redirectUri);
  }
  return ctx.db.transaction(async (tx) => {
    const before = await getConnection(tx, ctx.tenant.id, idOrSlug);
    await lockAdminChanges(tx, ctx.tenant.id);
    const skew = patch.clockSkewSeconds !== undefined ? { clockSkewSeconds: patch.clockSkewSeconds } : {};
    let config: SamlConfig | OidcConfig;
    if (before.protocol === 'saml' && patch.oidc) {
      invalid(Object.keys(patch.oidc).find((k) => patch.oidc![k as keyof OidcClientPatch] !== undefined) ?? 'clientSecret', 'is an OpenID Connect setting, and this is a SAML connection.');
    }
    if (before.protocol === 'saml') {
      config = {
        ...before.config,
        ...(resolved?.idp ?? {}),
        ...(patch.allowIdpInitiated !== undefined ? { allowIdpInitiated: patch.allowIdpInitiated } : {}),
        ...(patch.allowSha1 !== undefined ? { allowSha1: patch.allowSha1 } : {}),
        ...skew,
      };
    } else {
      const samlOnly = (['source', 'allowIdpInitiated', 'allowSha1'] as const).find((k) => patch[k] !== undefined);
      if (samlOnly) invalid(samlOnly === 'source' ? 'metadataXml' : samlOnly, 'is a SAML setting, and this is an OpenID Connect connection.');
      config = { ...(patch.oidc ? applyOidcClientPatch(before.config, patch.oidc, opts.box, discovered) : before.config), ...skew };
    }
    const attributeMap = patch.attributeMap
      ? Object.fromEntries(Object.entries(patch.attributeMap).filter(([k, v]) => (ATTRIBUTE_MAP_KEYS as readonly string[]).includes(k) && v.trim() !== ''))
      : before.attributeMap;
    // Another identity provider (entity ID or sign-in URL) is untested: the connection goes back to
    // testing, unless the admin publishes it anyway in the same change. New certificates of the
    // same provider are a rollover, as the daily metadata refresh picks up, and keep it live.
    const retest =
      before.protocol === 'saml'
        ? resolved !== null && (resolved.idp.idpEntityId !== before.config.idpEntityId || resolved.idp.ssoUrl !== before.config.ssoUrl)
        : changesParty(before.config, config as OidcConfig);
    await tx.query(
      `UPDATE sso_connections SET display_name = $3, enabled = $4, jit = $5, waiting_room = $6, config = $7, attribute_map = $8,
         metadata_url = CASE WHEN $9 THEN $10 ELSE metadata_url END,
         metadata_xml = CASE WHEN $9 THEN $11 ELSE metadata_xml END,
         metadata_fetched_at = CASE WHEN $9 THEN (CASE WHEN $11::text IS NULL THEN NULL ELSE now() END) ELSE metadata_fetched_at END,
         metadata_error = CASE WHEN $9 THEN NULL ELSE metadata_error END,
         test_passed_at = CASE WHEN $12 THEN NULL ELSE test_passed_at END,
         published_at = CASE WHEN $13::boolean IS NULL THEN (CASE WHEN $12 THEN NULL ELSE published_at END) WHEN $13 THEN coalesce(published_at, now()) ELSE NULL END,
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
    // The audit event says what changed, never a secret: a new client secret is recorded as rotated.
    const { source: _source, published: _published, oidc, ...rest } = patch;
    if (oidc) {
      Object.assign(rest, {
        ...(oidc.clientSecret !== undefined ? { clientSecretRotated: true } : {}),
        ...(oidc.secretExpiresAt !== undefined ? { secretExpiresAt: oidc.secretExpiresAt } : {}),
        ...(oidc.allowedTenants !== undefined ? { allowedTenants: oidc.allowedTenants } : {}),
        ...(oidc.issuer !== undefined ? { issuer: (config as OidcConfig).issuer } : {}),
        ...(oidc.clientId !== undefined ? { clientId: (config as OidcConfig).clientId } : {}),
      });
    }
    await audit(ctx, tx, {
      action: 'sso.connection_updated',
      targetType: 'connection',
      targetId: before.id,
      details: { ...rest, ...(resolved && 'idpEntityId' in config ? { idpEntityId: config.idpEntityId, certificates: config.certificates.map((c) => describeCertificate(c).thumbprintSha1) } : {}) },
    });
    if (patch.published === true && before.publishedAt === null) await auditPublished(ctx, tx, before.id, { slug: before.slug, tested: before.testPassedAt !== null && !retest });
    if (patch.published === true && retest && before.publishedAt !== null) await auditPublished(ctx, tx, before.id, { slug: before.slug, tested: false });
    if (before.publishedAt !== null && (patch.published === false || (retest && patch.published === undefined))) {
      await audit(ctx, tx, {
        action: 'sso.connection_unpublished',
        targetType: 'connection',
        targetId: before.id,
        details: { slug: before.slug, ...(patch.published === undefined ? { reason: 'identity provider replaced: back to testing' } : {}) },
      });
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
