// The SimpleSAMLphp test IdP on its own, without Keydesk: SP-initiated (HTTP-Redirect AuthnRequest →
// HTTP-POST Response) and IdP-initiated SSO, single logout both ways, and the Entra / Okta shapes of
// what comes back. The SAML XML is inspected with regular expressions (no XML library in the project).
import assert from 'node:assert/strict';
import { randomUUID, verify as verifySignature } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  browse,
  buildLogoutRequest,
  buildLogoutResponse,
  CookieJar,
  decodeRedirectBinding,
  fetchWithJar,
  parseForms,
  redirectBindingUrl,
  spInitiatedLogin,
  loginAndCaptureSamlResponse,
} from './browserless-login.js';
import {
  ENTRA_CLAIMS,
  ensureSimpleSamlPhp,
  SAML,
  startSimpleSamlIdp,
  type IdpUser,
  type RunningIdp,
  type SpConfig,
} from './simplesamlphp.js';

// ----------------------------------------------------------------------------- tiny XML inspection

/** Opening tags of elements with this local name (any prefix). */
function tags(xml: string, localName: string): string[] {
  return [...xml.matchAll(new RegExp(`<(?:[A-Za-z0-9_-]+:)?${localName}\\b[^>]*>`, 'g'))].map((m) => m[0]);
}
function tag(xml: string, localName: string): string {
  const t = tags(xml, localName)[0];
  assert.ok(t, `no <${localName}> in\n${xml}`);
  return t;
}
function attr(openTag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(openTag);
  return m ? unescapeXml(m[1]!) : undefined;
}
function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
/** Whole element (first one) with this local name, including its content. */
function element(xml: string, localName: string): string {
  const m = new RegExp(`<((?:[A-Za-z0-9_-]+:)?${localName})\\b[^>]*>[\\s\\S]*?</\\1>`).exec(xml);
  assert.ok(m, `no <${localName}>...</${localName}> in\n${xml}`);
  return m[0];
}
function text(xml: string, localName: string): string {
  const m = new RegExp(`<((?:[A-Za-z0-9_-]+:)?${localName})\\b[^>]*>([^<]*)</\\1>`).exec(xml);
  assert.ok(m, `no <${localName}> text in\n${xml}`);
  return unescapeXml(m[2]!);
}
interface SamlAttribute {
  nameFormat?: string;
  values: string[];
}
function attributes(xml: string): Map<string, SamlAttribute> {
  const out = new Map<string, SamlAttribute>();
  for (const m of xml.matchAll(/<((?:[A-Za-z0-9_-]+:)?Attribute)\b([^>]*)>([\s\S]*?)<\/\1>/g)) {
    const open = `<x${m[2]}>`;
    const values = [...m[3]!.matchAll(/<((?:[A-Za-z0-9_-]+:)?AttributeValue)\b[^>]*>([^<]*)<\/\1>/g)].map((v) => unescapeXml(v[2]!));
    out.set(attr(open, 'Name')!, { nameFormat: attr(open, 'NameFormat'), values });
  }
  return out;
}
/** The Response with its Assertion cut out: what is left is the Response's own content. */
function responseOutsideAssertion(xml: string): string {
  return xml.replace(element(xml, 'Assertion'), '');
}
function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

// ----------------------------------------------------------------------------- fixtures

const tenantId = randomUUID();
const groupIds = [randomUUID(), randomUUID(), randomUUID()];
const aliceOid = randomUUID();
const displayName = `Alice O'Connor & Ångström <Admin>`;

