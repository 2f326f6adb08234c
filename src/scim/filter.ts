import { invalidFilter, invalidPath, type ScimError } from './errors.js';
import { storable } from '../db/storable.js';

/**
 * The SCIM filter grammar (RFC 7644 §3.4.2.2) parsed into a tree. The tree is translated to
 * parameterised SQL by filter-sql.ts, and PATCH paths reuse it for their `[…]` value filters.
 * Precedence: `not` binds tighter than `and`, which binds tighter than `or`.
 */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'lt' | 'ge' | 'le';
export type Literal = string | number | boolean | null;

export type Filter =
  | { op: 'and' | 'or'; left: Filter; right: Filter }
  | { op: 'not'; filter: Filter }
  | { op: 'pr'; path: string }
  | { op: CompareOp; path: string; value: Literal }
  /** `emails[type eq "work"]`: the inner filter's paths are relative to the attribute. */
  | { op: 'has'; path: string; filter: Filter };

export const MAX_FILTER_LENGTH = 2048;
const MAX_DEPTH = 16;
const COMPARE = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']);

type Token = { kind: 'word'; text: string } | { kind: 'string'; value: string } | { kind: 'punct'; text: '(' | ')' | '[' | ']' } | { kind: 'end' };

function tokenize(input: string, fail: (m: string) => ScimError): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if (c === '"') {
      // A JSON string: escapes as in JSON, so `\"` and `\\` work the way clients send them.
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === '\\' ? 2 : 1;
      if (j >= input.length) throw fail('A string in the filter is not closed.');
      let value: string;
      try {
        value = JSON.parse(input.slice(i, j + 1)) as string;
      } catch {
        throw fail('A string in the filter has an invalid escape.');
      }
      if (!storable(value)) throw fail('A string in the filter contains a NUL character or invalid UTF-16.');
      tokens.push({ kind: 'string', value });
      i = j + 1;
    } else {
      const m = /^[A-Za-z0-9:._$+-]+/.exec(input.slice(i));
      if (!m) throw fail(`Unexpected character "${c}" at position ${i + 1}.`);
      tokens.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    }
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly fail: (m: string) => ScimError,
  ) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    return this.tokens[this.pos++]!;
  }
  private keyword(word: string): boolean {
    const t = this.peek();
    if (t.kind === 'word' && t.text.toLowerCase() === word) {
      this.pos++;
      return true;
    }
    return false;
  }
  private expect(text: ')' | ']'): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) throw this.fail(`Expected "${text}".`);
  }

  atEnd(): boolean {
    return this.peek().kind === 'end';
  }

  or(): Filter {
    if (++this.depth > MAX_DEPTH) throw this.fail('The filter is nested too deeply.');
    let left = this.and();
    while (this.keyword('or')) left = { op: 'or', left, right: this.and() };
    this.depth--;
    return left;
  }

  private and(): Filter {
    let left = this.unary();
    while (this.keyword('and')) left = { op: 'and', left, right: this.unary() };
    return left;
  }

  private unary(): Filter {
    if (this.keyword('not')) {
      const t = this.next();
      if (t.kind !== 'punct' || t.text !== '(') throw this.fail('"not" must be followed by "(".');
      const inner = this.or();
      this.expect(')');
      return { op: 'not', filter: inner };
    }
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '(') {
      this.pos++;
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    return this.attrExpression();
  }

  path(): string {
    const t = this.next();
    if (t.kind !== 'word' || /^[0-9]/.test(t.text)) throw this.fail('Expected an attribute name.');
    return t.text;
  }

  private attrExpression(): Filter {
    const path = this.path();
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '[') {
      this.pos++;
      const inner = this.or();
      this.expect(']');
      // `emails[type eq "work"].value eq "x"`, as Entra sends it: the entry must match both.
      const sub = this.subAttribute();
      return { op: 'has', path, filter: sub ? { op: 'and', left: inner, right: this.comparison(sub) } : inner };
    }
    return this.comparison(path);
  }

  private comparison(path: string): Filter {
    const opToken = this.next();
    const op = opToken.kind === 'word' ? opToken.text.toLowerCase() : '';
    if (op === 'pr') return { op: 'pr', path };
    if (!COMPARE.has(op)) throw this.fail(`Unknown operator after "${path}"; use eq, ne, co, sw, ew, gt, lt, ge, le or pr.`);
    return { op: op as CompareOp, path, value: this.literal() };
  }

  private literal(): Literal {
    const t = this.next();
    if (t.kind === 'string') return t.value;
    if (t.kind === 'word') {
      const w = t.text.toLowerCase();
      if (w === 'true') return true;
      if (w === 'false') return false;
      if (w === 'null') return null;
      if (/^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(t.text)) return Number(t.text);
    }
    throw this.fail('Expected a value: a "quoted string", a number, true, false or null.');
  }

  /** A PATCH path's `[…]`. */
  bracketed(): Filter {
    const open = this.next();
    if (open.kind !== 'punct' || open.text !== '[') throw this.fail('Expected "[".');
    const f = this.or();
    this.expect(']');
    return f;
  }

  /** After a PATCH path's `[…]`: an optional `.subAttribute`. */
  subAttribute(): string | null {
    const t = this.peek();
    if (t.kind === 'word' && t.text.startsWith('.')) {
      this.pos++;
      const name = t.text.slice(1);
      if (!/^[A-Za-z$][A-Za-z0-9_$-]*$/.test(name)) throw this.fail(`"${t.text}" is not a sub-attribute.`);
      return name;
    }
    return null;
  }
}

export function parseFilter(input: string): Filter {
  if (input.length > MAX_FILTER_LENGTH) throw invalidFilter(`The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  const parser = new Parser(tokenize(input, invalidFilter), invalidFilter);
  if (parser.atEnd()) throw invalidFilter('The filter is empty.');
  const filter = parser.or();
  if (!parser.atEnd()) throw invalidFilter('The filter has text after its end; combine expressions with "and" or "or".');
  return filter;
}

/** A PATCH path (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`. */
export interface PatchPath {
  attr: string;
  filter: Filter | null;
  sub: string | null;
}

export function parsePatchPath(input: string): PatchPath {
  if (input.length > MAX_FILTER_LENGTH) throw invalidPath('The path is too long.');
  const bracket = input.indexOf('[');
  if (bracket < 0) {
    if (!/^[A-Za-z0-9:._$-]+$/.test(input)) throw invalidPath(`"${input}" is not a valid path.`);
    return { attr: input, filter: null, sub: null };
  }
  const parser = new Parser(tokenize(input, invalidPath), invalidPath);
  const attr = parser.path();
  const f = parser.bracketed();
  const sub = parser.subAttribute();
  if (!parser.atEnd()) throw invalidPath(`"${input}" is not a valid path.`);
  return { attr, filter: f, sub };
}
