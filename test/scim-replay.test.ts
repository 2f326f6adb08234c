import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startApp, type TestApp } from './helpers/app.js';
import { scimClient } from './helpers/scim.js';

/**
 * Replays the request sequences Microsoft and Okta document for their provisioning clients
 * (test/fixtures/scim/, with the sources in its README), step by step, on an empty tenant.
 */
interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  expect: { status: number | number[]; totalResults?: number; json?: unknown; absent?: string[] };
  capture?: Record<string, string>;
}

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'scim');

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

function substitute<T>(value: T, vars: Record<string, string>): T {
  const text = JSON.stringify(value).replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
  return JSON.parse(text) as T;
}

/** Every key given must match; arrays match if each expected element matches some actual element. */
function partialMatch(actual: unknown, expected: unknown, where: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${JSON.stringify(actual)}`);
    for (const e of expected) {
      assert.ok(
        actual.some((a) => {
          try {
            partialMatch(a, e, where);
            return true;
          } catch {
            return false;
          }
        }),
        `${where}: no element matches ${JSON.stringify(e)} in ${JSON.stringify(actual)}`,
      );
    }
  } else if (expected && typeof expected === 'object') {
    assert.ok(actual && typeof actual === 'object', `${where}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) partialMatch((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

for (const file of ['entra-sequence.json', 'entra-optscim062020-sequence.json', 'okta-sequence.json']) {
  describe(`documented request sequence: ${file}`, () => {
    test('every step gets the documented answer', async () => {
      const tt = await t.tenant();
      const scim = await scimClient(t, tt.tenant);
      const { steps } = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as { steps: Step[] };
      const vars: Record<string, string> = {};
      for (const [i, raw] of steps.entries()) {
        const step = substitute(raw, vars);
        const res = await scim.call(step.method, step.path, step.body);
        const label = `step ${i + 1} "${step.name}" (${step.method} ${step.path})`;
        const allowed = Array.isArray(step.expect.status) ? step.expect.status : [step.expect.status];
        assert.ok(allowed.includes(res.status), `${label}: status ${res.status}, wanted ${allowed.join(' or ')}; body ${JSON.stringify(res.body)}`);
        if (res.status >= 400) {
          assert.deepEqual(res.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error'], label);
          assert.equal(res.body.status, String(res.status), label);
        } else if (res.status !== 204) {
          assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/, label);
        }
        if (step.expect.totalResults !== undefined) assert.equal(res.body.totalResults, step.expect.totalResults, `${label}: totalResults`);
        if (step.expect.json !== undefined) partialMatch(res.body, step.expect.json, label);
        for (const key of step.expect.absent ?? []) {
          const where = res.body.Resources ? res.body.Resources : [res.body];
          for (const r of where) assert.ok(!(key in r), `${label}: "${key}" must be absent`);
        }
        for (const [name, field] of Object.entries(step.capture ?? {})) {
          assert.equal(typeof res.body[field], 'string', `${label}: nothing to capture as ${name}`);
          vars[name] = res.body[field];
        }
      }
    });
  });
}
