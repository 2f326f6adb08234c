/**
 * A real SAML 2.0 identity provider for end-to-end tests: Debian's SimpleSAMLphp (1.19.x on
 * bookworm), served by PHP's built-in web server on loopback, configured to look like Microsoft
 * Entra ID or like Okta.
 *
 *   const idp = await startSimpleSamlIdp({ shape: 'entra', tenantId, sp: { entityId, acsUrl, sloUrl }, users });
 *   // idp.metadataXml / idp.ssoUrl / idp.certificatePem configure the SP under test
 *   await idp.stop();
 *
 * Each instance has its own temp dir (config, metadata, key + self-signed certificate, PHP session
 * files, logs), its own free port on 127.0.0.1 and its own cookie names, so several IdPs can run side
 * by side (even in one browser: cookies do not tell ports apart).
 *
 * Needs `php` and /usr/share/simplesamlphp: `bash test/idp/install.sh` (or call ensureSimpleSamlPhp()).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Where Debian's simplesamlphp package puts the document root (1.x: www/, 2.x would be public/). */
export const SIMPLESAMLPHP_ROOT = '/usr/share/simplesamlphp';
export const SIMPLESAMLPHP_WWW = path.join(SIMPLESAMLPHP_ROOT, 'www');

export const SAML = {
  bindingRedirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  bindingPost: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
  nameIdEmail: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  nameIdUnspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  nameIdTransient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  nameIdPersistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  attrNameFormatUri: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
  attrNameFormatBasic: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  attrNameFormatUnspecified: 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
} as const;

/** The claim URIs Microsoft Entra ID uses as SAML attribute names. */
export const ENTRA_CLAIMS = {
  emailaddress: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  givenname: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
  surname: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
  name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  objectidentifier: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  tenantid: 'http://schemas.microsoft.com/identity/claims/tenantid',
  displayname: 'http://schemas.microsoft.com/identity/claims/displayname',
  identityprovider: 'http://schemas.microsoft.com/identity/claims/identityprovider',
  authnmethodsreferences: 'http://schemas.microsoft.com/claims/authnmethodsreferences',
  groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
  role: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
} as const;

/** Okta's usual attribute-statement names (plain, NameFormat unspecified). */
export const OKTA_ATTRIBUTES = { email: 'email', firstName: 'firstName', lastName: 'lastName', groups: 'groups' } as const;

export interface IdpUser {
  /** Login name typed into the IdP's form. No ':' (SimpleSAMLphp's exampleauth keys users as "user:pass"). */
  username: string;
  password: string;
  /** Released verbatim (names and values) in the AttributeStatement. */
  attributes: Record<string, string[]>;
}

export interface SpConfig {
  entityId: string;
  /** AssertionConsumerService, HTTP-POST binding (index 0, default). */
  acsUrl: string;
  /** More ACS URLs the SP may name in AuthnRequests (HTTP-POST, index 1..). */
  extraAcsUrls?: string[];
  /** SingleLogoutService, HTTP-Redirect binding. Without it the IdP does not log this SP out. */
  sloUrl?: string;
}

export type IdpShape = 'entra' | 'okta';

export interface StartIdpOptions {
  shape: IdpShape;
  /** The Keydesk service provider the IdP trusts. One SP per IdP instance. */
  sp: SpConfig;
  users: IdpUser[];
  /** entra: issuer/entityID https://sts.windows.net/<tenantId>/ (default: a random UUID). */
  tenantId?: string;
  /** Override the entityID (both shapes). */
  entityId?: string;
  /** Attribute whose first value becomes the NameID (default: entra → the emailaddress claim, okta → `email`). */
  nameIdAttribute?: string;
  /** NameID Format (default: entra → emailAddress, okta → unspecified). */
  nameIdFormat?: string;
  /** Attribute NameFormat (default: entra → uri, okta → unspecified). */
  attributeNameFormat?: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Subject CN of the generated signing certificate. */
  certificateCn?: string;
  /** SimpleSAMLphp session lifetime at the IdP, seconds (default 8 h). */
  sessionDurationSeconds?: number;
  /** How long to wait for the server to answer (default 15 s). */
  startTimeoutMs?: number;
}

