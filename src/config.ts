import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Typed configuration, read once from the environment and validated at start. */
export interface Config {
  port: number;
  host: string;
  /** Origin the outside world uses to reach Keydesk, without a trailing slash. */
  publicUrl: string;
  /** Unset: the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  /**
   * Send statements to PostgreSQL as named prepared statements (KEYDESK_PG_PREPARED_STATEMENTS,
   * default true); false for a pooler that cannot carry them (PgBouncer in transaction mode before 1.21).
   */
  preparedStatements: boolean;
  dataDir: string;
  /** Key material for encrypting stored secrets (TOTP seeds) and signing state. */
  secret: string;
  logLevel: string;
  session: { idleMinutes: number; absoluteHours: number };
  /** Directory with the built web app; absent in API-only test runs. */
  webDir: string;
  /** DNS servers for domain verification (`ip` or `ip:port`); unset: the system's. */
  dnsServers: string[] | undefined;
  /** SCIM requests per tenant per minute, shared by every node; beyond it, 429 with Retry-After. */
  scimRequestsPerMinute: number;
  /** Strict-Transport-Security max-age in seconds, sent only when PUBLIC_URL is https; 0: not sent. */
  hstsMaxAge: number;
  /** Days a sign-in trace is kept (KEYDESK_TRACE_RETENTION_DAYS). */
  traceRetentionDays: number;
  /**
   * Whether webhooks and other tenant-chosen outbound calls may reach loopback, private and
   * link-local addresses (KEYDESK_WEBHOOK_ALLOW_PRIVATE=true): off, so a tenant admin cannot reach
   * into the operator's network; tests and single-company installs turn it on.
   */
  webhookAllowPrivate: boolean;
  /** Run the job worker in this process (KEYDESK_WORKER=false turns it off, e.g. on API-only nodes). */
  worker: boolean;
  /** How long an idle worker waits before looking for due jobs again (ms, KEYDESK_WORKER_POLL_MS). */
  workerPollMs: number;
  /** Jobs this process runs at once, one per lane (KEYDESK_WORKER_CONCURRENCY, 1..32, default 4). */
  workerConcurrency: number;
  /** Seconds a claimed job stays its node's before another node may run it again (KEYDESK_JOB_LEASE_SECONDS). */
  jobLeaseSeconds: number;
}

export class ConfigError extends Error {}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

function boolVar(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function publicUrlVar(env: NodeJS.ProcessEnv, port: number): string {
  const raw = env.PUBLIC_URL || `http://localhost:${port}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`PUBLIC_URL must use http or https, got "${raw}"`);
  }
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ConfigError(`PUBLIC_URL must be an origin without path, query or fragment, got "${raw}"`);
  }
  return url.origin;
}

/**
 * The secret is required with an external database (several nodes must share it). In embedded
 * mode it is generated once and kept in the data folder, so `npm start` needs no setup.
 */
function secretVar(env: NodeJS.ProcessEnv, databaseUrl: string | undefined, dataDir: string): string {
  const given = env.KEYDESK_SECRET;
  if (given) {
    if (given.length < 32) throw new ConfigError('KEYDESK_SECRET must be at least 32 characters');
    return given;
  }
  if (databaseUrl) {
    throw new ConfigError('KEYDESK_SECRET is required when DATABASE_URL is set (every node must share it)');
  }
  const file = path.join(dataDir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intVar(env, 'PORT', 3000, 0, 65535);
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const dataDir = path.resolve(env.KEYDESK_DATA_DIR || './data');
  return {
    port,
    host: env.HOST || '127.0.0.1',
    publicUrl: publicUrlVar(env, port),
    databaseUrl,
    preparedStatements: boolVar(env, 'KEYDESK_PG_PREPARED_STATEMENTS', true),
    dataDir,
    secret: secretVar(env, databaseUrl, dataDir),
    logLevel: env.LOG_LEVEL || 'info',
    session: {
      idleMinutes: intVar(env, 'KEYDESK_SESSION_IDLE_MINUTES', 60, 1, 7 * 24 * 60),
      absoluteHours: intVar(env, 'KEYDESK_SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30),
    },
    webDir: path.resolve(env.KEYDESK_WEB_DIR || path.join(packageRoot(), 'dist', 'web')),
    dnsServers: env.KEYDESK_DNS_SERVERS ? env.KEYDESK_DNS_SERVERS.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    scimRequestsPerMinute: intVar(env, 'KEYDESK_SCIM_REQUESTS_PER_MINUTE', 12_000, 1, 10_000_000),
    hstsMaxAge: intVar(env, 'KEYDESK_HSTS_MAX_AGE', 31_536_000, 0, 63_072_000),
    traceRetentionDays: intVar(env, 'KEYDESK_TRACE_RETENTION_DAYS', 30, 1, 3650),
    webhookAllowPrivate: boolVar(env, 'KEYDESK_WEBHOOK_ALLOW_PRIVATE', false),
    worker: boolVar(env, 'KEYDESK_WORKER', true),
    workerPollMs: intVar(env, 'KEYDESK_WORKER_POLL_MS', 1000, 20, 60_000),
    workerConcurrency: intVar(env, 'KEYDESK_WORKER_CONCURRENCY', 4, 1, 32),
    // Longer than the slowest job (a webhook call gives up after 15 s).
    jobLeaseSeconds: intVar(env, 'KEYDESK_JOB_LEASE_SECONDS', 60, 20, 3600),
  };
}

/** The folder holding package.json, whether running from src/ (tsx) or dist/server/. */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}
