import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_JSON_DEPTH, storable } from '../db/storable.js';
import { AppError, invalidDetail } from './errors.js';

// The text rule for requests: every string must be storable as PostgreSQL text (`storable`, defined
// once in src/db/storable.ts), and text someone has to write must not be blank.

/**
 * JSON-Schema `pattern` for text a person writes: something visible (not only whitespace, which
 * String#trim() removes, nor only characters that render as nothing: format characters (Cf) and
 * the rest of Default_Ignorable_Code_Point, such as Hangul fillers; the validator compiles patterns
 * with the `u` flag) and no
 * control characters but tab, line feed and carriage return.
 */
export const WRITTEN_TEXT = '^(?=[\\s\\S]*[^\\s\\p{Cf}\\p{Default_Ignorable_Code_Point}])[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$';
export const WRITTEN_TEXT_MESSAGE = 'must have visible text and no control characters';
/** JSON-Schema `pattern` for text that may be empty (descriptions): no control characters but tab, line feed and carriage return. */
export const CONTROL_FREE_TEXT = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$';
/** JSON-Schema `pattern` for one line (names, attribute names): no control characters at all. */
export const ONE_LINE = '^[^\\u0000-\\u001F\\u007F]*$';

/**
 * A name people tell apart by eye (a team, a request category), in the one form it is stored,
 * compared and made unique in: Unicode NFKC (a full-width "Ａccess" is "Access"), without the
 * characters Unicode says render as nothing (Default_Ignorable_Code_Point: zero-width spaces, soft
 * hyphens, bidi controls, variation selectors, the combining grapheme joiner, Hangul fillers) but
 * the zero-width joiner and non-joiner between non-Latin characters, which shape emoji (👩🏽‍💻) and
 * Persian or Indic text, with each run of whitespace one space, trimmed. Names that look the same
 * are then the same name, as far as invisible characters go; look-alike letters of other scripts
 * (a Cyrillic "а") are not folded.
 */
export function canonicalName(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/(?![\u200C\u200D])\p{Default_Ignorable_Code_Point}/gu, '')
    .replace(/(?<=^|\s|\p{Script=Latin})[\u200C\u200D]+|[\u200C\u200D]+(?=\s|$|\p{Script=Latin})/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const UNSTORABLE_MESSAGE = 'must not contain a NUL character or an unpaired UTF-16 surrogate';

/** PEM armour of any private key (PKCS#8, PKCS#1, SEC1, encrypted, OpenSSH). */
const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
const PRIVATE_KEY_MESSAGE =
  'is a private key. Never paste private keys into Keydesk: it needs the certificate (-----BEGIN CERTIFICATE-----), URLs and IDs, never a key. If this key left your identity provider or your machine, rotate it.';

/**
 * The first part of a parsed JSON value, keys included, that Keydesk does not take, as a dotted
 * path (the validator's notation): unstorable text, a private key pasted where it never belongs
 * (never echoed back), or nesting deeper than MAX_JSON_DEPTH. Iterative: a 256 KB body can nest
 * deeper than the call stack.
 */
export function findUnstorable(value: unknown): { field: string; message: string } | null {
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length) {
    const [v, at, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!storable(v)) return { field: at, message: UNSTORABLE_MESSAGE };
      if (PRIVATE_KEY.test(v)) return { field: at, message: PRIVATE_KEY_MESSAGE };
    } else if (v && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH) return { field: at, message: `nests more than ${MAX_JSON_DEPTH} levels deep` };
      if (Array.isArray(v)) {
        // Index keys are always storable, and an index loop is twice as fast on a long array.
        for (let i = 0; i < v.length; i++) stack.push([v[i], at ? `${at}.${i}` : String(i), depth + 1]);
        continue;
      }
      for (const [k, e] of Object.entries(v)) {
        // The key is not echoed: it is the very text that cannot be shown or stored.
        if (!storable(k)) return { field: at, message: `has a property name that ${UNSTORABLE_MESSAGE}` };
        stack.push([e, at ? `${at}.${k}` : k, depth + 1]);
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
  if (p) {
    const errors = [{ field: p.field, message: p.message }];
    throw new AppError(400, 'invalid_request', invalidDetail(p.context, errors), { errors });
  }
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
