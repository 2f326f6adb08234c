/**
 * A seeded corpus of mutated SAML Responses for differential testing of the SAML verifier (issue 12;
 * test/saml-differential.test.ts runs it through the old and the new verifier).
 *
 * A run makes three key pairs (two trusted, one stranger), a handful of honest base responses in the
 * shapes identity providers send, then case i = one category's mutation (sometimes plus a neutral
 * re-serialisation) of one base, chosen by a PRNG seeded from (seed, i) alone: the same seed and index
 * always make the same mutation, whatever the corpus size. Keys and signatures differ between runs;
 * the times are relative to `now`, fixed once per run. Categories are scheduled round-robin by weight,
 * so every slice of a few hundred cases covers every category.
 */
import type { MessageExpectations } from '../../src/identity/saml/verify-response.js';
import { createHash, sign as rsaSign } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { ExclusiveCanonicalization, ExclusiveCanonicalizationWithComments, SignedXml } from 'xml-crypto';
import { ALG, b64, buildAssertion, makeKeyPair, sign as forgeSign, wrapInResponse, type KeyPair, type ResponseParts } from '../helpers/saml-forge.js';
import { mulberry32 } from '../helpers/prng.js';

/** The corpus seed; override with KEYDESK_SAML_CORPUS_SEED (decimal or 0x-hex). */
export const CORPUS_SEED = 0x4b443132;
/** Cases CI runs (each run of the suite); override with KEYDESK_SAML_CORPUS (the full corpus: 10000). */
export const CI_SLICE = 400;

export function corpusSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KEYDESK_SAML_CORPUS_SEED?.trim();
  if (!raw) return CORPUS_SEED;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`KEYDESK_SAML_CORPUS_SEED must be a non-negative integer, not "${raw}"`);
  return n >>> 0;
}

export function corpusSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KEYDESK_SAML_CORPUS?.trim();
  if (!raw) return CI_SLICE;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`KEYDESK_SAML_CORPUS must be a positive integer, not "${raw}"`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// PRNG