export interface RunningIdp {
  shape: IdpShape;
  /** http://127.0.0.1:<port> (no trailing slash). */
  baseUrl: string;
  entityId: string;
  /** SingleSignOnService, HTTP-Redirect and HTTP-POST bindings. */
  ssoUrl: string;
  /** SingleLogoutService, HTTP-Redirect and HTTP-POST bindings. */
  sloUrl: string;
  /** Where the IdP's SAML 2.0 metadata is served. */
  metadataUrl: string;
  /** The IdP's own metadata (EntityDescriptor), as fetched from metadataUrl at start. */
  metadataXml: string;
  /** The IdP's signing certificate (PEM). */
  certificatePem: string;
  /** Its private key (PEM), for tests that forge IdP-signed messages. */
  privateKeyPem: string;
  /** The signing certificate's SHA-256 / SHA-1 fingerprints ("AB:CD:..."). */
  fingerprint256: string;
  fingerprint1: string;
  /** Unsolicited (IdP-initiated) SSO to the configured SP; the response carries no InResponseTo. */
  idpInitiatedUrl(relayState?: string): string;
  /** IdP-initiated single logout: logs the IdP session out, sends LogoutRequest(s) to the SP, then goes to returnTo. */
  idpInitiatedLogoutUrl(returnTo: string): string;
  /** The config/temp dir (removed by stop()). */
  dir: string;
  /** php -S output and SimpleSAMLphp's log, for failure messages. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------

/** True when Debian's SimpleSAMLphp and a PHP CLI are installed. */
export function isSimpleSamlPhpInstalled(): boolean {
  if (!existsSync(path.join(SIMPLESAMLPHP_WWW, 'saml2/idp/SSOService.php'))) return false;
  const php = spawnSync('php', ['-m'], { encoding: 'utf8' });
  if (php.status !== 0) return false;
  const mods = php.stdout.toLowerCase().split('\n').map((s) => s.trim());
  return ['dom', 'mbstring', 'openssl', 'zlib', 'session'].every((m) => mods.includes(m));
}

/** Installs the Debian packages (test/idp/install.sh) when they are missing; throws if that fails. */
export function ensureSimpleSamlPhp(): void {
  if (isSimpleSamlPhpInstalled()) return;
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'install.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0 || !isSimpleSamlPhpInstalled()) {
    throw new Error(`SimpleSAMLphp is not installed and ${script} failed:\n${r.stdout}\n${r.stderr}`);
  }
}

/** The installed simplesamlphp package version, e.g. "1.19.7-1+deb12u2". */
export function simpleSamlPhpVersion(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'simplesamlphp'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

// ---------------------------------------------------------------------------------------------------

const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that crashes before stop() must not leave php -S servers behind.
  const killAll = () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killAll);
  // Nor must a test process stopped by a signal (the test runner's timeout/cancel): kill the servers,
  // then let the signal do what it would have done. Only where nobody else handles the signal.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    if (process.listenerCount(sig) > 0) continue;
    const onSignal = () => {
      killAll();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** A PHP literal for a JSON-like value (strings single-quoted, so nothing is interpolated). */
function php(v: unknown, indent = ''): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a PHP number: ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const inner = `${indent}    `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => `${inner}${php(x, inner)},`).join('\n')}\n${indent}]`;
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return '[]';
    return `[\n${entries.map(([k, x]) => `${inner}${php(k)} => ${php(x, inner)},`).join('\n')}\n${indent}]`;
  }
  throw new Error(`cannot express ${typeof v} in PHP`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function randomAlnum(n: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(n);
  return Array.from(bytes, (b) => chars[b % chars.length]).join('');
}

async function makeSigningKey(dir: string, cn: string): Promise<{ keyPath: string; certPath: string }> {
  const keyPath = path.join(dir, 'idp.key');
  const certPath = path.join(dir, 'idp.crt');
  await execFileP('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '365',
    '-subj', `/CN=${cn.replace(/[/=]/g, ' ')}`,
    '-keyout', keyPath, '-out', certPath,
  ]);
  return { keyPath, certPath };
}

interface ShapeSettings {
  entityId: string;
  signAssertion: boolean;
  signResponse: boolean;
  nameIdFormat: string;
  nameIdAttribute: string;
  attributeNameFormat: string;
  certificateCn: string;
}

function shapeSettings(opts: StartIdpOptions): ShapeSettings {
  if (opts.shape === 'entra') {
    const tenantId = opts.tenantId ?? randomUUID();
    return {
      entityId: opts.entityId ?? `https://sts.windows.net/${tenantId}/`,
      signAssertion: true,
      signResponse: false,
      nameIdFormat: opts.nameIdFormat ?? SAML.nameIdEmail,
      nameIdAttribute: opts.nameIdAttribute ?? ENTRA_CLAIMS.emailaddress,
      attributeNameFormat: opts.attributeNameFormat ?? SAML.attrNameFormatUri,
      certificateCn: opts.certificateCn ?? 'Microsoft Azure Federated SSO Certificate',
    };
  }
  return {
    entityId: opts.entityId ?? `http://www.okta.com/exk${randomAlnum(17)}`,
    signAssertion: false,
    signResponse: true,
    nameIdFormat: opts.nameIdFormat ?? SAML.nameIdUnspecified,
    nameIdAttribute: opts.nameIdAttribute ?? OKTA_ATTRIBUTES.email,
    attributeNameFormat: opts.attributeNameFormat ?? SAML.attrNameFormatUnspecified,
    certificateCn: opts.certificateCn ?? `dev-${randomAlnum(8).toLowerCase()}`,
  };
}

