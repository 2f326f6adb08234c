/**
 * Benchmark runner: `npm run bench` runs every suite; `npm run bench -- tickets` runs the named ones.
 * Each suite works in its own throwaway database on DATABASE_URL's server and drops it afterwards.
 * Results go to the console and to bench/results/latest.json.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SCALE
 * (iteration multiplier, default 1), plus suite-specific knobs documented in docs/PERFORMANCE.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchScale, DEFAULT_DATABASE_URL, machineInfo, round, type Suite } from './lib.js';
import { oidcSuite } from './oidc.js';
import { samlSuite } from './saml.js';
import { signinLoadSuite } from './signin-load.js';
import { scimSuite } from './scim.js';
import { ticketsSuite } from './tickets.js';
import { jobsSuite } from './jobs.js';

/** Add new suites here. */
const SUITES: Suite[] = [ticketsSuite, samlSuite, signinLoadSuite, oidcSuite, scimSuite, jobsSuite];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: npm run bench [-- <suite>...]\n\nsuites:\n${SUITES.map((s) => `  ${s.name.padEnd(10)} ${s.description}`).join('\n')}`);
    return;
  }
  const unknown = args.filter((a) => !SUITES.some((s) => s.name === a));
  if (unknown.length) throw new Error(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
  const selected = args.length ? SUITES.filter((s) => args.includes(s.name)) : SUITES;

  const baseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const scale = benchScale();
  const machine = await machineInfo(baseUrl);
  console.log(
    `Keydesk benchmark — ${machine.cpus} CPU (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}\n` +
      `${String(machine.postgres).split(' on ')[0]} at ${redact(baseUrl)}, BENCH_SCALE=${scale}`,
  );

  const startedAt = new Date();
  const t0 = performance.now();
  const suites: Record<string, unknown> = {};
  for (const s of selected) {
    console.log(`\n=== ${s.name}: ${s.description}`);
    suites[s.name] = await s.run({ baseUrl, scale });
  }

  const out = {
    startedAt: startedAt.toISOString(),
    totalSeconds: round((performance.now() - t0) / 1000, 1),
    scale,
    machine,
    suites,
  };
  const dir = path.join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'latest.json');
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nDone in ${out.totalSeconds} s; results written to ${path.relative(process.cwd(), file)}`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