// mulberry32 (test/helpers/prng.ts), one stream per (seed, case).
export class Rng {
  constructor(private readonly next: () => number) {}
  static of(seed: number, stream: number): Rng {
    const r = mulberry32((seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
    r();
    return new Rng(r);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (!xs.length) throw new Error('pick from an empty list');
    return xs[this.int(xs.length)]!;
  }
  hex(n: number): string {
    let s = '';
    while (s.length < n) s += this.int(16).toString(16);
    return s;
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys, expectations, signing

export interface CorpusKeys {
  trusted: KeyPair;
  /** A second trusted key (a certificate rollover: both certificates are trusted). */
  rollover: KeyPair;
  stranger: KeyPair;
}

/** Three openssl key generations: the slow part of a run, done once. */
export function makeCorpusKeys(): CorpusKeys {
  return { trusted: makeKeyPair('Microsoft Azure Federated SSO Certificate'), rollover: makeKeyPair('Okta Signing Certificate'), stranger: makeKeyPair('Attacker') };
}

/** What both verifiers are given. */
export type Expectations = MessageExpectations;

export const NS = {
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xs: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
};
const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const EXC_WC = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const INCLUSIVE_C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const ALGS = {
  ...ALG,
  rsaSha384: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  sha384: 'http://www.w3.org/2001/04/xmldsig-more#sha384',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
};
const HASH_OF: Record<string, string> = {
  [ALGS.rsaSha1]: 'sha1',
  [ALGS.rsaSha256]: 'sha256',
  [ALGS.rsaSha384]: 'sha384',
  [ALGS.rsaSha512]: 'sha512',
  [ALGS.sha1]: 'sha1',
  [ALGS.sha256]: 'sha256',
  [ALGS.sha384]: 'sha384',
  [ALGS.sha512]: 'sha512',
};

export interface SignOpts {
  keys: KeyPair;
  /** The certificate put in KeyInfo (default: keys.cert); null: no KeyInfo. */
  keyInfoCert?: string | null;
  signature?: string;
  digest?: string;
  c14n?: string;
  transforms?: string[];
  /** Signature element prefix: 'ds' (default) or '' (default namespace, as Entra sends). */
  prefix?: string;
  /** InclusiveNamespaces PrefixList on the c14n transform (Okta sends PrefixList="xs"). */
  prefixList?: string[];
  /** InclusiveNamespaces PrefixList on SignedInfo's CanonicalizationMethod. */
  signedInfoPrefixList?: string[];
  placement?: 'after-issuer' | 'first' | 'last';
  /** The forge's own signer (xml-crypto's SignedXml), for the plain shapes. */
  forge?: boolean;
  /** xml-crypto's SignedXml with an InclusiveNamespaces PrefixList (as xml-crypto-based IdPs write it). */
  xmlCrypto?: boolean;
}

const certBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
const VALUE_PLACEHOLDER = 'SIGNATURE-VALUE-PLACEHOLDER';

/** The namespace declarations in scope at `el` from its ancestors (nearest first), for inclusive prefixes. */
function ancestorNamespaces(el: Element): { prefix: string; namespaceURI: string }[] {
  const seen = new Map<string, string>();
  for (let n = el.parentNode; n && n.nodeType === 1; n = n.parentNode) {
    const attrs = (n as Element).attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs.item(i)!;
      if (a.name.startsWith('xmlns:') && !seen.has(a.name.slice(6))) seen.set(a.name.slice(6), a.value);
    }
  }
  return [...seen].map(([prefix, namespaceURI]) => ({ prefix, namespaceURI }));
}

function canonical(el: Element, withComments: boolean, prefixList: string[]): string {
  const c = withComments ? new ExclusiveCanonicalizationWithComments() : new ExclusiveCanonicalization();
  return c.process(el, { inclusiveNamespacesPrefixList: prefixList, ancestorNamespaces: ancestorNamespaces(el) });
}

const firstElement = (doc: Document, pred: (e: Element) => boolean) => Array.from(doc.getElementsByTagName('*')).find(pred);

/**
 * Signs the first element named `what` (an honest IdP's enveloped signature), in the context of
 * the whole `xml`, and places the Signature in it. The forge's signer for the plain shapes;
 * otherwise written out here, so that the signature can take the exact forms IdPs use (a
 * default-namespace Signature, Okta's InclusiveNamespaces) and the variants the corpus needs.
 */
export function signElement(xml: string, what: 'Assertion' | 'Response', o: SignOpts): string {
  if (o.forge) return forgeSign(xml, what, o.keys, { signature: o.signature ?? ALGS.rsaSha256, digest: o.digest ?? ALGS.sha256 });
  if (o.xmlCrypto) return xmlCryptoSign(xml, what, o);
  const signature = o.signature ?? ALGS.rsaSha256;
  const digestAlg = o.digest ?? ALGS.sha256;
  const c14n = o.c14n ?? EXC;
  const transforms = o.transforms ?? [ENVELOPED, c14n];
  const parse = (x: string) => new DOMParser().parseFromString(x, 'text/xml') as unknown as Document;
  const el = firstElement(parse(xml), (e) => e.localName === what);
  if (!el) throw new Error(`no ${what} to sign`);
  const id = el.getAttribute('ID') ?? '';
  // The digest of the element as it is before the Signature goes in: what enveloped-signature gives.
  const canon = canonical(el, transforms.includes(EXC_WC), o.prefixList ?? []);
  const digest = createHash(HASH_OF[digestAlg] ?? 'sha256').update(canon, 'utf8').digest('base64');
  const prefix = o.prefix ?? 'ds';
  const P = prefix ? `${prefix}:` : '';
  const decl = prefix ? `xmlns:${prefix}="${NS.ds}"` : `xmlns="${NS.ds}"`;
  const inclusive = (list?: string[]) => (list ? `<ec:InclusiveNamespaces xmlns:ec="${EXC}" PrefixList="${list.join(' ')}"/>` : '');
  const tx = transforms.map((t) => (t === EXC || t === EXC_WC ? `<${P}Transform Algorithm="${t}">${inclusive(o.prefixList)}</${P}Transform>` : `<${P}Transform Algorithm="${t}"/>`)).join('');
  const cm = o.signedInfoPrefixList ? `<${P}CanonicalizationMethod Algorithm="${c14n}">${inclusive(o.signedInfoPrefixList)}</${P}CanonicalizationMethod>` : `<${P}CanonicalizationMethod Algorithm="${c14n}"/>`;
  const cert = o.keyInfoCert === undefined ? o.keys.cert : o.keyInfoCert;
  const keyInfo = cert === null ? '' : `<${P}KeyInfo><${P}X509Data><${P}X509Certificate>${certBody(cert)}</${P}X509Certificate></${P}X509Data></${P}KeyInfo>`;
  const sig =
    `<${P}Signature ${decl}><${P}SignedInfo>${cm}<${P}SignatureMethod Algorithm="${signature}"/>` +
    `<${P}Reference URI="#${id}"><${P}Transforms>${tx}</${P}Transforms><${P}DigestMethod Algorithm="${digestAlg}"/><${P}DigestValue>${digest}</${P}DigestValue></${P}Reference>` +
    `</${P}SignedInfo><${P}SignatureValue>${VALUE_PLACEHOLDER}</${P}SignatureValue>${keyInfo}</${P}Signature>`;
  // Placed by string position in the shapes this file builds.
  const start = xml.search(new RegExp(`<([\\w.-]+:)?${what}[\\s>]`));
  const startEnd = xml.indexOf('>', start) + 1;
  let at: number;
  if ((o.placement ?? 'after-issuer') === 'after-issuer') {
    // After the element's first child when that is its Issuer; first otherwise.
    const rest = xml.slice(startEnd);
    const m = /^<([\w.-]+:)?Issuer[\s>]/.test(rest) ? /<\/([\w.-]+:)?Issuer>/.exec(rest) : null;
    at = m ? startEnd + m.index + m[0].length : startEnd;
  } else if (o.placement === 'first') {
    at = startEnd;
  } else {
    at = what === 'Response' ? xml.lastIndexOf('</') : findClose(xml, start);
  }
  const placed = xml.slice(0, at) + sig + xml.slice(at);
  // SignedInfo canonicalised where it sits (its CanonicalizationMethod's PrefixList may pull in ancestors' namespaces).
  const value = firstElement(parse(placed), (e) => e.localName === 'SignatureValue' && e.textContent === VALUE_PLACEHOLDER)!;
  const signedInfo = firstElement(value.parentNode as unknown as Document, (e) => e.localName === 'SignedInfo' && e.parentNode === value.parentNode)!;
  const bytes = canonical(signedInfo, c14n === EXC_WC, o.signedInfoPrefixList ?? []);
  const signatureValue = rsaSign(HASH_OF[signature] ?? 'sha256', Buffer.from(bytes, 'utf8'), o.keys.key).toString('base64');
  return placed.replace(VALUE_PLACEHOLDER, signatureValue);
}

/** xml-crypto's own signer, with a PrefixList: it writes InclusiveNamespaces into every transform. */
function xmlCryptoSign(xml: string, what: 'Assertion' | 'Response', o: SignOpts): string {
  const sig = new SignedXml({ privateKey: o.keys.key, publicCert: o.keys.cert, signatureAlgorithm: o.signature ?? ALGS.rsaSha256, canonicalizationAlgorithm: EXC });
  const target = `//*[local-name(.)='${what}']`;
  sig.addReference({ xpath: target, digestAlgorithm: o.digest ?? ALGS.sha256, transforms: [ENVELOPED, EXC], inclusiveNamespacesPrefixList: o.prefixList ?? ['xs'] });
  sig.computeSignature(xml, { prefix: o.prefix ?? 'ds', location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

/** Index of the end tag of the element starting at `start` (same qualified name, no nesting of it). */
function findClose(xml: string, start: number): number {
  const name = /^<([^\s>/]+)/.exec(xml.slice(start))![1]!;
  return xml.indexOf(`</${name}>`, start);
}

// ---------------------------------------------------------------------------------------------
// Base responses

export const SP = {
  entityId: 'https://keydesk.example.test/t/acme/saml/entra/metadata',
  acsUrl: 'https://keydesk.example.test/t/acme/saml/entra/acs',
};
const ENTRA_IDP = 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/';
const OKTA_IDP = 'http://www.okta.com/exk1fcia6d6EMsf331d8';
const SKEW_MS = 180_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Style = 'prefixed' | 'entra' | 'okta';

interface BaseSpec {
  name: string;
  weight: number;
  style: Style;
  responseSigned: boolean;
  assertionSigned: boolean;
  signer: 'trusted' | 'rollover';
  sign: Omit<SignOpts, 'keys'>;
  parts: ResponseParts;
  sessionIndex: string | null;
  xsiTypes: boolean;
  allowSha1: boolean;
}

export interface AssembleOpts {
  parts?: Partial<ResponseParts>;
  /** Edits the unsigned assertion, still in the forge's `saml:` form, before styling and signing. */
  assertion?: (xml: string) => string;
  /** Edits the whole response (assertion already signed) before the response signature. */
  response?: (xml: string) => string;
  assertionSign?: Partial<SignOpts>;
  responseSign?: Partial<SignOpts>;
  /** Edits the Response around the assertion (styled, before the assertion goes in). */
  wrapper?: (xml: string) => string;
  /** Signs the assertion where it sits in the Response (its ancestors' namespaces in scope), not on its own. */
  assertionInContext?: boolean;
}

export interface Base {
  name: string;
  weight: number;
  style: Style;
  responseSigned: boolean;
  assertionSigned: boolean;
  parts: ResponseParts;
  /** The honest signed response. */
  xml: string;
  expected: Expectations;
  assemble(o?: AssembleOpts): string;
  /** An unsigned assertion in this base's style, for someone other than the signed subject. */
  evilAssertion(id: string): string;
}

const PLACEHOLDER = '<!--@assertion@-->';

function styleAssertion(a: string, style: Style): string {
  if (style === 'okta') return a.replace(/(<\/?)saml:/g, '$1saml2:').replace(/xmlns:saml=/g, 'xmlns:saml2=');
  if (style === 'entra') return a.replace(/(<\/?)saml:/g, '$1').replace(/xmlns:saml=/g, 'xmlns=');
  return a;
}

function styleResponse(r: string, style: Style): string {
  if (style === 'okta') return r.replace(/(<\/?)samlp:/g, '$1saml2p:').replace(/xmlns:samlp=/g, 'xmlns:saml2p=').replace(/(<\/?)saml:/g, '$1saml2:').replace(/xmlns:saml=/g, 'xmlns:saml2=');
  if (style === 'entra') {
    return r
      .replace(` xmlns:saml="${NS.saml}"`, '')
      .replace('<saml:Issuer>', `<Issuer xmlns="${NS.saml}">`)
      .replace('</saml:Issuer>', '</Issuer>');
  }
  return r;
}

function makeBase(spec: BaseSpec, keys: CorpusKeys, now: number): Base {
  const signKeys = spec.signer === 'rollover' ? keys.rollover : keys.trusted;
  const decorate = (a: string) => {
    let out = a
      .replace(/IssueInstant="[^"]*"/, `IssueInstant="${iso(now - 2_000)}"`)
      .replace(/AuthnInstant="[^"]*"/, `AuthnInstant="${iso(now - 60_000)}"${spec.sessionIndex ? ` SessionIndex="${spec.sessionIndex}"` : ''}`);
    if (spec.xsiTypes) out = out.replace(/<saml:AttributeValue>/g, `<saml:AttributeValue xmlns:xs="${NS.xs}" xmlns:xsi="${NS.xsi}" xsi:type="xs:string">`);
    return out;
  };
  const assemble = (o: AssembleOpts = {}): string => {
    const parts = { ...spec.parts, ...o.parts };
    let a = decorate(buildAssertion(parts));
    if (o.assertion) a = o.assertion(a);
    a = styleAssertion(a, spec.style);
    const assertionSign = { keys: signKeys, ...spec.sign, ...o.assertionSign };
    if (spec.assertionSigned && !o.assertionInContext) a = signElement(a, 'Assertion', assertionSign);
    let r = styleResponse(wrapInResponse(parts, PLACEHOLDER).replace(/IssueInstant="[^"]*"/, `IssueInstant="${iso(now - 1_000)}"`), spec.style);
    if (o.wrapper) r = o.wrapper(r);
    r = r.replace(PLACEHOLDER, () => a);
    if (spec.assertionSigned && o.assertionInContext) r = signElement(r, 'Assertion', assertionSign);
    if (o.response) r = o.response(r);
    if (spec.responseSigned) r = signElement(r, 'Response', { keys: signKeys, ...spec.sign, ...o.responseSign });
    return r;
  };
  const certificates = spec.signer === 'rollover' ? [keys.trusted.cert, keys.rollover.cert] : [keys.trusted.cert];
  return {
    name: spec.name,
    weight: spec.weight,
    style: spec.style,
    responseSigned: spec.responseSigned,
    assertionSigned: spec.assertionSigned,
    parts: spec.parts,
    xml: assemble(),
    expected: { certificates, idpEntityId: spec.parts.issuer, spEntityId: SP.entityId, acsUrl: SP.acsUrl, allowSha1: spec.allowSha1, skewMs: SKEW_MS, now },
    assemble,
    evilAssertion: (id: string) => styleAssertion(decorate(buildAssertion({ ...spec.parts, nameId: 'admin@corp.example', assertionId: id })), spec.style),
  };
}

const ENTRA_CLAIMS = {
  tenantid: 'http://schemas.microsoft.com/identity/claims/tenantid',
  oid: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  displayname: 'http://schemas.microsoft.com/identity/claims/displayname',
  idp: 'http://schemas.microsoft.com/identity/claims/identityprovider',
  amr: 'http://schemas.microsoft.com/claims/authnmethodsreferences',
  givenname: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
  surname: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
  email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
};

function baseSpecs(rng: Rng, now: number): BaseSpec[] {
  const windows = { notBefore: new Date(now - 5 * 60_000), notOnOrAfter: new Date(now + 60 * 60_000) };
  const common = { destination: SP.acsUrl, audience: SP.entityId, recipient: SP.acsUrl, ...windows };
  const entraAttrs = (groups: number, email: string, name: string) => ({
    [ENTRA_CLAIMS.tenantid]: ['72f988bf-86f1-41af-91ab-2d7cd011db47'],
    [ENTRA_CLAIMS.oid]: [rng.uuid()],
    [ENTRA_CLAIMS.displayname]: [name],
    [ENTRA_CLAIMS.idp]: [ENTRA_IDP],
    [ENTRA_CLAIMS.amr]: ['http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password', 'http://schemas.microsoft.com/claims/multipleauthn'],
    [ENTRA_CLAIMS.givenname]: [name.split(' ')[0]!],
    [ENTRA_CLAIMS.surname]: [name.split(' ').slice(1).join(' ')],
    [ENTRA_CLAIMS.email]: [email],
    [ENTRA_CLAIMS.name]: [email],
    ...(groups ? { [ENTRA_CLAIMS.groups]: Array.from({ length: groups }, () => rng.uuid()) } : {}),
  });
  const entra = (over: Partial<ResponseParts>): ResponseParts => ({
    issuer: ENTRA_IDP,
    ...common,
    nameId: 'adele.vance@contoso.example',
    inResponseTo: `_${rng.hex(32)}`,
    assertionId: `_${rng.uuid()}`,
    responseId: `_${rng.uuid()}`,
    ...over,
  });
  const forge = { forge: true };
  /**
   * A base as most are (only the assertion signed, by the trusted key; no xsi:type; no SHA-1); `more`
   * says how it differs. Its SessionIndex is drawn after its parts unless `more` gives one.
   */
  const spec = (name: string, weight: number, style: Style, sign: BaseSpec['sign'], parts: ResponseParts, more: Partial<BaseSpec> = {}): BaseSpec => ({
    name,
    weight,
    style,
    responseSigned: false,
    assertionSigned: true,
    signer: 'trusted',
    sign,
    parts,
    sessionIndex: more.sessionIndex !== undefined ? more.sessionIndex : `_${rng.uuid()}`,
    xsiTypes: false,
    allowSha1: false,
    ...more,
  });
  const persistent = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
  return [
    spec('entra', 4, 'entra', { prefix: '' }, entra({ attributes: entraAttrs(5, 'adele.vance@contoso.example', 'Adele Vance') })),
    spec('entra-150-groups', 1, 'entra', { prefix: '' }, entra({ nameId: 'megan.bowen@contoso.example', attributes: entraAttrs(150, 'megan.bowen@contoso.example', 'Megan Bowen') })),
    spec('forge-no-attributes', 3, 'prefixed', forge, entra({ nameId: 'lee.gu@contoso.example', nameIdFormat: persistent, attributes: {}, inResponseTo: null }), { sessionIndex: null }),
    spec(
      'okta',
      4,
      'okta',
      { prefix: 'ds', prefixList: ['xs'] },
      {
        issuer: OKTA_IDP,
        ...common,
        nameId: 'isaiah.langer@okta-customer.example',
        nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
        inResponseTo: `_${rng.hex(32)}`,
        assertionId: `id${rng.int(1e9)}${rng.hex(12)}`,
        responseId: `id${rng.int(1e9)}${rng.hex(12)}`,
        attributes: {
          email: ['isaiah.langer@okta-customer.example'],
          firstName: ['Isaiah'],
          lastName: ['Langer'],
          groups: ['Everyone', 'Keydesk Agents', 'Keydesk Admins', 'Finance', 'VPN Users'],
        },
      },
      { responseSigned: true, sessionIndex: `id${rng.int(1e9)}.${rng.int(1e6)}`, xsiTypes: true },
    ),
    spec(
      'response-signed-only',
      2,
      'prefixed',
      forge,
      entra({ nameId: 'diego.siciliani@contoso.example', attributes: { groups: Array.from({ length: 5 }, () => rng.uuid()), department: ['R&amp;D'] } }),
      { responseSigned: true, assertionSigned: false },
    ),
    spec(
      'special-characters',
      3,
      'prefixed',
      forge,
      entra({
        // Pre-escaped: the forge puts values in as they are.
        nameId: 'zoë.o&apos;brien+&amp;tag@exämple.test',
        attributes: {
          displayname: ['Zoë “Z” O&apos;Brien &amp; Söhne &lt;admin&gt;', '山田 太郎', '🦄 unicorn', 'שלום', 'quote " and apos \''],
          department: ['R&amp;D', 'Ops &gt; Infra', 'a &lt; b'],
          empty: [''],
          'urn:x-attr:ü': ['ñ', 'ß', 'Ω'],
        },
      }),
    ),
    spec('sha1-allowed', 1, 'prefixed', { ...forge, signature: ALGS.rsaSha1, digest: ALGS.sha1 }, entra({ nameId: 'alex.wilber@contoso.example', attributes: { [ENTRA_CLAIMS.email]: ['alex.wilber@contoso.example'] } }), { allowSha1: true }),
    spec('rollover-certificate', 1, 'entra', { prefix: 'ds' }, entra({ nameId: 'nestor.wilke@contoso.example', attributes: entraAttrs(0, 'nestor.wilke@contoso.example', 'Nestor Wilke') }), { signer: 'rollover' }),
  ];
}

// ---------------------------------------------------------------------------------------------
// A token view of a response, for re-serialising it

interface XAttr {
  name: string;
  /** As written (escaped). */
  value: string;
  q: '"' | "'";
  pre: string;
  eq: string;
}
type Tok =
  | { k: 'open'; name: string; attrs: XAttr[]; self: boolean; tail: string }
  | { k: 'close'; name: string; tail: string }
  | { k: 'text'; raw: string }
  | { k: 'misc'; raw: string };

interface Flags {
  /** Inside a part a signature's digest covers (an enveloped signature is not covered by its own). */
  covered: boolean;
  /** Inside a SignedInfo (covered by the SignatureValue). */
  signedInfo: boolean;
  depth: number;
  ns: Map<string, string>;
}
const OUTSIDE: Flags = { covered: false, signedInfo: false, depth: 0, ns: new Map() };
const free = (f: Flags) => !f.covered && !f.signedInfo;

const TOKEN_RE = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<[^>]*>|[^<]+/g;
const OPEN_RE = /^<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)(\s*)(\/?)>$/;
const ATTR_RE = /(\s+)([^\s=/>]+)(\s*=\s*)(?:"([^"]*)"|'([^']*)')/g;

function tokenize(xml: string): Tok[] {
  return Array.from(xml.matchAll(TOKEN_RE), (m): Tok => {
    const s = m[0];
    if (s.startsWith('<!') || s.startsWith('<?')) return { k: 'misc', raw: s };
    if (s.startsWith('</')) {
      const c = /^<\/([^\s>]+)(\s*)>$/.exec(s);
      return c ? { k: 'close', name: c[1]!, tail: c[2]! } : { k: 'misc', raw: s };
    }
    if (s.startsWith('<')) {
      const o = OPEN_RE.exec(s);
      if (!o) return { k: 'misc', raw: s };
      const attrs = Array.from(o[2]!.matchAll(ATTR_RE), (a): XAttr => ({ pre: a[1]!, name: a[2]!, eq: a[3]!, value: a[4] ?? a[5]!, q: a[4] !== undefined ? '"' : "'" }));
      return { k: 'open', name: o[1]!, attrs, tail: o[3]!, self: o[4] === '/' };
    }
    return { k: 'text', raw: s };
  });
}

function serialise(toks: Tok[]): string {
  return toks
    .map((t) => {
      if (t.k === 'open') return `<${t.name}${t.attrs.map((a) => `${a.pre}${a.name}${a.eq}${a.q}${a.value}${a.q}`).join('')}${t.tail}${t.self ? '/>' : '>'}`;
      if (t.k === 'close') return `</${t.name}${t.tail}>`;
      return t.raw;
    })
    .join('');
}

const localOf = (name: string) => name.slice(name.indexOf(':') + 1);
const prefixOf = (name: string) => (name.includes(':') ? name.slice(0, name.indexOf(':')) : '');
const cloneTok = (t: Tok): Tok => (t.k === 'open' ? { ...t, attrs: t.attrs.map((a) => ({ ...a })) } : { ...t });

/** A response as tokens, with which signature covers what. Edits re-index. */
class Doc {
  toks: Tok[];
  ann: Flags[] = [];
  /** Flags of the position before token j (j = 0..n). */
  gaps: Flags[] = [];
  end: number[] = [];
  constructor(
    xml: string,
    readonly shape: { responseSigned: boolean; assertionSigned: boolean },
  ) {
    this.toks = tokenize(xml);
    this.index();
  }

  index(): void {
    const n = this.toks.length;
    this.ann = new Array(n);
    this.gaps = new Array(n + 1);
    this.end = new Array(n).fill(-1);
    const stack: { i: number; kind: 'root' | 'assertion' | 'other'; f: Flags }[] = [];
    const top = () => (stack.length ? stack[stack.length - 1]!.f : OUTSIDE);
    for (let i = 0; i < n; i++) {
      this.gaps[i] = top();
      const t = this.toks[i]!;
      if (t.k === 'open') {
        const parent = stack[stack.length - 1];
        const local = localOf(t.name);
        let kind: 'root' | 'assertion' | 'other' = 'other';
        let covered: boolean;
        if (!parent) {
          kind = 'root';
          covered = this.shape.responseSigned;
        } else if (parent.kind === 'root' && local === 'Signature') covered = false;
        else if (parent.kind === 'root' && local === 'Assertion') {
          kind = 'assertion';
          covered = this.shape.responseSigned || this.shape.assertionSigned;
        } else if (parent.kind === 'assertion' && local === 'Signature') covered = this.shape.responseSigned;
        else covered = parent.f.covered;
        const ns = new Map(parent?.f.ns ?? []);
        for (const a of t.attrs) {
          if (a.name === 'xmlns') ns.set('', a.value);
          else if (a.name.startsWith('xmlns:')) ns.set(a.name.slice(6), a.value);
        }
        const f: Flags = { covered, signedInfo: (parent?.f.signedInfo ?? false) || local === 'SignedInfo', depth: stack.length + 1, ns };
        this.ann[i] = f;
        if (t.self) this.end[i] = i;
        else stack.push({ i, kind, f });
      } else if (t.k === 'close') {
        const s = stack.pop();
        this.ann[i] = s?.f ?? OUTSIDE;
        if (s) this.end[s.i] = i;
      } else this.ann[i] = top();
    }
    this.gaps[n] = top();
  }

  xml(): string {
    return serialise(this.toks);
  }
  opens(local?: string, where: (i: number) => boolean = () => true): number[] {
    const out: number[] = [];
    this.toks.forEach((t, i) => {
      if (t.k === 'open' && (local === undefined || localOf(t.name) === local) && where(i)) out.push(i);
    });
    return out;
  }
  open(i: number): Extract<Tok, { k: 'open' }> {
    const t = this.toks[i];
    if (t?.k !== 'open') throw new Error(`token ${i} is not a start tag`);
    return t;
  }
  /** The text token directly inside element i, if its content is one text token. */
  textIn(i: number): number {
    const t = this.toks[i + 1];
    return t?.k === 'text' && this.end[i] === i + 2 ? i + 1 : -1;
  }
  within(i: number, j: number): boolean {
    return j > i && j < this.end[i]!;
  }
  parentOf(i: number): number {
    const d = this.ann[i]!.depth;
    for (let j = i - 1; j >= 0; j--) if (this.toks[j]!.k === 'open' && this.ann[j]!.depth === d - 1 && this.end[j]! > i) return j;
    return -1;
  }
  children(i: number): number[] {
    const out: number[] = [];
    for (let j = i + 1; j < this.end[i]!; j++) {
      if (this.toks[j]!.k === 'open') {
        out.push(j);
        j = this.end[j]!;
      }
    }
    return out;
  }
  /** Positions between two tags (not touching text), where `pred` holds. */
  tagGaps(pred: (f: Flags, j: number) => boolean): number[] {
    const out: number[] = [];
    for (let j = 0; j <= this.toks.length; j++) {
      const before = this.toks[j - 1];
      const after = this.toks[j];
      if (before?.k === 'text' || after?.k === 'text') continue;
      if (j === 0 && after?.k === 'misc' && after.raw.startsWith('<?xml')) continue;
      if (pred(this.gaps[j]!, j)) out.push(j);
    }
    return out;
  }
  slice(i: number): Tok[] {
    return this.toks.slice(i, this.end[i]! + 1).map(cloneTok);
  }
  cut(i: number): Tok[] {
    const out = this.toks.splice(i, this.end[i]! - i + 1);
    this.index();
    return out;
  }
  insert(j: number, toks: Tok[]): void {
    this.toks.splice(j, 0, ...toks);
    this.index();
  }
  attr(i: number, name: string): XAttr | undefined {
    return this.open(i).attrs.find((a) => a.name === name);
  }
  /** The assertion element directly in the Response (the signed one, in an honest shape). */
  assertion(): number {
    return this.opens('Assertion', (i) => this.ann[i]!.depth === 2)[0] ?? -1;
  }
  root(): number {
    return this.opens()[0] ?? -1;
  }
  /** The Signature directly inside element i. */
  signatureOf(i: number): number {
    return this.children(i).find((c) => localOf(this.open(c).name) === 'Signature') ?? -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Text re-encoding

function decodeXml(raw: string): string {
  return raw.replace(/&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/g, (_, hex, dec, named) => {
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    if (dec) return String.fromCodePoint(parseInt(dec, 10));
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[named]!;
  });
}

const NAMED: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

/** Writes `value` again with some characters as character references or predefined entities. */
function reencode(value: string, rng: Rng, where: 'text' | { quote: '"' | "'" }, share: number): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    const mustEscape = ch === '<' || ch === '&' || ch === '\r' || (where !== 'text' && (ch === where.quote || ch === '\n' || ch === '\t'));
    if (!mustEscape && !rng.chance(share)) {
      out += ch;
      continue;
    }
    const forms = [`&#${cp};`, `&#x${cp.toString(16)};`, `&#x${cp.toString(16).toUpperCase()};`, `&#x000${cp.toString(16)};`];
    if (NAMED[ch]) forms.push(NAMED[ch]!, NAMED[ch]!);
    out += rng.pick(forms);
  }
  return out;
}

/** A split point in raw text outside any reference. */
function splitPoint(raw: string, rng: Rng): number {
  const points: number[] = [];
  let inRef = false;
  for (let i = 0; i <= raw.length; i++) {
    if (!inRef) points.push(i);
    const c = raw[i];
    if (c === '&') inRef = true;
    else if (c === ';') inRef = false;
    // not between the halves of a surrogate pair
    if (c && /[\ud800-\udbff]/.test(c)) i++;
  }
  return rng.pick(points);
}

// ---------------------------------------------------------------------------------------------
// Mutations

export interface CorpusCase {
  index: number;
  category: string;
  variant: string;
  base: string;
  /** What was done, in order (the category's own mutation first). */
  steps: string[];
  xml: string;
  /** As posted: base64 of `xml` unless the transport itself was mutated. */
  samlResponse: string;
  expected: Expectations;
}

interface Ctx {
  rng: Rng;
  base: Base;
  keys: CorpusKeys;
  now: number;
}
interface Mutated {
  variant: string;
  xml: string;
  expected?: Partial<Expectations>;
  samlResponse?: string;
  /** The XML is no longer a document the token view can edit further. */
  final?: boolean;
}
interface Category {
  name: string;
  weight: number;
  /** Cheap, signature-neutral re-serialisations may be added on top. */
  neutral?: boolean;
  run(c: Ctx): Mutated;
}

const docOf = (c: Ctx, xml = c.base.xml) => new Doc(xml, c.base);
const WS = [' ', '  ', '\n', '\r\n', '\t', '\n    ', '\r', ' \n\t '];
const TEXT_TARGETS = ['NameID', 'AttributeValue', 'Issuer', 'Audience', 'DigestValue', 'SignatureValue', 'X509Certificate', 'StatusMessage'];

/** Text tokens inside elements named in `locals` (the element's single text child). */
function textTargets(d: Doc, locals: string[] = TEXT_TARGETS): { el: number; text: number; local: string }[] {
  return d
    .opens(undefined, (i) => locals.includes(localOf(d.open(i).name)))
    .map((el) => ({ el, text: d.textIn(el), local: localOf(d.open(el).name) }))
    .filter((x) => x.text >= 0);
}

function insertAtGaps(c: Ctx, d: Doc, gaps: number[], make: () => Tok[], count: number): number {
  const chosen = c.rng.shuffle([...gaps]).slice(0, count).sort((a, b) => b - a);
  for (const j of chosen) d.toks.splice(j, 0, ...make());
  d.index();
  return chosen.length;
}

const regionOf = (f: Flags) => (f.signedInfo ? 'signedinfo' : f.covered ? 'signed' : 'unsigned');

// Neutral re-serialisations (also used as extra steps on top of other mutations).
const neutral: Record<string, (c: Ctx, d: Doc) => string> = {
  'attribute-order': (c, d) => {
    let n = 0;
    for (const i of d.opens(undefined, (i) => d.open(i).attrs.length > 1)) {
      if (c.rng.chance(0.5)) {
        c.rng.shuffle(d.open(i).attrs);
        n++;
      }
    }
    return `shuffled attributes of ${n} elements`;
  },
  'whitespace-in-tags': (c, d) => {
    let n = 0;
    // xmldom takes an element for unclosed when a later `</name >` hides its end tag: end tags get
    // whitespace only in one case in five.
    const endTags = c.rng.chance(0.2);
    for (const t of d.toks) {
      if ((t.k !== 'open' && t.k !== 'close') || !c.rng.chance(0.3)) continue;
      n++;
      if (t.k === 'open') {
        for (const a of t.attrs) {
          a.pre = c.rng.pick([' ', '  ', '\n', '\t', '\r\n ', ' \n  ']);
          a.eq = c.rng.pick(['=', ' = ', '\n=', '=\t']);
        }
      }
      if (t.k === 'open' || endTags) t.tail = c.rng.pick(['', ' ', '\n', '\r\n', '\t']);
    }
    return `whitespace inside ${n} tags${endTags ? ' (end tags too)' : ''}`;
  },
  'quote-style': (c, d) => {
    let n = 0;
    for (const t of d.toks) {
      if (t.k !== 'open') continue;
      for (const a of t.attrs) {
        if (!c.rng.chance(0.4)) continue;
        n++;
        if (a.q === '"') {
          a.q = "'";
          a.value = a.value.replace(/'/g, '&apos;');
        } else {
          a.q = '"';
          a.value = a.value.replace(/"/g, '&quot;');
        }
      }
    }
    return `switched quotes on ${n} attributes`;
  },
  'empty-element-form': (c, d) => {
    let n = 0;
    for (let i = d.toks.length - 1; i >= 0; i--) {
      const t = d.toks[i]!;
      if (t.k !== 'open' || !c.rng.chance(0.5)) continue;
      if (t.self) {
        t.self = false;
        d.toks.splice(i + 1, 0, { k: 'close', name: t.name, tail: '' });
        n++;
      } else if (d.toks[i + 1]?.k === 'close') {
        t.self = true;
        d.toks.splice(i + 1, 1);
        n++;
      }
    }
    d.index();
    return `toggled <x/> and <x></x> on ${n} elements`;
  },
  'whitespace-unsigned': (c, d) => {
    const n = insertAtGaps(c, d, d.tagGaps(free), () => [{ k: 'text', raw: c.rng.pick(WS) }], 1 + c.rng.int(4));
    return `whitespace at ${n} unsigned positions`;
  },
  'comments-signed': (c, d) => {
    const n = insertAtGaps(c, d, d.tagGaps((f, j) => !free(f) && j > 0), () => [{ k: 'misc', raw: `<!--${c.rng.pick(['', ' ', 'x', ' admin@corp.example ', '<saml:NameID>x</saml:NameID>', 'a-b'])}-->` }], 1 + c.rng.int(3));
    return `comments at ${n} signed positions`;
  },
  'redundant-namespace': (c, d) => {
    const els = d.opens();
    const i = c.rng.pick(els);
    const t = d.open(i);
    const inScope = [...d.ann[i]!.ns.entries()].filter(([p]) => p !== '' && !t.attrs.some((a) => a.name === `xmlns:${p}`));
    if (inScope.length && c.rng.chance(0.6)) {
      const [p, uri] = c.rng.pick(inScope);
      t.attrs.push({ name: `xmlns:${p}`, value: uri, q: '"', pre: ' ', eq: '=' });
      return `re-declared xmlns:${p} (same URI) on <${t.name}>`;
    }
    const p = c.rng.pick(['zz', 'foo', 'xs2', 'unused']);
    if (t.attrs.some((a) => a.name === `xmlns:${p}`)) return 'nothing';
    t.attrs.push({ name: `xmlns:${p}`, value: `urn:example:${p}`, q: '"', pre: ' ', eq: '=' });
    return `unused xmlns:${p} on <${t.name}>`;
  },
  'char-references': (c, d) => {
    const i = c.rng.pick(d.opens(undefined, (i) => d.open(i).attrs.some((a) => !a.name.startsWith('xmlns'))));
    const a = c.rng.pick(d.open(i).attrs.filter((a) => !a.name.startsWith('xmlns')));
    a.value = reencode(decodeXml(a.value), c.rng, { quote: a.q }, 0.3);
    return `character references in ${localOf(d.open(i).name)}@${a.name} (${regionOf(d.ann[i]!)})`;
  },
};
const NEUTRAL_EXTRAS = Object.keys(neutral);

function neutralCategory(name: string, weight: number): Category {
  return {
    name,
    weight,
    neutral: true,
    run: (c) => {
      const d = docOf(c);
      const variant = neutral[name]!(c, d);
      return { variant: variant.replace(/\d+/g, 'n'), xml: d.xml() };
    },
  };
}

const DECLARATIONS = [
  '<?xml version="1.0"?>',
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<?xml version="1.0" encoding="utf-8"?>\n',
  "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\r\n",
  '<?xml version="1.0" encoding="ISO-8859-1"?>',
  '<?xml version="1.0" encoding="UTF-16"?>',
  '<?xml version="1.1"?>',
  '\uFEFF<?xml version="1.0" encoding="UTF-8"?>',
  '\uFEFF',
  ' <?xml version="1.0"?>',
  '<?xml version="1.0"?><?xml version="1.0"?>',
  '<?xml encoding="UTF-8"?>',
];

const NEAR_MISS: Record<string, string[]> = {
  [NS.saml]: ['urn:oasis:names:tc:SAML:1.0:assertion', `${NS.saml}X`, NS.samlp, 'URN:OASIS:NAMES:TC:SAML:2.0:ASSERTION', `${NS.saml} `],
  [NS.samlp]: ['urn:oasis:names:tc:SAML:1.0:protocol', `${NS.samlp}X`, NS.saml, `${NS.samlp}/`],
  [NS.ds]: ['http://www.w3.org/2000/09/xmldsig', 'http://www.w3.org/2000/09/xmldsig#X', 'https://www.w3.org/2000/09/xmldsig#', 'http://www.w3.org/2009/xmldsig11#'],
};

/** Renames prefix `from` to `to` ('' = default namespace) in the subtree of element i; false when it cannot. */
function renamePrefix(d: Doc, i: number, from: string, to: string): boolean {
  const uri = d.ann[i]!.ns.get(from);
  if (uri === undefined) return false;
  const last = d.end[i]!;
  const declName = (p: string) => (p ? `xmlns:${p}` : 'xmlns');
  // The new prefix must be unused in the subtree, and nothing in it may depend on an inherited `to`.
  for (let j = i; j <= last; j++) {
    const t = d.toks[j]!;
    if (t.k !== 'open') continue;
    if (prefixOf(t.name) === to && (j === i || !t.attrs.some((a) => a.name === declName(to)))) return false;
    if (t.attrs.some((a) => a.name === declName(to) || (to && prefixOf(a.name) === to))) return false;
    if (to === '' && t.attrs.some((a) => prefixOf(a.name) === from && a.name !== declName(from))) return false;
    if (t.attrs.some((a) => a.value.startsWith(`${from}:`) && a.name.endsWith('type'))) return false;
  }
  const skipUntil: number[] = [];
  for (let j = i; j <= last; j++) {
    const t = d.toks[j]!;
    if (t.k !== 'open' && t.k !== 'close') continue;
    if (skipUntil.length && j <= skipUntil[skipUntil.length - 1]!) continue;
    if (t.k === 'open' && j !== i && t.attrs.some((a) => a.name === declName(from))) {
      skipUntil.push(d.end[j]!);
      continue;
    }
    if (prefixOf(t.name) === from) t.name = to ? `${to}:${localOf(t.name)}` : localOf(t.name);
    if (t.k === 'open') {
      for (const a of t.attrs) if (from && prefixOf(a.name) === from) a.name = `${to}:${localOf(a.name)}`;
    }
  }
  const root = d.open(i);
  const own = root.attrs.find((a) => a.name === declName(from));
  if (own) own.name = declName(to);
  else root.attrs.unshift({ name: declName(to), value: uri, q: '"', pre: ' ', eq: '=' });
  return true;
}

const flip = (s: string, rng: Rng) => {
  const i = rng.int(s.length);
  const ch = s[i]!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let r = ch;
  while (r === ch) r = rng.pick([...alphabet]);
  return s.slice(0, i) + r + s.slice(i + 1);
};

/** Edits the text of the first `local` inside the signature(s). */
function editSignatureText(c: Ctx, d: Doc, local: string, edit: (raw: string) => string): string {
  const sigs = d.opens('Signature');
  const sig = c.rng.pick(sigs);
  const el = d.opens(local, (j) => d.within(sig, j))[0];
  if (el === undefined) return 'none';
  const ti = d.textIn(el);
  if (ti < 0) return 'none';
  const t = d.toks[ti] as { raw: string };
  t.raw = edit(t.raw);
  return localOf(d.open(d.parentOf(sig)).name);
}

const wrap76 = (s: string, n: number, eol: string) => s.replace(new RegExp(`(.{${n}})(?!$)`, 'g'), `$1${eol}`);

/** One of `variants`, drawn by name (in their written order): each variant is named once, with what it does. */
function pickVariant<T>(rng: Rng, variants: Record<string, T>): [string, T] {
  const v = rng.pick(Object.keys(variants));
  return [v, variants[v]!];
}

/** An edit that replaces the first match of `re` by `to` (with its `$1`... references). */
const replacing = (re: string | RegExp, to: string) => (xml: string) => xml.replace(re, to);

const categories: Category[] = [
  { name: 'unmodified', weight: 2, run: () => ({ variant: 'as signed', xml: '' }) },
  {
    name: 'xml-declaration',
    weight: 2,
    neutral: true,
    run: (c) => {
      const decl = c.rng.pick(DECLARATIONS);
      return { variant: JSON.stringify(decl), xml: decl + c.base.xml };
    },
  },
  neutralCategory('whitespace-unsigned', 4),
  {
    name: 'whitespace-signed',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const gaps = d.tagGaps((f) => !free(f));
      const j = c.rng.pick(gaps);
      const where = regionOf(d.gaps[j]!);
      d.insert(j, [{ k: 'text', raw: c.rng.pick(WS) }]);
      return { variant: where, xml: d.xml() };
    },
  },
  {
    name: 'line-endings',
    weight: 2,
    neutral: true,
    run: (c) => {
      const eol = c.rng.pick(['\r\n', '\r', '\n']);
      const d = docOf(c);
      const n = insertAtGaps(c, d, d.tagGaps(free), () => [{ k: 'text', raw: eol }], 2 + c.rng.int(6));
      for (const t of d.toks) if (t.k === 'open' && c.rng.chance(0.2)) for (const a of t.attrs) a.pre = eol + '  ';
      const wrapBase64 = c.rng.chance(0.5);
      if (wrapBase64) {
        for (const x of textTargets(d, ['SignatureValue', 'X509Certificate'])) {
          const t = d.toks[x.text] as { raw: string };
          t.raw = eol + wrap76(t.raw, 64, eol) + eol;
        }
      }
      return { variant: `${JSON.stringify(eol)}${wrapBase64 ? ' +base64 wrapped' : ''}${n ? '' : ' (no unsigned gap)'}`, xml: d.xml() };
    },
  },
  neutralCategory('whitespace-in-tags', 2),
  neutralCategory('attribute-order', 3),
  neutralCategory('quote-style', 1),
  neutralCategory('empty-element-form', 1),
  {
    name: 'comments',
    weight: 3,
    run: (c) => {
      const d = docOf(c);
      const v = c.rng.pick(['signed', 'signedinfo', 'unsigned', 'before-root', 'after-root', 'invalid-comment']);
      const body = c.rng.pick(['', ' ', 'x', ' admin@corp.example ', '<saml:Assertion ID="x">', 'a-b']);
      const gaps =
        v === 'before-root' ? [0] : v === 'after-root' ? [d.toks.length] : d.tagGaps((f, j) => j > 0 && j < d.toks.length && regionOf(f) === (v === 'invalid-comment' ? regionOf(f) : v));
      if (!gaps.length) return { variant: `${v} (none)`, xml: d.xml() };
      insertAtGaps(c, d, gaps, () => [{ k: 'misc', raw: v === 'invalid-comment' ? '<!-- a -- b -->' : `<!--${body}-->` }], 1 + c.rng.int(3));
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'comment-in-text',
    weight: 4,
    run: (c) => {
      const d = docOf(c);
      const x = c.rng.pick(textTargets(d));
      const t = d.toks[x.text] as { raw: string };
      const where = c.rng.pick(['split', 'split', 'before', 'after', 'twice']);
      const comment = `<!--${c.rng.pick(['', 'x', '.evil.example'])}-->`;
      if (where === 'before') t.raw = comment + t.raw;
      else if (where === 'after') t.raw = t.raw + comment;
      else {
        const at = splitPoint(t.raw, c.rng);
        t.raw = t.raw.slice(0, at) + comment + t.raw.slice(at);
        if (where === 'twice') {
          const at2 = splitPoint(t.raw.slice(at + comment.length), c.rng) + at + comment.length;
          t.raw = t.raw.slice(0, at2) + '<!---->' + t.raw.slice(at2);
        }
      }
      return { variant: `${x.local} ${where}`, xml: d.xml() };
    },
  },
  {
    name: 'cdata',
    weight: 3,
    run: (c) => {
      const d = docOf(c);
      const x = c.rng.pick(textTargets(d));
      const t = d.toks[x.text] as { raw: string };
      const where = c.rng.pick(['whole', 'split', 'empty-section']);
      if (where === 'whole') t.raw = `<![CDATA[${decodeXml(t.raw)}]]>`;
      else if (where === 'empty-section') t.raw = t.raw + '<![CDATA[]]>';
      else {
        const at = splitPoint(t.raw, c.rng);
        t.raw = `${t.raw.slice(0, at)}<![CDATA[${decodeXml(t.raw.slice(at))}]]>`;
      }
      return { variant: `${x.local} ${where}`, xml: d.xml() };
    },
  },
  {
    name: 'char-references',
    weight: 4,
    run: (c) => {
      const d = docOf(c);
      const kind = c.rng.pick(['text', 'attribute', 'id', 'reference-uri', 'algorithm', 'destination']);
      if (kind === 'text') {
        const x = c.rng.pick(textTargets(d));
        const t = d.toks[x.text] as { raw: string };
        t.raw = reencode(decodeXml(t.raw), c.rng, 'text', c.rng.pick([0.1, 0.5, 1]));
        return { variant: `text of ${x.local} (${regionOf(d.ann[x.el]!)})`, xml: d.xml() };
      }
      const pickAttr = (els: number[], name?: string) => {
        const i = c.rng.pick(els);
        const attrs = d.open(i).attrs.filter((a) => !a.name.startsWith('xmlns') && (!name || a.name === name));
        return { i, a: attrs.length ? c.rng.pick(attrs) : undefined };
      };
      const { i, a } =
        kind === 'id'
          ? pickAttr(d.opens(undefined, (j) => !!d.attr(j, 'ID')), 'ID')
          : kind === 'reference-uri'
            ? pickAttr(d.opens('Reference'), 'URI')
            : kind === 'algorithm'
              ? pickAttr(d.opens(undefined, (j) => !!d.attr(j, 'Algorithm')), 'Algorithm')
              : kind === 'destination'
                ? pickAttr(d.opens(undefined, (j) => !!d.attr(j, 'Destination') || !!d.attr(j, 'Recipient')))
                : pickAttr(d.opens(undefined, (j) => d.open(j).attrs.some((x) => !x.name.startsWith('xmlns'))));
      if (!a) return { variant: `${kind} (none)`, xml: d.xml() };
      a.value = reencode(decodeXml(a.value), c.rng, { quote: a.q }, c.rng.pick([0.1, 0.5, 1]));
      return { variant: `${localOf(d.open(i).name)}@${a.name} (${regionOf(d.ann[i]!)})`, xml: d.xml() };
    },
  },
  neutralCategory('redundant-namespace', 2),
  {
    name: 'prefix-rename',
    weight: 4,
    run: (c) => {
      const d = docOf(c);
      const candidates = d.opens(undefined, (i) => ['Response', 'Status', 'Issuer', 'Assertion', 'Subject', 'AttributeStatement', 'Signature', 'KeyInfo', 'SignedInfo', 'Conditions'].includes(localOf(d.open(i).name)));
      // Favour the unsigned parts, where a rename keeps the signature valid.
      const unsigned = candidates.filter((i) => free(d.ann[i]!));
      for (let attempt = 0; attempt < 6; attempt++) {
        const i = c.rng.pick(unsigned.length && c.rng.chance(0.6) ? unsigned : candidates);
        const t = d.open(i);
        const from = prefixOf(t.name);
        const to = c.rng.pick(['', 'p', 'ns0', 'saml2', 'saml2p', 'samlp', 'saml', 'sig', 'dsig', 'a'].filter((p) => p !== from));
        if (renamePrefix(d, i, from, to)) return { variant: `${localOf(t.name)} ${from || '(default)'}→${to || '(default)'} (${regionOf(d.ann[i]!)})`, xml: d.xml() };
      }
      return { variant: 'no rename possible', xml: d.xml() };
    },
  },
  {
    name: 'namespace-uri-change',
    weight: 2,
    run: (c) => {
      const d = docOf(c);
      if (c.rng.chance(0.5)) {
        const decls = d.opens(undefined, (i) => d.open(i).attrs.some((a) => (a.name === 'xmlns' || a.name.startsWith('xmlns:')) && NEAR_MISS[a.value]));
        const i = c.rng.pick(decls);
        const a = c.rng.pick(d.open(i).attrs.filter((a) => (a.name === 'xmlns' || a.name.startsWith('xmlns:')) && NEAR_MISS[a.value]));
        a.value = c.rng.pick(NEAR_MISS[a.value]!);
        return { variant: `declaration on ${localOf(d.open(i).name)} (${regionOf(d.ann[i]!)})`, xml: d.xml() };
      }
      // Same prefix re-bound to another URI on one element (an Issuer, a NameID, a Signature...).
      const i = c.rng.pick(d.opens(undefined, (j) => ['Issuer', 'NameID', 'Status', 'Signature', 'Audience', 'AttributeStatement', 'Subject'].includes(localOf(d.open(j).name))));
      const t = d.open(i);
      const p = prefixOf(t.name);
      const uri = d.ann[i]!.ns.get(p) ?? NS.saml;
      const to = c.rng.pick(NEAR_MISS[uri] ?? ['urn:example:other']);
      const existing = t.attrs.find((a) => a.name === (p ? `xmlns:${p}` : 'xmlns'));
      if (existing) existing.value = to;
      else t.attrs.push({ name: p ? `xmlns:${p}` : 'xmlns', value: to, q: '"', pre: ' ', eq: '=' });
      return { variant: `re-bound on ${localOf(t.name)} (${regionOf(d.ann[i]!)})`, xml: d.xml() };
    },
  },
  {
    name: 'reorder-elements',
    weight: 3,
    run: (c) => {
      const d = docOf(c);
      const v = c.rng.pick(['swap-unsigned-siblings', 'swap-signed-siblings', 'signature-last', 'signature-first', 'keyinfo-first']);
      if (v === 'signature-last' || v === 'signature-first') {
        const parent = c.rng.pick([d.root(), d.assertion()].filter((p) => p >= 0 && d.signatureOf(p) >= 0));
        const sig = d.cut(d.signatureOf(parent));
        const kids = d.children(parent);
        d.insert(v === 'signature-first' ? parent + 1 : d.end[parent]!, sig);
        return { variant: `${v} in ${localOf(d.open(parent).name)}${kids.length ? '' : ' (only child)'}`, xml: d.xml() };
      }
      if (v === 'keyinfo-first') {
        const sig = c.rng.pick(d.opens('Signature'));
        const ki = d.opens('KeyInfo', (j) => d.within(sig, j))[0];
        if (ki === undefined) return { variant: `${v} (none)`, xml: d.xml() };
        const moved = d.cut(ki);
        d.insert(sig + 1, moved);
        return { variant: v, xml: d.xml() };
      }
      const parents = d.opens(undefined, (i) => d.children(i).length >= 2 && (v === 'swap-unsigned-siblings' ? d.children(i).some((k) => free(d.ann[k]!)) : d.ann[i]!.covered));
      if (!parents.length) return { variant: `${v} (none)`, xml: d.xml() };
      const p = c.rng.pick(parents);
      const kids = d.children(p);
      const k = c.rng.int(kids.length - 1);
      const a = kids[k]!;
      const b = kids[k + 1]!;
      const name = `${localOf(d.open(a).name)}↔${localOf(d.open(b).name)}`;
      const second = d.slice(b);
      d.toks.splice(b, d.end[b]! - b + 1);
      d.toks.splice(a, 0, ...second);
      d.index();
      return { variant: `${v} ${name}`, xml: d.xml() };
    },
  },
  {
    name: 'transport-base64',
    weight: 1,
    run: (c) => {
      const s = b64(c.base.xml);
      const [v, encode] = pickVariant(c.rng, {
        'mime-76-crlf': () => wrap76(s, 76, '\r\n'),
        'wrapped-64-lf': () => wrap76(s, 64, '\n') + '\n',
        spaces: () => s.replace(/(.{40})/g, '$1 '),
        'no-padding': () => s.replace(/=+$/, ''),
        base64url: () => s.replace(/\+/g, '-').replace(/\//g, '_'),
        'plus-as-space': () => s.replace(/\+/g, ' '),
        'surrounding-whitespace': () => `\n  ${s}\t\n`,
        'garbage-suffix': () => `${s}!!`,
        'percent-encoded': () => encodeURIComponent(s),
      });
      return { variant: v, xml: c.base.xml, samlResponse: encode(), final: true };
    },
  },
  {
    name: 'keyinfo',
    weight: 3,
    run: (c) => {
      const d = docOf(c);
      const v = c.rng.pick(['foreign-certificate', 'no-keyinfo', 'empty-certificate', 'trusted-then-foreign', 'foreign-then-trusted', 'garbage-certificate', 'keyname-only', 'rollover-certificate']);
      const sig = c.rng.pick(d.opens('Signature'));
      const ki = d.opens('KeyInfo', (j) => d.within(sig, j))[0];
      const cert = d.opens('X509Certificate', (j) => d.within(sig, j))[0];
      if (ki === undefined || cert === undefined) return { variant: `${v} (no KeyInfo)`, xml: d.xml() };
      const certText = d.toks[cert + 1] as { raw: string };
      const P = prefixOf(d.open(cert).name);
      const q = (n: string) => (P ? `${P}:${n}` : n);
      const own = certText.raw;
      const stranger = certBody(c.keys.stranger.cert);
      if (v === 'no-keyinfo') d.cut(ki);
      else if (v === 'foreign-certificate') certText.raw = stranger;
      else if (v === 'rollover-certificate') certText.raw = certBody(c.keys.rollover.cert);
      else if (v === 'empty-certificate') certText.raw = '';
      else if (v === 'garbage-certificate') certText.raw = 'MIIBnotacertificate==';
      else if (v === 'keyname-only') {
        d.cut(ki);
        d.insert(ki, tokenize(`<${q('KeyInfo')}><${q('KeyName')}>signing-key</${q('KeyName')}></${q('KeyInfo')}>`));
      } else {
        const [first, second] = v === 'trusted-then-foreign' ? [own, stranger] : [stranger, own];
        certText.raw = first;
        d.insert(d.end[cert]! + 1, tokenize(`<${q('X509Certificate')}>${second}</${q('X509Certificate')}>`));
      }
      return { variant: `${v} (${localOf(d.open(d.parentOf(sig)).name)})`, xml: d.xml() };
    },
  },
  {
    name: 'resign-untrusted',
    weight: 2,
    run: (c) => {
      const v = c.rng.pick(['stranger-certificate', 'trusted-certificate-in-keyinfo', 'no-keyinfo']);
      const s: Partial<SignOpts> = { keys: c.keys.stranger, forge: false, keyInfoCert: v === 'stranger-certificate' ? c.keys.stranger.cert : v === 'no-keyinfo' ? null : c.keys.trusted.cert };
      const which = c.base.responseSigned && c.base.assertionSigned ? c.rng.pick(['assertion', 'response', 'both']) : c.base.responseSigned ? 'response' : 'assertion';
      const xml = c.base.assemble({ ...(which !== 'response' ? { assertionSign: s } : {}), ...(which !== 'assertion' ? { responseSign: s } : {}) });
      return { variant: `${v} (${which})`, xml };
    },
  },
  {
    name: 'algorithms',
    weight: 3,
    run: (c) => {
      const onResponse = (decl: string) => (r: string) => r.replace(/^(<[^\s>]+)/, `$1 ${decl}`);
      const combos: [string, Partial<SignOpts>, AssembleOpts?][] = [
        ['rsa-sha1+sha1', { signature: ALGS.rsaSha1, digest: ALGS.sha1 }],
        ['rsa-sha256+sha1', { signature: ALGS.rsaSha256, digest: ALGS.sha1 }],
        ['rsa-sha1+sha256', { signature: ALGS.rsaSha1, digest: ALGS.sha256 }],
        ['rsa-sha512+sha512', { signature: ALGS.rsaSha512, digest: ALGS.sha512 }],
        ['rsa-sha384+sha384', { signature: ALGS.rsaSha384, digest: ALGS.sha384 }],
        ['rsa-sha256+sha512', { signature: ALGS.rsaSha256, digest: ALGS.sha512 }],
        ['exc-c14n-with-comments', { c14n: EXC_WC, transforms: [ENVELOPED, EXC_WC] }],
        ['with-comments-transform-only', { transforms: [ENVELOPED, EXC_WC] }],
        ['inclusive-c14n', { c14n: INCLUSIVE_C14N, transforms: [ENVELOPED, INCLUSIVE_C14N] }],
        ['no-enveloped-transform', { transforms: [EXC] }],
        ['enveloped-only', { transforms: [ENVELOPED] }],
        ['three-transforms', { transforms: [ENVELOPED, EXC, EXC] }],
        ['prefix-list-xs', { prefixList: ['xs'] }],
        ['prefix-list-default', { prefixList: ['#default', 'saml'] }],
        ['transforms-reversed', { transforms: [EXC, ENVELOPED] }],
        ['no-transforms', { transforms: [] }],
        ['signedinfo-with-comments', { c14n: EXC_WC, transforms: [ENVELOPED, EXC] }],
        ['signedinfo-prefix-list', { signedInfoPrefixList: ['saml', 'saml2', 'samlp', 'saml2p', 'xs'] }],
        ['xml-crypto-prefix-list', { xmlCrypto: true, prefixList: ['xs'] }],
        ['prefix-list-xs-declared-on-response', { prefixList: ['xs'] }, { assertionInContext: true, wrapper: onResponse(`xmlns:xs="${NS.xs}"`) }],
        ['prefix-list-inherited-protocol-prefix', { prefixList: ['samlp', 'saml2p'] }, { assertionInContext: true }],
        ['signed-in-context', {}, { assertionInContext: true, wrapper: onResponse('xmlns:unused="urn:example:unused"') }],
      ];
      const [name, alg, extraAssemble] = c.rng.pick(combos);
      const allowSha1 = c.rng.chance(0.5);
      const s: Partial<SignOpts> = { forge: false, ...alg };
      let xml = c.base.assemble({ ...extraAssemble, ...(c.base.assertionSigned ? { assertionSign: s } : {}), ...(c.base.responseSigned ? { responseSign: s } : {}) });
      // With a comment-keeping signature, a comment inside the signed text changes the digest.
      let extra = '';
      if (name === 'exc-c14n-with-comments' && c.rng.chance(0.5)) {
        const d = docOf(c, xml);
        const x = textTargets(d, ['NameID', 'Audience'])[0];
        if (x) {
          (d.toks[x.text] as { raw: string }).raw += '<!---->';
          xml = d.xml();
          extra = ' +comment in signed text';
        }
      }
      return { variant: `${name}${extra} allowSha1=${allowSha1}`, xml, expected: { allowSha1 } };
    },
  },
  {
    name: 'algorithm-attribute-tamper',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const i = c.rng.pick(d.opens(undefined, (j) => !!d.attr(j, 'Algorithm')));
      const a = d.attr(i, 'Algorithm')!;
      a.value = c.rng.pick([ALGS.rsaSha1, ALGS.sha1, ALGS.rsaSha512, EXC_WC, INCLUSIVE_C14N, 'http://www.w3.org/2000/09/xmldsig#hmac-sha1', `${a.value} `]);
      return { variant: `${localOf(d.open(i).name)} → ${a.value.split(/[#/]/).pop()}`, xml: d.xml() };
    },
  },
  {
    name: 'digest-value',
    weight: 2,
    run: (c) => {
      const d = docOf(c);
      const v = c.rng.pick(['flip', 'truncate', 'empty', 'extra-char', 'whitespace', 'other-digest', 'duplicate-element']);
      if (v === 'duplicate-element') {
        const dv = c.rng.pick(d.opens('DigestValue'));
        d.insert(d.end[dv]! + 1, d.slice(dv));
        return { variant: v, xml: d.xml() };
      }
      const where = editSignatureText(c, d, 'DigestValue', (raw) =>
        v === 'flip' ? flip(raw, c.rng) : v === 'truncate' ? raw.slice(0, c.rng.int(raw.length)) : v === 'empty' ? '' : v === 'extra-char' ? raw + 'A' : v === 'whitespace' ? ` ${raw}\n` : createHash('sha256').update('x').digest('base64'),
      );
      return { variant: `${v} (${where})`, xml: d.xml() };
    },
  },
  {
    name: 'signature-value',
    weight: 3,
    run: (c) => {
      const d = docOf(c);
      const v = c.rng.pick(['flip', 'truncate', 'empty', 'drop-padding', 'lf-wrapped', 'crlf-wrapped', 'cr-ref-wrapped', 'spaces', 'tab-and-space', 'prefix-garbage', 'no-element', 'child-element-split', 'second-element']);
      if (v === 'second-element') {
        const sv = c.rng.pick(d.opens('SignatureValue'));
        d.insert(d.end[sv]! + 1, d.slice(sv));
        return { variant: v, xml: d.xml() };
      }
      if (v === 'no-element') {
        d.cut(c.rng.pick(d.opens('SignatureValue')));
        return { variant: v, xml: d.xml() };
      }
      const where = editSignatureText(c, d, 'SignatureValue', (raw) => {
        switch (v) {
          case 'flip':
            return flip(raw, c.rng);
          case 'truncate':
            return raw.slice(0, c.rng.int(raw.length));
          case 'empty':
            return '';
          case 'drop-padding':
            return raw.replace(/=+$/, '');
          case 'lf-wrapped':
            return `\n${wrap76(raw, 64, '\n')}\n`;
          case 'crlf-wrapped':
            return wrap76(raw, 76, '\r\n');
          case 'cr-ref-wrapped':
            return wrap76(raw, 76, '&#13;\n');
          case 'spaces':
            return wrap76(raw, 32, ' ');
          case 'tab-and-space':
            return `\t${raw} `;
          case 'child-element-split': {
            const at = 1 + c.rng.int(raw.length - 1);
            return `${raw.slice(0, at)}<x:part xmlns:x="urn:example:x">${raw.slice(at)}</x:part>`;
          }
          default:
            return `AAAA${raw}`;
        }
      });
      return { variant: `${v} (${where})`, xml: d.xml() };
    },
  },
  {
    name: 'signed-content-tamper',
    weight: 2,
    run: (c) => {
      const d = docOf(c);
      const texts = textTargets(d, ['NameID', 'AttributeValue', 'Audience', 'Issuer']).filter((x) => d.ann[x.el]!.covered);
      const attrs = d.opens(undefined, (i) => d.ann[i]!.covered && !d.ann[i]!.signedInfo && d.open(i).attrs.some((a) => ['NotOnOrAfter', 'Recipient', 'ID', 'Format', 'InResponseTo', 'Destination'].includes(a.name)));
      if (texts.length && c.rng.chance(0.6)) {
        const x = c.rng.pick(texts);
        const t = d.toks[x.text] as { raw: string };
        const v = c.rng.pick(['append', 'replace', 'case']);
        t.raw = v === 'append' ? `${t.raw}.evil.example` : v === 'replace' ? 'admin@corp.example' : t.raw.toUpperCase();
        return { variant: `${x.local} ${v}`, xml: d.xml() };
      }
      if (!attrs.length) return { variant: 'nothing signed to tamper', xml: d.xml() };
      const i = c.rng.pick(attrs);
      const a = c.rng.pick(d.open(i).attrs.filter((a) => ['NotOnOrAfter', 'Recipient', 'ID', 'Format', 'InResponseTo', 'Destination'].includes(a.name)));
      a.value = a.name === 'NotOnOrAfter' ? iso(c.now + 86_400_000) : `${a.value}x`;
      return { variant: `${localOf(d.open(i).name)}@${a.name}`, xml: d.xml() };
    },
  },
  {
    name: 'reference-uri',
    weight: 2,
    run: (c) => {
      const d = docOf(c);
      const ref = c.rng.pick(d.opens('Reference'));
      const a = d.attr(ref, 'URI')!;
      const other = d.opens(undefined, (j) => !!d.attr(j, 'ID') && `#${d.attr(j, 'ID')!.value}` !== a.value).map((j) => d.attr(j, 'ID')!.value);
      const v = c.rng.pick(['empty', 'hash-only', 'unknown-id', 'other-element', 'no-uri', 'xpointer', 'upper-case', 'no-hash']);
      if (v === 'no-uri') d.open(ref).attrs = d.open(ref).attrs.filter((x) => x.name !== 'URI');
      else {
        const id = a.value.slice(1);
        a.value = {
          empty: '',
          'hash-only': '#',
          'unknown-id': `#_${c.rng.hex(16)}`,
          'other-element': other.length ? `#${c.rng.pick(other)}` : '#',
          xpointer: `#xpointer(id('${id}'))`,
          'upper-case': `#${id.toUpperCase()}`,
          'no-hash': id,
        }[v]!;
      }
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'second-reference',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const ref = c.rng.pick(d.opens('Reference'));
      const copy = d.slice(ref);
      const v = c.rng.pick(['same-uri', 'other-uri']);
      if (v === 'other-uri') {
        const a = (copy[0] as Extract<Tok, { k: 'open' }>).attrs.find((x) => x.name === 'URI');
        if (a) a.value = `#${d.attr(d.root(), 'ID')!.value}`;
      }
      d.insert(c.rng.chance(0.5) ? ref : d.end[ref]! + 1, copy);
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'wrapping',
    weight: 4,
    run: (c) => {
      const d = docOf(c);
      const ai = d.assertion();
      const evilId = `_${c.rng.hex(32)}`;
      const evil = tokenize(c.base.evilAssertion(evilId));
      const sp = `xmlns:samlp="${NS.samlp}"`;
      const v = c.rng.pick([
        'signed-in-extensions+evil',
        'signed-in-extensions-only',
        'signed-in-unknown-wrapper',
        'signed-in-evil-advice',
        'evil-first-then-signed',
        'signed-then-evil',
        'evil-in-signature-object',
        'signature-moved-to-evil',
        'response-wrapped-in-evil-response',
        'signed-in-status-detail',
      ]);
      // The signature of the signed assertion, or the Response's when only the Response is signed.
      const sigAt = d.signatureOf(ai) >= 0 ? d.signatureOf(ai) : d.signatureOf(d.root());
      if (v === 'signature-moved-to-evil') {
        const sig = d.slice(sigAt);
        const e = new Doc(serialise(evil), c.base);
        const iss = e.opens('Issuer')[0]!;
        e.insert(e.end[iss]! + 1, sig);
        d.cut(sigAt);
        const at = d.assertion();
        d.cut(at);
        d.insert(at, e.toks);
        return { variant: v, xml: d.xml() };
      }
      if (v === 'evil-in-signature-object') {
        d.insert(d.end[sigAt]!, tokenize(`<ds:Object xmlns:ds="${NS.ds}">${serialise(evil)}</ds:Object>`));
        return { variant: `${v} (${localOf(d.open(d.parentOf(sigAt)).name)})`, xml: d.xml() };
      }
      if (v === 'response-wrapped-in-evil-response') {
        const inner = d.xml();
        const outer = `<samlp:Response ${sp} xmlns:saml="${NS.saml}" ID="_${c.rng.hex(32)}" Version="2.0" IssueInstant="${iso(c.now)}" Destination="${SP.acsUrl}"><saml:Issuer>${c.base.parts.issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><samlp:Extensions>${inner}</samlp:Extensions>${serialise(evil)}</samlp:Response>`;
        return { variant: v, xml: outer };
      }
      const signed = d.cut(ai);
      const S = serialise(signed);
      const E = serialise(evil);
      const placed: Record<string, string> = {
        'signed-in-extensions+evil': `<samlp:Extensions ${sp}>${S}</samlp:Extensions>${E}`,
        'signed-in-extensions-only': `<samlp:Extensions ${sp}>${S}</samlp:Extensions>`,
        'signed-in-unknown-wrapper': `<x:Wrapper xmlns:x="urn:example:wrapper">${S}</x:Wrapper>`,
        'signed-in-evil-advice': E.replace(/(<(?:[\w.-]+:)?AuthnStatement)/, (m) => `<saml:Advice xmlns:saml="${NS.saml}">${S}</saml:Advice>${m}`),
        'evil-first-then-signed': E + S,
        'signed-then-evil': S + E,
        'signed-in-status-detail': '',
      };
      if (v === 'signed-in-status-detail') {
        const st = d.opens('Status')[0]!;
        d.insert(d.end[st]!, tokenize(`<samlp:StatusDetail ${sp}>${S}</samlp:StatusDetail>`));
        d.insert(d.assertion() >= 0 ? d.assertion() : d.end[d.root()]!, evil);
        return { variant: v, xml: d.xml() };
      }
      d.insert(ai, tokenize(placed[v]!));
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'duplicate-assertion',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const ai = d.assertion();
      const copy = d.slice(ai);
      const v = c.rng.pick(['adjacent', 'in-extensions', 'in-evil-advice']);
      if (v === 'adjacent') d.insert(d.end[ai]! + 1, copy);
      else if (v === 'in-extensions') d.insert(ai, tokenize(`<samlp:Extensions xmlns:samlp="${NS.samlp}">${serialise(copy)}</samlp:Extensions>`));
      else {
        const sub = d.opens('AuthnStatement', (j) => d.within(ai, j))[0]!;
        d.insert(sub, [...tokenize(`<saml:Advice xmlns:saml="${NS.saml}">`), ...copy, ...tokenize('</saml:Advice>')]);
      }
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'duplicate-signature',
    weight: 2,
    run: (c) => {
      const d = docOf(c);
      const sig = c.rng.pick(d.opens('Signature'));
      const copy = d.slice(sig);
      const v = c.rng.pick(['twice-in-parent', 'copy-in-other-parent', 'copy-in-subject', 'copy-after-root-issuer']);
      if (v === 'twice-in-parent') d.insert(d.end[sig]! + 1, copy);
      else if (v === 'copy-in-subject') {
        const s = d.opens('Subject')[0]!;
        d.insert(s + 1, copy);
      } else {
        const parent = d.parentOf(sig);
        const other = parent === d.root() ? d.assertion() : d.root();
        const iss = d.children(other).find((k) => localOf(d.open(k).name) === 'Issuer');
        d.insert(iss !== undefined ? d.end[iss]! + 1 : other + 1, copy);
      }
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'duplicate-id',
    weight: 2,
    run: (c) => {
      const d = docOf(c);
      const ai = d.assertion();
      const id = d.attr(ai, 'ID')!.value;
      const v = c.rng.pick([
        'response-gets-assertion-id',
        'extensions-element-ID',
        'extensions-element-Id',
        'extensions-element-id',
        'extensions-element-wsu:Id',
        'extensions-element-f:ID',
        'subject-gets-ID',
        'assertion-second-ID-attr',
      ]);
      if (v === 'response-gets-assertion-id') d.attr(d.root(), 'ID')!.value = id;
      else if (v === 'subject-gets-ID') d.open(d.opens('Subject')[0]!).attrs.push({ name: 'ID', value: id, q: '"', pre: ' ', eq: '=' });
      else if (v === 'assertion-second-ID-attr') d.open(ai).attrs.push({ name: 'Id', value: `_${c.rng.hex(8)}`, q: '"', pre: ' ', eq: '=' });
      else {
        const attr = v.split('-').pop()!;
        const iss = d.children(d.root()).find((k) => localOf(d.open(k).name) === 'Issuer')!;
        // A prefixed ID (wsu:Id, f:ID) still answers to a reference resolved by local name.
        const ns = attr.includes(':') ? ` xmlns:${attr.split(':')[0]}="urn:example:${attr.split(':')[0]}"` : '';
        d.insert(d.end[iss]! + 1, tokenize(`<samlp:Extensions xmlns:samlp="${NS.samlp}"><x:Decoy xmlns:x="urn:example:decoy"${ns} ${attr}="${id}">decoy</x:Decoy></samlp:Extensions>`));
      }
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'doctype',
    weight: 1,
    run: (c) => {
      const v = c.rng.pick([
        '<!DOCTYPE Response>',
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "admin">]>',
        '<!DOCTYPE r SYSTEM "http://attacker.example/x.dtd">',
        '<!doctype r>',
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd">%p;]>',
        '<!DOCTYPE r [<!ATTLIST Assertion ID ID #IMPLIED>]>',
      ]);
      return { variant: v.slice(0, 40), xml: v + c.base.xml, final: true };
    },
  },
  {
    name: 'encrypted-assertion',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const enc = tokenize(`<saml:EncryptedAssertion xmlns:saml="${NS.saml}"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>`);
      const v = c.rng.pick(['beside', 'instead']);
      const ai = d.assertion();
      if (v === 'instead') d.cut(ai);
      d.insert(ai, enc);
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'malformed',
    weight: 2,
    run: (c) => {
      const x = c.base.xml;
      const v = c.rng.pick(['truncated', 'truncated', 'no-root-end', 'garbage-after-root', 'second-root', 'mismatched-end-tag', 'bare-ampersand', 'lt-in-attribute', 'duplicate-attribute', 'undeclared-prefix', 'empty', 'text-only']);
      const rootEnd = x.lastIndexOf('</');
      const out: Record<string, () => string> = {
        truncated: () => x.slice(0, 1 + c.rng.int(x.length - 1)),
        'no-root-end': () => x.slice(0, rootEnd),
        'garbage-after-root': () => `${x}garbage`,
        'second-root': () => x + x,
        'mismatched-end-tag': () => x.replace(/<\/([\w.-]+:)?Audience>/, '</Audiences>'),
        'bare-ampersand': () => x.replace(/(<(?:[\w.-]+:)?Audience>)/, '$1R&D '),
        'lt-in-attribute': () => x.replace(/Version="2.0"/, 'Version="2<0"'),
        'duplicate-attribute': () => x.replace(/Version="2.0"/, 'Version="2.0" Version="2.0"'),
        'undeclared-prefix': () => x.replace(/(<\/?)([\w.-]+:)?Audience>/g, '$1zz:Audience>'),
        empty: () => '',
        'text-only': () => 'hello',
      };
      return { variant: v, xml: out[v]!(), final: true };
    },
  },
  {
    name: 'processing-instructions',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const v = c.rng.pick(['before-root', 'after-root', 'unsigned', 'signed', 'signedinfo', 'signed-inside-nameid']);
      if (v === 'signed-inside-nameid') {
        // Signed with the instruction in place: c14n renders it, the DOM's text skips it.
        const xml = c.base.assemble({ assertion: (a) => a.replace(/(<saml:NameID[^>]*>[^<]*)/, '$1<?x .evil.example?>') });
        return { variant: v, xml };
      }
      const gaps = v === 'before-root' ? [0] : v === 'after-root' ? [d.toks.length] : d.tagGaps((f, j) => j > 0 && j < d.toks.length && regionOf(f) === v);
      if (!gaps.length) return { variant: `${v} (none)`, xml: d.xml() };
      d.insert(c.rng.pick(gaps), [{ k: 'misc', raw: c.rng.pick(['<?pi data?>', '<?xml-stylesheet href="a.xsl"?>', '<?keydesk?>']) }]);
      return { variant: v, xml: d.xml() };
    },
  },
  {
    name: 'invalid-characters',
    weight: 1,
    run: (c) => {
      const d = docOf(c);
      const x = c.rng.pick(textTargets(d, ['NameID', 'AttributeValue', 'Issuer', 'StatusMessage', 'Audience']));
      const t = d.toks[x.text] as { raw: string };
      const [v, s] = pickVariant(c.rng, { 'nul-reference': '&#0;', 'raw-control': '\u0001', 'lone-surrogate': '\ud800', 'U+FFFE': '\ufffe', astral: '😀', 'astral-reference': '&#x1F600;', 'bom-inside': '\ufeff', 'zero-width-space': '\u200b' });
      t.raw = t.raw + s;
      return { variant: `${v} in ${x.local} (${regionOf(d.ann[x.el]!)})`, xml: d.xml() };
    },
  },
  {
    name: 'status',
    weight: 2,
    run: (c) => {
      const sc = 'urn:oasis:names:tc:SAML:2.0:status:';
      const statusCode = /(<([\w.-]+:)?StatusCode Value="[^"]+"\/>)/;
      const status = /<([\w.-]+:)?Status>.*?<\/([\w.-]+:)?Status>/;
      const [v, edit] = pickVariant(c.rng, {
        requester: replacing(`${sc}Success`, `${sc}Requester`),
        'responder+authnfailed': replacing(/(<([\w.-]+:)?StatusCode Value=")[^"]+"\/>/, `$1${sc}Responder"><$2StatusCode Value="${sc}AuthnFailed"/></$2StatusCode><$2StatusMessage>AADSTS50105: not assigned</$2StatusMessage>`),
        'success+substatus': replacing(/(<([\w.-]+:)?StatusCode Value="[^"]+")\/>/, `$1><$2StatusCode Value="${sc}AuthnFailed"/></$2StatusCode>`),
        'success+message': replacing(statusCode, '$1<$2StatusMessage>Everything is fine</$2StatusMessage>'),
        'missing-status': replacing(status, ''),
        'empty-status': replacing(status, '<$1Status/>'),
        'value-whitespace': replacing(`"${sc}Success"`, `" ${sc}Success "`),
        'value-by-reference': replacing(`"${sc}Success"`, `"urn:oasis:names:tc:SAML:2.0:status:&#83;uccess"`),
        'second-statuscode': replacing(statusCode, `$1<$2StatusCode Value="${sc}Requester"/>`),
        'version-mismatch': replacing(/Version="2.0"/, 'Version="1.1"'),
      });
      // Half edited after signing (an unsigned Response: still valid), half re-signed.
      const resign = c.rng.chance(0.5);
      return { variant: `${v}${resign ? ' (re-signed)' : ''}`, xml: resign ? c.base.assemble({ response: edit }) : edit(c.base.xml) };
    },
  },
  {
    name: 'response-addressing',
    weight: 3,
    run: (c) => {
      // Edits of the Response's own start tag and Issuer (the response string starts with its start tag).
      const issuerRe = /(<(?:[\w.-]+:)?Issuer(?: xmlns="[^"]*")?)>([^<]*)(<\/(?:[\w.-]+:)?Issuer>)/;
      const dest = (to: string | null) => (r: string) =>
        /^<[^>]*? Destination="/.test(r) ? r.replace(/^(<[^>]*?) Destination="[^"]*"/, (_, head: string) => (to === null ? head : `${head} Destination="${to}"`)) : r;
      const [v, edit] = pickVariant<(r: string) => string>(c.rng, {
        'destination-other': dest('https://keydesk.example.test/t/other/saml/entra/acs'),
        'destination-trailing-slash': dest(`${SP.acsUrl}/`),
        'destination-upper-case-host': dest(SP.acsUrl.replace('keydesk.example.test', 'KEYDESK.example.test')),
        'destination-query': dest(`${SP.acsUrl}?x=1`),
        'destination-missing': dest(null),
        'destination-padded': dest(` ${SP.acsUrl} `),
        'issuer-other': replacing(issuerRe, '$1>https://sts.windows.net/00000000-0000-0000-0000-000000000000/$3'),
        'issuer-missing': replacing(issuerRe, ''),
        'issuer-padded': replacing(issuerRe, '$1>\n  $2  \n$3'),
        'issuer-format-entity': replacing(issuerRe, '$1 Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">$2$3'),
        'in-response-to-other': (r) => r.replace(/^(<[^>]*? InResponseTo=")[^"]*"/, `$1_${c.rng.hex(32)}"`),
        'in-response-to-missing': replacing(/^(<[^>]*?) InResponseTo="[^"]*"/, '$1'),
        'response-id-changed': (r) => r.replace(/^(<[^>]*? ID=")[^"]*"/, `$1_${c.rng.hex(32)}"`),
        'consent-attribute': replacing(/^(<[^>]*?) Version="2.0"/, '$1 Version="2.0" Consent="urn:oasis:names:tc:SAML:2.0:consent:unspecified"'),
      });
      // Half edited after signing (still valid where the Response is unsigned), half signed after the edit.
      const resign = c.rng.chance(0.5);
      const xml = resign ? c.base.assemble({ response: edit, responseSign: v === 'issuer-missing' ? { placement: 'first', forge: false } : {} }) : edit(c.base.xml);
      return { variant: `${v}${resign ? ' (signed after the edit)' : ''}`, xml };
    },
  },
  {
    name: 'assertion-issuer',
    weight: 1,
    run: (c) => {
      const re = /<saml:Issuer>([^<]*)<\/saml:Issuer>/;
      const [v, edit] = pickVariant<(a: string) => string>(c.rng, {
        padded: replacing(re, '<saml:Issuer>\n\t$1 </saml:Issuer>'),
        other: replacing(re, '<saml:Issuer>https://idp.attacker.example/</saml:Issuer>'),
        empty: replacing(re, '<saml:Issuer></saml:Issuer>'),
        missing: replacing(re, ''),
        'format-entity': replacing(re, '<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">$1</saml:Issuer>'),
        'trailing-slash-dropped': (a) => a.replace(re, (_, iss: string) => `<saml:Issuer>${iss.replace(/\/$/, '')}</saml:Issuer>`),
        'name-qualifier': replacing(re, '<saml:Issuer NameQualifier="x">$1</saml:Issuer>'),
      });
      const placement: Partial<SignOpts> = v === 'missing' ? { placement: 'first', forge: false } : {};
      return { variant: v, xml: c.base.assemble({ assertion: edit, assertionSign: placement }) };
    },
  },
  {
    name: 'nameid',
    weight: 3,
    run: (c) => {
      // Each variant gives the assertion `a` again, with `put(s)` for "the NameID element replaced by s".
      type NameId = { a: string; all: string; fmt: string; value: string; put: (s: string) => string };
      const [v, edit] = pickVariant<(n: NameId) => string>(c.rng, {
        'trailing-space': ({ fmt, value, put }) => put(`<saml:NameID Format="${fmt}">${value} </saml:NameID>`),
        'leading-and-trailing-whitespace': ({ fmt, value, put }) => put(`<saml:NameID Format="${fmt}">\n   ${value}\n</saml:NameID>`),
        'newline-tab': ({ fmt, value, put }) => put(`<saml:NameID Format="${fmt}">\t${value}\r\n</saml:NameID>`),
        missing: ({ put }) => put(''),
        empty: ({ fmt, put }) => put(`<saml:NameID Format="${fmt}"/>`),
        'no-format': ({ value, put }) => put(`<saml:NameID>${value}</saml:NameID>`),
        persistent: ({ put }) => put(`<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${c.rng.hex(40)}</saml:NameID>`),
        transient: ({ put }) => put(`<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">_${c.rng.hex(32)}</saml:NameID>`),
        qualifiers: ({ fmt, value, put }) => put(`<saml:NameID Format="${fmt}" NameQualifier="${c.base.parts.issuer}" SPNameQualifier="${SP.entityId}">${value}</saml:NameID>`),
        unicode: ({ fmt, put }) => put(`<saml:NameID Format="${fmt}">ñandú.größe+日本@xn--exmple-cua.test</saml:NameID>`),
        'entity-heavy': ({ fmt, put }) => put(`<saml:NameID Format="${fmt}">a&amp;b&lt;c&gt;d&quot;e&apos;f&#x41;&#66;@x.test</saml:NameID>`),
        'nested-element': ({ fmt, value, put }) => put(`<saml:NameID Format="${fmt}">${value}<x:y xmlns:x="urn:x">.evil</x:y></saml:NameID>`),
        'two-nameids': ({ all, fmt, put }) => put(`${all}<saml:NameID Format="${fmt}">admin@corp.example</saml:NameID>`),
        'whitespace-only': ({ fmt, put }) => put(`<saml:NameID Format="${fmt}">  </saml:NameID>`),
        'two-subjects': ({ a, value }) => {
          const subject = /<saml:Subject>[\s\S]*?<\/saml:Subject>/.exec(a)![0];
          return a.replace(subject, () => subject + subject.replace(value, 'admin@corp.example'));
        },
      });
      const re = /<saml:NameID Format="([^"]*)">([^<]*)<\/saml:NameID>/;
      const assertion = (a: string) => {
        const m = re.exec(a);
        return m ? edit({ a, all: m[0], fmt: m[1]!, value: m[2]!, put: (s) => a.replace(m[0], () => s) }) : a;
      };
      return { variant: v, xml: c.base.assemble({ assertion }) };
    },
  },
  {
    name: 'attribute-values',
    weight: 3,
    run: (c) => {
      const A = (name: string, vals: string[], extra = '') => `<saml:Attribute Name="${name}"${extra}>${vals.map((x) => `<saml:AttributeValue>${x}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
      const add = (a: string, s: string) =>
        a.includes('<saml:AttributeStatement>') ? a.replace('<saml:AttributeStatement>', () => `<saml:AttributeStatement>${s}`) : a.replace('<saml:AuthnStatement', () => `<saml:AttributeStatement>${s}</saml:AttributeStatement><saml:AuthnStatement`);
      // A string: attributes added to the (first) AttributeStatement; a function: another edit of the assertion.
      const [v, edit] = pickVariant<string | ((a: string) => string)>(c.rng, {
        'empty-value': A('urn:x:empty', ['']),
        'self-closed-value': '<saml:Attribute Name="urn:x:selfclosed"><saml:AttributeValue/></saml:Attribute>',
        'whitespace-value': A('urn:x:ws', ['   ', '\n\t']),
        'padded-value': A('urn:x:padded', ['  padded  ', '\nline\n']),
        'duplicate-attribute-name': A('urn:x:dup', ['one']) + A('urn:x:dup', ['two', 'three']),
        'attribute-without-name': '<saml:Attribute FriendlyName="nameless"><saml:AttributeValue>x</saml:AttributeValue></saml:Attribute>',
        'friendly-name-and-format': A('urn:oid:0.9.2342.19200300.100.1.3', ['a@b.test'], ' FriendlyName="mail" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"'),
        'two-attribute-statements': (a) => a.replace('<saml:AuthnStatement', () => `<saml:AttributeStatement>${A('urn:x:second', ['2nd'])}</saml:AttributeStatement><saml:AuthnStatement`),
        'xsi-nil': `<saml:Attribute Name="urn:x:nil"><saml:AttributeValue xmlns:xsi="${NS.xsi}" xsi:nil="true"/></saml:Attribute>`,
        'nested-element-value': '<saml:Attribute Name="urn:x:nested"><saml:AttributeValue>a<x:b xmlns:x="urn:x">b</x:b>c</saml:AttributeValue></saml:Attribute>',
        'reordered-attributes': (a) => {
          const attrs = a.match(/<saml:Attribute [\s\S]*?<\/saml:Attribute>/g) ?? [];
          if (attrs.length < 2) return add(a, A('urn:x:only', ['x']));
          const shuffled = c.rng.shuffle([...attrs]);
          let i = 0;
          return a.replace(/<saml:Attribute [\s\S]*?<\/saml:Attribute>/g, () => shuffled[i++]!);
        },
        'attribute-without-values': '<saml:Attribute Name="urn:x:novalues"/>',
        'many-values': A('urn:x:many', Array.from({ length: 40 }, (_, i) => `v${i}`)),
        'no-attribute-statement': replacing(/<saml:AttributeStatement>[\s\S]*?<\/saml:AttributeStatement>/, ''),
      });
      return { variant: v, xml: c.base.assemble({ assertion: (a) => (typeof edit === 'string' ? add(a, edit) : edit(a)) }) };
    },
  },
  {
    name: 'subject-confirmation',
    weight: 2,
    run: (c) => {
      const sc = (meth: string, attrs: string) => `<saml:SubjectConfirmation Method="${meth}"><saml:SubjectConfirmationData${attrs}/></saml:SubjectConfirmation>`;
      const other = (data: string) => data.replace(/Recipient="[^"]*"/, 'Recipient="https://other.example/acs"');
      // What replaces the SubjectConfirmation (`all`: it as it was; `data`: its data's attributes, each with a leading space).
      type Confirmation = { all: string; method: string; data: string };
      const [v, edit] = pickVariant<(s: Confirmation) => string>(c.rng, {
        'second-confirmation-other-recipient-first': ({ all, method, data }) => sc(method, other(data).replace(/ InResponseTo="[^"]*"/, ' InResponseTo="_other"')) + all,
        'second-confirmation-ours-first': ({ all, method, data }) => all + sc(method, other(data)),
        'holder-of-key-only': ({ data }) => sc('urn:oasis:names:tc:SAML:2.0:cm:holder-of-key', data),
        'no-notonorafter': ({ method, data }) => sc(method, data.replace(/ NotOnOrAfter="[^"]*"/, '')),
        'no-in-response-to': ({ method, data }) => sc(method, data.replace(/ InResponseTo="[^"]*"/, '')),
        'in-response-to-other': ({ method, data }) => sc(method, data.includes('InResponseTo') ? data.replace(/InResponseTo="[^"]*"/, 'InResponseTo="_other"') : ` InResponseTo="_other"${data}`),
        'recipient-trailing-slash': ({ method, data }) => sc(method, data.replace(/Recipient="([^"]*)"/, 'Recipient="$1/"')),
        'recipient-upper-case': ({ method, data }) => sc(method, data.replace(/Recipient="https:\/\/keydesk/, 'Recipient="HTTPS://keydesk')),
        'recipient-padded': ({ method, data }) => sc(method, data.replace(/Recipient="([^"]*)"/, 'Recipient=" $1"')),
        'confirmation-notbefore-future': ({ method, data }) => sc(method, `${data} NotBefore="${iso(c.now + 10 * 60_000)}"`),
        'no-confirmation-data': ({ method }) => `<saml:SubjectConfirmation Method="${method}"/>`,
        'no-subject-confirmation': () => '',
      });
      const re = /<saml:SubjectConfirmation Method="([^"]*)"><saml:SubjectConfirmationData([^>]*)\/><\/saml:SubjectConfirmation>/;
      const assertion = (a: string) => {
        const m = re.exec(a);
        return m ? a.replace(m[0], () => edit({ all: m[0], method: m[1]!, data: m[2]! })) : a;
      };
      return { variant: v, xml: c.base.assemble({ assertion }) };
    },
  },
  {
    name: 'conditions',
    weight: 2,
    run: (c) => {
      const re = /<saml:AudienceRestriction><saml:Audience>([^<]*)<\/saml:Audience><\/saml:AudienceRestriction>/;
      const [v, edit] = pickVariant(c.rng, {
        'two-audiences-one-ours': replacing(re, '<saml:AudienceRestriction><saml:Audience>urn:other</saml:Audience><saml:Audience>$1</saml:Audience></saml:AudienceRestriction>'),
        'audience-padded': replacing(re, '<saml:AudienceRestriction><saml:Audience>\n  $1\n</saml:Audience></saml:AudienceRestriction>'),
        'second-restriction-not-ours': replacing(re, '$&<saml:AudienceRestriction><saml:Audience>urn:other</saml:Audience></saml:AudienceRestriction>'),
        'audience-other': replacing(re, '<saml:AudienceRestriction><saml:Audience>https://evil.example/metadata</saml:Audience></saml:AudienceRestriction>'),
        'audience-missing': replacing(re, ''),
        'no-conditions': replacing(/<saml:Conditions[\s\S]*?<\/saml:Conditions>/, ''),
        'one-time-use': replacing(re, '$&<saml:OneTimeUse/>'),
        'proxy-restriction': replacing(re, '$&<saml:ProxyRestriction Count="0"/>'),
        'empty-audience-restriction': replacing(re, '<saml:AudienceRestriction/>'),
        'audience-trailing-slash': replacing(re, '<saml:AudienceRestriction><saml:Audience>$1/</saml:Audience></saml:AudienceRestriction>'),
      });
      return { variant: v, xml: c.base.assemble({ assertion: edit }) };
    },
  },
  {
    name: 'time-windows',
    weight: 4,
    run: (c) => {
      const nb = c.now - 5 * 60_000;
      const noa = c.now + 60 * 60_000;
      const skew = c.rng.pick([SKEW_MS, SKEW_MS, 0, 1000]);
      if (c.rng.chance(0.5)) {
        // The honest response judged at instants around its window's edges.
        const edge = c.rng.pick([
          ['before-notbefore', nb - skew],
          ['at-notonorafter', noa + skew],
        ] as const);
        const delta = c.rng.pick([-60_000, -1001, -1000, -1, 0, 1, 999, 1000, 60_000]);
        return { variant: `${edge[0]} ${delta >= 0 ? '+' : ''}${delta} ms skew=${skew}`, xml: c.base.xml, expected: { now: edge[1] + delta, skewMs: skew } };
      }
      const T = (ms: number) => iso(ms);
      const offset = (ms: number, h: number) => new Date(ms + h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '') + `+0${h}:00`;
      // The Conditions' NotBefore and NotOnOrAfter written as `before` and `after` (null: left out).
      const conds = (before: string | null, after: string | null) =>
        replacing(/<saml:Conditions NotBefore="([^"]*)" NotOnOrAfter="([^"]*)">/, `<saml:Conditions${before === null ? '' : ` NotBefore="${before}"`}${after === null ? '' : ` NotOnOrAfter="${after}"`}>`);
      const confirmationNotOnOrAfter = (ms: number) => replacing(/(<saml:SubjectConfirmationData[^>]*NotOnOrAfter=")[^"]*"/, `$1${T(ms)}"`);
      const [v, edit] = pickVariant<(a: string) => string>(c.rng, {
        'fractional-seconds': conds(new Date(nb).toISOString(), new Date(noa - 1).toISOString()),
        'offset-utc': conds(T(nb).replace('Z', '+00:00'), T(noa).replace('Z', '+00:00')),
        'offset-plus-two': conds(offset(nb, 2), offset(noa, 2)),
        'lower-case-z': conds(T(nb).replace('Z', 'z'), T(noa).replace('Z', 'z')),
        'no-zone': conds(T(nb).replace('Z', ''), T(noa).replace('Z', '')),
        'date-only': conds(T(nb).slice(0, 10), T(noa + 86_400_000).slice(0, 10)),
        'not-a-time': conds(T(nb), 'tomorrow'),
        empty: conds('', T(noa)),
        'missing-notbefore': conds(null, T(noa)),
        'missing-conditions-notonorafter': conds(T(nb), null),
        'confirmation-earlier': confirmationNotOnOrAfter(c.now + 10 * 60_000),
        expired: (a) => confirmationNotOnOrAfter(c.now - 3_600_000)(conds(T(c.now - 2 * 3_600_000), T(c.now - 3_600_000))(a)),
        'not-yet-valid': conds(T(c.now + 3_600_000), T(c.now + 2 * 3_600_000)),
        'year-9999': conds(T(nb), '9999-12-31T23:59:59Z'),
        'leap-second': conds(T(nb), `${T(noa).slice(0, 11)}23:59:60Z`),
        padded: conds(` ${T(nb)}`, `${T(noa)} `),
        'seven-fraction-digits': conds(T(nb).replace('Z', '.1234567Z'), T(noa).replace('Z', '.9999999Z')),
      });
      return { variant: `${v} skew=${skew}`, xml: c.base.assemble({ assertion: edit }), expected: { skewMs: skew } };
    },
  },
  {
    // Elements with a SAML element's local name in another namespace (or none): the old verifier
    // found everything by local-name(), so these are where it and a namespace-aware one can differ.
    name: 'look-alike-elements',
    weight: 3,
    run: (c) => {
      const E = 'xmlns:evil="urn:example:evil"';
      const later = iso(c.now + 24 * 3_600_000);
      const assertionEdits: Record<string, (a: string) => string> = {
        'foreign-attribute': (a) =>
          a.includes('<saml:AttributeStatement>')
            ? a.replace('<saml:AttributeStatement>', `<saml:AttributeStatement><evil:Attribute ${E} Name="role"><evil:AttributeValue>admin</evil:AttributeValue></evil:Attribute>`)
            : a.replace('<saml:AuthnStatement', `<saml:AttributeStatement><evil:Attribute ${E} Name="role"><evil:AttributeValue>admin</evil:AttributeValue></evil:Attribute></saml:AttributeStatement><saml:AuthnStatement`),
        'foreign-attribute-value': (a) =>
          a.includes('<saml:AttributeValue>')
            ? a.replace('<saml:AttributeValue>', `<evil:AttributeValue ${E}>admin</evil:AttributeValue><saml:AttributeValue>`)
            : a.replace('<saml:AuthnStatement', `<saml:AttributeStatement><saml:Attribute Name="role"><evil:AttributeValue ${E}>admin</evil:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:AuthnStatement`),
        'foreign-nameid-first': (a) => a.replace('<saml:NameID', `<evil:NameID ${E}>admin@corp.example</evil:NameID><saml:NameID`),
        'foreign-nameid-after': (a) => a.replace('</saml:NameID>', `</saml:NameID><evil:NameID ${E}>admin@corp.example</evil:NameID>`),
        'no-namespace-nameid-first': (a) => a.replace('<saml:NameID', '<NameID xmlns="">admin@corp.example</NameID><saml:NameID'),
        'foreign-issuer-first': (a) => a.replace('<saml:Issuer>', `<evil:Issuer ${E}>${c.base.parts.issuer}</evil:Issuer><saml:Issuer>`),
        'foreign-conditions-first': (a) =>
          a.replace('<saml:Conditions', `<evil:Conditions ${E} NotBefore="${iso(c.now - 60_000)}" NotOnOrAfter="${later}"><evil:AudienceRestriction><evil:Audience>${SP.entityId}</evil:Audience></evil:AudienceRestriction></evil:Conditions><saml:Conditions`),
        'foreign-audience': (a) => a.replace('<saml:Audience>', `<evil:Audience ${E}>urn:example:other</evil:Audience><saml:Audience>`),
        'foreign-subject-confirmation-first': (a) =>
          a.replace('<saml:SubjectConfirmation ', `<evil:SubjectConfirmation ${E} Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><evil:SubjectConfirmationData InResponseTo="_evil" NotOnOrAfter="${later}" Recipient="${SP.acsUrl}"/></evil:SubjectConfirmation><saml:SubjectConfirmation `),
        'foreign-authn-statement-first': (a) => a.replace('<saml:AuthnStatement', `<evil:AuthnStatement ${E} AuthnInstant="${iso(c.now)}" SessionIndex="_evil"/><saml:AuthnStatement`),
        'foreign-subject-first': (a) => a.replace('<saml:Subject>', `<evil:Subject ${E}><evil:NameID>admin@corp.example</evil:NameID></evil:Subject><saml:Subject>`),
        'foreign-signature-in-assertion': (a) => a.replace('<saml:Subject>', `<evil:Signature ${E}><evil:SignedInfo/></evil:Signature><saml:Subject>`),
      };
      const issuerStart = /<((?:[\w.-]+:)?)Issuer[\s>]/;
      const responseEdits: Record<string, (r: string) => string> = {
        'foreign-status-first': (r) => r.replace(/<((?:[\w.-]+:)?)Status>/, (m) => `<evil:Status ${E}><evil:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></evil:Status>${m}`),
        'foreign-status-code-first': (r) => r.replace(/(<(?:[\w.-]+:)?Status>)/, `$1<evil:StatusCode ${E} Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>`),
        'foreign-response-issuer-first': (r) => r.replace(issuerStart, (m) => `<evil:Issuer ${E}>${c.base.parts.issuer}</evil:Issuer>${m}`),
        'foreign-in-unsigned-extensions': (r) =>
          r.replace(/(<\/(?:[\w.-]+:)?Status>)/, `$1<samlp:Extensions xmlns:samlp="${NS.samlp}"><evil:Assertion ${E} ID="_evil"><evil:Subject><evil:NameID>admin@corp.example</evil:NameID></evil:Subject></evil:Assertion></samlp:Extensions>`),
      };
      const v = c.rng.pick([...Object.keys(assertionEdits), ...Object.keys(responseEdits)]);
      if (assertionEdits[v]) {
        const placement: Partial<SignOpts> = v === 'foreign-issuer-first' ? { placement: 'first', forge: false } : {};
        return { variant: v, xml: c.base.assemble({ assertion: assertionEdits[v]!, assertionSign: placement }) };
      }
      // Response-level look-alikes: edited after signing half the time (valid where the Response is unsigned).
      const resign = c.rng.chance(0.5);
      const responseSign: Partial<SignOpts> = v === 'foreign-response-issuer-first' ? { placement: 'first', forge: false } : {};
      return { variant: `${v}${resign ? ' (signed after the edit)' : ''}`, xml: resign ? c.base.assemble({ response: responseEdits[v]!, responseSign }) : responseEdits[v]!(c.base.xml) };
    },
  },
  {
    name: 'expectations',
    weight: 2,
    run: (c) => {
      const e = c.base.expected;
      const [v, expected] = pickVariant<Partial<Expectations>>(c.rng, {
        'stranger-certificate-only': { certificates: [c.keys.stranger.cert] },
        'stranger-and-trusted': { certificates: [c.keys.stranger.cert, ...e.certificates] },
        'all-certificates': { certificates: [c.keys.rollover.cert, c.keys.stranger.cert, c.keys.trusted.cert] },
        'pem-crlf': { certificates: e.certificates.map((pem) => pem.replace(/\n/g, '\r\n')) },
        'pem-no-trailing-newline': { certificates: e.certificates.map((pem) => pem.trimEnd()) },
        'pem-extra-whitespace': { certificates: e.certificates.map((pem) => `\n  ${pem}  \n`) },
        'other-acs-url': { acsUrl: 'https://keydesk.example.test/t/acme/saml/okta/acs' },
        'other-sp-entity': { spEntityId: 'https://keydesk.example.test/t/acme/saml/okta/metadata' },
        'other-idp-entity': { idpEntityId: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' },
        'no-certificates': { certificates: [] },
      });
      return { variant: v, xml: c.base.xml, expected };
    },
  },
];

export const CATEGORY_NAMES = categories.map((c) => c.name);

// ---------------------------------------------------------------------------------------------
// The corpus

export interface Corpus {
  seed: number;
  now: number;
  keys: CorpusKeys;
  bases: Base[];
  /** Case `index` (deterministic in seed and index). */
  make(index: number): CorpusCase;
}

/**
 * Builds the bases (the keys are made here unless given) and returns the case maker. `now` is fixed
 * for the run (the current second by default): windows, skews and certificates are judged against it.
 */
export function createCorpus(opts: { seed?: number; keys?: CorpusKeys; now?: number } = {}): Corpus {
  const seed = opts.seed ?? corpusSeed();
  const now = opts.now ?? Math.floor(Date.now() / 1000) * 1000;
  const keys = opts.keys ?? makeCorpusKeys();
  const specs = baseSpecs(Rng.of(seed, -1), now);
  const bases = specs.map((s) => makeBase(s, keys, now));
  const schedule = categories.flatMap((c) => Array<Category>(c.weight).fill(c));
  const baseSchedule = bases.flatMap((b) => Array<Base>(b.weight).fill(b));
  // Interleave the schedule so that consecutive cases are of different categories.
  const order = Rng.of(seed, -2).shuffle(schedule.map((_, i) => i));
  const make = (index: number): CorpusCase => {
    const rng = Rng.of(seed, index);
    const cat = schedule[order[index % order.length]!]!;
    const base = rng.pick(baseSchedule);
    const ctx: Ctx = { rng, base, keys, now };
    let m: Mutated;
    try {
      m = cat.run(ctx);
    } catch (err) {
      throw new Error(`corpus case ${index} (${cat.name} of ${base.name}, seed ${seed}): ${(err as Error).stack}`);
    }
    let xml = m.xml || base.xml;
    const steps = [`${cat.name}: ${m.variant}`];
    if (!m.final && !m.samlResponse && cat.name !== 'unmodified' && rng.chance(0.3)) {
      const extra = rng.pick(NEUTRAL_EXTRAS);
      const d = new Doc(xml, base);
      steps.push(`${extra}: ${neutral[extra]!(ctx, d)}`);
      xml = d.xml();
    }
    return {
      index,
      category: cat.name,
      variant: m.variant,
      base: base.name,
      steps,
      xml,
      samlResponse: m.samlResponse ?? b64(xml),
      expected: { ...base.expected, ...m.expected },
    };
  };
  return { seed, now, keys, bases, make };
}
