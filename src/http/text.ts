import type { FastifyInstance, FastifyRequest } from 'fastify';
import { storable } from '../db/storable.js';
import { AppError } from './errors.js';

// The text rule for requests: every string must be storable as PostgreSQL text (`storable`, defined
// once in src/db/storable.ts), and text someone has to write must not be blank.

/**
 * JSON-Schema `pattern` for text a person writes: something visible (not only whitespace, which
 * String#trim() removes, nor only zero-width characters) and no control characters but tab, line
 * feed and carriage return.
 */
export const WRITTEN_TEXT = '^(?=[\\s\\S]*[^\\s\\u200B-\\u200D\\u2060\\uFEFF])[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$';
export const WRITTEN_TEXT_MESSAGE = 'must have visible text and no control characters';

const UNSTORABLE_MESSAGE = 'must not contain a NUL character or an unpaired UTF-16 surrogate';

/**
 * The first unstorable string in a parsed JSON value, keys included, as a dotted path (the
 * validator's notation). Iterative: a 256 KB body can nest deeper than the call stack.
 */
export function findUnstorable(value: unknown): { field: string; message: string } | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      if (!storable(v)) return { field: at, message: UNSTORABLE_MESSAGE };
    } else if (Array.isArray(v)) {
      v.forEach((e, i) => stack.push([e, at ? `${at}.${i}` : String(i)]));
    } else if (v && typeof v === 'object') {
      for (const [k, e] of Object.entries(v)) {
        // The key is not echoed: it is the very text that cannot be shown or stored.
        if (!storable(k)) return { field: at, message: `has a property name that ${UNSTORABLE_MESSAGE}` };
        stack.push([e, at ? `${at}.${k}` : k]);
      }
    }
  }
  return null;
}

/**
 * A query string whose percent-encoding is not UTF-8 (`%ED%A0%80` is a lone surrogate, `%E0%A4` a
 * cut sequence) is refused rather than read as U+FFFD or left encoded: the path gets the same 400
 * from the router.
 */
function badQueryEncoding(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  for (const part of url.slice(q + 1).split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      let name = '';
      try {
        name = decodeURIComponent(part.split('=')[0]!.replace(/\+/g, ' '));
      } catch {
        // the name itself is the undecodable part
      }
      return storable(name) ? name : '';
    }
  }
  return null;
}

export interface TextProblem {
  context: 'params' | 'querystring' | 'body';
  field: string;
  message: string;
}

/** The query string's text problem, if any: undecodable percent-encoding, a NUL, a lone surrogate. */
export function queryTextProblem(request: FastifyRequest): TextProblem | null {
  const encoding = badQueryEncoding(request.url);
  if (encoding !== null) return { context: 'querystring', field: encoding, message: 'is not percent-encoded UTF-8' };
  const found = findUnstorable(request.query);
  return found && { context: 'querystring', ...found };
}

/**
 * Every string a request carries (path parameters, query string, JSON body, keys at any depth)
 * must be storable. Thrown before the handler, so nothing is authenticated, looked up or written
 * for such a request; the answer is the validator's own 400.
 */
export function checkRequestText(request: FastifyRequest): void {
  const inPart = (context: 'params' | 'body', value: unknown): TextProblem | null => {
    const found = findUnstorable(value);
    return found && { context, ...found };
  };
  const p = inPart('params', request.params) ?? queryTextProblem(request) ?? inPart('body', request.body);
  if (p) throw new AppError(400, 'invalid_request', `The ${p.context} is invalid.`, { errors: [{ field: p.field, message: p.message }] });
}

type BodyParser = (request: FastifyRequest, body: Buffer, done: (err: Error | null, value?: unknown) => void) => void;

/**
 * JSON bodies must be UTF-8: bytes that are not are refused (400), where the default parser would
 * read them as U+FFFD and store something other than what was sent (a query string gets the same
 * answer from `queryTextProblem`). Register with `parseAs: 'buffer'`.
 */
export function utf8JsonParser(app: FastifyInstance, notUtf8: () => Error): BodyParser {
  const json = app.getDefaultJsonParser('error', 'error');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return (request, body, done) => {
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      done(notUtf8());
      return;
    }
    json(request, text, done);
  };
}