const entraSp: SpConfig = {
  entityId: 'https://keydesk.test/saml/entra',
  acsUrl: 'http://127.0.0.1:1/sso/saml/acs',
  sloUrl: 'http://127.0.0.1:1/sso/saml/slo',
};
const entraUser: IdpUser = {
  username: 'alice@contoso.example',
  password: 'Alice-pass-1',
  attributes: {
    [ENTRA_CLAIMS.emailaddress]: ['alice@contoso.example'],
    [ENTRA_CLAIMS.givenname]: ['Alice'],
    [ENTRA_CLAIMS.surname]: ["O'Connor"],
    [ENTRA_CLAIMS.name]: ['alice@contoso.example'],
    [ENTRA_CLAIMS.objectidentifier]: [aliceOid],
    [ENTRA_CLAIMS.tenantid]: [tenantId],
    [ENTRA_CLAIMS.displayname]: [displayName],
    [ENTRA_CLAIMS.groups]: groupIds,
  },
};

const oktaSp: SpConfig = {
  entityId: 'https://keydesk.test/saml/okta',
  acsUrl: 'http://127.0.0.1:1/sso/saml/okta/acs',
  sloUrl: 'http://127.0.0.1:1/sso/saml/okta/slo',
};
const oktaUser: IdpUser = {
  username: 'bob',
  password: 'Bob-pass-1',
  attributes: {
    email: ['bob@example.org'],
    firstName: ['Bob'],
    lastName: ['Builder'],
    groups: ['Everyone', 'IT Agents', 'Keydesk Admins'],
  },
};

before(() => ensureSimpleSamlPhp());

// ----------------------------------------------------------------------------- Entra ID shape

