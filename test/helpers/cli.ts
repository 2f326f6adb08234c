import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openPglite, type Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { freshPostgresDatabase, TEST_DB } from './app.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * How `keydesk` is started as its own process: the built CLI, as operators run it, when the whole
 * suite built it first (scripts/test.mjs sets KEYDESK_TEST_BUILT=1); the TypeScript source through
 * tsx when a test file runs on its own, so it never runs a stale build.
 */
export const KEYDESK_ENTRY = process.env.KEYDESK_TEST_BUILT === '1' ? [path.join(root, 'dist/server/cli.js')] : ['--import', 'tsx', path.join(root, 'src/cli.ts')];

/**
 * `keydesk <args>` as its own process with `env` over this process's environment. Resolves with
 * both outputs; rejects like `execFile` on a non-zero exit (the error carries `code`, `stdout` and
 * `stderr`).
 */
export function keydesk(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [...KEYDESK_ENTRY, ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, maxBuffer: 64 << 20 });
}

/** `keydesk <args>` with its exit code: never rejects. */
export async function keydeskExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await keydesk(args, env)) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

export interface CliDatabase {
  /**
   * What a `keydesk` process needs to open it. KEYDESK_SECRET is empty for an embedded folder (it
   * keeps its own) and a test secret for PostgreSQL (which requires one); a caller may set its own.
   */
  env: Record<string, string>;
  /** The same database in this process, migrated. An embedded one is one process's at a time: `release` it before running `keydesk`. */
  open(): Promise<Db>;
  release(db: Db): Promise<void>;
  drop(): Promise<void>;
}

/**
 * A database that `keydesk` processes and the test can both open, on this run's target: an empty
 * embedded (PGlite) folder, which the first command creates and migrates, or a PostgreSQL
 * database of its own.
 */
export async function cliDatabase(prefix = 'keydesk-cli-'): Promise<CliDatabase> {
  if (TEST_DB === 'pglite') {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), prefix)), 'data');
    return {
      env: { KEYDESK_DATA_DIR: dir, DATABASE_URL: '', KEYDESK_SECRET: '' },
      open: async () => {
        const db = await openPglite(dir);
        await migrate(db);
        return db;
      },
      release: (db) => db.close(),
      drop: async () => rmSync(path.dirname(dir), { recursive: true, force: true }),
    };
  }
  const pg = await freshPostgresDatabase();
  return { env: { DATABASE_URL: pg.url, KEYDESK_SECRET: 'cli-test-secret-cli-test-secret-0123456789' }, open: async () => pg.db, release: async () => undefined, drop: pg.drop };
}