export async function startSimpleSamlIdp(opts: StartIdpOptions): Promise<RunningIdp> {
  if (!isSimpleSamlPhpInstalled()) {
    throw new Error('SimpleSAMLphp is not installed: run `bash test/idp/install.sh` (or call ensureSimpleSamlPhp())');
  }
  const shape = shapeSettings(opts);
  if (opts.users.length === 0) throw new Error('startSimpleSamlIdp: give at least one user');
  for (const u of opts.users) {
    if (u.username.includes(':')) throw new Error(`IdP username may not contain ':' (${u.username})`);
    if (!u.attributes[shape.nameIdAttribute]?.length) {
      throw new Error(`user ${u.username} has no '${shape.nameIdAttribute}' attribute, which the ${opts.shape} IdP uses as NameID`);
    }
  }

  const dir = await mkdtemp(path.join(tmpdir(), `keydesk-idp-${opts.shape}-`));
  tempDirs.add(dir);
  installExitHook();
  try {
    return await startIn(dir, opts, shape);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
    throw e;
  }
}

async function startIn(dir: string, opts: StartIdpOptions, shape: ShapeSettings): Promise<RunningIdp> {
  const configDir = path.join(dir, 'config');
  const metadataDir = path.join(dir, 'metadata');
  const certDir = path.join(dir, 'cert');
  const logDir = path.join(dir, 'log');
  for (const d of [configDir, metadataDir, certDir, logDir, path.join(dir, 'data'), path.join(dir, 'tmp'), path.join(dir, 'sessions')]) {
    await mkdir(d, { recursive: true });
  }
  const { keyPath, certPath } = await makeSigningKey(certDir, shape.certificateCn);
  const certificatePem = await readFile(certPath, 'utf8');
  const privateKeyPem = await readFile(keyPath, 'utf8');
  const x509 = new X509Certificate(certificatePem);

  const signLogout = true;
  const idpHosted = {
    host: '__DEFAULT__',
    privatekey: keyPath,
    certificate: certPath,
    auth: 'users',
    'saml20.sign.assertion': shape.signAssertion,
    'saml20.sign.response': shape.signResponse,
    'signature.algorithm': SAML.rsaSha256,
    'assertion.encryption': false,
    'nameid.encryption': false,
    NameIDFormat: shape.nameIdFormat,
    'simplesaml.nameidattribute': shape.nameIdAttribute,
    // The NameID both Entra and Okta send: the attribute's value, no NameQualifier/SPNameQualifier
    // (without this filter SimpleSAMLphp adds SPNameQualifier=<SP entityID>).
    authproc: {
      10: { class: 'saml:AttributeNameID', Format: shape.nameIdFormat, attribute: shape.nameIdAttribute, NameQualifier: false, SPNameQualifier: false },
    },
    'attributes.NameFormat': shape.attributeNameFormat,
    'validate.authnrequest': false,
    'validate.logout': false,
    'redirect.validate': false,
    'sign.logout': signLogout,
    SingleSignOnServiceBinding: [SAML.bindingRedirect, SAML.bindingPost],
    SingleLogoutServiceBinding: [SAML.bindingRedirect, SAML.bindingPost],
  };
  const acs = [opts.sp.acsUrl, ...(opts.sp.extraAcsUrls ?? [])].map((Location, index) => ({
    Binding: SAML.bindingPost,
    Location,
    index,
    ...(index === 0 ? { isDefault: true } : {}),
  }));
  const spRemote: Record<string, unknown> = {
    AssertionConsumerService: acs,
    NameIDFormat: shape.nameIdFormat,
    'simplesaml.nameidattribute': shape.nameIdAttribute,
    'attributes.NameFormat': shape.attributeNameFormat,
    'saml20.sign.assertion': shape.signAssertion,
    'saml20.sign.response': shape.signResponse,
    'signature.algorithm': SAML.rsaSha256,
    'validate.authnrequest': false,
    'validate.logout': false,
    'sign.logout': signLogout,
  };
  if (opts.sp.sloUrl) spRemote.SingleLogoutService = [{ Binding: SAML.bindingRedirect, Location: opts.sp.sloUrl }];

  const users: Record<string, unknown> = {};
  for (const u of opts.users) users[`${u.username}:${u.password}`] = u.attributes;

  await writeFile(
    path.join(configDir, 'authsources.php'),
    `<?php\n$config = ${php({ admin: ['core:AdminPassword'], users: { 0: 'exampleauth:UserPass', ...users } })};\n`,
  );
  // `{ 0: 'exampleauth:UserPass', ... }` becomes [ '0' => 'exampleauth:UserPass', ...]: PHP turns the
  // numeric-string key '0' into the integer 0, which is where SimpleSAMLphp looks for the source class.
  await writeFile(path.join(metadataDir, 'saml20-idp-hosted.php'), `<?php\n$metadata[${php(shape.entityId)}] = ${php(idpHosted)};\n`);
  await writeFile(path.join(metadataDir, 'saml20-sp-remote.php'), `<?php\n$metadata[${php(opts.sp.entityId)}] = ${php(spRemote)};\n`);

  const attempts = opts.port ? 1 : 3;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(dir, configDir, port, opts, shape, { certificatePem, privateKeyPem, x509 });
    } catch (e) {
      lastError = e;
      if (!(e instanceof PortInUse)) break;
    }
  }
  throw lastError;
}

