#!/usr/bin/env node
// The whole test suite: typecheck, build, then every test file on the embedded database (PGlite)
// and on a real PostgreSQL (DATABASE_URL, or the local server on 127.0.0.1:5432).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(import.meta.dirname, '..');
const run = (cmd, args, env = {}) =>
  new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'helpers' ? [] : testFiles(p);
    return name.endsWith('.test.ts') ? [path.relative(root, p)] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length ? only : testFiles(path.join(root, 'test')).sort();

if (!only.length) {
  for (const [cmd, args] of [['bash', ['scripts/system-deps.sh']], ['npm', ['run', '--silent', 'typecheck']], ['npm', ['run', '--silent', 'build']]]) {
    const r = await run(cmd, args);
    if (r.code !== 0) {
      console.error(`\n${cmd} ${args.join(' ')} failed`);
      process.exit(1);
    }
  }
}

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
async function postgresReachable() {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

const targets = [{ name: 'pglite', env: { KEYDESK_TEST_DB: 'pglite' } }];
if (await postgresReachable()) {
  targets.push({ name: 'postgres', env: { KEYDESK_TEST_DB: 'postgres', DATABASE_URL: databaseUrl } });
} else {
  // Said out loud, and fatal in CI: half the suite did not run.
  console.error(`\nPostgreSQL is not reachable at ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}: the PostgreSQL half of the suite cannot run.`);
  if (process.env.CI) process.exit(1);
}

let passed = 0;
let failed = 0;
let exit = 0;
for (const t of targets) {
  console.log(`\n=== ${files.length} test files on ${t.name} ===`);
  // After a build, tests run `keydesk` from it, as operators do (test/helpers/cli.ts).
  const env = only.length ? t.env : { ...t.env, KEYDESK_TEST_BUILT: '1' };
  const r = await run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=./scripts/file-times.mjs', '--test-reporter-destination=stdout', ...files], env);
  const pass = Number(/^ℹ pass (\d+)/m.exec(r.out)?.[1] ?? /^# pass (\d+)/m.exec(r.out)?.[1] ?? 0);
  const fail = Number(/^ℹ fail (\d+)/m.exec(r.out)?.[1] ?? /^# fail (\d+)/m.exec(r.out)?.[1] ?? 0);
  passed += pass;
  failed += fail;
  if (r.code !== 0) {
    exit = 1;
    if (fail === 0) failed += 1; // a crash outside any test still fails the run
  }
  console.log(`--- ${t.name}: ${pass} passed, ${fail} failed`);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(exit || (passed === 0 ? 1 : 0));
