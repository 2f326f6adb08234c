/**
 * A browser without a browser, for SAML tests: fetch + a cookie jar, redirects followed by hand, the
 * IdP's username/password form filled in and posted, and the auto-posting form that carries a
 * SAMLResponse (or SAMLRequest) captured instead of submitted, so a test can post it wherever it
 * likes (e.g. to Keydesk's ACS). Also: building an AuthnRequest / LogoutRequest, and encoding and
 * decoding the HTTP-Redirect and HTTP-POST bindings.
 *
 * Knows nothing about Keydesk and nothing SimpleSAMLphp-specific beyond "a login form has a password
 * field".
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

// --------------------------------------------------------------------------- cookie jar

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires?: number;
}

/** A minimal cookie jar: host-only cookies (ports ignored, like browsers), path prefix, expiry. */
export class CookieJar {
  private cookies: StoredCookie[] = [];

  /** Stores the Set-Cookie headers of a response to `url`. */
  store(url: string | URL, res: Response): void {
    const host = new URL(url).hostname;
    for (const line of res.headers.getSetCookie()) this.setCookie(host, line);
  }

  setCookie(host: string, line: string): void {
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq < 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let cookiePath = '/';
    let expires: number | undefined;
    let domain = host;
    for (const a of attrs) {
      const i = a.indexOf('=');
      const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
      const v = i < 0 ? '' : a.slice(i + 1).trim();
      if (k === 'path' && v.startsWith('/')) cookiePath = v;
      else if (k === 'domain' && v) domain = v.replace(/^\./, '');
      else if (k === 'max-age') expires = Date.now() + Number(v) * 1000;
      else if (k === 'expires' && expires === undefined) {
        const t = Date.parse(v);
        if (!Number.isNaN(t)) expires = t;
      }
    }
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === domain && c.path === cookiePath));
    if (expires !== undefined && expires <= Date.now()) return; // deletion
    this.cookies.push({ name, value, host: domain, path: cookiePath, expires });
  }

  /** The Cookie header for a request to `url` (undefined when none apply). */
  header(url: string | URL): string | undefined {
    const u = new URL(url);
    const now = Date.now();
    const matching = this.cookies.filter(
      (c) =>
        (c.expires === undefined || c.expires > now) &&
        (u.hostname === c.host || u.hostname.endsWith(`.${c.host}`)) &&
        (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
    );
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  get(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  names(): string[] {
    return this.cookies.map((c) => c.name);
  }

  clear(): void {
    this.cookies = [];
  }
}

/** fetch with the jar, never following redirects itself. */
export async function fetchWithJar(
  jar: CookieJar,
  url: string,
  init: { method?: string; body?: string | URLSearchParams; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'user-agent': 'keydesk-tests/browserless', ...init.headers };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let body = init.body;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    body = body.toString();
  }
  const res = await fetch(url, { method: init.method ?? 'GET', body, headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  jar.store(url, res);
  return res;
}

// --------------------------------------------------------------------------- HTML forms

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeHtmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attrsOf(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const body = tag.replace(/^<\s*[a-z0-9]+/i, '').replace(/\/?>$/, '');
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    const name = m[1]!.toLowerCase();
    if (!(name in out)) out[name] = decodeHtmlEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

export interface HtmlInput {
  name: string;
  type: string;
  value: string;
}

export interface HtmlForm {
  /** Absolute action URL (resolved against the page URL). */
  action: string;
  method: string;
  inputs: HtmlInput[];
  /** name → value of every named input (last one wins). */
  fields: Record<string, string>;
}

/** The forms of an HTML page, with their <input>s (textarea/select are ignored). */
export function parseForms(html: string, pageUrl: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi;
  let fm: RegExpExecArray | null;
  while ((fm = formRe.exec(html))) {
    const openTag = /^<form\b[^>]*>/i.exec(fm[0])![0];
    const fa = attrsOf(openTag);
    const inputs: HtmlInput[] = [];
    const inputRe = /<input\b[^>]*>/gi;
    let im: RegExpExecArray | null;
    while ((im = inputRe.exec(fm[1]!))) {
      const a = attrsOf(im[0]);
      if (!a.name) continue;
      inputs.push({ name: a.name, type: (a.type ?? 'text').toLowerCase(), value: a.value ?? '' });
    }
    const fields: Record<string, string> = {};
    for (const i of inputs) if (i.type !== 'submit' && i.type !== 'checkbox' && i.type !== 'button') fields[i.name] = i.value;
    forms.push({
      action: new URL(fa.action || pageUrl, pageUrl).toString(),
      method: (fa.method ?? 'get').toLowerCase(),
      inputs,
      fields,
    });
  }
  return forms;
}

/** Visible text of an HTML page, squeezed — for error messages. */
export function htmlText(html: string, max = 1500): string {
  return decodeHtmlEntities(
    html
      .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  ).slice(0, max);
}

// --------------------------------------------------------------------------- SAML encoding

/** HTTP-Redirect binding encoding: deflate-raw, then base64 (URL-encode it when building the query). */
export function deflateBase64(xml: string): string {
  return deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');
}

export function inflateBase64(b64: string): string {
  return inflateRawSync(Buffer.from(b64, 'base64')).toString('utf8');
}

/** HTTP-POST binding decoding: plain base64. */
export function decodeBase64Xml(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** An HTTP-Redirect binding URL: endpoint?SAMLRequest=<deflated>&RelayState=... (unsigned). */
export function redirectBindingUrl(
  endpoint: string,
  xml: string,
  opts: { param?: 'SAMLRequest' | 'SAMLResponse'; relayState?: string } = {},
): string {
  const u = new URL(endpoint);
  u.searchParams.set(opts.param ?? 'SAMLRequest', deflateBase64(xml));
  if (opts.relayState !== undefined) u.searchParams.set('RelayState', opts.relayState);
  return u.toString();
}

export interface RedirectMessage {
  param: 'SAMLRequest' | 'SAMLResponse';
  xml: string;
  relayState?: string;
  sigAlg?: string;
  /** base64 signature over `signedQuery` (HTTP-Redirect binding signature). */
  signature?: string;
  /** The exact octets the signature covers: "SAMLRequest=..&RelayState=..&SigAlg=.." as sent (still URL-encoded). */
  signedQuery?: string;
}

/** Decodes a SAML HTTP-Redirect binding URL (e.g. the Location the IdP sent to the SP's SLO endpoint). */
export function decodeRedirectBinding(url: string): RedirectMessage {
  const u = new URL(url);
  const param = u.searchParams.has('SAMLRequest') ? 'SAMLRequest' : u.searchParams.has('SAMLResponse') ? 'SAMLResponse' : undefined;
  if (!param) throw new Error(`no SAMLRequest/SAMLResponse in ${url}`);
  const raw = new Map<string, string>();
  for (const part of u.search.replace(/^\?/, '').split('&')) {
    const i = part.indexOf('=');
    if (i > 0) raw.set(part.slice(0, i), part.slice(i + 1));
  }
  const signedQuery = ([param, 'RelayState', 'SigAlg'] as const)
    .filter((k) => raw.has(k))
    .map((k) => `${k}=${raw.get(k)}`)
    .join('&');
  return {
    param,
    xml: inflateBase64(u.searchParams.get(param)!),
    relayState: u.searchParams.get('RelayState') ?? undefined,
    sigAlg: u.searchParams.get('SigAlg') ?? undefined,
    signature: u.searchParams.get('Signature') ?? undefined,
    signedQuery: u.searchParams.has('Signature') ? signedQuery : undefined,
  };
}

function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A SAML message ID ("_" + 40 hex: must not start with a digit). */
export function samlId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

export interface AuthnRequestOptions {
  /** The SP's entity ID (Issuer). */
  issuer: string;
  /** AssertionConsumerServiceURL (the IdP checks it against the SP's metadata). */
  acsUrl: string;
  /** The IdP's SSO URL (Destination). */
  destination: string;
  id?: string;
  /** NameIDPolicy Format; omitted when not given. */
  nameIdFormat?: string;
  forceAuthn?: boolean;
  isPassive?: boolean;
  issueInstant?: Date;
}

/** A minimal, unsigned SAML 2.0 AuthnRequest asking for an HTTP-POST response. */
export function buildAuthnRequest(o: AuthnRequestOptions): { id: string; xml: string } {
  const id = o.id ?? samlId();
  const flags = `${o.forceAuthn ? ' ForceAuthn="true"' : ''}${o.isPassive ? ' IsPassive="true"' : ''}`;
  const policy = o.nameIdFormat ? `<samlp:NameIDPolicy Format="${xmlAttr(o.nameIdFormat)}" AllowCreate="true"/>` : '';
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${xmlAttr(id)}" Version="2.0" IssueInstant="${(o.issueInstant ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z')}"` +
    ` Destination="${xmlAttr(o.destination)}" AssertionConsumerServiceURL="${xmlAttr(o.acsUrl)}"` +
    ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"${flags}>` +
    `<saml:Issuer>${xmlText(o.issuer)}</saml:Issuer>${policy}</samlp:AuthnRequest>`;
  return { id, xml };
}

export interface LogoutRequestOptions {
  issuer: string;
  destination: string;
  nameId: string;
  nameIdFormat?: string;
  /** SPNameQualifier / NameQualifier of the NameID as the IdP sent it. */
  spNameQualifier?: string;
  nameQualifier?: string;
  sessionIndex?: string;
  id?: string;
}

/** A minimal, unsigned SP-initiated LogoutRequest. */
export function buildLogoutRequest(o: LogoutRequestOptions): { id: string; xml: string } {
  const id = o.id ?? samlId();
  const nameIdAttrs =
    (o.nameIdFormat ? ` Format="${xmlAttr(o.nameIdFormat)}"` : '') +
    (o.spNameQualifier ? ` SPNameQualifier="${xmlAttr(o.spNameQualifier)}"` : '') +
    (o.nameQualifier ? ` NameQualifier="${xmlAttr(o.nameQualifier)}"` : '');
  const xml =
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${xmlAttr(id)}" Version="2.0" IssueInstant="${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}" Destination="${xmlAttr(o.destination)}">` +
    `<saml:Issuer>${xmlText(o.issuer)}</saml:Issuer><saml:NameID${nameIdAttrs}>${xmlText(o.nameId)}</saml:NameID>` +
    (o.sessionIndex ? `<samlp:SessionIndex>${xmlText(o.sessionIndex)}</samlp:SessionIndex>` : '') +
    `</samlp:LogoutRequest>`;
  return { id, xml };
}

/** A minimal, unsigned LogoutResponse (Success) answering `inResponseTo`. */
export function buildLogoutResponse(o: { issuer: string; destination: string; inResponseTo: string; id?: string }): { id: string; xml: string } {
  const id = o.id ?? samlId();
  const xml =
    `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${xmlAttr(id)}" Version="2.0" IssueInstant="${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}"` +
    ` Destination="${xmlAttr(o.destination)}" InResponseTo="${xmlAttr(o.inResponseTo)}">` +
    `<saml:Issuer>${xmlText(o.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
  return { id, xml };
}

// --------------------------------------------------------------------------- the flow

/** An auto-posting SAML form (HTTP-POST binding) captured instead of submitted. */
export interface SamlPostForm {
  /** Where the form posts: the SP's ACS (or SLO) URL. */
  action: string;
  /** Base64 as sent, ready to post again. */
  SAMLResponse?: string;
  SAMLRequest?: string;
  RelayState?: string;
  /** Decoded XML of SAMLResponse / SAMLRequest. */
  xml: string;
  /** Every field of the form (to post it verbatim: `new URLSearchParams(form.fields)`). */
  fields: Record<string, string>;
}

export type BrowseOutcome =
  | { kind: 'post'; form: SamlPostForm; pageUrl: string }
  /** A redirect that leaves the IdP (e.g. a LogoutResponse / LogoutRequest to the SP's SLO URL). */
  | { kind: 'redirect'; location: string }
  /** A page that is neither a login form nor a SAML form (e.g. a logout-completed page). */
  | { kind: 'page'; status: number; url: string; html: string };

export interface BrowseOptions {
  /** Credentials for the IdP's login form (needed unless the IdP session is already there). */
  username?: string;
  password?: string;
  /** Cookies across calls (e.g. a second login reuses the IdP session). Default: a new jar. */
  jar?: CookieJar;
  /**
   * Origins the "browser" keeps following redirects within (default: the start URL's origin).
   * A redirect elsewhere ends the walk with { kind: 'redirect' }.
   */
  followOrigins?: string[];
  /** Safety cap on requests (default 20). */
  maxSteps?: number;
  /** Every request made, for debugging ("GET url -> 302"). */
  trail?: string[];
}

/**
 * Walks an IdP flow the way a browser would: GET startUrl, follow redirects within the IdP, fill and
 * post a username/password form when one appears, and stop at the first auto-posting SAML form
 * (returned, not submitted), at a redirect leaving the IdP, or at any other page.
 */
export async function browse(startUrl: string, opts: BrowseOptions = {}): Promise<BrowseOutcome> {
  const jar = opts.jar ?? new CookieJar();
  const follow = new Set(opts.followOrigins ?? [new URL(startUrl).origin]);
  const trail = opts.trail ?? [];
  const maxSteps = opts.maxSteps ?? 20;
  let url = startUrl;
  let method = 'GET';
  let body: URLSearchParams | undefined;
  let loginPosts = 0;

  for (let step = 0; step < maxSteps; step++) {
    const res = await fetchWithJar(jar, url, { method, body });
    trail.push(`${method} ${url} -> ${res.status}`);
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get('location');
      await res.arrayBuffer();
      if (!loc) throw new Error(`redirect without Location from ${url}`);
      const next = new URL(loc, url).toString();
      if (!follow.has(new URL(next).origin)) return { kind: 'redirect', location: next };
      url = next;
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await res.text();
    const forms = parseForms(html, url);

    const samlForm = forms.find((f) => 'SAMLResponse' in f.fields || 'SAMLRequest' in f.fields);
    if (samlForm) {
      const b64 = samlForm.fields.SAMLResponse ?? samlForm.fields.SAMLRequest!;
      return {
        kind: 'post',
        pageUrl: url,
        form: {
          action: samlForm.action,
          SAMLResponse: samlForm.fields.SAMLResponse,
          SAMLRequest: samlForm.fields.SAMLRequest,
          RelayState: samlForm.fields.RelayState,
          xml: decodeBase64Xml(b64),
          fields: { ...samlForm.fields },
        },
      };
    }

    const login = forms.find((f) => f.inputs.some((i) => i.type === 'password'));
    if (login) {
      if (opts.username === undefined || opts.password === undefined) {
        throw new Error(`the IdP asks for a login at ${url} but no username/password was given`);
      }
      // The form again after we posted it: the IdP rejected the credentials.
      if (++loginPosts > 1) throw new Error(`login rejected at ${url}: ${htmlText(html, 600)}`);
      const userField = login.inputs.find((i) => i.type !== 'password' && i.type !== 'hidden' && /user|login|email|name/i.test(i.name));
      const passField = login.inputs.find((i) => i.type === 'password')!;
      const fields = new URLSearchParams(login.fields);
      fields.set(userField?.name ?? 'username', opts.username);
      fields.set(passField.name, opts.password);
      if (login.method === 'post') {
        url = login.action;
        method = 'POST';
        body = fields;
      } else {
        const u = new URL(login.action);
        for (const [k, v] of fields) u.searchParams.set(k, v);
        url = u.toString();
        method = 'GET';
        body = undefined;
      }
      continue;
    }

    return { kind: 'page', status: res.status, url, html };
  }
  throw new Error(`no SAML form after ${maxSteps} requests:\n${trail.join('\n')}`);
}

/**
 * Logs in at the IdP and returns the captured SAMLResponse form (throws otherwise, with the page text
 * or redirect target, and the request trail).
 */
export async function loginAndCaptureSamlResponse(startUrl: string, opts: BrowseOptions): Promise<SamlPostForm> {
  const trail = opts.trail ?? [];
  const out = await browse(startUrl, { ...opts, trail });
  if (out.kind === 'post' && out.form.SAMLResponse) return out.form;
  const what =
    out.kind === 'redirect' ? `a redirect to ${out.location}` : out.kind === 'page' ? `HTTP ${out.status} page: ${htmlText(out.html)}` : 'a SAMLRequest form';
  throw new Error(`expected a SAMLResponse form, got ${what}\n${trail.join('\n')}`);
}

/** SP-initiated login over HTTP-Redirect: builds the AuthnRequest, walks the IdP, returns the request ID and the response form. */
export async function spInitiatedLogin(o: {
  ssoUrl: string;
  spEntityId: string;
  acsUrl: string;
  username?: string;
  password?: string;
  relayState?: string;
  nameIdFormat?: string;
  forceAuthn?: boolean;
  jar?: CookieJar;
  trail?: string[];
}): Promise<{ requestId: string; requestXml: string; form: SamlPostForm; jar: CookieJar }> {
  const req = buildAuthnRequest({
    issuer: o.spEntityId,
    acsUrl: o.acsUrl,
    destination: o.ssoUrl,
    nameIdFormat: o.nameIdFormat,
    forceAuthn: o.forceAuthn,
  });
  const jar = o.jar ?? new CookieJar();
  const form = await loginAndCaptureSamlResponse(redirectBindingUrl(o.ssoUrl, req.xml, { relayState: o.relayState }), {
    username: o.username,
    password: o.password,
    jar,
    trail: o.trail,
  });
  return { requestId: req.id, requestXml: req.xml, form, jar };
}