class PortInUse extends Error {}

async function launch(
  dir: string,
  configDir: string,
  port: number,
  opts: StartIdpOptions,
  shape: ShapeSettings,
  keys: { certificatePem: string; privateKeyPem: string; x509: X509Certificate },
): Promise<RunningIdp> {
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = {
    baseurlpath: `${baseUrl}/`,
    certdir: path.join(dir, 'cert') + '/',
    loggingdir: path.join(dir, 'log') + '/',
    datadir: path.join(dir, 'data') + '/',
    tempdir: path.join(dir, 'tmp'),
    metadatadir: path.join(dir, 'metadata') + '/',
    attributenamemapdir: path.join(SIMPLESAMLPHP_ROOT, 'config/attributemap') + '/',
    'metadata.sources': [{ type: 'flatfile' }],
    secretsalt: randomBytes(24).toString('hex'),
    'auth.adminpassword': randomBytes(12).toString('hex'),
    'admin.protectindexpage': false,
    'admin.protectmetadata': false,
    'admin.checkforupdates': false,
    technicalcontact_name: 'Keydesk tests',
    technicalcontact_email: 'na@example.org',
    timezone: 'UTC',
    // null = RelayState / ReturnTo may go anywhere (the SP under test runs on another loopback port).
    'trusted.url.domains': null,
    'enable.saml20-idp': true,
    'enable.shib13-idp': false,
    'enable.adfs-idp': false,
    'enable.http_post': false,
    'assertion.allowed_clock_skew': 180,
    debug: { saml: false, backtraces: true, validatexml: false },
    showerrors: true,
    errorreporting: false,
    'logging.level': 7, // SimpleSAML\Logger::DEBUG
    'logging.handler': 'file',
    'logging.logfile': 'simplesamlphp.log',
    'statistics.out': [],
    'module.enable': { exampleauth: true, core: true, saml: true, admin: true },
    'session.duration': opts.sessionDurationSeconds ?? 8 * 3600,
    'session.datastore.timeout': 4 * 3600,
    'session.state.timeout': 3600,
    // Cookies ignore ports: a unique name per instance keeps two IdPs (and Keydesk) on 127.0.0.1 apart.
    'session.cookie.name': `SimpleSAMLSessionID_${port}`,
    'session.cookie.lifetime': 0,
    'session.cookie.path': '/',
    'session.cookie.domain': null,
    'session.cookie.secure': false, // plain http on loopback
    'session.cookie.samesite': null,
    'session.phpsession.cookiename': `SimpleSAML_${port}`,
    'session.phpsession.savepath': path.join(dir, 'sessions'),
    'session.phpsession.httponly': true,
    'session.authtoken.cookiename': `SimpleSAMLAuthToken_${port}`,
    'session.rememberme.enable': false,
    'language.available': ['en'],
    'language.default': 'en',
    'language.cookie.secure': false,
    'language.cookie.samesite': null,
    'language.cookie.name': `language_${port}`,
    'theme.use': 'default',
    production: true,
    'store.type': 'phpsession',
    'authproc.idp': {},
    'authproc.sp': {},
    'metadata.sign.enable': false,
  };
  await writeFile(path.join(configDir, 'config.php'), `<?php\n$config = ${php(config)};\n`);

  let output = '';
  const child = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', SIMPLESAMLPHP_WWW], {
    cwd: SIMPLESAMLPHP_WWW,
    env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: configDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  installExitHook();
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exitedP = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    }),
  );

  const stopChild = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitedP;
      clearTimeout(t);
    }
  };

  const metadataUrl = `${baseUrl}/saml2/idp/metadata.php`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  let metadataXml = '';
  let lastProblem = '';
  while (!metadataXml) {
    if (exited) {
      if (/Address already in use|Failed to listen/i.test(output)) throw new PortInUse(`port ${port} in use`);
      throw new Error(`php -S exited before answering:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stopChild();
      const log = await readFile(path.join(dir, 'log/simplesamlphp.log'), 'utf8').catch(() => '');
      throw new Error(`SimpleSAMLphp did not serve ${metadataUrl} in time (${lastProblem})\n${output}\n${log}`);
    }
    try {
      const res = await fetch(metadataUrl, { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      if (res.status === 200 && text.includes('EntityDescriptor')) metadataXml = text;
      else lastProblem = `HTTP ${res.status}: ${text.slice(0, 500)}`;
    } catch (e) {
      lastProblem = String(e);
    }
    if (!metadataXml) await new Promise((r) => setTimeout(r, 100));
  }

  const ssoUrl = `${baseUrl}/saml2/idp/SSOService.php`;
  const sloUrl = `${baseUrl}/saml2/idp/SingleLogoutService.php`;
  let stopped = false;
  return {
    shape: opts.shape,
    baseUrl,
    entityId: shape.entityId,
    ssoUrl,
    sloUrl,
    metadataUrl,
    metadataXml,
    certificatePem: keys.certificatePem,
    privateKeyPem: keys.privateKeyPem,
    fingerprint256: keys.x509.fingerprint256,
    fingerprint1: keys.x509.fingerprint,
    dir,
    idpInitiatedUrl(relayState?: string) {
      const u = new URL(ssoUrl);
      u.searchParams.set('spentityid', opts.sp.entityId);
      if (relayState !== undefined) u.searchParams.set('RelayState', relayState);
      return u.toString();
    },
    idpInitiatedLogoutUrl(returnTo: string) {
      const u = new URL(`${baseUrl}/saml2/idp/initSLO.php`);
      u.searchParams.set('RelayState', returnTo);
      return u.toString();
    },
    async logs() {
      const log = await readFile(path.join(dir, 'log/simplesamlphp.log'), 'utf8').catch(() => '');
      return `--- php -S ---\n${output}\n--- simplesamlphp.log ---\n${log}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild();
      await rm(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

/** A person at the Entra-shaped IdP: Entra's claim URIs, `<username>@corp.test`, a fresh object id. Password `<username>-pw`. */
export function entraUser(username: string, given: string, groups: string[]): IdpUser {
  return {
    username,
    password: `${username}-pw`,
    attributes: {
      [ENTRA_CLAIMS.emailaddress]: [`${username}@corp.test`],
      [ENTRA_CLAIMS.givenname]: [given],
      [ENTRA_CLAIMS.surname]: ['Example'],
      [ENTRA_CLAIMS.objectidentifier]: [randomUUID()],
      [ENTRA_CLAIMS.groups]: groups,
    },
  };
}