describe('SimpleSAMLphp IdP shaped like Microsoft Entra ID', { timeout: 60_000 }, () => {
  let idp: RunningIdp;
  before(async () => {
    idp = await startSimpleSamlIdp({ shape: 'entra', tenantId, sp: entraSp, users: [entraUser] });
  });
  after(async () => {
    await idp?.stop();
  });

  test('serves its metadata: entityID, endpoints, signing certificate, no signed AuthnRequests required', { timeout: 10_000 }, async () => {
    assert.equal(idp.entityId, `https://sts.windows.net/${tenantId}/`);
    const md = idp.metadataXml;
    assert.equal(attr(tag(md, 'EntityDescriptor'), 'entityID'), idp.entityId);
    assert.equal(attr(tag(md, 'IDPSSODescriptor'), 'WantAuthnRequestsSigned'), 'false');
    const sso = tags(md, 'SingleSignOnService');
    assert.ok(sso.some((t) => attr(t, 'Binding') === SAML.bindingRedirect && attr(t, 'Location') === idp.ssoUrl), sso.join('\n'));
    const slo = tags(md, 'SingleLogoutService');
    assert.ok(slo.some((t) => attr(t, 'Binding') === SAML.bindingRedirect && attr(t, 'Location') === idp.sloUrl), slo.join('\n'));
    assert.equal(text(md, 'X509Certificate').replace(/\s+/g, ''), pemBody(idp.certificatePem));
    assert.equal(text(md, 'NameIDFormat'), SAML.nameIdEmail);
    // the metadata URL answers again, same document
    const again = await fetch(idp.metadataUrl);
    assert.equal(again.status, 200);
    assert.equal(await again.text(), md);
  });

  test('SP-initiated login: Redirect-binding AuthnRequest in, signed assertion in an unsigned Response out', { timeout: 10_000 }, async () => {
    const trail: string[] = [];
    const { requestId, form } = await spInitiatedLogin({
      ssoUrl: idp.ssoUrl,
      spEntityId: entraSp.entityId,
      acsUrl: entraSp.acsUrl,
      username: entraUser.username,
      password: entraUser.password,
      relayState: '/tickets/42',
      trail,
    });
    assert.equal(trail.length, 3, trail.join('\n')); // SSO redirect → login form → post → auto-post form
    assert.equal(form.action, entraSp.acsUrl);
    assert.equal(form.RelayState, '/tickets/42');
    const xml = form.xml;

    // Response
    const response = tag(xml, 'Response');
    assert.equal(attr(response, 'Destination'), entraSp.acsUrl);
    assert.equal(attr(response, 'InResponseTo'), requestId);
    assert.equal(text(responseOutsideAssertion(xml), 'Issuer'), `https://sts.windows.net/${tenantId}/`);
    assert.equal(attr(tag(xml, 'StatusCode'), 'Value'), 'urn:oasis:names:tc:SAML:2.0:status:Success');
    assert.equal(tags(xml, 'EncryptedAssertion').length, 0);

    // only the assertion is signed, RSA-SHA256 / SHA-256, with our certificate
    assert.ok(!/<ds:Signature\b/.test(responseOutsideAssertion(xml)), 'the Response must not be signed');
    const assertion = element(xml, 'Assertion');
    assert.equal(tags(xml, 'Signature').length, 1);
    const signature = element(assertion, 'Signature');
    assert.equal(attr(tag(signature, 'SignatureMethod'), 'Algorithm'), SAML.rsaSha256);
    assert.equal(attr(tag(signature, 'DigestMethod'), 'Algorithm'), 'http://www.w3.org/2001/04/xmlenc#sha256');
    assert.equal(attr(tag(signature, 'Reference'), 'URI'), `#${attr(tag(xml, 'Assertion'), 'ID')}`);
    assert.equal(text(signature, 'X509Certificate').replace(/\s+/g, ''), pemBody(idp.certificatePem));
    assert.equal(text(assertion, 'Issuer'), idp.entityId);

    // subject, recipient, audience
    const nameId = tag(assertion, 'NameID');
    assert.equal(attr(nameId, 'Format'), SAML.nameIdEmail);
    assert.equal(attr(nameId, 'SPNameQualifier'), undefined);
    assert.equal(text(assertion, 'NameID'), 'alice@contoso.example');
    const scd = tag(assertion, 'SubjectConfirmationData');
    assert.equal(attr(scd, 'Recipient'), entraSp.acsUrl);
    assert.equal(attr(scd, 'InResponseTo'), requestId);
    assert.equal(text(assertion, 'Audience'), entraSp.entityId);
    assert.ok(attr(tag(assertion, 'AuthnStatement'), 'SessionIndex'));

    // claims, by Entra's URIs, NameFormat uri, values verbatim
    const attrs = attributes(assertion);
    for (const [name, values] of Object.entries(entraUser.attributes)) {
      assert.deepEqual(attrs.get(name), { nameFormat: SAML.attrNameFormatUri, values }, name);
    }
    assert.equal(attrs.size, Object.keys(entraUser.attributes).length);
    assert.deepEqual(attrs.get(ENTRA_CLAIMS.groups)?.values, groupIds);
    assert.equal(attrs.get(ENTRA_CLAIMS.displayname)?.values[0], displayName);
  });

  test('a second SP-initiated login reuses the IdP session (no password asked)', { timeout: 10_000 }, async () => {
    const jar = new CookieJar();
    await spInitiatedLogin({ ssoUrl: idp.ssoUrl, spEntityId: entraSp.entityId, acsUrl: entraSp.acsUrl, username: entraUser.username, password: entraUser.password, jar });
    const trail: string[] = [];
    const second = await spInitiatedLogin({ ssoUrl: idp.ssoUrl, spEntityId: entraSp.entityId, acsUrl: entraSp.acsUrl, jar, trail });
    assert.equal(trail.length, 1, trail.join('\n'));
    assert.equal(attr(tag(second.form.xml, 'Response'), 'InResponseTo'), second.requestId);
  });

  test('IdP-initiated login: unsolicited Response (no InResponseTo) with the RelayState', { timeout: 10_000 }, async () => {
    const form = await loginAndCaptureSamlResponse(idp.idpInitiatedUrl('https://keydesk.test/after-login'), {
      username: entraUser.username,
      password: entraUser.password,
    });
    assert.equal(form.action, entraSp.acsUrl);
    assert.equal(form.RelayState, 'https://keydesk.test/after-login');
    const xml = form.xml;
    assert.equal(attr(tag(xml, 'Response'), 'InResponseTo'), undefined);
    assert.equal(attr(tag(xml, 'SubjectConfirmationData'), 'InResponseTo'), undefined);
    assert.equal(attr(tag(xml, 'SubjectConfirmationData'), 'Recipient'), entraSp.acsUrl);
    assert.equal(text(xml, 'Audience'), entraSp.entityId);
    assert.ok(!/<ds:Signature\b/.test(responseOutsideAssertion(xml)));
    assert.ok(/<ds:Signature\b/.test(element(xml, 'Assertion')));
  });

  test('a wrong password is refused at the IdP', { timeout: 10_000 }, async () => {
    await assert.rejects(
      spInitiatedLogin({ ssoUrl: idp.ssoUrl, spEntityId: entraSp.entityId, acsUrl: entraSp.acsUrl, username: entraUser.username, password: 'nope' }),
      /login rejected/,
    );
  });

  test('an AuthnRequest naming an ACS URL the SP metadata lacks is answered at the registered ACS only', { timeout: 10_000 }, async () => {
    // SimpleSAMLphp 1.19 logs a warning and falls back to the SP's default ACS (Entra would refuse
    // with AADSTS50011): either way the assertion never goes to the unregistered URL.
    const { form } = await spInitiatedLogin({
      ssoUrl: idp.ssoUrl,
      spEntityId: entraSp.entityId,
      acsUrl: 'http://127.0.0.1:1/evil/acs',
      username: entraUser.username,
      password: entraUser.password,
    });
    assert.equal(form.action, entraSp.acsUrl);
    assert.equal(attr(tag(form.xml, 'Response'), 'Destination'), entraSp.acsUrl);
    assert.equal(attr(tag(form.xml, 'SubjectConfirmationData'), 'Recipient'), entraSp.acsUrl);
  });

  test('SP-initiated logout: LogoutRequest in, signed LogoutResponse redirected to the SP SLO URL', { timeout: 10_000 }, async () => {
    const jar = new CookieJar();
    const { form } = await spInitiatedLogin({ ssoUrl: idp.ssoUrl, spEntityId: entraSp.entityId, acsUrl: entraSp.acsUrl, username: entraUser.username, password: entraUser.password, jar });
    const nameIdTag = tag(form.xml, 'NameID');
    const logout = buildLogoutRequest({
      issuer: entraSp.entityId,
      destination: idp.sloUrl,
      nameId: text(form.xml, 'NameID'),
      nameIdFormat: attr(nameIdTag, 'Format'),
      sessionIndex: attr(tag(form.xml, 'AuthnStatement'), 'SessionIndex'),
    });
    const out = await browse(redirectBindingUrl(idp.sloUrl, logout.xml, { relayState: 'bye' }), { jar });
    assert.equal(out.kind, 'redirect', JSON.stringify(out).slice(0, 800));
    if (out.kind !== 'redirect') return;
    assert.ok(out.location.startsWith(`${entraSp.sloUrl}?`), out.location);
    const msg = decodeRedirectBinding(out.location);
    assert.equal(msg.param, 'SAMLResponse');
    assert.equal(msg.relayState, 'bye');
    assert.equal(attr(tag(msg.xml, 'LogoutResponse'), 'InResponseTo'), logout.id);
    assert.equal(attr(tag(msg.xml, 'LogoutResponse'), 'Destination'), entraSp.sloUrl);
    assert.equal(text(msg.xml, 'Issuer'), idp.entityId);
    assert.equal(attr(tag(msg.xml, 'StatusCode'), 'Value'), 'urn:oasis:names:tc:SAML:2.0:status:Success');
    // sign.logout: HTTP-Redirect binding signature over SAMLResponse&RelayState&SigAlg
    assert.equal(msg.sigAlg, SAML.rsaSha256);
    assert.ok(msg.signature && msg.signedQuery);
    assert.ok(verifySignature('RSA-SHA256', Buffer.from(msg.signedQuery), idp.certificatePem, Buffer.from(msg.signature, 'base64')));

    // the IdP session is gone: the next login asks for the password again
    await assert.rejects(spInitiatedLogin({ ssoUrl: idp.ssoUrl, spEntityId: entraSp.entityId, acsUrl: entraSp.acsUrl, jar }), /asks for a login/);
  });

  test('IdP-initiated logout: signed LogoutRequest to the SP, LogoutResponse back, then the return URL', { timeout: 10_000 }, async () => {
    const jar = new CookieJar();
    const { form } = await spInitiatedLogin({ ssoUrl: idp.ssoUrl, spEntityId: entraSp.entityId, acsUrl: entraSp.acsUrl, username: entraUser.username, password: entraUser.password, jar });
    const returnTo = 'http://127.0.0.1:1/signed-out';
    const out = await browse(idp.idpInitiatedLogoutUrl(returnTo), { jar });
    assert.equal(out.kind, 'redirect', JSON.stringify(out).slice(0, 800));
    if (out.kind !== 'redirect') return;
    assert.ok(out.location.startsWith(`${entraSp.sloUrl}?`), out.location);
    const msg = decodeRedirectBinding(out.location);
    assert.equal(msg.param, 'SAMLRequest');
    const lr = tag(msg.xml, 'LogoutRequest');
    assert.equal(attr(lr, 'Destination'), entraSp.sloUrl);
    assert.equal(text(msg.xml, 'Issuer'), idp.entityId);
    assert.equal(text(msg.xml, 'NameID'), text(form.xml, 'NameID'));
    assert.equal(text(msg.xml, 'SessionIndex'), attr(tag(form.xml, 'AuthnStatement'), 'SessionIndex'));
    assert.equal(msg.sigAlg, SAML.rsaSha256);
    assert.ok(verifySignature('RSA-SHA256', Buffer.from(msg.signedQuery!), idp.certificatePem, Buffer.from(msg.signature!, 'base64')));

    // the SP answers; the IdP finishes and goes to returnTo
    const answer = buildLogoutResponse({ issuer: entraSp.entityId, destination: idp.sloUrl, inResponseTo: attr(lr, 'ID')! });
    const done = await browse(redirectBindingUrl(idp.sloUrl, answer.xml, { param: 'SAMLResponse', relayState: msg.relayState }), { jar });
    assert.deepEqual(done, { kind: 'redirect', location: returnTo });
  });
});

// ----------------------------------------------------------------------------- Okta shape

describe('SimpleSAMLphp IdP shaped like Okta', { timeout: 60_000 }, () => {
  let idp: RunningIdp;
  before(async () => {
    idp = await startSimpleSamlIdp({ shape: 'okta', sp: oktaSp, users: [oktaUser] });
  });
  after(async () => {
    await idp?.stop();
  });

  test('SP-initiated login: signed Response, unsigned assertion, plain attribute names', { timeout: 10_000 }, async () => {
    assert.match(idp.entityId, /^http:\/\/www\.okta\.com\/exk[A-Za-z0-9]{17}$/);
    assert.equal(attr(tag(idp.metadataXml, 'EntityDescriptor'), 'entityID'), idp.entityId);

    const { requestId, form } = await spInitiatedLogin({
      ssoUrl: idp.ssoUrl,
      spEntityId: oktaSp.entityId,
      acsUrl: oktaSp.acsUrl,
      username: oktaUser.username,
      password: oktaUser.password,
      nameIdFormat: SAML.nameIdUnspecified,
    });
    assert.equal(form.action, oktaSp.acsUrl);
    assert.equal(form.RelayState, undefined);
    const xml = form.xml;
    const response = tag(xml, 'Response');
    assert.equal(attr(response, 'Destination'), oktaSp.acsUrl);
    assert.equal(attr(response, 'InResponseTo'), requestId);
    const outside = responseOutsideAssertion(xml);
    assert.equal(text(outside, 'Issuer'), idp.entityId);

    // the Response carries the only signature, over the Response's ID
    assert.equal(tags(xml, 'Signature').length, 1);
    const signature = element(outside, 'Signature');
    assert.equal(attr(tag(signature, 'Reference'), 'URI'), `#${attr(response, 'ID')}`);
    assert.equal(attr(tag(signature, 'SignatureMethod'), 'Algorithm'), SAML.rsaSha256);
    assert.equal(text(signature, 'X509Certificate').replace(/\s+/g, ''), pemBody(idp.certificatePem));
    const assertion = element(xml, 'Assertion');
    assert.ok(!/<ds:Signature\b/.test(assertion), 'the Assertion must not be signed');

    assert.equal(attr(tag(assertion, 'NameID'), 'Format'), SAML.nameIdUnspecified);
    assert.equal(text(assertion, 'NameID'), 'bob@example.org');
    assert.equal(attr(tag(assertion, 'SubjectConfirmationData'), 'Recipient'), oktaSp.acsUrl);
    assert.equal(attr(tag(assertion, 'SubjectConfirmationData'), 'InResponseTo'), requestId);
    assert.equal(text(assertion, 'Audience'), oktaSp.entityId);

    const attrs = attributes(assertion);
    assert.deepEqual([...attrs.keys()].sort(), ['email', 'firstName', 'groups', 'lastName']);
    for (const [name, values] of Object.entries(oktaUser.attributes)) {
      // NameFormat unspecified: SimpleSAMLphp leaves the attribute out (same meaning per SAML core;
      // Okta writes it out explicitly).
      assert.deepEqual(attrs.get(name), { nameFormat: undefined, values }, name);
    }
  });

  test('IdP-initiated login: signed Response without InResponseTo, RelayState kept', { timeout: 10_000 }, async () => {
    const form = await loginAndCaptureSamlResponse(idp.idpInitiatedUrl('okta-relay'), { username: oktaUser.username, password: oktaUser.password });
    assert.equal(form.action, oktaSp.acsUrl);
    assert.equal(form.RelayState, 'okta-relay');
    assert.equal(attr(tag(form.xml, 'Response'), 'InResponseTo'), undefined);
    assert.equal(attr(tag(form.xml, 'SubjectConfirmationData'), 'InResponseTo'), undefined);
    assert.ok(/<ds:Signature\b/.test(responseOutsideAssertion(form.xml)));
    assert.ok(!/<ds:Signature\b/.test(element(form.xml, 'Assertion')));
  });
});

// ----------------------------------------------------------------------------- helpers themselves

describe('browserless-login helpers', () => {
  test('parseForms resolves actions and decodes entities; the jar keeps cookies per host, not port', async () => {
    const [f] = parseForms(`<form method="post" action="?x=1&amp;y=2"><input type="hidden" name="A" value="&quot;a&#039;b&quot;"><input type=submit></form>`, 'http://h:1/p/q.php?z');
    assert.equal(f?.action, 'http://h:1/p/q.php?x=1&y=2');
    assert.deepEqual(f?.fields, { A: `"a'b"` });
    const jar = new CookieJar();
    jar.setCookie('127.0.0.1', 'S=1; path=/; HttpOnly');
    jar.setCookie('127.0.0.1', 'T=2; path=/only');
    assert.equal(jar.header('http://127.0.0.1:9/x'), 'S=1');
    assert.equal(jar.header('http://127.0.0.1:8/only/here'), 'S=1; T=2');
    jar.setCookie('127.0.0.1', 'S=deleted; expires=Thu, 01 Jan 1970 00:00:00 GMT');
    assert.equal(jar.header('http://127.0.0.1:9/x'), undefined);
    assert.equal(typeof fetchWithJar, 'function');
  });
});
